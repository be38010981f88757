package emulator_test

import (
	"testing"
	"time"

	"github.com/wxclub/wxclub/wechat/emulator"
)

// tokenCode calls an authenticated API (tags/get) with tok and returns the
// errcode, 0 when the token works.
func (h *harness) tokenCode(tok string) int {
	h.t.Helper()
	_, m := h.do("GET", "/emu/cgi-bin/tags/get?access_token="+tok, nil)
	return m.code()
}

func (h *harness) stable(a emulator.Account, force bool) wx {
	h.t.Helper()
	_, m := h.do("POST", "/emu/cgi-bin/stable_token", map[string]any{
		"grant_type": "client_credential", "appid": a.AppID, "secret": a.AppSecret, "force_refresh": force,
	})
	return m
}

func TestTokenCredentials(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	a := h.register(uniqueAccount(emulator.ModePlaintext))
	tests := []struct {
		name, query string
		want        int
	}{
		{"ok", "grant_type=client_credential&appid=" + a.AppID + "&secret=" + a.AppSecret, 0},
		{"unknown appid", "grant_type=client_credential&appid=wxnope&secret=" + a.AppSecret, 40013},
		{"wrong secret", "grant_type=client_credential&appid=" + a.AppID + "&secret=nope", 40125},
		{"missing grant_type", "appid=" + a.AppID + "&secret=" + a.AppSecret, 40002},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, m := h.do("GET", "/emu/cgi-bin/token?"+tc.query, nil)
			if got := m.code(); got != tc.want {
				t.Fatalf("errcode = %d, want %d (%v)", got, tc.want, m)
			}
			if tc.want == 0 && m.num("expires_in") != 7200 {
				t.Errorf("expires_in = %d, want 7200", m.num("expires_in"))
			}
		})
	}
}

func TestTokenLifecycle(t *testing.T) {
	h := newHarness(t, emulator.Options{TokenTTL: time.Hour})
	a := h.register(uniqueAccount(emulator.ModePlaintext))
	old := h.token(a)
	h.clock.Advance(time.Minute)
	fresh := h.token(a)
	if fresh == old {
		t.Fatal("a second /cgi-bin/token call returned the same token")
	}
	steps := []struct {
		name    string
		advance time.Duration
		tok     string
		want    int
	}{
		{"old token still works right after", 0, old, 0},
		{"old token works 4m59s later", 4*time.Minute + 59*time.Second, old, 0},
		{"old token dies after 5 minutes", time.Second, old, 40001},
		{"new token works", 0, fresh, 0},
		{"new token expires with its TTL", 55 * time.Minute, fresh, 42001},
		{"missing token", 0, "", 41001},
		{"made-up token", 0, "86_nope", 40001},
	}
	for _, s := range steps {
		h.clock.Advance(s.advance)
		if got := h.tokenCode(s.tok); got != s.want {
			t.Errorf("%s: errcode = %d, want %d", s.name, got, s.want)
		}
	}
}

func TestStableToken(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	a := h.register(uniqueAccount(emulator.ModePlaintext))
	first := h.stable(a, false)
	tok := first.str("access_token")
	if tok == "" {
		t.Fatalf("no stable token: %v", first)
	}
	h.clock.Advance(10 * time.Minute)
	again := h.stable(a, false)
	if got := again.str("access_token"); got != tok {
		t.Errorf("normal mode returned a new token %q, want the current %q", got, tok)
	}
	if got, want := again.num("expires_in"), int64(7200-600); got != want {
		t.Errorf("expires_in = %d, want the remaining %d", got, want)
	}
	normal := h.token(a)
	if got := h.tokenCode(tok); got != 0 {
		t.Errorf("a /cgi-bin/token call broke the stable token: errcode %d", got)
	}

	forced := h.stable(a, true).str("access_token")
	if forced == tok {
		t.Fatal("force_refresh returned the same token")
	}
	if got, want := h.tokenCode(tok), 40001; got != want {
		t.Errorf("token replaced by force_refresh: errcode %d, want %d", got, want)
	}
	if got := h.tokenCode(normal); got != 0 {
		t.Errorf("force_refresh broke the /cgi-bin/token token: errcode %d", got)
	}
	if got := h.stable(a, true).str("access_token"); got != forced {
		t.Errorf("force_refresh within 30 s refreshed anyway: %q, want %q", got, forced)
	}
}

func TestStableTokenRenewsInLastFiveMinutes(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	a := h.register(uniqueAccount(emulator.ModePlaintext))
	tok := h.stable(a, false).str("access_token")
	h.clock.Advance(7200*time.Second - 4*time.Minute)
	renewed := h.stable(a, false)
	if renewed.str("access_token") == tok {
		t.Fatal("stable token was not renewed in its last 5 minutes")
	}
	if got := h.tokenCode(tok); got != 0 {
		t.Errorf("the old stable token must last to its end: errcode %d", got)
	}
	h.clock.Advance(4 * time.Minute)
	if got, want := h.tokenCode(tok), 42001; got != want {
		t.Errorf("old stable token after its end: errcode %d, want %d", got, want)
	}
}

func TestStableTokenForceRefreshDailyLimit(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	a := h.register(uniqueAccount(emulator.ModePlaintext))
	for i := range 20 {
		if m := h.stable(a, true); m.code() != 0 {
			t.Fatalf("force refresh %d: %v", i+1, m)
		}
		h.clock.Advance(31 * time.Second)
	}
	if got, want := h.stable(a, true).code(), 45009; got != want {
		t.Errorf("21st force refresh of the day: errcode %d, want %d", got, want)
	}
	if got := h.stable(a, false).code(); got != 0 {
		t.Errorf("normal mode after the force limit: errcode %d, want 0", got)
	}
	h.clock.Advance(24 * time.Hour)
	if got := h.stable(a, true).code(); got != 0 {
		t.Errorf("force refresh the next day: errcode %d, want 0", got)
	}
}

func TestSilenceperGetsTokens(t *testing.T) {
	for _, stable := range []bool{false, true} {
		a := uniqueAccount(emulator.ModePlaintext)
		oa := silenceper(t, a, stable)
		tok, err := oa.GetAccessToken()
		if err != nil {
			t.Fatalf("stable=%v: %v", stable, err)
		}
		if tok == "" {
			t.Fatalf("stable=%v: empty token", stable)
		}
	}
}
