package wechat

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	mathrand "math/rand/v2"
	"net/url"
	"sync"
	"time"

	"github.com/silenceper/wechat/v2/credential"
	"github.com/silenceper/wechat/v2/util"

	"github.com/wxclub/wxclub/ritual"
)

// The token APIs. The URI modifier set by ConfigureLibrary sends them to
// the emulator in tests.
const (
	tokenURL       = WeChatOrigin + "/cgi-bin/token"
	stableTokenURL = WeChatOrigin + "/cgi-bin/stable_token"
)

const (
	// tokenMargin is how long before WeChat's expires_in a cached token is
	// dropped, so no replica sends with a token about to lapse. It is also
	// WeChat's own renewal window for stable tokens.
	tokenMargin = 5 * time.Minute
	// minTokenTTL keeps a token whose expires_in is short cached at all.
	minTokenTTL = time.Minute
	// lockTTL bounds how long a replica that died mid-fetch keeps the others
	// waiting. fetchTimeout is shorter, so the lock cannot lapse while its
	// holder still fetches (another replica would then fetch a second token
	// and supersede the first).
	lockTTL      = 15 * time.Second
	fetchTimeout = 10 * time.Second
	// refusedTTL is how long a stable token's refusal is remembered for the
	// next fetch to check.
	refusedTTL = 10 * time.Minute
	// pollInterval (plus up to as much again of jitter) is how often a
	// replica waiting for another's fetch looks at the cache.
	pollInterval = 50 * time.Millisecond
)

// SharedToken implements silenceper's credential.AccessTokenContextHandle over
// a ritual.KeyValue, so every replica of wxclub uses one access token per
// official account and only one of them fetches it at a time.
//
// That matters because each /cgi-bin/token call issues a new token and ends
// the previous one five minutes later: replicas that fetched tokens of their
// own would invalidate each other's, and a refused token would make each of
// them fetch again. stable_token returns the same token to every caller, but
// sharing it still saves a call per send and lets one replica's refusal
// serve them all.
type SharedToken struct {
	kv        ritual.KeyValue
	appID     string
	appSecret string
	stable    bool

	tokenKey   string // the cached token
	lockKey    string // held by the replica fetching a new one
	refusedKey string // stable mode: the token WeChat last refused
}

var _ credential.AccessTokenContextHandle = (*SharedToken)(nil)

// NewSharedToken returns the token handle of the official account appID.
// With stable set it uses /cgi-bin/stable_token (whose tokens are separate
// from /cgi-bin/token's, so the two are cached under different keys).
func NewSharedToken(kv ritual.KeyValue, appID, appSecret string, stable bool) *SharedToken {
	kind := "access_token"
	if stable {
		kind = "stable_token"
	}
	base := "wechat/" + kind + "/" + appID
	return &SharedToken{
		kv: kv, appID: appID, appSecret: appSecret, stable: stable,
		tokenKey: base, lockKey: base + "/lock", refusedKey: base + "/refused",
	}
}

// GetAccessToken returns the cached token, fetching one if there is none.
// silenceper's APIs that take no context call it.
func (t *SharedToken) GetAccessToken() (string, error) {
	return t.GetAccessTokenContext(context.Background())
}

// GetAccessTokenContext returns the cached token. Without one, it fetches
// one if no other replica is fetching, else it waits for that replica's
// token, until ctx ends.
func (t *SharedToken) GetAccessTokenContext(ctx context.Context) (string, error) {
	for {
		tok, ok, err := t.kv.Get(ctx, t.tokenKey)
		if err != nil {
			return "", t.errorf("read the cached access token", err)
		}
		if ok && tok != "" {
			return tok, nil
		}
		// Look before trying to take the lock: a read is cheaper than the
		// write SetIfAbsent is on the database.
		_, held, err := t.kv.Get(ctx, t.lockKey)
		if err != nil {
			return "", t.errorf("read the access token lock", err)
		}
		if !held {
			owner := randomOwner()
			won, err := t.kv.SetIfAbsent(ctx, t.lockKey, owner, lockTTL)
			if err != nil {
				return "", t.errorf("take the access token lock", err)
			}
			if won {
				return t.refresh(ctx, owner)
			}
		}
		select {
		case <-ctx.Done():
			return "", t.errorf("wait for another replica's access token", ctx.Err())
		case <-time.After(pollInterval + mathrand.N(pollInterval)):
		}
	}
}

