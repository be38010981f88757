package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wxclub/wxclub/models"
	"github.com/wxclub/wxclub/models/modelstest"
	"github.com/wxclub/wxclub/ritual"
	"github.com/wxclub/wxclub/wechat/emulator"
)

// TestReplicasShareTheWork runs three `wxclub serve` processes on one
// MariaDB behind a round-robin client, with the WeChat emulator in a
// process of its own, and kills one replica with SIGKILL in the middle.
// Afterwards every order counts once, every ledger balances, each message
// was sent exactly once, repeated deliveries got one answer, and the fleet
// fetched one access token.
func TestReplicasShareTheWork(t *testing.T) {
	t.Run("token in the database", func(t *testing.T) { replicaRun(t, nil) })
	t.Run("token in redis", func(t *testing.T) {
		addr := os.Getenv("WXCLUB_TEST_REDIS_ADDR")
		if addr == "" {
			t.Skip("Redis half skipped: WXCLUB_TEST_REDIS_ADDR is not set (.ci/run sets it)")
		}
		rdb := redis.NewClient(&redis.Options{Addr: addr})
		defer rdb.Close()
		keys, err := rdb.Keys(context.Background(), "wxclub:wechat/*").Result()
		if err != nil {
			t.Fatalf("redis at %s: %v", addr, err)
		}
		if len(keys) > 0 {
			rdb.Del(context.Background(), keys...) // a token from another emulator run
		}
		replicaRun(t, []string{"WXCLUB_REDIS_ADDR=" + addr})
	})
}

func replicaRun(t *testing.T, env []string) {
	dsn := modelstest.FreshMySQLDSN(t)
	cfg := configFile(t)
	ports := []string{freePort(t), freePort(t), freePort(t)}
	emuAddr := freePort(t)
	startProc(t, nil, "emulator", "-addr", emuAddr, "-config", cfg, "-service", "http://"+ports[0])
	var replicas []*proc
	for _, port := range ports {
		replicas = append(replicas, startProc(t, append([]string{
			"WXCLUB_SERVER_ADDR=" + port, "WXCLUB_DATABASE_DRIVER=mysql", "WXCLUB_DATABASE_DSN=" + dsn,
			"WXCLUB_WECHAT_API_BASE=http://" + emuAddr + "/emu", "WXCLUB_WECHAT_HTTP_TIMEOUT=2s", "WXCLUB_RELAY_LEASE=3s",
		}, env...), "serve", "-config", cfg))
	}
	fleet := &fleet{t: t, replicas: replicas, alive: []bool{true, true, true}, emu: "http://" + emuAddr + "/emu"}

	const shoppers, ordersEach = 12, 3
	for i := range shoppers {
		fleet.emulator("/shopper", fmt.Sprintf(`{"account":"demo","openid":"%s","action":"follow"}`, shopper(i)), nil)
	}
	var wg sync.WaitGroup
	for i := range shoppers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range ordersEach {
				body := fmt.Sprintf(`{"order_no":"REP-%d-%d","openid":"%s","amount_fen":%d}`, i, n, shopper(i), 20000+100*i)
				fleet.orderTwice(i+n, body) // a shop that resends to another replica
				fleet.deliverTwice(i, int64(1000*i+n+1))
			}
		}()
		if i == shoppers/2 {
			fleet.kill(1) // mid-run, without warning
		}
	}
	wg.Wait()

	db, err := models.Open(context.Background(), models.Config{Driver: models.DriverMySQL, DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	waitFor(t, "the outbox to drain", func() bool {
		depth, err := db.Outbox().Depth(context.Background())
		return err == nil && depth[ritual.OutboxPending] == 0
	})
	fleet.checkOrders(db, shoppers, ordersEach)
	fleet.checkMessagesSentOnce(db, shoppers)
	var stats emulator.Stats
	fleet.emulator("/stats", "", &stats)
	if got := stats.Calls["/cgi-bin/token"]; got != 1 {
		t.Errorf("the fleet fetched %d access tokens, want 1 (shared, so replicas never invalidate each other's)", got)
	}
}

func shopper(i int) string { return fmt.Sprintf("oReplica%020d", i) }

// fleet is a client that fails over between replicas, as a load balancer
// would.
type fleet struct {
	t        *testing.T
	mu       sync.Mutex
	replicas []*proc
	alive    []bool
	emu      string
}

func (f *fleet) kill(i int) {
	f.mu.Lock()
	f.alive[i] = false
	f.mu.Unlock()
	f.replicas[i].cmd.Process.Signal(syscall.SIGKILL)
}

// pick returns the first replica alive from i on.
func (f *fleet) pick(i int) *proc {
	f.mu.Lock()
	defer f.mu.Unlock()
	for k := range len(f.replicas) {
		if j := (i + k) % len(f.replicas); f.alive[j] {
			return f.replicas[j]
		}
	}
	f.t.Fatal("no replica alive")
	return nil
}

// send tries replicas from i on until one answers.
func (f *fleet) send(i int, build func(base string) *http.Request) (int, string) {
	for attempt := range 6 {
		resp, err := http.DefaultClient.Do(build(f.pick(i + attempt).url))
		if err != nil {
			continue // that replica died under us: try the next
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, string(body)
	}
	f.t.Error("no replica answered")
	return 0, ""
}

// orderTwice posts the same order to two replicas at once.
func (f *fleet) orderTwice(i int, body string) {
	var wg sync.WaitGroup
	answers := make([]string, 2)
	for k := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, answer := f.send(i+k, func(base string) *http.Request {
				req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/orders", strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer demo-key-change-me")
				req.Header.Set("Content-Type", "application/json")
				return req
			})
			if status != 201 && status != 200 {
				f.t.Errorf("order answered %d: %s", status, answer)
			}
			answers[k] = answer
		}()
	}
	wg.Wait()
	if answers[0] != answers[1] {
		f.t.Errorf("the two copies of an order got different answers:\n%s\n%s", answers[0], answers[1])
	}
}

