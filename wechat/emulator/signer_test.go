package emulator_test

import (
	"context"
	"encoding/xml"
	"errors"
	"io"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/silenceper/wechat/v2/util"

	"github.com/wxclub/wxclub/wechat/emulator"
)

// WeChat's official sample vector (Message_encryption_and_decryption_instructions).
const (
	vecToken     = "spamtest"
	vecAESKey    = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
	vecAppID     = "wx2c2769f8efd9abc2"
	vecTimestamp = 1409735669
	vecNonce     = "1320562132"
	vecEncrypt   = "hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1QLvbeUgmBM4x6F8PGHQHFVAFmOD2LdJF9FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXwon8T332jisa+h6tEDYsVticbSnyU8dKOIbgU6ux5VTjg3yt+WGzjlpKn6NPhRjpA912xMezR4kw6KWwMrCVKSVCZciVGCgavjIQ6X8tCOp3yZbGpy0VxpAe+77TszTfRd5RJSVO/HTnifJpXgCSUdUue1v6h0EIBYYI1BD1DlD+C0CR8e6OewpusjZ4uBl9FyJvnhvQl+q5rv1ixrcpCumEPo5MJSgM9ehVsNPfUM669WuMyVWQLCzpu9GhglF2PE="
	vecSignature = "5d197aaffba7e9b25a30732f161a50dee96bd5fa"
)

func vectorSigner() emulator.Signer {
	return emulator.Signer{Account: emulator.Account{
		AppID: vecAppID, Token: vecToken, EncodingAESKey: vecAESKey, Mode: emulator.ModeSafe,
	}}
}

func encryptedReply(enc, sig string, ts int64, nonce string) []byte {
	return []byte("<xml><Encrypt><![CDATA[" + enc + "]]></Encrypt><MsgSignature><![CDATA[" + sig +
		"]]></MsgSignature><TimeStamp>" + strconv.FormatInt(ts, 10) + "</TimeStamp><Nonce><![CDATA[" + nonce + "]]></Nonce></xml>")
}

func TestSignerOfficialVector(t *testing.T) {
	s := vectorSigner()
	if got, want := s.MsgSignature(vecTimestamp, vecNonce, vecEncrypt), vecSignature; got != want {
		t.Fatalf("msg_signature = %s, want %s", got, want)
	}
	reply, err := s.OpenReply(encryptedReply(vecEncrypt, vecSignature, vecTimestamp, vecNonce), 0, "")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := reply.FromUserName, "oyORnuP8q7ou2gfYjqLzSIWZf0rs"; got != want {
		t.Errorf("FromUserName = %q, want %q", got, want)
	}
	if got, want := reply.Content, "abcdteT"; got != want {
		t.Errorf("Content = %q, want %q", got, want)
	}
}