// refresh fetches and caches a new token; the caller holds the lock as
// owner.
func (t *SharedToken) refresh(ctx context.Context, owner string) (string, error) {
	defer func() {
		// Release even when ctx has ended, or the others wait out lockTTL.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_, _ = t.kv.DeleteIf(rctx, t.lockKey, owner)
	}()
	// Another replica may have cached a token between our look and our
	// taking the lock.
	if tok, ok, err := t.kv.Get(ctx, t.tokenKey); err != nil {
		return "", t.errorf("read the cached access token", err)
	} else if ok && tok != "" {
		return tok, nil
	}
	fctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	res, err := t.fetch(fctx)
	if err != nil {
		return "", err
	}
	if res.AccessToken == "" {
		return "", fmt.Errorf("wechat: fetch access token for %s: empty token in the answer", t.appID)
	}
	// Store even if ctx ended meanwhile: the fetch has superseded the old
	// token, and an uncached new one would be superseded in turn.
	sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer scancel()
	if err := t.kv.Set(sctx, t.tokenKey, res.AccessToken, cacheTTL(res.ExpiresIn)); err != nil {
		return "", t.errorf("cache the access token", err)
	}
	return res.AccessToken, nil
}

// cacheTTL is how long a token WeChat says lives expiresIn seconds stays
// cached.
func cacheTTL(expiresIn int64) time.Duration {
	life := time.Duration(expiresIn) * time.Second
	switch {
	case life <= 0: // not WeChat's answer; keep it briefly rather than not at all
		return minTokenTTL
	case life-tokenMargin < minTokenTTL:
		return min(minTokenTTL, life)
	default:
		return life - tokenMargin
	}
}

// fetch asks WeChat for a token.
func (t *SharedToken) fetch(ctx context.Context) (credential.ResAccessToken, error) {
	if !t.stable {
		q := url.Values{"grant_type": {"client_credential"}, "appid": {t.appID}, "secret": {t.appSecret}}
		res, err := credential.GetTokenFromServerContext(ctx, tokenURL+"?"+q.Encode())
		switch {
		case err != nil && res.ErrCode != 0:
			return res, t.refusal("fetch access token", res.CommonError)
		case err != nil:
			return res, t.errorf("fetch access token", err)
		}
		return res, nil
	}
	// A refused stable token may simply have been replaced (another system
	// forced a refresh, or it lapsed early): ask normally first, and force
	// a new one only if WeChat hands back the token it refused. Forcing
	// invalidates the current token for everyone using it, and WeChat
	// allows it 20 times a day.
	refused, marked, err := t.kv.Get(ctx, t.refusedKey)
	if err != nil {
		return credential.ResAccessToken{}, t.errorf("read the refused stable token", err)
	}
	res, err := t.fetchStable(ctx, false)
	if err == nil && marked && res.AccessToken == refused {
		res, err = t.fetchStable(ctx, true)
	}
	if err != nil {
		return res, err
	}
	if marked {
		_, _ = t.kv.DeleteIf(ctx, t.refusedKey, refused)
	}
	return res, nil
}

func (t *SharedToken) fetchStable(ctx context.Context, force bool) (credential.ResAccessToken, error) {
	var res credential.ResAccessToken
	raw, err := util.PostJSONContext(ctx, stableTokenURL, map[string]any{
		"grant_type": "client_credential", "appid": t.appID, "secret": t.appSecret, "force_refresh": force,
	})
	if err != nil {
		return res, t.errorf("fetch stable access token", err)
	}
	if err := json.Unmarshal(raw, &res); err != nil {
		return res, t.errorf("fetch stable access token", fmt.Errorf("undecodable answer %q: %w", truncate(string(raw), 200), err))
	}
	if res.ErrCode != 0 {
		return res, t.refusal("fetch stable access token", res.CommonError)
	}
	return res, nil
}

