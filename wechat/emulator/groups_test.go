package emulator_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wxclub/wxclub/wechat/emulator"
)

const bridgeSecret = "bridge-secret-0123456789"

// sign is the bridge protocol's signature, computed here independently of
// the emulator.
func sign(secret, ts string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "." + string(body)))
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// fakeService is the service's POST /group/<merchant>: it checks each
// request's signature and answers with answer.
type fakeService struct {
	mu       sync.Mutex
	received []map[string]any
	answer   string
	status   int
}

func (f *fakeService) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	ts := r.Header.Get("X-Wxclub-Timestamp")
	if r.Header.Get("X-Wxclub-Signature") != sign(bridgeSecret, ts, body) {
		http.Error(w, `{"error":"bad signature"}`, http.StatusUnauthorized)
		return
	}
	var msg map[string]any
	_ = json.Unmarshal(body, &msg)
	f.mu.Lock()
	f.received = append(f.received, msg)
	answer, status := f.answer, f.status
	f.mu.Unlock()
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	_, _ = w.Write([]byte(answer))
}

// got returns the received messages so far.
func (f *fakeService) got() []map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]map[string]any(nil), f.received...)
}

func (f *fakeService) reply(answer string, status int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.answer, f.status = answer, status
}

func TestGroupSayDeliversSigned(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	svc := &fakeService{answer: `{"replies":[{"text":"@安娜 签到成功"}]}`}
	srv := httptest.NewServer(svc)
	t.Cleanup(srv.Close)

	say := map[string]any{
		"merchant": "demo", "group_id": "g1", "group_name": "茶友一群",
		"sender": map[string]string{"id": "wx-anna", "nickname": "安娜"}, "text": "签到", "webhook_url": srv.URL + "/group/demo",
	}
	if status, body := h.do("POST", "/emu/groups/say", say); status != http.StatusBadRequest || !strings.Contains(body.str("error"), "no group bridge") {
		t.Fatalf("say before the bridge is registered: %d %v, want 400", status, body)
	}
	if status, _ := h.do("POST", "/emu/groups/bridges", map[string]string{"merchant": "demo", "secret": bridgeSecret}); status != http.StatusNoContent {
		t.Fatalf("register: %d", status)
	}
	status, d := h.do("POST", "/emu/groups/say", say)
	replies, _ := d["replies"].([]any)
	if status != 200 || d.num("status") != 200 || len(replies) != 1 || replies[0].(map[string]any)["text"] != "@安娜 签到成功" || d.str("msg_id") == "" {
		t.Fatalf("say: %d %v", status, d)
	}
	got := svc.got()[0]
	sender, _ := got["sender"].(map[string]any)
	if got["msg_id"] != d.str("msg_id") || got["group_id"] != "g1" || got["text"] != "签到" || sender["nickname"] != "安娜" {
		t.Fatalf("the service received %v", got)
	}
	if when, err := time.Parse(time.RFC3339, got["time"].(string)); err != nil || !when.Equal(epoch) {
		t.Fatalf("time = %v, want the emulator's clock %v", got["time"], epoch)
	}

	// Redelivering: the same msg_id again.
	say["msg_id"] = d.str("msg_id")
	if _, again := h.do("POST", "/emu/groups/say", say); again.str("msg_id") != d.str("msg_id") || len(svc.got()) != 2 || svc.got()[1]["msg_id"] != d.str("msg_id") {
		t.Fatalf("redelivery = %v", again)
	}

	svc.reply(`{"replies":null}`, 0)
	if _, d := h.do("POST", "/emu/groups/say", say); !strings.Contains(d.str("problem"), "replies") {
		t.Fatalf("a null replies answer: %v, want a problem reported", d)
	}
	svc.reply(`{"error":{"code":"unauthorized"}}`, http.StatusUnauthorized)
	if _, d := h.do("POST", "/emu/groups/say", say); d.num("status") != 401 || !strings.Contains(d.str("problem"), "401") {
		t.Fatalf("a refusal: %v, want status and problem", d)
	}
}

