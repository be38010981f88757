package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wxclub/wxclub/wechat/emulator"
)

const loadAbout = `usage: wxclub load webhook|orders [flags]

Drive a running service for -d and report requests per second and p99
latency. With several -server URLs (replicas) requests go round-robin.

actions:
  webhook   "帮助" text messages to /wechat/MERCHANT, each with a fresh MsgId,
            signed (and encrypted) as WeChat sends them
  orders    POST /api/v1/orders with fresh order numbers spread over the shoppers`

// runLoad drives a running service and reports throughput and latency:
//
//	wxclub load webhook|orders [-server URL[,URL...]] [-merchant demo] [-c 32] [-d 20s] [-shoppers 1000]
//
// With several servers (replicas) requests go round-robin, as behind a
// load balancer.
//
// webhook: "帮助" text messages, each with a fresh MsgId, signed (and in
// safe or compatible mode encrypted) as WeChat sends them — every request a
// real claim, member lookup and stored reply, never a dedupe hit.
// orders: POST /api/v1/orders with fresh order numbers spread over the
// shoppers — points, level evaluation and outbox on every request.
func runLoad(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newCommandLine(loadAbout, stdout)
	path := fs.String("config", "config.yaml", "configuration holding the merchant's credentials")
	server := fs.String("server", "http://127.0.0.1:8080", "service base URL; several, comma-separated, are used round-robin")
	merchant := fs.String("merchant", "demo", "merchant id")
	concurrency := fs.Int("c", 32, "concurrent connections")
	duration := fs.Duration("d", 20*time.Second, "how long to run")
	shoppers := fs.Int("shoppers", 1000, "distinct shoppers to spread the load over")
	positional, err := fs.parse(args)
	if err != nil {
		return err
	}
	if len(positional) != 1 || (positional[0] != "webhook" && positional[0] != "orders") {
		return fs.usageErrorf("load: say what to drive: webhook or orders")
	}
	cfg, err := LoadConfig(*path, os.Environ())
	if err != nil {
		return err
	}
	mc, err := merchantConfig(cfg, *merchant)
	if err != nil {
		return err
	}
	var bases []string
	for _, s := range strings.Split(*server, ",") {
		bases = append(bases, strings.TrimRight(strings.TrimSpace(s), "/"))
	}
	l := &loadRun{
		bases: bases, merchant: mc, shoppers: *shoppers, run: fmt.Sprintf("%x", time.Now().UnixNano()),
		client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *concurrency}, Timeout: 10 * time.Second},
	}
	once := l.webhookOnce
	if positional[0] == "orders" {
		once = l.orderOnce
	}
	fmt.Fprintln(stdout, l.drive(ctx, *concurrency, *duration, once))
	return nil
}

func merchantConfig(cfg Config, id string) (MerchantConfig, error) {
	for _, mc := range cfg.Merchants {
		if mc.ID == id {
			return mc, nil
		}
	}
	return MerchantConfig{}, fmt.Errorf("load: merchant %q is not in the configuration", id)
}

func signerFor(mc MerchantConfig) emulator.Signer {
	a := mc.OfficialAccount
	return emulator.Signer{Account: emulator.Account{
		Name: mc.ID, AppID: a.AppID, AppSecret: a.AppSecret, Token: a.Token,
		EncodingAESKey: a.EncodingAESKey, Mode: a.MessageMode(),
	}}
}

type loadRun struct {
	bases    []string
	merchant MerchantConfig
	shoppers int
	run      string // makes this run's order numbers unique
	client   *http.Client
	seq      atomic.Int64
}

// base picks the server for request n, round-robin.
func (l *loadRun) base(n int64) string { return l.bases[int(n%int64(len(l.bases)))] }

type loadReport struct {
	requests, failures int
	elapsed            time.Duration
	latencies          []time.Duration
}

func (r loadReport) String() string {
	slices.Sort(r.latencies)
	pct := func(p float64) time.Duration {
		if len(r.latencies) == 0 {
			return 0
		}
		return r.latencies[min(len(r.latencies)-1, int(p*float64(len(r.latencies))))].Round(100 * time.Microsecond)
	}
	return fmt.Sprintf("requests %d  failures %d  elapsed %s  throughput %.0f req/s  p50 %s  p90 %s  p99 %s  max %s",
		r.requests, r.failures, r.elapsed.Round(time.Millisecond), float64(r.requests)/r.elapsed.Seconds(),
		pct(0.50), pct(0.90), pct(0.99), pct(1))
}

// drive runs concurrency workers calling once until duration has passed.
func (l *loadRun) drive(ctx context.Context, concurrency int, duration time.Duration, once func(context.Context, string) bool) loadReport {
	ctx, cancel := context.WithTimeout(ctx, duration)
	defer cancel()
	l.seq.Store(time.Now().UnixNano())
	var mu sync.Mutex
	var report loadReport
	var wg sync.WaitGroup
	start := time.Now()
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			failures := 0
			for ctx.Err() == nil {
				begin := time.Now()
				ok := once(ctx, fmt.Sprintf("oLoad%023d", rand.IntN(l.shoppers)))
				if ctx.Err() != nil {
					break
				}
				mine = append(mine, time.Since(begin))
				if !ok {
					failures++
				}
			}
			mu.Lock()
			report.latencies = append(report.latencies, mine...)
			report.failures += failures
			mu.Unlock()
		}()
	}
	wg.Wait()
	report.elapsed = time.Since(start)
	report.requests = len(report.latencies)
	return report
}

// webhookOnce sends one signed text message and checks the reply opens.
func (l *loadRun) webhookOnce(ctx context.Context, openid string) bool {
	now := time.Now()
	msgID := l.seq.Add(1)
	plain := fmt.Sprintf(`<xml><ToUserName><![CDATA[gh_load]]></ToUserName><FromUserName><![CDATA[%s]]></FromUserName><CreateTime>%d</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[帮助]]></Content><MsgId>%d</MsgId></xml>`, openid, now.Unix(), msgID)
	nonce := fmt.Sprint(msgID)
	signer := signerFor(l.merchant)
	req, err := signer.Request(ctx, l.base(msgID)+"/wechat/"+l.merchant.ID, []byte(plain), now.Unix(), nonce)
	if err != nil {
		return false
	}
	status, body := l.do(req)
	if status != http.StatusOK {
		return false
	}
	_, err = signer.OpenReply(body, now.Unix(), nonce)
	return err == nil
}

// orderOnce records one new order and checks it was created.
func (l *loadRun) orderOnce(ctx context.Context, openid string) bool {
	n := l.seq.Add(1)
	body := fmt.Sprintf(`{"order_no":"LD-%s-%d","openid":%q,"amount_fen":%d,"channel":"load"}`, l.run, n, openid, 1000+rand.IntN(60000))
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.base(n)+"/api/v1/orders", bytes.NewReader([]byte(body)))
	if err != nil {
		return false
	}
	req.Header.Set("Authorization", "Bearer "+l.merchant.APIKey)
	req.Header.Set("Content-Type", "application/json")
	status, _ := l.do(req)
	return status == http.StatusCreated
}

func (l *loadRun) do(req *http.Request) (int, []byte) {
	resp, err := l.client.Do(req)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, body
}
