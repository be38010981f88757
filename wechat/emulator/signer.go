package emulator

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/silenceper/wechat/v2/util"
)

// Signer builds correctly signed (and for safe/compatible mode encrypted)
// webhook requests, for tests that need to craft deliveries by hand
// (repeats, tampering), and opens passive replies the way WeChat does.
//
// The envelope is WeChat's (doc/offiaccount/Message_Management/Message_encryption_and_decryption_instructions.html):
// signature = sha1(sort(token, timestamp, nonce)) on every request;
// in safe and compatible mode also encrypt_type=aes and
// msg_signature = sha1(sort(token, timestamp, nonce, Encrypt)), where
// Encrypt = base64(AES-256-CBC(random(16) + len(4) + xml + appid)).
type Signer struct {
	Account Account
}

// Errors OpenReply returns; a Delivery's Problem carries their text.
var (
	ErrEmptyReply          = errors.New("empty reply body")
	ErrEncryptedEmptyReply = errors.New("encrypted reply whose content is empty")
	ErrBadMsgSignature     = errors.New("reply msg_signature does not match")
	ErrUndecryptableReply  = errors.New("reply cannot be decrypted")
	ErrNotAReply           = errors.New("reply is not a WeChat passive reply")
)

// ReplyMessage is a passive reply as WeChat reads it.
type ReplyMessage struct {
	XMLName      xml.Name `xml:"xml" json:"-"`
	ToUserName   string   `xml:"ToUserName"`
	FromUserName string   `xml:"FromUserName"`
	CreateTime   int64    `xml:"CreateTime"`
	MsgType      string   `xml:"MsgType"`
	Content      string   `xml:"Content"`
}

// replyMsgTypes are the passive replies WeChat accepts
// (Passive_user_reply_message.html, plus transfer_customer_service).
var replyMsgTypes = map[string]bool{
	"text": true, "image": true, "voice": true, "video": true, "music": true, "news": true,
	"transfer_customer_service": true,
}

func (s Signer) mode() string {
	if s.Account.Mode != "" {
		return s.Account.Mode
	}
	if s.Account.EncodingAESKey != "" {
		return ModeSafe
	}
	return ModePlaintext
}

func (s Signer) encrypted() bool { return s.mode() != ModePlaintext }

// Request returns the POST WeChat sends to webhookURL for plainXML.
func (s Signer) Request(ctx context.Context, webhookURL string, plainXML []byte, timestamp int64, nonce string) (*http.Request, error) {
	u, body, err := s.envelope(webhookURL, plainXML, timestamp, nonce)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "text/xml")
	return req, nil
}

// envelope returns the URL (with WeChat's query) and body for plainXML.
func (s Signer) envelope(webhookURL string, plainXML []byte, timestamp int64, nonce string) (string, []byte, error) {
	var head struct {
		ToUserName   string `xml:"ToUserName"`
		FromUserName string `xml:"FromUserName"`
	}
	if err := xml.Unmarshal(plainXML, &head); err != nil {
		return "", nil, fmt.Errorf("emulator: message is not XML: %w", err)
	}
	ts := strconv.FormatInt(timestamp, 10)
	q := [][2]string{
		{"signature", util.Signature(s.Account.Token, ts, nonce)},
		{"timestamp", ts}, {"nonce", nonce}, {"openid", head.FromUserName},
	}
	if !s.encrypted() {
		return withQuery(webhookURL, q), plainXML, nil
	}
	enc, err := s.encrypt(plainXML)
	if err != nil {
		return "", nil, err
	}
	q = append(q, [2]string{"encrypt_type", "aes"}, [2]string{"msg_signature", util.Signature(s.Account.Token, ts, nonce, enc)})
	return withQuery(webhookURL, q), s.encryptedBody(plainXML, head.ToUserName, enc), nil
}

func (s Signer) encrypt(plainXML []byte) (string, error) {
	random := make([]byte, 16)
	_, _ = rand.Read(random)
	enc, err := util.EncryptMsg(random, plainXML, s.Account.AppID, s.Account.EncodingAESKey)
	if err != nil {
		return "", fmt.Errorf("emulator: encrypt: %w", err)
	}
	return string(enc), nil
}

// encryptedBody is safe mode's <xml><ToUserName/><Encrypt/></xml>, or in
// compatible mode the plain message with the Encrypt element added.
func (s Signer) encryptedBody(plainXML []byte, toUser, enc string) []byte {
	encElem := "<Encrypt>" + cdata(enc) + "</Encrypt>"
	if s.mode() == ModeCompatible {
		i := bytes.LastIndex(plainXML, []byte("</xml>"))
		if i >= 0 {
			out := append([]byte{}, plainXML[:i]...)
			out = append(out, encElem...)
			return append(out, plainXML[i:]...)
		}
	}
	return []byte("<xml><ToUserName>" + cdata(toUser) + "</ToUserName>" + encElem + "</xml>")
}

