package emulator_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/silenceper/wechat/v2/cache"
	"github.com/silenceper/wechat/v2/officialaccount"
	"github.com/silenceper/wechat/v2/officialaccount/config"
	"github.com/silenceper/wechat/v2/util"

	"github.com/wxclub/wxclub/wechat/emulator"
)

// shared is the emulator silenceper's client talks to. silenceper's URI
// modifier is process-global, so it is set once here and every test that
// uses silenceper registers its own account on this emulator.
var shared struct {
	emu *emulator.Emulator
	url string
}

func TestMain(m *testing.M) {
	shared.emu = emulator.New(emulator.Options{})
	srv := httptest.NewServer(shared.emu.Handler())
	shared.url = srv.URL
	util.SetURIModifier(func(uri string) string {
		return strings.Replace(uri, "https://api.weixin.qq.com", srv.URL+"/emu", 1)
	})
	code := m.Run()
	srv.Close()
	os.Exit(code)
}

var accountSeq atomic.Int64

// uniqueAccount returns a fresh account whose AppID no other test uses.
func uniqueAccount(mode string) emulator.Account {
	n := accountSeq.Add(1)
	a := emulator.Account{
		Name:      fmt.Sprintf("m%d", n),
		AppID:     fmt.Sprintf("wx%016d", n),
		AppSecret: fmt.Sprintf("secret%d", n),
		Token:     "tok" + fmt.Sprint(n),
		Mode:      mode,
	}
	if mode != emulator.ModePlaintext {
		a.EncodingAESKey = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
	}
	return a
}

// silenceper returns silenceper's official-account client for a, talking
// to the shared emulator.
func silenceper(t *testing.T, a emulator.Account, stable bool) *officialaccount.OfficialAccount {
	t.Helper()
	if err := shared.emu.Register(a); err != nil {
		t.Fatal(err)
	}
	return officialaccount.NewOfficialAccount(&config.Config{
		AppID: a.AppID, AppSecret: a.AppSecret, Token: a.Token, EncodingAESKey: a.EncodingAESKey,
		Cache: cache.NewMemory(), UseStableAK: stable,
	})
}

// clock is a movable Options.Clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// harness is one emulator with its own clock and server.
type harness struct {
	t     *testing.T
	emu   *emulator.Emulator
	clock *clock
	url   string
}

// 10:00 in Shanghai on a Monday.
var epoch = time.Date(2026, 3, 2, 2, 0, 0, 0, time.UTC)

func newHarness(t *testing.T, opts emulator.Options) *harness {
	t.Helper()
	c := &clock{t: epoch}
	opts.Clock = c.Now
	emu := emulator.New(opts)
	srv := httptest.NewServer(emu.Handler())
	t.Cleanup(srv.Close)
	return &harness{t: t, emu: emu, clock: c, url: srv.URL}
}

// register registers a and returns it as the emulator filled it in
// (Mode, OriginalID).
func (h *harness) register(a emulator.Account) emulator.Account {
	h.t.Helper()
	if err := h.emu.Register(a); err != nil {
		h.t.Fatal(err)
	}
	for _, got := range h.emu.Accounts() {
		if got.AppID == a.AppID {
			return got
		}
	}
	h.t.Fatalf("account %s not listed after Register", a.AppID)
	return a
}

// wx is a decoded WeChat API answer.
type wx map[string]any

func (m wx) code() int {
	n, _ := m["errcode"].(float64)
	return int(n)
}

func (m wx) str(k string) string { s, _ := m[k].(string); return s }

func (m wx) num(k string) int64 { n, _ := m[k].(float64); return int64(n) }

// do calls the emulator and decodes a JSON answer; status is returned too.
func (h *harness) do(method, path string, body any) (int, wx) {
	h.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			h.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, h.url+path, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := wx{}
	if len(bytes.TrimSpace(raw)) > 0 && raw[0] == '{' {
		if err := json.Unmarshal(raw, &out); err != nil {
			h.t.Fatalf("%s %s: %v in %s", method, path, err, raw)
		}
	}
	return resp.StatusCode, out
}

// token gets a /cgi-bin/token access token.
func (h *harness) token(a emulator.Account) string {
	h.t.Helper()
	_, m := h.do("GET", "/emu/cgi-bin/token?grant_type=client_credential&appid="+a.AppID+"&secret="+a.AppSecret, nil)
	tok := m.str("access_token")
	if tok == "" {
		h.t.Fatalf("no token: %v", m)
	}
	return tok
}

// post calls a WeChat API with a token and a JSON body.
func (h *harness) post(path, token string, body any) wx {
	h.t.Helper()
	_, m := h.do("POST", "/emu"+path+"?access_token="+token, body)
	return m
}

// follow makes openid follow a through a real delivery-less path.
func (h *harness) follow(a emulator.Account, openids ...string) {
	for _, id := range openids {
		h.emu.SetFollowing(a.AppID, id, true)
	}
}
