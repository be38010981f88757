package handlers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wxclub/wxclub/models"
	"github.com/wxclub/wxclub/models/modelstest"
	"github.com/wxclub/wxclub/ritual"
	"github.com/wxclub/wxclub/ritual/ritualtest"
)

// newGroupEnv is newEnv whose merchant has a group bridge (and 10 points
// a sign-in).
func newGroupEnv(t *testing.T, db *models.DB, clock *ritualtest.Clock, window time.Duration) *env {
	t.Helper()
	e := newEnv(t, db, clock, ritual.ModePlaintext, window)
	m := ritualtest.Merchant(ritual.ModePlaintext)
	m.Groups = ritual.Groups{Secret: "bridge-secret-" + m.ID, Operators: []string{"op-1"}}
	m.SignIn = ritual.SignIn{Points: 10}
	e.merchant, e.apiKey = e.seed(m)
	return e
}

var bridgeMsgs atomic.Int64

func nextBridgeMsgID() string { return fmt.Sprintf("bm-%d", bridgeMsgs.Add(1)) }

// bridgeBody is a group message as the bridge posts it.
func bridgeBody(msgID, group, sender, text string) []byte {
	b, _ := json.Marshal(map[string]any{
		"msg_id": msgID, "group_id": group, "group_name": "茶友一群",
		"sender": map[string]string{"id": sender, "nickname": "昵称" + sender},
		"text":   text, "at_bot": false, "time": "2026-11-24T10:00:00+08:00",
	})
	return b
}

// bridgeRequest signs body for merchant with secret at ts.
func (e *env) bridgeRequest(merchant, secret string, ts int64, body []byte) *http.Request {
	req, _ := http.NewRequest(http.MethodPost, e.server.URL+"/group/"+merchant, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	stamp := strconv.FormatInt(ts, 10)
	req.Header.Set(ritual.GroupTimestampHeader, stamp)
	req.Header.Set(ritual.GroupSignatureHeader, ritual.GroupSignature(secret, stamp, body))
	return req
}

// bridge posts body, correctly signed now, to the env's merchant.
func (e *env) bridge(body []byte) response {
	e.t.Helper()
	return e.do(e.bridgeRequest(e.merchant.ID, e.merchant.Groups.Secret, e.clock.Now().Unix(), body))
}

// groupReplies decodes a 200 answer into its reply texts.
func groupReplies(t *testing.T, r response) []string {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("status %d (%s), want 200", r.status, r.body)
	}
	var answer struct {
		Replies *[]struct {
			Text string `json:"text"`
		} `json:"replies"`
	}
	if err := json.Unmarshal([]byte(r.body), &answer); err != nil || answer.Replies == nil {
		t.Fatalf("answer %q is not {\"replies\":[...]}", r.body)
	}
	var out []string
	for _, reply := range *answer.Replies {
		out = append(out, reply.Text)
	}
	return out
}

func (e *env) groupExists(group string) bool {
	e.t.Helper()
	groups, err := e.club.ListGroups(context.Background(), e.merchant)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, g := range groups {
		if g.ID == group {
			return true
		}
	}
	return false
}

func TestGroupWebhookAnswers(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		e := newGroupEnv(t, db, clock, 5*time.Minute)
		group := ritualtest.RandomID("g")
		help := groupReplies(t, e.bridge(bridgeBody(nextBridgeMsgID(), group, "wx-anna", "帮助")))
		if len(help) != 1 || !strings.Contains(help[0], "签到") {
			t.Fatalf("帮助 = %q, want the group help", help)
		}
		r := e.bridge(bridgeBody(nextBridgeMsgID(), group, "wx-anna", "大家早上好"))
		if r.status != http.StatusOK || strings.TrimSpace(r.body) != `{"replies":[]}` {
			t.Fatalf("chatter: %d %q, want 200 {\"replies\":[]}", r.status, r.body)
		}
		if !e.groupExists(group) {
			t.Fatal("the group was not recorded")
		}
	})
}