// Refused drops token from the shared cache if it is still the cached one,
// so the next call fetches a new one — once for the whole fleet: replicas
// refused the same token find it already gone or replaced and leave the
// replacement alone. In stable mode it also records the refusal, so the
// next fetch forces a new token if WeChat would hand back the refused one.
func (t *SharedToken) Refused(ctx context.Context, token string) error {
	cur, ok, err := t.kv.Get(ctx, t.tokenKey)
	if err != nil {
		return t.errorf("read the cached access token", err)
	}
	if !ok || cur != token {
		return nil
	}
	if t.stable {
		// Before the delete: a replica that finds the cache empty must
		// already see the refusal when it fetches.
		if err := t.kv.Set(ctx, t.refusedKey, token, refusedTTL); err != nil {
			return t.errorf("record the refused stable token", err)
		}
	}
	if _, err := t.kv.DeleteIf(ctx, t.tokenKey, token); err != nil {
		return t.errorf("drop the refused access token", err)
	}
	return nil
}

// Invalidate drops whatever token is cached, as if WeChat had refused it.
func (t *SharedToken) Invalidate(ctx context.Context) error {
	cur, ok, err := t.kv.Get(ctx, t.tokenKey)
	if err != nil {
		return t.errorf("read the cached access token", err)
	}
	if !ok {
		return nil
	}
	return t.Refused(ctx, cur)
}

// errorf wraps err with what failed. The text is redacted: silenceper's
// errors carry the request URL, secret included. The chain is kept so
// callers can still tell a timeout or a cancelled context.
func (t *SharedToken) errorf(what string, err error) error {
	return &redactedError{msg: Redact(fmt.Sprintf("wechat: %s for %s: %v", what, t.appID, err)), err: err}
}

// refusal is WeChat's errcode answer to a token request, in silenceper's
// wording, which classifyToken reads. Only errmsg is redacted: Redact
// would mask the errcode too (it masks any "code=").
func (t *SharedToken) refusal(what string, e util.CommonError) error {
	return &redactedError{msg: fmt.Sprintf("wechat: %s for %s: errcode=%d , errormsg=%s", what, t.appID, e.ErrCode, Redact(e.ErrMsg))}
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// randomOwner names one holder of the lock, so only it releases it.
func randomOwner() string { return rand.Text() }

// MemoryKV is a ritual.KeyValue in this process's memory: the default for a
// single replica, and for tests. Replicas must share Redis or the database
// instead.
type MemoryKV struct {
	clock func() time.Time

	mu     sync.Mutex
	values map[string]memoryValue
}

type memoryValue struct {
	value   string
	expires time.Time
}

var _ ritual.KeyValue = (*MemoryKV)(nil)

// NewMemoryKV returns an empty MemoryKV whose values expire by clock (nil:
// the wall clock).
func NewMemoryKV(clock func() time.Time) *MemoryKV {
	if clock == nil {
		clock = time.Now
	}
	return &MemoryKV{clock: clock, values: map[string]memoryValue{}}
}

// errNoTTL refuses a value that would never expire (or expire at once):
// a lock without expiry outlives a replica that died holding it.
var errNoTTL = errors.New("wechat: shared values need a positive ttl")

// live returns key's unexpired value. Callers hold kv.mu.
func (kv *MemoryKV) live(key string) (string, bool) {
	v, ok := kv.values[key]
	if !ok {
		return "", false
	}
	if !kv.clock().Before(v.expires) {
		delete(kv.values, key)
		return "", false
	}
	return v.value, true
}

func (kv *MemoryKV) Get(_ context.Context, key string) (string, bool, error) {
	kv.mu.Lock()
	defer kv.mu.Unlock()
	v, ok := kv.live(key)
	return v, ok, nil
}

func (kv *MemoryKV) Set(_ context.Context, key, value string, ttl time.Duration) error {
	if ttl <= 0 {
		return errNoTTL
	}
	kv.mu.Lock()
	defer kv.mu.Unlock()
	kv.values[key] = memoryValue{value: value, expires: kv.clock().Add(ttl)}
	return nil
}

func (kv *MemoryKV) SetIfAbsent(_ context.Context, key, value string, ttl time.Duration) (bool, error) {
	if ttl <= 0 {
		return false, errNoTTL
	}
	kv.mu.Lock()
	defer kv.mu.Unlock()
	if _, ok := kv.live(key); ok {
		return false, nil
	}
	kv.values[key] = memoryValue{value: value, expires: kv.clock().Add(ttl)}
	return true, nil
}

func (kv *MemoryKV) DeleteIf(_ context.Context, key, value string) (bool, error) {
	kv.mu.Lock()
	defer kv.mu.Unlock()
	if v, ok := kv.live(key); !ok || v != value {
		return false, nil
	}
	delete(kv.values, key)
	return true, nil
}