// MsgSignature is sha1(sort(token, timestamp, nonce, encrypt)), the
// msg_signature of an encrypted message or reply.
func (s Signer) MsgSignature(timestamp int64, nonce, encrypt string) string {
	return util.Signature(s.Account.Token, strconv.FormatInt(timestamp, 10), nonce, encrypt)
}

// VerifyURLQuery returns the GET URL WeChat uses to verify a server:
// signature, timestamp, nonce and echostr.
func (s Signer) VerifyURLQuery(webhookURL, echostr string, timestamp int64, nonce string) string {
	ts := strconv.FormatInt(timestamp, 10)
	return withQuery(webhookURL, [][2]string{
		{"signature", util.Signature(s.Account.Token, ts, nonce)},
		{"timestamp", ts}, {"nonce", nonce}, {"echostr", echostr},
	})
}

// withQuery appends parameters in the given order, WeChat's order.
func withQuery(base string, params [][2]string) string {
	var b strings.Builder
	b.WriteString(base)
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	for _, p := range params {
		b.WriteString(sep + url.QueryEscape(p[0]) + "=" + url.QueryEscape(p[1]))
		sep = "&"
	}
	return b.String()
}

// replyEnvelope holds both a plain reply's fields and an encrypted one's.
type replyEnvelope struct {
	ReplyMessage
	Encrypt      *string `xml:"Encrypt"`
	MsgSignature string  `xml:"MsgSignature"`
	TimeStamp    string  `xml:"TimeStamp"`
	Nonce        string  `xml:"Nonce"`
}

// OpenReply reads a webhook's passive reply. "success" means no reply
// (nil, nil). In safe and compatible mode an encrypted reply's
// msg_signature is checked (against its own TimeStamp and Nonce, or the
// given ones when it has none) and it is decrypted; a plain reply is
// accepted in every mode, as WeChat accepts it. An empty body or an
// encrypted empty reply is an error.
func (s Signer) OpenReply(body []byte, timestamp int64, nonce string) (*ReplyMessage, error) {
	trimmed := bytes.TrimSpace(body)
	switch {
	case len(trimmed) == 0:
		return nil, ErrEmptyReply
	case string(body) == "success":
		return nil, nil
	}
	var env replyEnvelope
	if err := xml.Unmarshal(trimmed, &env); err != nil {
		return nil, fmt.Errorf("%w: not XML: %v", ErrNotAReply, err)
	}
	if env.Encrypt == nil {
		return checkReply(&env.ReplyMessage)
	}
	plain, err := s.decryptReply(&env, timestamp, nonce)
	if err != nil {
		return nil, err
	}
	var inner ReplyMessage
	if err := xml.Unmarshal(plain, &inner); err != nil {
		return nil, fmt.Errorf("%w: decrypted reply is not XML: %v", ErrNotAReply, err)
	}
	return checkReply(&inner)
}

func (s Signer) decryptReply(env *replyEnvelope, timestamp int64, nonce string) ([]byte, error) {
	if !s.encrypted() {
		return nil, fmt.Errorf("%w: the account is in plaintext mode", ErrUndecryptableReply)
	}
	enc := strings.TrimSpace(*env.Encrypt)
	if enc == "" {
		return nil, ErrEncryptedEmptyReply
	}
	ts, n := env.TimeStamp, env.Nonce
	if ts == "" {
		ts = strconv.FormatInt(timestamp, 10)
	}
	if n == "" {
		n = nonce
	}
	if env.MsgSignature != util.Signature(s.Account.Token, ts, n, enc) {
		return nil, ErrBadMsgSignature
	}
	_, plain, err := util.DecryptMsg(s.Account.AppID, enc, s.Account.EncodingAESKey)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUndecryptableReply, err)
	}
	if len(bytes.TrimSpace(plain)) == 0 {
		return nil, ErrEncryptedEmptyReply
	}
	return plain, nil
}

func checkReply(m *ReplyMessage) (*ReplyMessage, error) {
	if !replyMsgTypes[m.MsgType] {
		return nil, fmt.Errorf("%w: MsgType %q", ErrNotAReply, m.MsgType)
	}
	out := *m
	out.XMLName = xml.Name{}
	return &out, nil
}

// cdata wraps s in CDATA, splitting any "]]>" it contains.
func cdata(s string) string {
	return "<![CDATA[" + strings.ReplaceAll(s, "]]>", "]]]]><![CDATA[>") + "]]>"
}