func TestGroupWebhookRejectionsStoreNothing(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		e := newGroupEnv(t, db, clock, 5*time.Minute)
		withoutBridge := e.merchant.ID + "-nobridge"
		plain := ritualtest.Merchant(ritual.ModePlaintext)
		plain.ID = withoutBridge
		e.seed(plain)
		secret := e.merchant.Groups.Secret
		now := clock.Now().Unix()
		type tc struct {
			name string
			req  func(body []byte) *http.Request
			want int
		}
		cases := []tc{
			{"bad signature", func(b []byte) *http.Request {
				r := e.bridgeRequest(e.merchant.ID, secret, now, b)
				r.Header.Set(ritual.GroupSignatureHeader, "sha256="+strings.Repeat("0", 64))
				return r
			}, http.StatusUnauthorized},
			{"another secret", func(b []byte) *http.Request { return e.bridgeRequest(e.merchant.ID, secret+"x", now, b) }, http.StatusUnauthorized},
			{"signature of another body", func(b []byte) *http.Request {
				r := e.bridgeRequest(e.merchant.ID, secret, now, []byte(`{}`))
				r.Body, r.ContentLength = nopBody(b), int64(len(b))
				return r
			}, http.StatusUnauthorized},
			{"no signature", func(b []byte) *http.Request {
				r := e.bridgeRequest(e.merchant.ID, secret, now, b)
				r.Header.Del(ritual.GroupSignatureHeader)
				return r
			}, http.StatusUnauthorized},
			{"no timestamp", func(b []byte) *http.Request {
				r := e.bridgeRequest(e.merchant.ID, secret, now, b)
				r.Header.Del(ritual.GroupTimestampHeader)
				return r
			}, http.StatusUnauthorized},
			{"timestamp too old", func(b []byte) *http.Request { return e.bridgeRequest(e.merchant.ID, secret, now-301, b) }, http.StatusUnauthorized},
			{"timestamp in the future", func(b []byte) *http.Request { return e.bridgeRequest(e.merchant.ID, secret, now+301, b) }, http.StatusUnauthorized},
			{"unknown merchant", func(b []byte) *http.Request { return e.bridgeRequest("nobody-here", secret, now, b) }, http.StatusNotFound},
			{"merchant without a bridge", func(b []byte) *http.Request { return e.bridgeRequest(withoutBridge, secret, now, b) }, http.StatusNotFound},
			{"malformed JSON", func(b []byte) *http.Request { return e.bridgeRequest(e.merchant.ID, secret, now, b[:len(b)-3]) }, http.StatusBadRequest},
			{"body over 64 KiB", func(b []byte) *http.Request {
				big := bytes.Replace(b, []byte("帮助"), []byte(strings.Repeat("长", 22*1024)), 1)
				return e.bridgeRequest(e.merchant.ID, secret, now, big)
			}, http.StatusRequestEntityTooLarge},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				msgID, group := nextBridgeMsgID(), ritualtest.RandomID("g")
				body := bridgeBody(msgID, group, "wx-anna", "帮助")
				if r := e.do(c.req(body)); r.status != c.want {
					t.Fatalf("status %d (%s), want %d", r.status, r.body, c.want)
				}
				if e.groupExists(group) {
					t.Fatal("the rejected message was recorded")
				}
				// Nothing was claimed: the same msg_id, properly signed, is
				// handled as new.
				if got := groupReplies(t, e.bridge(body)); len(got) != 1 || !strings.Contains(got[0], "签到") {
					t.Fatalf("the same message signed properly = %q, want the help", got)
				}
			})
		}
		t.Run("no msg_id", func(t *testing.T) {
			if r := e.bridge(bridgeBody("", ritualtest.RandomID("g"), "wx-anna", "帮助")); r.status != http.StatusBadRequest {
				t.Fatalf("status %d (%s), want 400", r.status, r.body)
			}
		})
	})
}

func nopBody(b []byte) *readCloser { return &readCloser{bytes.NewReader(b)} }

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }

func TestGroupWebhookReplayWindowOff(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		e := newGroupEnv(t, db, clock, 0)
		body := bridgeBody(nextBridgeMsgID(), ritualtest.RandomID("g"), "wx-anna", "帮助")
		r := e.do(e.bridgeRequest(e.merchant.ID, e.merchant.Groups.Secret, clock.Now().Unix()-86400, body))
		if got := groupReplies(t, r); len(got) != 1 {
			t.Fatalf("a day-old timestamp with the window off = %q", got)
		}
	})
}

var linkCode = regexp.MustCompile(`绑定码：([A-Z0-9]{6})`)

