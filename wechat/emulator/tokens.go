package emulator

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"time"
)

// Token rules, from the getAccessToken and getStableAccessToken docs
// (developers.weixin.qq.com/doc/service/api/base/api_getaccesstoken and
// .../api_getstableaccesstoken):
//   - every /cgi-bin/token call issues a new token; the previous one keeps
//     working for 5 minutes ("平台会保证在5分钟内，新老access_token都可用");
//   - stable_token in normal mode returns the current token while it is
//     valid and renews it only in its last 5 minutes, the old one staying
//     valid to its end ("普通模式下平台会提前5分钟更新access_token");
//   - force_refresh invalidates the previous stable token and issues a new
//     one ("会导致上次获取的access_token失效"), at most 20 times a day and
//     not twice within 30 s ("强制刷新模式每天限用20次且需间隔30秒");
//     within 30 s the call does not refresh and returns the current token;
//   - the two pools are separate ("与getAccessToken获取的调用凭证完全隔离").
const (
	supersedeGrace    = 5 * time.Minute
	stableRenewWindow = 5 * time.Minute
	forceRefreshGap   = 30 * time.Second
	forceRefreshDaily = 20
)

type token struct {
	value     string
	appID     string
	expires   time.Time
	invalidAt time.Time // zero: valid until expires
}

type stableState struct {
	current    *token
	forceDay   string
	forceCount int
	lastForce  time.Time
}

// issue mints a token for the account. Callers hold e.mu.
func (e *Emulator) issue(a *account) *token {
	t := &token{value: newTokenValue(), appID: a.cfg.AppID, expires: e.now().Add(e.tokenTTL)}
	e.tokens[t.value] = t
	return t
}

// newTokenValue looks like WeChat's: a number, "_", then ~130 url-safe
// characters, so a service that stores tokens in a short column fails here.
func newTokenValue() string {
	b := make([]byte, 96)
	_, _ = rand.Read(b)
	return "86_" + base64.RawURLEncoding.EncodeToString(b)
}

// invalidateBy ends t's life at `at` unless it ends sooner anyway.
func (t *token) invalidateBy(at time.Time) {
	if t.invalidAt.IsZero() || at.Before(t.invalidAt) {
		t.invalidAt = at
	}
}

func (t *token) expiresIn(now time.Time) int {
	return int(t.expires.Sub(now) / time.Second)
}

// authenticate checks ?access_token= and returns its account. Callers hold
// e.mu.
func (e *Emulator) authenticate(r *http.Request) (*account, *apiError) {
	v := r.URL.Query().Get("access_token")
	if v == "" {
		return nil, wxErr(codeTokenMissing)
	}
	t, ok := e.tokens[v]
	if !ok {
		return nil, wxErr(codeInvalidCredential)
	}
	now := e.now()
	if !now.Before(t.expires) {
		return nil, wxErr(codeTokenExpired)
	}
	if !t.invalidAt.IsZero() && !now.Before(t.invalidAt) {
		return nil, wxErr(codeInvalidCredential)
	}
	a, ok := e.accounts[t.appID]
	if !ok {
		return nil, wxErr(codeInvalidCredential)
	}
	return a, nil
}

// credentials checks grant_type, appid and secret the way both token
// endpoints do. Callers hold e.mu.
func (e *Emulator) credentials(grantType, appID, secret string) (*account, *apiError) {
	if grantType != "client_credential" {
		return nil, wxErr(codeInvalidGrantType)
	}
	a, ok := e.accounts[appID]
	if !ok {
		return nil, wxErr(codeInvalidAppID)
	}
	if secret != a.cfg.AppSecret {
		// WeChat answers a wrong secret with 40125 "invalid appsecret"
		// (40001 is for a bad token at other APIs).
		return nil, wxErr(codeInvalidAppSecret)
	}
	return a, nil
}

type tokenResponse struct {
	AccessToken string `json:"access_token"`
	ExpiresIn   int    `json:"expires_in"`
}

// getToken serves GET /cgi-bin/token?grant_type=client_credential&appid=&secret=.
func (e *Emulator) getToken(c *call) (any, *apiError) {
	q := c.query
	e.mu.Lock()
	defer e.mu.Unlock()
	a, err := e.credentials(q.Get("grant_type"), q.Get("appid"), q.Get("secret"))
	if err != nil {
		return nil, err
	}
	if err := e.spendQuota(a, pathToken); err != nil {
		return nil, err
	}
	now := e.now()
	if old, ok := e.tokens[a.latestToken]; ok {
		old.invalidateBy(now.Add(supersedeGrace))
	}
	t := e.issue(a)
	a.latestToken = t.value
	return tokenResponse{AccessToken: t.value, ExpiresIn: t.expiresIn(now)}, nil
}

type stableRequest struct {
	GrantType    string `json:"grant_type"`
	AppID        string `json:"appid"`
	Secret       string `json:"secret"`
	ForceRefresh bool   `json:"force_refresh"`
}

// stableToken serves POST /cgi-bin/stable_token.
func (e *Emulator) stableToken(c *call) (any, *apiError) {
	var req stableRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	a, err := e.credentials(req.GrantType, req.AppID, req.Secret)
	if err != nil {
		return nil, err
	}
	if err := e.spendQuota(a, pathStableToken); err != nil {
		return nil, err
	}
	t, err := e.currentStable(a, req.ForceRefresh)
	if err != nil {
		return nil, err
	}
	return tokenResponse{AccessToken: t.value, ExpiresIn: t.expiresIn(e.now())}, nil
}

// currentStable applies the stable_token rules above. Callers hold e.mu.
func (e *Emulator) currentStable(a *account, force bool) (*token, *apiError) {
	now := e.now()
	s := &a.stable
	cur := s.current
	usable := cur != nil && now.Before(cur.expires) && (cur.invalidAt.IsZero() || now.Before(cur.invalidAt))
	if force {
		if day := cstDay(now); s.forceDay != day {
			s.forceDay, s.forceCount = day, 0
		}
		if s.forceCount >= forceRefreshDaily {
			return nil, wxErrf(codeDailyQuota, "(force_refresh is limited to %d a day)", forceRefreshDaily)
		}
		if usable && !s.lastForce.IsZero() && now.Sub(s.lastForce) < forceRefreshGap {
			return cur, nil
		}
		s.forceCount++
		s.lastForce = now
		if cur != nil {
			cur.invalidateBy(now)
		}
		s.current = e.issue(a)
		return s.current, nil
	}
	if usable && cur.expires.Sub(now) > e.renewWindow() {
		return cur, nil
	}
	// The old token, if any, stays valid to its own end: nothing to do.
	s.current = e.issue(a)
	return s.current, nil
}

// renewWindow is WeChat's 5 minutes, shrunk for the short TokenTTLs tests
// use so a fresh token is not renewed at once.
func (e *Emulator) renewWindow() time.Duration {
	return min(stableRenewWindow, e.tokenTTL/2)
}