// callback posts body to the emulator's callback, signed with secret at ts.
func (h *harness) callback(query, secret string, ts time.Time, body string) (int, string) {
	h.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, h.url+"/emu/groups/callback"+query, strings.NewReader(body))
	stamp := strconv.FormatInt(ts.Unix(), 10)
	req.Header.Set("X-Wxclub-Timestamp", stamp)
	req.Header.Set("X-Wxclub-Signature", sign(secret, stamp, []byte(body)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestGroupCallbackRecordsSignedPosts(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	if err := h.emu.RegisterGroupBridge("demo", bridgeSecret); err != nil {
		t.Fatal(err)
	}
	if err := h.emu.RegisterGroupBridge("other", "other-secret-0123456789"); err != nil {
		t.Fatal(err)
	}
	post := `{"group_id":"g1","text":"本周积分榜","idempotency_key":"board:1"}`
	now := h.clock.Now()
	for _, c := range []struct {
		name, query, secret string
		at                  time.Time
		body                string
		want                int
	}{
		{"another secret", "", "wrong-secret-0123456789", now, post, 401},
		{"the named merchant's secret only", "?merchant=other", bridgeSecret, now, post, 401},
		{"an old signature", "", bridgeSecret, now.Add(-6 * time.Minute), post, 401},
		{"no text", "", bridgeSecret, now, `{"group_id":"g1","idempotency_key":"x"}`, 400},
		{"an unknown field", "", bridgeSecret, now, `{"group_id":"g1","text":"t","extra":1}`, 400},
	} {
		if status, body := h.callback(c.query, c.secret, c.at, c.body); status != c.want {
			t.Errorf("%s: %d %s, want %d", c.name, status, body, c.want)
		}
	}
	if posts := h.emu.GroupPosts("g1"); len(posts) != 0 {
		t.Fatalf("refused posts were recorded: %+v", posts)
	}
	if status, body := h.callback("", bridgeSecret, now, post); status != 200 || !strings.Contains(body, `"duplicate":false`) {
		t.Fatalf("a good post: %d %s", status, body)
	}
	if status, body := h.callback("?merchant=demo", bridgeSecret, now, post); status != 200 || !strings.Contains(body, `"duplicate":true`) {
		t.Fatalf("the same key again: %d %s, want accepted as a duplicate", status, body)
	}
	h.callback("", bridgeSecret, now, `{"group_id":"g1","text":"second","idempotency_key":"board:2"}`)

	resp, err := http.Get(h.url + "/emu/groups/g1/messages")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var posts []emulator.GroupPost
	if err := json.NewDecoder(resp.Body).Decode(&posts); err != nil {
		t.Fatal(err)
	}
	if len(posts) != 2 || posts[0].Text != "本周积分榜" || posts[0].Merchant != "demo" || posts[1].Text != "second" {
		t.Fatalf("messages = %+v", posts)
	}
	empty, _ := http.Get(h.url + "/emu/groups/nobody/messages")
	b, _ := io.ReadAll(empty.Body)
	empty.Body.Close()
	if strings.TrimSpace(string(b)) != "[]" {
		t.Fatalf("an empty group lists %q, want []", b)
	}

	h.emu.AddFault(emulator.Fault{Path: "/groups/callback", Status: http.StatusServiceUnavailable})
	if status, _ := h.callback("", bridgeSecret, now, `{"group_id":"g1","text":"x"}`); status != http.StatusServiceUnavailable {
		t.Fatalf("with a fault: %d, want 503", status)
	}
	if n := len(h.emu.GroupPosts("g1")); n != 2 {
		t.Fatalf("%d posts after the fault, want 2", n)
	}
	var big bytes.Buffer
	big.WriteString(`{"group_id":"g1","text":"`)
	big.WriteString(strings.Repeat("长", 30000))
	big.WriteString(`"}`)
	if status, _ := h.callback("", bridgeSecret, now, big.String()); status != http.StatusRequestEntityTooLarge {
		t.Fatalf("a post over 64 KiB: %d, want 413", status)
	}
}

func TestGroupBridgesAreEmulatorsOwn(t *testing.T) {
	a, b := newHarness(t, emulator.Options{}), newHarness(t, emulator.Options{})
	if err := a.emu.RegisterGroupBridge("demo", bridgeSecret); err != nil {
		t.Fatal(err)
	}
	if status, _ := b.callback("", bridgeSecret, b.clock.Now(), `{"group_id":"g","text":"t"}`); status != 401 {
		t.Fatalf("another emulator accepted a post for a bridge registered on the first: %d", status)
	}
}
