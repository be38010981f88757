package emulator_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/silenceper/wechat/v2/officialaccount/message"

	"github.com/wxclub/wxclub/wechat/emulator"
)

func TestDeliveryRoundTrip(t *testing.T) {
	tests := []struct {
		mode, reply string
		wantReply   string // Reply.Content, "" for no reply
		wantProblem string // substring of Problem, "" for none
	}{
		{emulator.ModePlaintext, replyText, "got hello", ""},
		{emulator.ModeCompatible, replyText, "got hello", ""},
		{emulator.ModeSafe, replyText, "got hello", ""},
		{emulator.ModeSafe, replyPlainText, "got hello", ""},
		{emulator.ModeSafe, replySuccess, "", ""},
		{emulator.ModePlaintext, replyEmpty, "", "empty body"},
		{emulator.ModeSafe, replyEmpty, "", "empty body"},
		{emulator.ModeSafe, replyEncryptedEmpty, "", "encrypted reply whose content is empty"},
		{emulator.ModeCompatible, replyBadSignature, "", "msg_signature"},
		{emulator.ModePlaintext, replyStatus500, "", "HTTP 500"},
		{emulator.ModePlaintext, replyWrongAddress, "x", "addressed"},
	}
	for _, tc := range tests {
		t.Run(tc.mode+"/"+tc.reply, func(t *testing.T) {
			h := newHarness(t, emulator.Options{})
			a := uniqueAccount(tc.mode)
			hook := newWebhook(t, a, tc.reply)
			a.WebhookURL = hook.url
			h.register(a)
			h.follow(a, "o1")
			d, err := h.emu.Say(context.Background(), a.Name, "o1", "hello")
			if err != nil {
				t.Fatal(err)
			}
			gotReply := ""
			if d.Reply != nil {
				gotReply = d.Reply.Content
			}
			if gotReply != tc.wantReply {
				t.Errorf("reply = %q, want %q (body %q, problem %q)", gotReply, tc.wantReply, d.Body, d.Problem)
			}
			if tc.wantProblem == "" && d.Problem != "" || !strings.Contains(d.Problem, tc.wantProblem) {
				t.Errorf("problem = %q, want it to mention %q", d.Problem, tc.wantProblem)
			}
			if got, want := len(hook.messages()), 1; got != want {
				t.Fatalf("webhook got %d messages, want %d", got, want)
			}
			if got, want := hook.messages()[0].Content, "hello"; got != want {
				t.Errorf("webhook read %q, want %q", got, want)
			}
		})
	}
}

func TestDeliveryTimeout(t *testing.T) {
	h := newHarness(t, emulator.Options{HTTPClient: &http.Client{Timeout: 100 * time.Millisecond}})
	a := uniqueAccount(emulator.ModePlaintext)
	a.WebhookURL = newWebhook(t, a, replySlow).url
	h.register(a)
	d, err := h.emu.Follow(context.Background(), a.Name, "o1", "")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(d.Problem, "no reply within") {
		t.Errorf("problem = %q, want a timeout", d.Problem)
	}
	if got, want := h.emu.Followers(a.AppID), []string{"o1"}; len(got) != 1 || got[0] != want[0] {
		t.Errorf("followers = %v, want %v: the follow happens even when the webhook fails", got, want)
	}
}

func TestDeliveryHeadersAndQuery(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	a := uniqueAccount(emulator.ModeSafe)
	var got *http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Clone(context.Background())
		w.Write([]byte("success"))
	}))
	defer srv.Close()
	a.WebhookURL = srv.URL + "/wechat/x"
	h.register(a)
	if _, err := h.emu.Follow(context.Background(), a.AppID, "o1", ""); err != nil {
		t.Fatal(err)
	}
	q := got.URL.Query()
	for k, want := range map[string]string{
		"openid": "o1", "encrypt_type": "aes", "timestamp": strconv.FormatInt(epoch.Unix(), 10),
	} {
		if q.Get(k) != want {
			t.Errorf("%s = %q, want %q", k, q.Get(k), want)
		}
	}
	if q.Get("msg_signature") == "" || q.Get("nonce") == "" {
		t.Errorf("query %v lacks msg_signature or nonce", q)
	}
	if got, want := got.Header.Get("Content-Type"), "text/xml"; got != want {
		t.Errorf("Content-Type = %q, want %q", got, want)
	}
}

// silenceper's own server as the webhook: it must accept what the emulator
// sends in safe mode, and its reply must come back decrypted.
func TestDeliveryToSilenceperServer(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	a := uniqueAccount(emulator.ModeSafe)
	oa := silenceper(t, a, false)
	var replyWith atomic.Value
	replyWith.Store("hi there")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := oa.GetServer(r, w)
		s.SetMessageHandler(func(m *message.MixMessage) *message.Reply {
			prefix := replyWith.Load().(string)
			if prefix == "" {
				return nil
			}
			return &message.Reply{MsgType: message.MsgTypeText, MsgData: message.NewText(prefix + " " + string(m.Content))}
		})
		if err := s.Serve(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		_ = s.Send()
	}))
	defer srv.Close()
	a.WebhookURL = srv.URL
	h.register(a)
	h.follow(a, "o1")

	d, err := h.emu.Say(context.Background(), a.AppID, "o1", "ping")
	if err != nil {
		t.Fatal(err)
	}
	if d.Problem != "" || d.Reply == nil {
		t.Fatalf("problem %q, reply %v, body %q", d.Problem, d.Reply, d.Body)
	}
	if got, want := d.Reply.Content, "hi there ping"; got != want {
		t.Errorf("reply = %q, want %q", got, want)
	}
	// In safe mode, when the handler has no reply, silenceper's Send
	// encrypts an empty message: WeChat refuses it, and so does the
	// emulator.
	replyWith.Store("")
	d, err = h.emu.Say(context.Background(), a.AppID, "o1", "ping")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(d.Problem, emulator.ErrEncryptedEmptyReply.Error()) {
		t.Errorf("problem = %q, want the encrypted empty reply reported", d.Problem)
	}
}
