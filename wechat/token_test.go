package wechat_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wxclub/wxclub/models"
	"github.com/wxclub/wxclub/models/modelstest"
	"github.com/wxclub/wxclub/ritual"
	"github.com/wxclub/wxclub/ritual/ritualtest"
	"github.com/wxclub/wxclub/wechat"
	"github.com/wxclub/wxclub/wechat/emulator"
)

const pathStable = "/cgi-bin/stable_token"

// envRedisAddr names the test Redis, like WXCLUB_TEST_MYSQL_DSN names the
// test MySQL: without it the Redis half is skipped, and says so (the README's
// `go test ./...` needs no server); .ci/run sets it, and then a Redis that
// does not answer fails the test.
const envRedisAddr = "WXCLUB_TEST_REDIS_ADDR"

// redisKV returns a RedisKV on the test server under a prefix of the test's
// own, whose keys are deleted when the test ends.
func redisKV(t *testing.T) (*wechat.RedisKV, *redis.Client, string) {
	t.Helper()
	addr := os.Getenv(envRedisAddr)
	if addr == "" {
		t.Skipf("Redis half skipped: %s is not set (.ci/run sets it)", envRedisAddr)
	}
	client := redis.NewClient(&redis.Options{Addr: addr})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		client.Close()
		t.Fatalf("Redis at %s does not answer (set %s to another server): %v", addr, envRedisAddr, err)
	}
	prefix := ritualtest.RandomID("wxclub-test-") + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		keys, err := client.Keys(ctx, prefix+"*").Result()
		if err == nil && len(keys) > 0 {
			err = client.Del(ctx, keys...).Err()
		}
		if err != nil {
			t.Errorf("clean up Redis keys %s*: %v", prefix, err)
		}
		client.Close()
	})
	return wechat.NewRedisKV(client, prefix), client, prefix
}

// store is a shared ritual.KeyValue replicas can be pointed at.
type store struct {
	name string
	open func(t *testing.T) ritual.KeyValue
}

// sharedStores are the stores a deployment of several replicas may use.
// The MySQL one skips itself unless WXCLUB_TEST_MYSQL_DSN is set.
func sharedStores() []store {
	return []store{
		{"redis", func(t *testing.T) ritual.KeyValue { kv, _, _ := redisKV(t); return kv }},
		{"sqlite", func(t *testing.T) ritual.KeyValue {
			return modelstest.Open(t, models.DriverSQLite, ritual.SystemClock).KeyValue()
		}},
		{"mysql", func(t *testing.T) ritual.KeyValue {
			return modelstest.Open(t, models.DriverMySQL, ritual.SystemClock).KeyValue()
		}},
	}
}

// replicas returns one Client per store, as wxclub processes behind a load
// balancer would be: sharing nothing but the store they are given.
func replicas(stable bool, stores ...ritual.KeyValue) []*wechat.Client {
	var out []*wechat.Client
	for _, kv := range stores {
		out = append(out, wechat.NewClient(wechat.ClientOptions{Tokens: kv, StableToken: stable}))
	}
	return out
}