func TestSignerOpenReplyRefusals(t *testing.T) {
	s := vectorSigner()
	tests := []struct {
		name string
		body []byte
		want error
	}{
		{"tampered signature", encryptedReply(vecEncrypt, strings.Repeat("0", 40), vecTimestamp, vecNonce), emulator.ErrBadMsgSignature},
		{"other nonce", encryptedReply(vecEncrypt, vecSignature, vecTimestamp, "1"), emulator.ErrBadMsgSignature},
		{"empty body", nil, emulator.ErrEmptyReply},
		{"empty Encrypt", encryptedReply("", s.MsgSignature(vecTimestamp, vecNonce, ""), vecTimestamp, vecNonce), emulator.ErrEncryptedEmptyReply},
		{"json", []byte(`{"msg":"hi"}`), emulator.ErrNotAReply},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.OpenReply(tc.body, vecTimestamp, vecNonce)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestSignerOpenReplyEncryptedEmptyString(t *testing.T) {
	s := vectorSigner()
	enc, err := util.EncryptMsg([]byte("0123456789abcdef"), nil, vecAppID, vecAESKey)
	if err != nil {
		t.Fatal(err)
	}
	sig := s.MsgSignature(vecTimestamp, vecNonce, string(enc))
	_, err = s.OpenReply(encryptedReply(string(enc), sig, vecTimestamp, vecNonce), vecTimestamp, vecNonce)
	if !errors.Is(err, emulator.ErrEncryptedEmptyReply) {
		t.Fatalf("err = %v, want ErrEncryptedEmptyReply", err)
	}
}

func TestSignerRequest(t *testing.T) {
	plain := []byte("<xml><ToUserName><![CDATA[gh_abc]]></ToUserName><FromUserName><![CDATA[o1]]></FromUserName>" +
		"<CreateTime>1409735669</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[hi]]></Content></xml>")
	for _, mode := range []string{emulator.ModePlaintext, emulator.ModeCompatible, emulator.ModeSafe} {
		t.Run(mode, func(t *testing.T) {
			a := uniqueAccount(mode)
			req, err := emulator.Signer{Account: a}.Request(context.Background(), "http://hook/wechat/x", plain, vecTimestamp, vecNonce)
			if err != nil {
				t.Fatal(err)
			}
			q := req.URL.Query()
			if got, want := q.Get("signature"), util.Signature(a.Token, strconv.Itoa(vecTimestamp), vecNonce); got != want {
				t.Errorf("signature = %s, want %s", got, want)
			}
			if got, want := q.Get("openid"), "o1"; got != want {
				t.Errorf("openid = %q, want %q", got, want)
			}
			if got, want := req.Header.Get("Content-Type"), "text/xml"; got != want {
				t.Errorf("Content-Type = %q, want %q", got, want)
			}
			body, _ := io.ReadAll(req.Body)
			if got := openEnvelope(t, a, q, body); got != string(plain) {
				t.Errorf("decrypted body = %s, want %s", got, plain)
			}
			if got, want := strings.Contains(string(body), "<Content>"), mode != emulator.ModeSafe; got != want {
				t.Errorf("body shows the plain fields: %v, want %v (%s)", got, want, body)
			}
		})
	}
}

// openEnvelope is what a webhook does with a delivery, written with
// silenceper's util only: check signatures, decrypt.
func openEnvelope(t *testing.T, a emulator.Account, q url.Values, body []byte) string {
	t.Helper()
	if q.Get("signature") != util.Signature(a.Token, q.Get("timestamp"), q.Get("nonce")) {
		t.Fatal("bad signature")
	}
	if q.Get("encrypt_type") != "aes" {
		if a.Mode != emulator.ModePlaintext {
			t.Fatalf("mode %s without encrypt_type=aes", a.Mode)
		}
		return string(body)
	}
	var env struct {
		Encrypt string `xml:"Encrypt"`
	}
	if err := xml.Unmarshal(body, &env); err != nil {
		t.Fatal(err)
	}
	if q.Get("msg_signature") != util.Signature(a.Token, q.Get("timestamp"), q.Get("nonce"), env.Encrypt) {
		t.Fatal("bad msg_signature")
	}
	_, plain, err := util.DecryptMsg(a.AppID, env.Encrypt, a.EncodingAESKey)
	if err != nil {
		t.Fatal(err)
	}
	return string(plain)
}

func TestSignerVerifyURLQuery(t *testing.T) {
	a := uniqueAccount(emulator.ModePlaintext)
	u, err := url.Parse(emulator.Signer{Account: a}.VerifyURLQuery("http://hook/wechat/x", "echo123", vecTimestamp, vecNonce))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if got, want := q.Get("signature"), util.Signature(a.Token, strconv.Itoa(vecTimestamp), vecNonce); got != want {
		t.Errorf("signature = %s, want %s", got, want)
	}
	if got, want := q.Get("echostr"), "echo123"; got != want {
		t.Errorf("echostr = %q, want %q", got, want)
	}
}
