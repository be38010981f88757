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

const loadAbout = `usage: wxclub load webhook|orders|signin [flags]

Drive a running service for -d, print progress each second, and report
requests per second and latency. With several -server URLs (replicas)
requests go round-robin.

The load goes to the load merchant, which serve registers while
wechat.api_base is emulator: a copy of the first merchant's settings under
an id (load) and credentials of its own, so the load never touches a
configured merchant's members, ceremonies or outbox. -merchant names
another merchant only together with --i-know.

actions:
  webhook   "帮助" text messages to /wechat/MERCHANT, each with a fresh MsgId,
            signed (and encrypted) as WeChat sends them
  orders    POST /api/v1/orders with fresh order numbers spread over the shoppers
  signin    "签到" from a fresh shopper per request: every request a real sign-in`

// runLoad drives a running service and reports throughput and latency:
//
//	wxclub load webhook|orders|signin [-server URL[,URL...]] [-merchant load] [-c 32] [-d 20s] [-shoppers 1000]
//
// With several servers (replicas) requests go round-robin, as behind a
// load balancer.
//
// webhook: "帮助" text messages, each with a fresh MsgId, signed (and in
// safe or compatible mode encrypted) as WeChat sends them — every request a
// real claim, member lookup and stored reply, never a dedupe hit.
// orders: POST /api/v1/orders with fresh order numbers spread over the
// shoppers — points, level evaluation and outbox on every request.
// signin: "签到" from a shopper never seen before, so each request makes a
// member and signs them in, once a day each as the rule is.
func runLoad(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newCommandLine(loadAbout, stdout)
	path := fs.String("config", "config.yaml", "configuration the service runs with (the merchant's credentials come from it)")
	server := fs.String("server", "http://127.0.0.1:8080", "service base URL; several, comma-separated, are used round-robin")
	merchant := fs.String("merchant", loadMerchantID, "merchant id; any but the load merchant needs --i-know")
	iKnow := fs.Bool("i-know", false, "drive a configured merchant, writing members, ceremonies and outbox messages into its data")
	concurrency := fs.Int("c", 32, "concurrent connections")
	duration := fs.Duration("d", 20*time.Second, "how long to run")
	shoppers := fs.Int("shoppers", 1000, "distinct shoppers to spread the load over (webhook, orders)")
	positional, err := fs.parse(args)
	if err != nil {
		return err
	}
	if len(positional) != 1 || !slices.Contains(loadActions, positional[0]) {
		return fs.usageErrorf("load: say what to drive: webhook, orders or signin")
	}
	cfg, err := LoadConfig(*path, os.Environ())
	if err != nil {
		return err
	}
	mc, err := merchantToLoad(cfg, *merchant, *iKnow)
	if err != nil {
		return err
	}
	var bases []string
	for _, s := range strings.Split(*server, ",") {
		bases = append(bases, strings.TrimRight(strings.TrimSpace(s), "/"))
	}
	l := newLoadRun(bases, mc, *shoppers, *concurrency)
	fmt.Fprintf(stdout, "load: %s against merchant %s (%s) at %s, %d connections for %s\n",
		positional[0], mc.ID, mc.Name, strings.Join(bases, ", "), *concurrency, *duration)
	fmt.Fprintln(stdout, l.drive(ctx, *concurrency, *duration, l.action(positional[0]), stderr))
	return nil
}

var loadActions = []string{"webhook", "orders", "signin"}

// merchantToLoad picks the merchant a load run writes into: the load
// merchant, or a configured one when the user says they know what that
// does to its data.
func merchantToLoad(cfg Config, id string, iKnow bool) (MerchantConfig, error) {
	if lm, ok := loadMerchant(cfg); ok && id == lm.ID {
		return lm, nil
	}
	mc, found := findMerchant(cfg.Merchants, id)
	switch {
	case !found && id == loadMerchantID:
		return MerchantConfig{}, fmt.Errorf("load: there is no load merchant: serve registers one only while wechat.api_base is %q; name a merchant with -merchant and --i-know", APIBaseEmulator)
	case !found:
		return MerchantConfig{}, fmt.Errorf("load: merchant %q is not in the configuration", id)
	case !iKnow:
		return MerchantConfig{}, fmt.Errorf("load: merchant %q is a configured merchant: the load would add members, open ceremonies and queue messages in its data; drive the load merchant (leave -merchant out) or add --i-know", id)
	}
	return mc, nil
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
	signer   emulator.Signer
	shoppers int
	run      string // makes this run's order numbers and shoppers unique
	client   *http.Client
	seq      atomic.Int64
}

func newLoadRun(bases []string, mc MerchantConfig, shoppers, concurrency int) *loadRun {
	return &loadRun{
		bases: bases, merchant: mc, signer: signerFor(mc), shoppers: max(shoppers, 1),
		run:    fmt.Sprintf("%x", time.Now().UnixNano()),
		client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: concurrency}, Timeout: 10 * time.Second},
	}
}

// action returns the request one worker makes, over and over.
func (l *loadRun) action(name string) func(context.Context) bool {
	switch name {
	case "orders":
		return l.orderOnce
	case "signin":
		return l.signInOnce
	}
	return l.webhookOnce
}

