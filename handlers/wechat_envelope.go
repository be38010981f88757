package handlers

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/xml"
	"net/url"
	"strconv"

	"github.com/silenceper/wechat/v2/util"

	"github.com/wxclub/wxclub/ritual"
)

// This file is WeChat's message security: signatures, and the AES envelope
// of compatible and safe mode. The primitives are silenceper's (util); the
// flow is ours, because silenceper's server neither checks timestamps nor
// tells a malformed body from a forged one, and answers safe-mode requests
// that need no reply with an empty body.

// validSignature checks signature = sha1(sort(token, timestamp, nonce)).
func validSignature(token, signature, timestamp, nonce string) bool {
	if signature == "" || timestamp == "" || nonce == "" {
		return false
	}
	want := util.Signature(token, timestamp, nonce)
	return subtle.ConstantTimeCompare([]byte(want), []byte(signature)) == 1
}

// encryptedEnvelope is the body of a safe- or compatible-mode delivery.
type encryptedEnvelope struct {
	ToUserName string `xml:"ToUserName"`
	Encrypt    string `xml:"Encrypt"`
}

// safeMode reports whether the request comes AES-encrypted.
func safeMode(q url.Values) bool { return q.Get("encrypt_type") == "aes" }

// openEnvelope returns the plaintext XML of a delivery, decrypting it in
// safe and compatible mode. Errors are EFORBIDDEN for anything that fails
// authentication and EBADREQUEST for anything that does not parse.
func openEnvelope(acct ritual.OfficialAccount, q url.Values, body []byte) ([]byte, error) {
	if !safeMode(q) {
		if acct.MessageMode() == ritual.ModeSafe {
			return nil, ritual.Errorf(ritual.EFORBIDDEN, "this account is in safe mode; plaintext deliveries are refused")
		}
		return body, nil
	}
	if acct.EncodingAESKey == "" {
		return nil, ritual.Errorf(ritual.EFORBIDDEN, "encrypted delivery, but the account has no EncodingAESKey")
	}
	var env encryptedEnvelope
	if err := xml.Unmarshal(body, &env); err != nil {
		return nil, ritual.Errorf(ritual.EBADREQUEST, "malformed XML: %v", err)
	}
	if env.Encrypt == "" {
		return nil, ritual.Errorf(ritual.EBADREQUEST, "encrypted delivery without an Encrypt element")
	}
	want := util.Signature(acct.Token, q.Get("timestamp"), q.Get("nonce"), env.Encrypt)
	if subtle.ConstantTimeCompare([]byte(want), []byte(q.Get("msg_signature"))) != 1 {
		return nil, ritual.Errorf(ritual.EFORBIDDEN, "bad msg_signature")
	}
	return decrypt(acct, env.Encrypt)
}

// decrypt opens an Encrypt element and checks that it was sealed for this
// account's AppID.
func decrypt(acct ritual.OfficialAccount, encrypted string) ([]byte, error) {
	key, err := aesKey(acct.EncodingAESKey)
	if err != nil {
		return nil, err
	}
	ciphertext, err := base64.StdEncoding.DecodeString(encrypted)
	if err != nil {
		return nil, ritual.Errorf(ritual.EFORBIDDEN, "Encrypt is not base64")
	}
	_, plain, appID, err := safeDecrypt(ciphertext, key)
	if err != nil {
		return nil, ritual.Errorf(ritual.EFORBIDDEN, "cannot decrypt: %v", err)
	}
	if subtle.ConstantTimeCompare(appID, []byte(acct.AppID)) != 1 {
		return nil, ritual.Errorf(ritual.EFORBIDDEN, "the message was sealed for another AppID")
	}
	return plain, nil
}

// safeDecrypt calls silenceper's AESDecryptMsg, which panics on some
// malformed inputs (a ciphertext that is not whole AES blocks).
func safeDecrypt(ciphertext, key []byte) (random, plain, appID []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = ritual.Errorf(ritual.EFORBIDDEN, "ciphertext is malformed")
		}
	}()
	return util.AESDecryptMsg(ciphertext, key)
}

func aesKey(encoded string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(encoded + "=")
	if err != nil || len(key) != 32 {
		return nil, ritual.Errorf(ritual.EINTERNAL, "the account's EncodingAESKey is not valid")
	}
	return key, nil
}

// seal encrypts a plaintext reply for the account. The 16 random bytes
// WeChat's scheme asks for are derived from the delivery's dedupe key, so
// a repeated delivery (same timestamp and nonce) gets a byte-identical
// reply, as the first one did.
func seal(acct ritual.OfficialAccount, q url.Values, dedupeKey string, plain []byte) ([]byte, error) {
	key, err := aesKey(acct.EncodingAESKey)
	if err != nil {
		return nil, err
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte("reply\x00" + dedupeKey))
	random := mac.Sum(nil)[:16]
	encrypted := base64.StdEncoding.EncodeToString(util.AESEncryptMsg(random, plain, acct.AppID, key))
	timestamp, _ := strconv.ParseInt(q.Get("timestamp"), 10, 64)
	nonce := q.Get("nonce")
	b := make([]byte, 0, 160+len(encrypted)+len(nonce))
	b = append(b, "<xml>"...)
	b = appendCDATA(b, "Encrypt", encrypted)
	b = appendCDATA(b, "MsgSignature", util.Signature(acct.Token, strconv.FormatInt(timestamp, 10), nonce, encrypted))
	b = appendNumber(b, "TimeStamp", timestamp)
	b = appendCDATA(b, "Nonce", nonce)
	return append(b, "</xml>"...), nil
}
