package wechat_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wxclub/wxclub/ritual"
	"github.com/wxclub/wxclub/wechat"
	"github.com/wxclub/wxclub/wechat/emulator"
)

const (
	pathToken = "/cgi-bin/token"
	pathSend  = "/cgi-bin/message/template/send"
	tplPoints = "TPL_POINTS"
)

// fixture is a Client talking to the shared emulator, and what it logged.
type fixture struct {
	t      *testing.T
	client *wechat.Client
	log    *lockedBuffer
}

// useEmulator points silenceper at the shared emulator with the given HTTP
// timeout (0: the default) and returns a fresh Client.
func useEmulator(t *testing.T, timeout time.Duration) *fixture {
	t.Helper()
	wechat.ConfigureLibrary(wechat.LibraryOptions{APIBase: shared.url + "/emu", Timeout: timeout})
	t.Cleanup(shared.emu.ClearFaults)
	buf := &lockedBuffer{}
	logger := slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return &fixture{t: t, client: wechat.NewClient(wechat.ClientOptions{Logger: logger}), log: buf}
}

var seq atomic.Int64

// merchant registers a fresh official account on the emulator and returns
// the merchant that owns it.
func (f *fixture) merchant() *ritual.Merchant {
	f.t.Helper()
	n := seq.Add(1)
	m := &ritual.Merchant{
		ID:   fmt.Sprintf("shop%d", n),
		Name: fmt.Sprintf("Shop %d", n),
		OfficialAccount: ritual.OfficialAccount{
			AppID:     fmt.Sprintf("wx%016d", n),
			AppSecret: fmt.Sprintf("SeCrEt%dXq", n),
			Token:     fmt.Sprintf("tok%d", n),
		},
	}
	err := shared.emu.Register(emulator.Account{
		Name: m.ID, AppID: m.OfficialAccount.AppID, AppSecret: m.OfficialAccount.AppSecret,
		Token: m.OfficialAccount.Token, TemplateIDs: []string{tplPoints},
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return m
}

// follower returns a fresh openid (28 characters, like WeChat's) following
// m's account.
func (f *fixture) follower(m *ritual.Merchant) string {
	openid := fmt.Sprintf("o%027d", seq.Add(1))
	shared.emu.SetFollowing(m.OfficialAccount.AppID, openid, true)
	return openid
}

func pointsMessage(openid string) ritual.TemplateMessage {
	return ritual.TemplateMessage{
		OpenID: openid, TemplateID: tplPoints, URL: "https://shop.example/points",
		Fields: []ritual.TemplateField{{Key: "thing1", Value: "积分到账"}, {Key: "number2", Value: "120"}},
	}
}

// sendError returns err as a *ritual.SendError or fails the test.
func sendError(t *testing.T, err error) *ritual.SendError {
	t.Helper()
	var se *ritual.SendError
	if !errors.As(err, &se) {
		t.Fatalf("err = %v (%T), want a *ritual.SendError", err, err)
	}
	return se
}

// noneOf fails the test when text shows any of the secrets.
func noneOf(t *testing.T, what, text string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if s != "" && strings.Contains(text, s) {
			t.Errorf("%s shows %q: %s", what, s, text)
		}
	}
}

func TestSendTemplateReachesFollower(t *testing.T) {
	f := useEmulator(t, 0)
	m := f.merchant()
	openid := f.follower(m)

	id, err := f.client.SendTemplate(context.Background(), m, pointsMessage(openid))
	if err != nil {
		t.Fatal(err)
	}
	inbox := shared.emu.Inbox(openid)
	if len(inbox) != 1 {
		t.Fatalf("inbox has %d items, want 1: %+v", len(inbox), inbox)
	}
	got := inbox[0]
	if got.Kind != "template" || got.TemplateID != tplPoints || got.AppID != m.OfficialAccount.AppID {
		t.Errorf("arrived %s %s from %s, want template %s from %s", got.Kind, got.TemplateID, got.AppID, tplPoints, m.OfficialAccount.AppID)
	}
	if got.Data["thing1"] != "积分到账" || got.Data["number2"] != "120" || len(got.Data) != 2 {
		t.Errorf("data = %v", got.Data)
	}
	if got.URL != "https://shop.example/points" {
		t.Errorf("url = %q", got.URL)
	}
	if id == 0 || id != got.MsgID {
		t.Errorf("msgid = %d, want the emulator's %d", id, got.MsgID)
	}

	logged := f.log.String()
	if !strings.Contains(logged, "merchant="+m.ID) {
		t.Errorf("success not logged with the merchant: %q", logged)
	}
	noneOf(t, "log", logged, append(shared.calls.seenTokens(), openid, "积分到账", m.OfficialAccount.AppSecret)...)
}

func TestSendTemplateClassifiesRefusals(t *testing.T) {
	f := useEmulator(t, 0)
	m := f.merchant()
	// Fetch a token first, so faults on the send path meet a real send.
	if _, err := f.client.SendTemplate(context.Background(), m, pointsMessage(f.follower(m))); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name    string
		fault   *emulator.Fault
		prepare func(*ritual.TemplateMessage)
		class   ritual.SendClass
		errcode int
	}{
		{name: "not following", class: ritual.SendNotFollowing, errcode: 43004,
			prepare: func(msg *ritual.TemplateMessage) {
				shared.emu.SetFollowing(m.OfficialAccount.AppID, msg.OpenID, false)
			}},
		{name: "openid never seen", class: ritual.SendFinal, errcode: 40003,
			prepare: func(msg *ritual.TemplateMessage) { msg.OpenID = fmt.Sprintf("o%027d", seq.Add(1)) }},
		{name: "21-character field", class: ritual.SendFinal, errcode: 47003,
			prepare: func(msg *ritual.TemplateMessage) { msg.Fields[0].Value = strings.Repeat("茶", 21) }},
		{name: "template not added", class: ritual.SendFinal, errcode: 40037,
			prepare: func(msg *ritual.TemplateMessage) { msg.TemplateID = "TPL_UNKNOWN" }},
		{name: "daily quota", fault: &emulator.Fault{ErrCode: 45009}, class: ritual.SendQuota, errcode: 45009},
		{name: "user refused", fault: &emulator.Fault{ErrCode: 43101}, class: ritual.SendFinal, errcode: 43101},
		{name: "system busy", fault: &emulator.Fault{ErrCode: -1}, class: ritual.SendRetry, errcode: -1},
		{name: "calls too frequent", fault: &emulator.Fault{ErrCode: 45011}, class: ritual.SendRetry, errcode: 45011},
		{name: "HTTP 502", fault: &emulator.Fault{Status: http.StatusBadGateway}, class: ritual.SendRetry, errcode: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg := pointsMessage(f.follower(m))
			if tc.prepare != nil {
				tc.prepare(&msg)
			}
			if tc.fault != nil {
				fault := *tc.fault
				fault.Path = pathSend
				shared.emu.AddFault(fault)
			}
			id, err := f.client.SendTemplate(context.Background(), m, msg)
			se := sendError(t, err)
			if se.Class != tc.class || se.ErrCode != tc.errcode {
				t.Errorf("got %s/%d, want %s/%d: %v", se.Class, se.ErrCode, tc.class, tc.errcode, se)
			}
			if id != 0 {
				t.Errorf("msgid = %d for a failed send", id)
			}
			if n := len(shared.emu.Inbox(msg.OpenID)); n != 0 {
				t.Errorf("a refused message arrived (%d items)", n)
			}
			noneOf(t, "error", err.Error(), append(shared.calls.seenTokens(), msg.OpenID, m.OfficialAccount.AppSecret)...)
			if tc.fault != nil && tc.fault.Status != 0 && !strings.Contains(err.Error(), "502") {
				t.Errorf("error does not say what happened: %v", err)
			}
		})
	}

	logged := f.log.String()
	if !strings.Contains(logged, "errcode=45009") || !strings.Contains(logged, "merchant="+m.ID) {
		t.Errorf("failures not logged with merchant and errcode: %q", logged)
	}
	noneOf(t, "log", logged, append(shared.calls.seenTokens(), "茶茶茶", m.OfficialAccount.AppSecret)...)
	if strings.Contains(logged, "o0000") {
		t.Errorf("log shows an openid: %q", logged)
	}
}