// base picks the server for request n, round-robin.
func (l *loadRun) base(n int64) string { return l.bases[int(n%int64(len(l.bases)))] }

// shopper picks one of the run's shoppers at random.
func (l *loadRun) shopper() string { return fmt.Sprintf("oLoad%023d", rand.IntN(l.shoppers)) }

// loadReport is what a run did. A request still in flight when the
// deadline cancels it is counted apart: it neither failed nor finished.
type loadReport struct {
	requests, failures, cancelled int
	elapsed                       time.Duration
	latencies                     []time.Duration
}

func (r loadReport) rate() float64 { return float64(r.requests) / r.elapsed.Seconds() }

// percentile returns the latency p (0..1) of the requests that finished.
func (r loadReport) percentile(p float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	if !slices.IsSorted(r.latencies) {
		slices.Sort(r.latencies)
	}
	return r.latencies[min(len(r.latencies)-1, int(p*float64(len(r.latencies))))]
}

func (r loadReport) String() string {
	pct := func(p float64) time.Duration { return r.percentile(p).Round(100 * time.Microsecond) }
	return fmt.Sprintf("requests %d  failures %d  cancelled at deadline %d  elapsed %s  throughput %.0f req/s  p50 %s  p90 %s  p99 %s  max %s",
		r.requests, r.failures, r.cancelled, r.elapsed.Round(time.Millisecond), r.rate(),
		pct(0.50), pct(0.90), pct(0.99), pct(1))
}

// drive runs concurrency workers calling once until duration has passed,
// printing progress to progress each second.
func (l *loadRun) drive(ctx context.Context, concurrency int, duration time.Duration, once func(context.Context) bool, progress io.Writer) loadReport {
	ctx, cancel := context.WithTimeout(ctx, duration)
	defer cancel()
	l.seq.Store(time.Now().UnixNano())
	var mu sync.Mutex
	var report loadReport
	var done, failed atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	stopProgress := l.reportProgress(progress, start, &done, &failed)
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			failures, cancelled := 0, 0
			for ctx.Err() == nil {
				begin := time.Now()
				ok := once(ctx)
				if ctx.Err() != nil {
					cancelled++ // the deadline cut it off: not a failure
					break
				}
				mine = append(mine, time.Since(begin))
				done.Add(1)
				if !ok {
					failures++
					failed.Add(1)
				}
			}
			mu.Lock()
			report.latencies = append(report.latencies, mine...)
			report.failures += failures
			report.cancelled += cancelled
			mu.Unlock()
		}()
	}
	wg.Wait()
	report.elapsed = time.Since(start)
	stopProgress()
	report.requests = len(report.latencies)
	return report
}

// reportProgress prints, each second until the returned stop is called,
// the requests finished so far, the rate over the last second and the
// failures.
func (l *loadRun) reportProgress(w io.Writer, start time.Time, done, failed *atomic.Int64) (stop func()) {
	ticker := time.NewTicker(time.Second)
	quit, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		last := int64(0)
		for {
			select {
			case <-quit:
				ticker.Stop()
				return
			case <-ticker.C:
				n := done.Load()
				fmt.Fprintf(w, "%4.0fs  requests %d  rate %d/s  errors %d\n", time.Since(start).Seconds(), n, n-last, failed.Load())
				last = n
			}
		}
	}()
	return func() { close(quit); <-finished }
}

// webhookOnce sends one signed 帮助 and checks the reply opens.
func (l *loadRun) webhookOnce(ctx context.Context) bool {
	_, ok := l.say(ctx, l.shopper(), "帮助")
	return ok
}

// signInOnce sends 签到 from a shopper never seen before and checks the
// reply says they signed in.
func (l *loadRun) signInOnce(ctx context.Context) bool {
	openid := fmt.Sprintf("oSign%s%015d", l.run, l.seq.Add(1))
	reply, ok := l.say(ctx, openid, "签到")
	return ok && strings.Contains(reply, "签到成功")
}

// say sends one text message as WeChat does and returns the opened reply.
func (l *loadRun) say(ctx context.Context, openid, text string) (string, bool) {
	now := time.Now()
	msgID := l.seq.Add(1)
	plain := fmt.Sprintf(`<xml><ToUserName><![CDATA[gh_load]]></ToUserName><FromUserName><![CDATA[%s]]></FromUserName><CreateTime>%d</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[%s]]></Content><MsgId>%d</MsgId></xml>`, openid, now.Unix(), text, msgID)
	nonce := fmt.Sprint(msgID)
	req, err := l.signer.Request(ctx, l.base(msgID)+"/wechat/"+l.merchant.ID, []byte(plain), now.Unix(), nonce)
	if err != nil {
		return "", false
	}
	status, body := l.do(req)
	if status != http.StatusOK {
		return "", false
	}
	reply, err := l.signer.OpenReply(body, now.Unix(), nonce)
	if err != nil || reply == nil {
		return "", false
	}
	return reply.Content, true
}

// orderOnce records one new order and checks it was created.
func (l *loadRun) orderOnce(ctx context.Context) bool {
	n := l.seq.Add(1)
	body := fmt.Sprintf(`{"order_no":"LD-%s-%d","openid":%q,"amount_fen":%d,"channel":"load"}`, l.run, n, l.shopper(), 1000+rand.IntN(60000))
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
