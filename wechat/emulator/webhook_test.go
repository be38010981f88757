package emulator_test

import (
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/silenceper/wechat/v2/util"

	"github.com/wxclub/wxclub/wechat/emulator"
)

// inbound is a delivered message as the test webhook read it.
type inbound struct {
	ToUserName   string `xml:"ToUserName"`
	FromUserName string `xml:"FromUserName"`
	CreateTime   int64  `xml:"CreateTime"`
	MsgType      string `xml:"MsgType"`
	Content      string `xml:"Content"`
	MsgID        int64  `xml:"MsgId"`
	Event        string `xml:"Event"`
	EventKey     string `xml:"EventKey"`
	Ticket       string `xml:"Ticket"`
	CardID       string `xml:"CardId"`
	UserCardCode string `xml:"UserCardCode"`
}

// How the test webhook answers.
const (
	replyText           = "text"            // a text reply echoing the message, encrypted in aes modes
	replyPlainText      = "plain-text"      // a plain text reply even in aes modes
	replySuccess        = "success"         // "success"
	replyEmpty          = "empty"           // a zero-length body
	replyEncryptedEmpty = "encrypted-empty" // an encrypted empty string
	replyBadSignature   = "bad-signature"   // an encrypted reply with a wrong msg_signature
	replyStatus500      = "500"             // HTTP 500
	replySlow           = "slow"            // answers after 300 ms
	replyWrongAddress   = "wrong-address"   // a text reply addressed to someone else
)

// webhook is a tiny WeChat webhook written with silenceper's util: it
// checks every signature, decrypts, records what it got and replies as
// told.
type webhook struct {
	t       *testing.T
	account emulator.Account
	mu      sync.Mutex
	reply   string
	got     []inbound
	raw     []string // request URL + body, for Redeliver checks
	url     string
}

func newWebhook(t *testing.T, a emulator.Account, reply string) *webhook {
	w := &webhook{t: t, account: a, reply: reply}
	srv := httptest.NewServer(http.HandlerFunc(w.serve))
	t.Cleanup(srv.Close)
	w.url = srv.URL + "/wechat/" + a.Name
	return w
}

func (w *webhook) messages() []inbound {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]inbound(nil), w.got...)
}

func (w *webhook) requests() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.raw...)
}

func (w *webhook) serve(rw http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	body, _ := io.ReadAll(r.Body)
	if q.Get("signature") != util.Signature(w.account.Token, q.Get("timestamp"), q.Get("nonce")) {
		http.Error(rw, "bad signature", http.StatusForbidden)
		return
	}
	plain := openEnvelope(w.t, w.account, q, body)
	var msg inbound
	if err := xml.Unmarshal([]byte(plain), &msg); err != nil {
		http.Error(rw, err.Error(), http.StatusBadRequest)
		return
	}
	w.mu.Lock()
	w.got = append(w.got, msg)
	w.raw = append(w.raw, r.URL.String()+"\n"+string(body))
	reply := w.reply
	w.mu.Unlock()
	w.answer(rw, reply, msg, q.Get("timestamp"), q.Get("nonce"))
}

func (w *webhook) answer(rw http.ResponseWriter, reply string, msg inbound, ts, nonce string) {
	text := fmt.Sprintf("<xml><ToUserName><![CDATA[%s]]></ToUserName><FromUserName><![CDATA[%s]]></FromUserName>"+
		"<CreateTime>%d</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[got %s]]></Content></xml>",
		msg.FromUserName, msg.ToUserName, time.Now().Unix(), msg.Content+msg.Event)
	aes := w.account.Mode != emulator.ModePlaintext
	switch reply {
	case replyText:
		if aes {
			w.writeEncrypted(rw, []byte(text), ts, nonce, true)
			return
		}
		io.WriteString(rw, text)
	case replyPlainText:
		io.WriteString(rw, text)
	case replySuccess:
		io.WriteString(rw, "success")
	case replyEmpty:
	case replyEncryptedEmpty:
		w.writeEncrypted(rw, nil, ts, nonce, true)
	case replyBadSignature:
		w.writeEncrypted(rw, []byte(text), ts, nonce, false)
	case replyStatus500:
		http.Error(rw, "boom", http.StatusInternalServerError)
	case replySlow:
		time.Sleep(300 * time.Millisecond)
		io.WriteString(rw, "success")
	case replyWrongAddress:
		io.WriteString(rw, "<xml><ToUserName><![CDATA[someone-else]]></ToUserName><FromUserName><![CDATA["+msg.ToUserName+
			"]]></FromUserName><CreateTime>1</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[x]]></Content></xml>")
	}
}

// writeEncrypted writes safe mode's <xml><Encrypt/><MsgSignature/><TimeStamp/><Nonce/></xml>.
func (w *webhook) writeEncrypted(rw http.ResponseWriter, plain []byte, ts, nonce string, goodSignature bool) {
	enc, err := util.EncryptMsg([]byte("0123456789abcdef"), plain, w.account.AppID, w.account.EncodingAESKey)
	if err != nil {
		w.t.Error(err)
		return
	}
	sig := util.Signature(w.account.Token, ts, nonce, string(enc))
	if !goodSignature {
		sig = util.Signature("not-the-token", ts, nonce, string(enc))
	}
	tsNum, _ := strconv.ParseInt(ts, 10, 64)
	rw.Write(encryptedReply(string(enc), sig, tsNum, nonce))
}