// getToken asks the emulator for a token directly, as another process with
// the same credentials would; it supersedes the one the client holds.
func getToken(t *testing.T, m *ritual.Merchant) string {
	t.Helper()
	resp, err := http.Get(shared.url + "/emu/cgi-bin/token?grant_type=client_credential&appid=" +
		m.OfficialAccount.AppID + "&secret=" + m.OfficialAccount.AppSecret)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.AccessToken == "" {
		t.Fatalf("no token: %v", err)
	}
	return body.AccessToken
}

func TestSendTemplateRefreshesASupersededToken(t *testing.T) {
	f := useEmulator(t, 0)
	m := f.merchant()
	openid := f.follower(m)
	if _, err := f.client.SendTemplate(context.Background(), m, pointsMessage(openid)); err != nil {
		t.Fatal(err)
	}
	// A newer token, then past the 5 minutes the old one stays valid. The
	// client's cache still holds the old one: it keeps a token for
	// expires_in minus 5 minutes of its own clock, real time here.
	getToken(t, m)
	shared.clock.Advance(6 * time.Minute)

	tokens, sends := shared.calls.count(pathToken), shared.calls.count(pathSend)
	msg := pointsMessage(openid)
	msg.Fields[1].Value = "second"
	id, err := f.client.SendTemplate(context.Background(), m, msg)
	if err != nil {
		t.Fatalf("send with a superseded token: %v", err)
	}
	if got := shared.calls.count(pathToken) - tokens; got != 1 {
		t.Errorf("%d token fetches, want 1 refresh", got)
	}
	if got := shared.calls.count(pathSend) - sends; got != 2 {
		t.Errorf("%d send attempts, want the refused one and one retry", got)
	}
	var arrived int
	for _, it := range shared.emu.Inbox(openid) {
		if it.Data["number2"] == "second" {
			arrived++
			if it.MsgID != id {
				t.Errorf("msgid = %d, want %d", id, it.MsgID)
			}
		}
	}
	if arrived != 1 {
		t.Errorf("the message arrived %d times, want once", arrived)
	}
}