// linkedSender links sender to a new following member and returns the
// member's openid.
func (e *env) linkedSender(group, sender string) string {
	e.t.Helper()
	openid := ritualtest.RandomID("o")
	e.send(e.deliver(e.eventXML(openid, "subscribe", ""), false))
	reply := e.open(e.send(e.deliver(e.textXML(openid, "绑定", 7_000_000+bridgeMsgs.Add(1)), false)), false)
	code := linkCode.FindStringSubmatch(reply.Content)
	if code == nil {
		e.t.Fatalf("link code: %q", reply.Content)
	}
	if got := groupReplies(e.t, e.bridge(bridgeBody(nextBridgeMsgID(), group, sender, "绑定 "+code[1]))); len(got) != 1 || !strings.Contains(got[0], "绑定成功") {
		e.t.Fatalf("绑定 = %q", got)
	}
	return openid
}

func TestGroupWebhookRepeatsHaveNoSecondEffect(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		e := newGroupEnv(t, db, clock, 5*time.Minute)
		group := ritualtest.RandomID("g")
		openid := e.linkedSender(group, "wx-anna")
		points := func() int64 {
			m, err := e.db.Members().ByOpenID(context.Background(), e.merchant.ID, openid)
			if err != nil {
				t.Fatal(err)
			}
			return m.Points
		}

		body := bridgeBody(nextBridgeMsgID(), group, "wx-anna", "签到")
		first := e.bridge(body)
		if got := groupReplies(t, first); len(got) != 1 || !strings.Contains(got[0], "签到成功") {
			t.Fatalf("签到 = %q", got)
		}
		clock.Advance(time.Minute) // the retry is signed anew
		if again := e.bridge(body); again.status != 200 || again.body != first.body {
			t.Fatalf("repeat = %d %q, want the first answer %q", again.status, again.body, first.body)
		}
		if got := points(); got != 10 {
			t.Fatalf("points after a repeat = %d, want 10", got)
		}

		// Twenty copies of a 签到 the next day at once: one sign-in.
		clock.Advance(24 * time.Hour)
		body = bridgeBody(nextBridgeMsgID(), group, "wx-anna", "签到")
		const n = 20
		out := make([]response, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, err := http.DefaultClient.Do(e.bridgeRequest(e.merchant.ID, e.merchant.Groups.Secret, clock.Now().Unix(), body))
				if err != nil {
					t.Error(err)
					return
				}
				defer resp.Body.Close()
				var buf bytes.Buffer
				buf.ReadFrom(resp.Body)
				out[i] = response{resp.StatusCode, buf.String(), resp.Header}
			}()
		}
		wg.Wait()
		for i := range n {
			if out[i].status != 200 || out[i].body != out[0].body || !strings.Contains(out[0].body, "连续签到2天") {
				t.Fatalf("copy %d: %d %q; copy 0: %q", i, out[i].status, out[i].body, out[0].body)
			}
		}
		if got := points(); got != 20 {
			t.Fatalf("points after 20 copies = %d, want 20", got)
		}
	})
}

// TestGroupWebhookIsCounted checks that the group bridge shows in the
// webhook metrics beside the official account: answered and refused
// requests, under the merchant and the kind "group".
func TestGroupWebhookIsCounted(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		e := newGroupEnv(t, db, clock, 5*time.Minute)
		group := ritualtest.RandomID("g")
		e.bridge(bridgeBody(nextBridgeMsgID(), group, "wx-anna", "帮助"))
		e.do(e.bridgeRequest(e.merchant.ID, "wrong-secret", clock.Now().Unix(), bridgeBody(nextBridgeMsgID(), group, "wx-anna", "帮助")))
		req, err := http.NewRequest(http.MethodGet, e.server.URL+"/metrics", nil)
		if err != nil {
			t.Fatal(err)
		}
		metrics := e.do(req)
		for _, want := range []string{
			fmt.Sprintf(`wxclub_webhook_requests_total{kind="group",merchant=%q,outcome="replied"} 1`, e.merchant.ID),
			fmt.Sprintf(`wxclub_webhook_requests_total{kind="group",merchant=%q,outcome="rejected"} 1`, e.merchant.ID),
		} {
			if !strings.Contains(metrics.body, want) {
				t.Errorf("metrics lack %s", want)
			}
		}
	})
}
