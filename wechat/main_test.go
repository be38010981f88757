package wechat_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wxclub/wxclub/models/modelstest"
	"github.com/wxclub/wxclub/wechat"
	"github.com/wxclub/wxclub/wechat/emulator"
)

// shared is the one emulator this package's tests talk to. silenceper's
// HTTP client and URI modifier are process-global, so TestMain points them
// here once, as main does; tests that change them (library_test.go) point
// them elsewhere, so every test that needs the emulator calls useEmulator
// first. Tests run sequentially and each registers accounts of its own.
var shared struct {
	emu   *emulator.Emulator
	clock *clock
	calls *callLog
	url   string // without /emu
}

func TestMain(m *testing.M) {
	shared.clock = &clock{t: time.Date(2026, 3, 2, 2, 0, 0, 0, time.UTC)} // 10:00 in Shanghai
	shared.emu = emulator.New(emulator.Options{Clock: shared.clock.Now})
	shared.calls = &callLog{}
	srv := httptest.NewServer(shared.calls.wrap(shared.emu.Handler()))
	shared.url = srv.URL
	wechat.ConfigureLibrary(wechat.LibraryOptions{APIBase: srv.URL + "/emu"})
	code := modelstest.Run(m) // drops the MySQL database the token tests used
	srv.Close()
	os.Exit(code)
}

// clock is the emulator's movable Options.Clock.
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

// callLog records every WeChat API call that reaches the emulator, so tests
// can count token fetches and send attempts, and which tokens were used.
type callLog struct {
	mu     sync.Mutex
	n      map[string]int  // API path (without /emu) -> calls
	tokens map[string]bool // access_token values presented
}

func (l *callLog) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if path, ok := strings.CutPrefix(r.URL.Path, "/emu"); ok {
			l.mu.Lock()
			if l.n == nil {
				l.n, l.tokens = map[string]int{}, map[string]bool{}
			}
			l.n[path]++
			if tok := r.URL.Query().Get("access_token"); tok != "" {
				l.tokens[tok] = true
			}
			l.mu.Unlock()
		}
		h.ServeHTTP(w, r)
	})
}

// count returns how many calls of path arrived so far.
func (l *callLog) count(path string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n[path]
}

// seenTokens lists every access token presented so far.
func (l *callLog) seenTokens() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]string, 0, len(l.tokens))
	for tok := range l.tokens {
		out = append(out, tok)
	}
	return out
}