func TestSendTemplateRetriesARefusedTokenOnlyOnce(t *testing.T) {
	f := useEmulator(t, 0)
	m := f.merchant()
	openid := f.follower(m)
	if _, err := f.client.SendTemplate(context.Background(), m, pointsMessage(openid)); err != nil {
		t.Fatal(err)
	}
	before := len(shared.emu.Inbox(openid))
	shared.emu.AddFault(emulator.Fault{Path: pathSend, Count: 2, ErrCode: 40001})

	tokens, sends := shared.calls.count(pathToken), shared.calls.count(pathSend)
	_, err := f.client.SendTemplate(context.Background(), m, pointsMessage(openid))
	se := sendError(t, err)
	if se.Class != ritual.SendRetry || se.ErrCode != 40001 {
		t.Errorf("got %s/%d, want retry/40001: %v", se.Class, se.ErrCode, se)
	}
	if got := shared.calls.count(pathSend) - sends; got != 2 {
		t.Errorf("%d send attempts, want 2", got)
	}
	if got := shared.calls.count(pathToken) - tokens; got != 1 {
		t.Errorf("%d token fetches, want 1", got)
	}
	if got := len(shared.emu.Inbox(openid)); got != before {
		t.Errorf("inbox grew from %d to %d", before, got)
	}
	// Both faulted calls were used up: the next send goes through.
	if _, err := f.client.SendTemplate(context.Background(), m, pointsMessage(openid)); err != nil {
		t.Errorf("send after the faults: %v", err)
	}
}