// sendRound sends n template messages to openid at once, message i through
// fleet[i%len(fleet)], each tagged with tag, and fails the test unless all
// were accepted and all arrived exactly once.
func sendRound(t *testing.T, fleet []*wechat.Client, m *ritual.Merchant, openid, tag string, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			msg := pointsMessage(openid)
			msg.Fields[1].Value = fmt.Sprintf("%s%d", tag, i)
			if _, err := fleet[i%len(fleet)].SendTemplate(ctx, m, msg); err != nil {
				errs <- fmt.Errorf("message %d through replica %d: %w", i, i%len(fleet), err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	arrived := map[string]int{}
	for _, it := range shared.emu.Inbox(openid) {
		if strings.HasPrefix(it.Data["number2"], tag) {
			arrived[it.Data["number2"]]++
		}
	}
	for i := range n {
		if got := arrived[fmt.Sprintf("%s%d", tag, i)]; got != 1 {
			t.Errorf("message %s%d arrived %d times, want once", tag, i, got)
		}
	}
}

// counts is a snapshot of the emulator's call log.
type counts struct{ token, stable, send int }

func snapshot() counts {
	return counts{shared.calls.count(pathToken), shared.calls.count(pathStable), shared.calls.count(pathSend)}
}

func (c counts) since(before counts) counts {
	return counts{c.token - before.token, c.stable - before.stable, c.send - before.send}
}

func TestReplicasSharingTokensFetchOne(t *testing.T) {
	for _, st := range sharedStores() {
		t.Run(st.name, func(t *testing.T) {
			f := useEmulator(t, 0)
			m := f.merchant()
			openid := f.follower(m)
			kv := st.open(t)
			fleet := replicas(false, kv, kv, kv)

			before := snapshot()
			sendRound(t, fleet, m, openid, "a", 30)
			got := snapshot().since(before)
			t.Logf("%s: %d token calls, %d send calls for 30 messages on 3 replicas", st.name, got.token, got.send)
			if got.token != 1 {
				t.Errorf("%d /cgi-bin/token calls, want 1 for the whole fleet", got.token)
			}
			if got.send != 30 {
				t.Errorf("%d send calls for 30 messages: some token was refused", got.send)
			}
		})
	}
}

func TestReplicasRefreshARefusedTokenOnce(t *testing.T) {
	for _, st := range sharedStores() {
		t.Run(st.name, func(t *testing.T) {
			f := useEmulator(t, 0)
			m := f.merchant()
			openid := f.follower(m)
			kv := st.open(t)
			fleet := replicas(false, kv, kv, kv)
			sendRound(t, fleet, m, openid, "a", 30)

			// Someone else fetches a token; five minutes later the one
			// the fleet shares stops working.
			getToken(t, m)
			shared.clock.Advance(6 * time.Minute)

			before := snapshot()
			sendRound(t, fleet, m, openid, "b", 30)
			got := snapshot().since(before)
			t.Logf("%s: %d token calls, %d send calls (%d refused) for 30 messages after invalidation",
				st.name, got.token, got.send, got.send-30)
			if got.send <= 30 {
				t.Fatalf("%d send calls: no send met the superseded token, the test proves nothing", got.send)
			}
			if got.token != 1 {
				t.Errorf("%d /cgi-bin/token calls after the shared token was refused, want 1 for the whole fleet", got.token)
			}
		})
	}
}

// Replicas with caches of their own are what the shared cache prevents:
// each fetches a token, superseding the others', and five minutes later
// the superseded ones are refused and fetched again.
func TestReplicasWithCachesOfTheirOwnSupersedeEachOther(t *testing.T) {
	f := useEmulator(t, 0)
	m := f.merchant()
	openid := f.follower(m)
	fleet := replicas(false, wechat.NewMemoryKV(nil), wechat.NewMemoryKV(nil), wechat.NewMemoryKV(nil))

	before := snapshot()
	sendRound(t, fleet, m, openid, "a", 30)
	got := snapshot().since(before)
	t.Logf("unshared: %d token calls for 30 messages on 3 replicas", got.token)
	if got.token != 3 {
		t.Errorf("%d /cgi-bin/token calls, want 3: one per replica", got.token)
	}

	// Only the last token fetched survives the grace period.
	shared.clock.Advance(6 * time.Minute)
	before = snapshot()
	sendRound(t, fleet, m, openid, "b", 30)
	got = snapshot().since(before)
	t.Logf("unshared, 6 minutes on: %d token calls, %d send calls (%d refused)", got.token, got.send, got.send-30)
	if got.send <= 30 {
		t.Errorf("%d send calls for 30 messages, want some refused with 40001", got.send)
	}
	if got.token != 2 {
		t.Errorf("%d /cgi-bin/token calls, want 2: the two replicas whose tokens were superseded", got.token)
	}
}

func TestStableTokenSharedByReplicas(t *testing.T) {
	f := useEmulator(t, 0)
	m := f.merchant()
	openid := f.follower(m)
	kv, _, _ := redisKV(t)
	fleet := replicas(true, kv, kv, kv)

	before := snapshot()
	sendRound(t, fleet, m, openid, "a", 30)
	got := snapshot().since(before)
	t.Logf("stable: %d stable_token calls, %d token calls for 30 messages on 3 replicas", got.stable, got.token)
	if got.token != 0 {
		t.Errorf("%d /cgi-bin/token calls in stable mode, want 0", got.token)
	}
	if got.stable != 1 {
		t.Errorf("%d /cgi-bin/stable_token calls, want 1 for the whole fleet", got.stable)
	}
}

// newTokens returns the tokens presented to the emulator that were not in
// before.
func newTokens(before []string) []string {
	var out []string
	for _, tok := range shared.calls.seenTokens() {
		if !slices.Contains(before, tok) {
			out = append(out, tok)
		}
	}
	return out
}

func TestStableTokenRefusedAndStillCurrentIsForcedOnce(t *testing.T) {
	f := useEmulator(t, 0)
	m := f.merchant()
	openid := f.follower(m)
	kv, _, _ := redisKV(t)
	fleet := replicas(true, kv, kv, kv)
	sendRound(t, fleet, m, openid, "a", 3)

	// WeChat refuses the token it would still hand out in normal mode:
	// only force_refresh gets another.
	seen := shared.calls.seenTokens()
	shared.emu.AddFault(emulator.Fault{Path: pathSend, ErrCode: 40001})
	before := snapshot()
	sendRound(t, fleet[:1], m, openid, "b", 1)
	got := snapshot().since(before)
	fresh := newTokens(seen)
	t.Logf("stable, refused: %d stable_token calls, %d new tokens", got.stable, len(fresh))
	if got.send != 2 {
		t.Fatalf("%d send calls, want the refused one and the retry", got.send)
	}
	if got.stable != 2 {
		t.Errorf("%d stable_token calls, want 2: a normal one that returned the refused token, then a forced one", got.stable)
	}
	if len(fresh) != 1 {
		t.Errorf("%d new tokens used, want 1 (the forced one)", len(fresh))
	}

	// The other replicas use the forced token without asking for one.
	before = snapshot()
	sendRound(t, fleet[1:], m, openid, "c", 10)
	if got := snapshot().since(before); got.stable != 0 || got.send != 10 {
		t.Errorf("after the forced refresh: %d stable_token calls, %d send calls for 10 messages, want 0 and 10", got.stable, got.send)
	}
	if got := newTokens(seen); len(got) != 1 {
		t.Errorf("%d new tokens used, want the forced one only", len(got))
	}
}

// forceStable calls stable_token with force_refresh, as another system
// holding the same credentials might; the token the fleet holds stops
// working at once.
func forceStable(t *testing.T, m *ritual.Merchant) string {
	t.Helper()
	body, _ := json.Marshal(map[string]any{
		"grant_type": "client_credential", "appid": m.OfficialAccount.AppID,
		"secret": m.OfficialAccount.AppSecret, "force_refresh": true,
	})
	resp, err := http.Post(shared.url+"/emu"+pathStable, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var res struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil || res.AccessToken == "" {
		t.Fatalf("no forced stable token: %v", err)
	}
	return res.AccessToken
}

func TestStableTokenReplacedElsewhereIsNotForcedAgain(t *testing.T) {
	f := useEmulator(t, 0)
	m := f.merchant()
	openid := f.follower(m)
	kv, _, _ := redisKV(t)
	fleet := replicas(true, kv, kv, kv)
	sendRound(t, fleet, m, openid, "a", 3)

	seen := shared.calls.seenTokens()
	replacement := forceStable(t, m)
	before := snapshot()
	sendRound(t, fleet, m, openid, "b", 30)
	got := snapshot().since(before)
	fresh := newTokens(seen)
	t.Logf("stable, replaced elsewhere: %d stable_token calls, %d send calls", got.stable, got.send)
	if got.send <= 30 {
		t.Fatalf("%d send calls: no send met the replaced token, the test proves nothing", got.send)
	}
	if got.stable != 1 {
		t.Errorf("%d stable_token calls, want 1 for the whole fleet", got.stable)
	}
	// Forcing again would have cut off the other system's token.
	if len(fresh) != 1 || fresh[0] != replacement {
		t.Errorf("the fleet used %d new tokens, want only the other system's", len(fresh))
	}
}

func TestRefusedDropsOnlyTheCachedToken(t *testing.T) {
	f := useEmulator(t, 0)
	m := f.merchant()
	ctx := context.Background()
	kv := wechat.NewMemoryKV(nil)
	tok := wechat.NewSharedToken(kv, m.OfficialAccount.AppID, m.OfficialAccount.AppSecret, false)
	// A second replica's handle on the same store.
	other := wechat.NewSharedToken(kv, m.OfficialAccount.AppID, m.OfficialAccount.AppSecret, false)

	before := shared.calls.count(pathToken)
	first, err := tok.GetAccessTokenContext(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := other.GetAccessToken(); err != nil || got != first {
		t.Fatalf("the other handle got %.10q, %v; want the cached token", got, err)
	}
	if err := tok.Refused(ctx, "some-older-token"); err != nil {
		t.Fatal(err)
	}
	if got, _ := tok.GetAccessTokenContext(ctx); got != first {
		t.Error("refusing a token that is not the cached one dropped the cached one")
	}
	if err := tok.Refused(ctx, first); err != nil {
		t.Fatal(err)
	}
	second, err := other.GetAccessTokenContext(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if second == first {
		t.Fatal("a refused token was handed out again")
	}
	// The other replica reports the same refusal late: it must not drop
	// the replacement.
	if err := other.Refused(ctx, first); err != nil {
		t.Fatal(err)
	}
	if got, _ := tok.GetAccessTokenContext(ctx); got != second {
		t.Error("a late refusal of the old token dropped the new one")
	}
	if got := shared.calls.count(pathToken) - before; got != 2 {
		t.Errorf("%d /cgi-bin/token calls, want 2", got)
	}
}

func TestSharedTokenWaitsForTheReplicaFetching(t *testing.T) {
	f := useEmulator(t, 0)
	m := f.merchant()
	kv, _, _ := redisKV(t)
	fetching := wechat.NewSharedToken(kv, m.OfficialAccount.AppID, m.OfficialAccount.AppSecret, false)
	waiting := wechat.NewSharedToken(kv, m.OfficialAccount.AppID, m.OfficialAccount.AppSecret, false)
	shared.emu.AddFault(emulator.Fault{Path: pathToken, DelayMS: 700})

	before := shared.calls.count(pathToken)
	done := make(chan string, 1)
	go func() {
		tok, err := fetching.GetAccessTokenContext(context.Background())
		if err != nil {
			t.Errorf("fetching replica: %v", err)
		}
		done <- tok
	}()
	// Wait until the first replica's call reached the emulator.
	for deadline := time.Now().Add(5 * time.Second); shared.calls.count(pathToken) == before; {
		if time.Now().After(deadline) {
			t.Fatal("the first replica never fetched")
		}
		time.Sleep(5 * time.Millisecond)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := waiting.GetAccessTokenContext(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want the deadline while the other replica fetches", err)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("gave up after %s; the context deadline was ignored", took)
	}

	got, err := waiting.GetAccessTokenContext(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if tok := <-done; got != tok {
		t.Error("the waiting replica did not get the fetching replica's token")
	}
	if n := shared.calls.count(pathToken) - before; n != 1 {
		t.Errorf("%d /cgi-bin/token calls, want 1", n)
	}
}

func TestSharedTokenErrorsHideTheSecret(t *testing.T) {
	f := useEmulator(t, 0)
	m := f.merchant()
	for _, stable := range []bool{false, true} {
		tok := wechat.NewSharedToken(wechat.NewMemoryKV(nil), m.OfficialAccount.AppID, "WrOnG-SeCrEt", stable)
		_, err := tok.GetAccessToken()
		if err == nil {
			t.Fatalf("stable=%v: a wrong secret got a token", stable)
		}
		if strings.Contains(err.Error(), "WrOnG-SeCrEt") || !strings.Contains(err.Error(), "errcode=40125") {
			t.Errorf("stable=%v: error shows the secret or hides the errcode: %v", stable, err)
		}
	}
}

// keyValueContract checks what ritual.KeyValue promises. wait lets ttl
// pass: a sleep for Redis, a clock move for MemoryKV.
func keyValueContract(t *testing.T, kv ritual.KeyValue, wait func(time.Duration)) {
	ctx := context.Background()
	const ttl = 150 * time.Millisecond
	key := func(name string) string { return ritualtest.RandomID(name + "-") }

	t.Run("get after set", func(t *testing.T) {
		k := key("get")
		if _, ok, err := kv.Get(ctx, k); err != nil || ok {
			t.Fatalf("Get of a missing key: ok=%v err=%v", ok, err)
		}
		if err := kv.Set(ctx, k, "one", time.Minute); err != nil {
			t.Fatal(err)
		}
		if err := kv.Set(ctx, k, "two", time.Minute); err != nil {
			t.Fatal(err)
		}
		if v, ok, err := kv.Get(ctx, k); err != nil || !ok || v != "two" {
			t.Errorf("Get = %q, %v, %v; want two", v, ok, err)
		}
	})
	t.Run("expiry", func(t *testing.T) {
		k := key("expiry")
		if err := kv.Set(ctx, k, "v", ttl); err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := kv.Get(ctx, k); !ok {
			t.Fatal("value gone before its ttl")
		}
		if won, err := kv.SetIfAbsent(ctx, k, "w", time.Minute); err != nil || won {
			t.Fatalf("SetIfAbsent over a live value: %v, %v", won, err)
		}
		wait(ttl + 100*time.Millisecond)
		if v, ok, err := kv.Get(ctx, k); err != nil || ok {
			t.Fatalf("Get after the ttl = %q, %v, %v; want nothing", v, ok, err)
		}
		if won, err := kv.SetIfAbsent(ctx, k, "w", time.Minute); err != nil || !won {
			t.Fatalf("SetIfAbsent over an expired value: %v, %v", won, err)
		}
		if v, _, _ := kv.Get(ctx, k); v != "w" {
			t.Errorf("Get = %q, want w", v)
		}
	})
	t.Run("one winner among 20", func(t *testing.T) {
		k := key("lock")
		var wg sync.WaitGroup
		winners := make(chan string, 20)
		for i := range 20 {
			wg.Go(func() {
				owner := fmt.Sprint("owner", i)
				won, err := kv.SetIfAbsent(ctx, k, owner, time.Minute)
				if err != nil {
					t.Error(err)
				}
				if won {
					winners <- owner
				}
			})
		}
		wg.Wait()
		close(winners)
		var got []string
		for w := range winners {
			got = append(got, w)
		}
		if len(got) != 1 {
			t.Fatalf("%d winners, want 1: %v", len(got), got)
		}
		if v, _, _ := kv.Get(ctx, k); v != got[0] {
			t.Errorf("value %q, want the winner's %q", v, got[0])
		}
	})
	t.Run("delete if", func(t *testing.T) {
		k := key("del")
		if ok, err := kv.DeleteIf(ctx, k, "v"); err != nil || ok {
			t.Fatalf("DeleteIf of a missing key: %v, %v", ok, err)
		}
		if err := kv.Set(ctx, k, "mine", time.Minute); err != nil {
			t.Fatal(err)
		}
		if ok, err := kv.DeleteIf(ctx, k, "theirs"); err != nil || ok {
			t.Fatalf("DeleteIf with another value: %v, %v", ok, err)
		}
		if v, ok, _ := kv.Get(ctx, k); !ok || v != "mine" {
			t.Fatalf("DeleteIf with another value deleted it (%q, %v)", v, ok)
		}
		if ok, err := kv.DeleteIf(ctx, k, "mine"); err != nil || !ok {
			t.Fatalf("DeleteIf with the value: %v, %v", ok, err)
		}
		if _, ok, _ := kv.Get(ctx, k); ok {
			t.Error("DeleteIf reported a delete but the value is there")
		}
	})
	t.Run("no ttl", func(t *testing.T) {
		if err := kv.Set(ctx, key("forever"), "v", 0); err == nil {
			t.Error("Set without a ttl accepted")
		}
		if _, err := kv.SetIfAbsent(ctx, key("forever"), "v", 0); err == nil {
			t.Error("SetIfAbsent without a ttl accepted")
		}
	})
}

func TestRedisKV(t *testing.T) {
	kv, client, prefix := redisKV(t)
	keyValueContract(t, kv, time.Sleep)

	t.Run("keys are prefixed", func(t *testing.T) {
		ctx := context.Background()
		if err := kv.Set(ctx, "k", "v", time.Minute); err != nil {
			t.Fatal(err)
		}
		if v, err := client.Get(ctx, prefix+"k").Result(); err != nil || v != "v" {
			t.Errorf("Redis holds %q under %sk (%v), want v", v, prefix, err)
		}
		if ttl := client.PTTL(ctx, prefix+"k").Val(); ttl <= 0 || ttl > time.Minute {
			t.Errorf("PTTL = %s, want the minute given", ttl)
		}
		other, _, _ := redisKV(t)
		if _, ok, _ := other.Get(ctx, "k"); ok {
			t.Error("a store under another prefix sees the key")
		}
	})
}

func TestMemoryKV(t *testing.T) {
	clock := ritualtest.NewClock(time.Date(2026, 3, 2, 2, 0, 0, 0, time.UTC))
	keyValueContract(t, wechat.NewMemoryKV(clock.Now), clock.Advance)
}