// deliverTwice delivers one signed 积分 message to two replicas at once,
// as WeChat's retry might land on another replica.
func (f *fleet) deliverTwice(i int, msgID int64) {
	cfg, err := LoadConfig(shippedConfig, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	signer := signerFor(cfg.Merchants[0])
	now := time.Now().Unix()
	plain := fmt.Sprintf(`<xml><ToUserName><![CDATA[gh_x]]></ToUserName><FromUserName><![CDATA[%s]]></FromUserName><CreateTime>%d</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[积分]]></Content><MsgId>%d</MsgId></xml>`, shopper(i), now, msgID)
	var wg sync.WaitGroup
	replies := make([]string, 2)
	for k := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, body := f.send(i+k, func(base string) *http.Request {
				req, _ := signer.Request(context.Background(), base+"/wechat/demo", []byte(plain), now, fmt.Sprint(msgID))
				return req
			})
			reply, err := signer.OpenReply([]byte(body), now, fmt.Sprint(msgID))
			if status != 200 || err != nil || reply == nil {
				f.t.Errorf("delivery answered %d %v", status, err)
				return
			}
			replies[k] = reply.Content
		}()
	}
	wg.Wait()
	if replies[0] != replies[1] {
		f.t.Errorf("one message delivered to two replicas got two replies:\n%s\n%s", replies[0], replies[1])
	}
}

func (f *fleet) emulator(path, body string, out any) {
	method := http.MethodGet
	if body != "" {
		method = http.MethodPost
	}
	req, _ := http.NewRequest(method, f.emu+path, strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		json.NewDecoder(resp.Body).Decode(out)
	}
}

// checkOrders verifies each order counted once and every ledger balances.
func (f *fleet) checkOrders(db *models.DB, shoppers, ordersEach int) {
	ctx := context.Background()
	demo := &ritual.Merchant{ID: "demo"}
	for i := range shoppers {
		member, err := db.Members().ByOpenID(ctx, demo.ID, shopper(i))
		if err != nil {
			f.t.Fatal(err)
		}
		stats, err := db.Orders().PeriodStats(ctx, demo.ID, member.ID, time.Now().AddDate(-1, 0, 0))
		if err != nil {
			f.t.Fatal(err)
		}
		wantFen := int64(ordersEach * (20000 + 100*i))
		if stats.Orders != ordersEach || stats.AmountFen != wantFen || member.Points != wantFen/100 {
			f.t.Errorf("%s: %d orders, %d fen, %d points; want %d, %d, %d", shopper(i), stats.Orders, stats.AmountFen, member.Points, ordersEach, wantFen, wantFen/100)
		}
	}
	if bad, err := db.Ledger().Imbalances(ctx); err != nil || len(bad) != 0 {
		f.t.Errorf("imbalanced ledgers: %+v %v", bad, err)
	}
}

// checkMessagesSentOnce compares the outbox with what reached each shopper.
func (f *fleet) checkMessagesSentOnce(db *models.DB, shoppers int) {
	ctx := context.Background()
	for i := range shoppers {
		member, _ := db.Members().ByOpenID(ctx, "demo", shopper(i))
		msgs, err := db.Outbox().ForMember(ctx, member.ID, 100)
		if err != nil {
			f.t.Fatal(err)
		}
		sent := map[int64]bool{}
		for _, m := range msgs {
			if m.Status == ritual.OutboxSent {
				sent[m.WeChatMsgID] = true
			} else if m.Status != ritual.OutboxMerged {
				f.t.Errorf("%s: outbox %s is %s (%s)", shopper(i), m.Reference, m.Status, m.LastError)
			}
		}
		var inbox []emulator.InboxItem
		f.emulator("/inbox?openid="+shopper(i), "", &inbox)
		got := 0
		for _, item := range inbox {
			if item.Kind == "template" {
				got++
				if !sent[item.MsgID] {
					f.t.Errorf("%s received msgid %d, which no sent outbox row records", shopper(i), item.MsgID)
				}
			}
		}
		if got != len(sent) || got == 0 {
			f.t.Errorf("%s: %d template messages arrived for %d sent outbox rows", shopper(i), got, len(sent))
		}
	}
}