func TestSendTemplateGivesUpOnAHungWeChat(t *testing.T) {
	t.Run("library timeout", func(t *testing.T) {
		f := useEmulator(t, 300*time.Millisecond)
		m := f.merchant()
		openid := f.follower(m)
		shared.emu.AddFault(emulator.Fault{Path: pathSend, DelayMS: 1000})
		start := time.Now()
		_, err := f.client.SendTemplate(context.Background(), m, pointsMessage(openid))
		took := time.Since(start)
		if se := sendError(t, err); se.Class != ritual.SendRetry || se.ErrCode != 0 {
			t.Errorf("got %s/%d, want retry/0: %v", se.Class, se.ErrCode, se)
		}
		if took > 900*time.Millisecond {
			t.Errorf("took %s; the 300ms timeout did not apply", took)
		}
		noneOf(t, "error", err.Error(), shared.calls.seenTokens()...)
	})
	t.Run("context deadline", func(t *testing.T) {
		f := useEmulator(t, 10*time.Second)
		m := f.merchant()
		openid := f.follower(m)
		shared.emu.AddFault(emulator.Fault{Path: pathSend, DelayMS: 1000})
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err := f.client.SendTemplate(ctx, m, pointsMessage(openid))
		took := time.Since(start)
		if se := sendError(t, err); se.Class != ritual.SendRetry {
			t.Errorf("got %s, want retry: %v", se.Class, se)
		}
		if took > 2*time.Second {
			t.Errorf("took %s; the context deadline was ignored", took)
		}
	})
	t.Run("cancelled before the call", func(t *testing.T) {
		f := useEmulator(t, 0)
		m := f.merchant()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		tokens, sends := shared.calls.count(pathToken), shared.calls.count(pathSend)
		_, err := f.client.SendTemplate(ctx, m, pointsMessage(f.follower(m)))
		if se := sendError(t, err); se.Class != ritual.SendRetry {
			t.Errorf("got %s, want retry: %v", se.Class, se)
		}
		if shared.calls.count(pathToken) != tokens || shared.calls.count(pathSend) != sends {
			t.Error("a cancelled send still called WeChat")
		}
	})
}

func TestSendTemplateSendsAClientMsgIDOnce(t *testing.T) {
	f := useEmulator(t, 0)
	m := f.merchant()
	openid := f.follower(m)
	msg := pointsMessage(openid)
	msg.ClientMsgID = "outbox-42"

	first, err := f.client.SendTemplate(context.Background(), m, msg)
	if err != nil {
		t.Fatal(err)
	}
	again, err := f.client.SendTemplate(context.Background(), m, msg)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(shared.emu.Inbox(openid)); got != 1 {
		t.Fatalf("a resend with the same client_msg_id arrived: %d items", got)
	}
	if again != first {
		t.Errorf("resend msgid = %d, want the first send's %d", again, first)
	}
	msg.ClientMsgID = "outbox-43"
	if _, err := f.client.SendTemplate(context.Background(), m, msg); err != nil {
		t.Fatal(err)
	}
	if got := len(shared.emu.Inbox(openid)); got != 2 {
		t.Errorf("another client_msg_id: %d items, want 2", got)
	}
}

func TestSendTemplateTokenFailures(t *testing.T) {
	t.Run("wrong secret, then fixed", func(t *testing.T) {
		f := useEmulator(t, 0)
		m := f.merchant()
		openid := f.follower(m)
		wrong := *m
		wrong.OfficialAccount.AppSecret = "WrOnGsEcReT"
		_, err := f.client.SendTemplate(context.Background(), &wrong, pointsMessage(openid))
		se := sendError(t, err)
		if se.Class != ritual.SendRetry || se.ErrCode != 40125 {
			t.Errorf("got %s/%d, want retry/40125: %v", se.Class, se.ErrCode, se)
		}
		noneOf(t, "error", err.Error(), "WrOnGsEcReT")
		// The merchant fixes the secret: the client must not keep using
		// the account built with the wrong one.
		if _, err := f.client.SendTemplate(context.Background(), m, pointsMessage(openid)); err != nil {
			t.Errorf("send after fixing the secret: %v", err)
		}
	})
	t.Run("token API down", func(t *testing.T) {
		f := useEmulator(t, 0)
		m := f.merchant()
		shared.emu.AddFault(emulator.Fault{Path: pathToken, Status: http.StatusBadGateway})
		_, err := f.client.SendTemplate(context.Background(), m, pointsMessage(f.follower(m)))
		se := sendError(t, err)
		if se.Class != ritual.SendRetry || se.ErrCode != 0 {
			t.Errorf("got %s/%d, want retry/0: %v", se.Class, se.ErrCode, se)
		}
		if !strings.Contains(err.Error(), "502") {
			t.Errorf("error does not say what happened: %v", err)
		}
		noneOf(t, "error", err.Error(), m.OfficialAccount.AppSecret)
	})
}

