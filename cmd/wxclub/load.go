package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wxclub/wxclub/wechat/emulator"
)

// runLoad drives a running service with signed webhook traffic and reports
// throughput and latency percentiles:
//
//	wxclub load webhook [-server URL] [-merchant demo] [-c 32] [-d 20s] [-shoppers 1000]
//
// Each request is a "帮助" text message with a fresh MsgId, signed (and in
// safe or compatible mode encrypted) as WeChat would send it, from one of
// -shoppers openids: every request is a real claim, member lookup and reply
// in the database, never a dedupe hit.
func runLoad(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("load", stderr)
	path := fs.String("config", "config.yaml", "configuration holding the merchant's credentials")
	server := fs.String("server", "http://127.0.0.1:8080", "service base URL")
	merchant := fs.String("merchant", "demo", "merchant id")
	concurrency := fs.Int("c", 32, "concurrent connections")
	duration := fs.Duration("d", 20*time.Second, "how long to run")
	shoppers := fs.Int("shoppers", 1000, "distinct openids to send from")
	positional, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(positional) != 1 || positional[0] != "webhook" {
		return fmt.Errorf("load: say what to drive: webhook")
	}
	cfg, err := LoadConfig(*path, os.Environ())
	if err != nil {
		return err
	}
	signer, err := signerFor(cfg, *merchant)
	if err != nil {
		return err
	}
	run := loadRun{
		signer: signer, url: strings.TrimRight(*server, "/") + "/wechat/" + *merchant,
		shoppers: *shoppers, client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *concurrency}, Timeout: 10 * time.Second},
	}
	report := run.drive(ctx, *concurrency, *duration)
	fmt.Fprintln(stdout, report)
	return nil
}

func signerFor(cfg Config, merchant string) (emulator.Signer, error) {
	for _, mc := range cfg.Merchants {
		if mc.ID == merchant {
			a := mc.OfficialAccount
			return emulator.Signer{Account: emulator.Account{
				Name: mc.ID, AppID: a.AppID, AppSecret: a.AppSecret, Token: a.Token,
				EncodingAESKey: a.EncodingAESKey, Mode: a.MessageMode(),
			}}, nil
		}
	}
	return emulator.Signer{}, fmt.Errorf("load: merchant %q is not in the configuration", merchant)
}

type loadRun struct {
	signer   emulator.Signer
	url      string
	shoppers int
	client   *http.Client
	msgID    atomic.Int64
}

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
		return r.latencies[min(len(r.latencies)-1, int(p*float64(len(r.latencies))))]
	}
	return fmt.Sprintf("requests %d  failures %d  elapsed %s  throughput %.0f req/s  p50 %s  p90 %s  p99 %s  max %s",
		r.requests, r.failures, r.elapsed.Round(time.Millisecond), float64(r.requests)/r.elapsed.Seconds(),
		pct(0.50), pct(0.90), pct(0.99), pct(1))
}

// drive runs concurrency workers until duration has passed.
func (l *loadRun) drive(ctx context.Context, concurrency int, duration time.Duration) loadReport {
	ctx, cancel := context.WithTimeout(ctx, duration)
	defer cancel()
	l.msgID.Store(time.Now().UnixNano())
	var mu sync.Mutex
	var report loadReport
	var wg sync.WaitGroup
	start := time.Now()
	for w := range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			failures := 0
			for i := 0; ctx.Err() == nil; i++ {
				took, ok := l.once(ctx, fmt.Sprintf("oLoad%023d", (w*7919+i)%l.shoppers))
				if ctx.Err() != nil {
					break
				}
				mine = append(mine, took)
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

// once sends one signed text message and checks the reply opens.
func (l *loadRun) once(ctx context.Context, openid string) (time.Duration, bool) {
	now := time.Now()
	msgID := l.msgID.Add(1)
	plain := fmt.Sprintf(`<xml><ToUserName><![CDATA[gh_load]]></ToUserName><FromUserName><![CDATA[%s]]></FromUserName><CreateTime>%d</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[帮助]]></Content><MsgId>%d</MsgId></xml>`, openid, now.Unix(), msgID)
	nonce := fmt.Sprint(msgID)
	req, err := l.signer.Request(ctx, l.url, []byte(plain), now.Unix(), nonce)
	if err != nil {
		return 0, false
	}
	resp, err := l.client.Do(req)
	if err != nil {
		return time.Since(now), false
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	took := time.Since(now)
	if resp.StatusCode != http.StatusOK {
		return took, false
	}
	_, err = l.signer.OpenReply(body, now.Unix(), nonce)
	return took, err == nil
}