func TestSendTemplateUndecodableAnswer(t *testing.T) {
	// Something between us and WeChat (a proxy, a captive portal) answers
	// 200 with a page of its own.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, pathToken) {
			w.Write([]byte(`{"access_token":"PROXYTOKEN123","expires_in":7200}`))
			return
		}
		w.Write([]byte("<html>please log in</html>"))
	}))
	defer srv.Close()
	f := useEmulator(t, 0)
	wechat.ConfigureLibrary(wechat.LibraryOptions{APIBase: srv.URL + "/emu"})
	m := &ritual.Merchant{ID: "proxied", OfficialAccount: ritual.OfficialAccount{AppID: "wxproxied", AppSecret: "s", Token: "tok"}}

	_, err := f.client.SendTemplate(context.Background(), m, pointsMessage(fmt.Sprintf("o%027d", seq.Add(1))))
	se := sendError(t, err)
	if se.Class != ritual.SendRetry || se.ErrCode != 0 {
		t.Errorf("got %s/%d, want retry/0: %v", se.Class, se.ErrCode, se)
	}
	noneOf(t, "error", err.Error(), "PROXYTOKEN123")
}

func TestInvalidateTokenFetchesANewOne(t *testing.T) {
	f := useEmulator(t, 0)
	m := f.merchant()
	openid := f.follower(m)
	send := func() {
		t.Helper()
		if _, err := f.client.SendTemplate(context.Background(), m, pointsMessage(openid)); err != nil {
			t.Fatal(err)
		}
	}
	send()
	tokens := shared.calls.count(pathToken)
	send()
	if got := shared.calls.count(pathToken) - tokens; got != 0 {
		t.Fatalf("%d token fetches with a cached token, want 0", got)
	}
	f.client.InvalidateToken(m)
	send()
	if got := shared.calls.count(pathToken) - tokens; got != 1 {
		t.Errorf("%d token fetches after InvalidateToken, want 1", got)
	}
}

func TestSendTemplateConcurrently(t *testing.T) {
	f := useEmulator(t, 0)
	var merchants []*ritual.Merchant
	var openids []string
	for range 3 {
		m := f.merchant()
		merchants = append(merchants, m)
		openids = append(openids, f.follower(m))
	}
	tokens := shared.calls.count(pathToken)

	const senders = 20
	var wg sync.WaitGroup
	errs := make(chan error, senders)
	for i := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k := i % len(merchants)
			msg := pointsMessage(openids[k])
			msg.Fields[1].Value = fmt.Sprint(i)
			if _, err := f.client.SendTemplate(context.Background(), merchants[k], msg); err != nil {
				errs <- fmt.Errorf("sender %d: %w", i, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for k, openid := range openids {
		want := senders / len(merchants)
		if k < senders%len(merchants) {
			want++
		}
		if got := len(shared.emu.Inbox(openid)); got != want {
			t.Errorf("merchant %d: %d messages arrived, want %d", k, got, want)
		}
	}
	// Concurrent first sends share one token per account: a second fetch
	// would supersede the first.
	if got := shared.calls.count(pathToken) - tokens; got != len(merchants) {
		t.Errorf("%d token fetches for %d merchants", got, len(merchants))
	}
}

// lockedBuffer is a log destination safe for concurrent writers.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
