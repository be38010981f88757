package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/wxclub/wxclub/models"
	"github.com/wxclub/wxclub/models/modelstest"
	"github.com/wxclub/wxclub/ritual"
	"github.com/wxclub/wxclub/wechat/emulator"
)

// BenchmarkWebhook sends fresh 帮助 messages from 200 following members
// through the official-account webhook of the whole service, 32 at a time,
// in each message mode, and reports requests per second, the 99th
// percentile latency, statements per request (BEGIN and COMMIT included)
// and CPU per request: the process's user and system time (getrusage)
// divided by requests. Two ways in:
//
//   - http: over loopback HTTP, as WeChat calls it. The CPU includes this
//     benchmark's client (sending a prepared request, reading the reply).
//   - handler: the router's ServeHTTP called directly: the service's own
//     CPU, without the HTTP transport on either side.
//
// Requests are signed and sealed before the clock starts. It runs on
// MariaDB when WXCLUB_TEST_MYSQL_DSN is set, else on SQLite:
//
//	WXCLUB_TEST_MYSQL_DSN='root@tcp(127.0.0.1:3306)/wxclub_test' go test -run '^$' -bench Webhook -benchtime 20000x ./cmd/wxclub
func BenchmarkWebhook(b *testing.B) {
	driver := models.DriverSQLite
	if os.Getenv(modelstest.EnvMySQLDSN) != "" {
		driver = models.DriverMySQL
	}
	for _, mode := range []string{ritual.ModePlaintext, ritual.ModeCompatible, ritual.ModeSafe} {
		for _, via := range []string{"http", "handler"} {
			b.Run(mode+"/"+via, func(b *testing.B) {
				m := startWebhookBench(b, driver, mode)
				acct := m.Config.Merchants[0].OfficialAccount
				h := &webhookBench{m: m, signer: emulator.Signer{Account: emulator.Account{
					Name: m.Config.Merchants[0].ID, AppID: acct.AppID, AppSecret: acct.AppSecret, Token: acct.Token,
					EncodingAESKey: acct.EncodingAESKey, Mode: mode,
				}}}
				h.send = h.overHTTP
				if via == "handler" {
					h.send = h.toHandler
				}
				h.run(b)
			})
		}
	}
}

// startWebhookBench is startBenchMain with the merchant's official account
// in mode.
func startWebhookBench(b *testing.B, driver, mode string) *Main {
	b.Helper()
	cfg, err := LoadConfig(shippedConfig, nil)
	if err != nil {
		b.Fatal(err)
	}
	cfg.Server.Addr = "127.0.0.1:0"
	cfg.Database.Driver = driver
	cfg.Database.DSN = b.TempDir() + "/bench.db"
	if driver == models.DriverMySQL {
		cfg.Database.DSN = modelstest.MySQLDSN(b)
		cfg.Merchants[0].ID = fmt.Sprintf("bench%d", time.Now().UnixNano())
		cfg.Merchants[0].APIKey = "key-" + cfg.Merchants[0].ID
		cfg.Merchants[0].OfficialAccount.AppID = "wx" + cfg.Merchants[0].ID
	}
	cfg.Merchants[0].OfficialAccount.Mode = mode
	m := NewMain(cfg, discardLogger())
	if err := m.Run(b.Context()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { m.Close() })
	return m
}

type webhookBench struct {
	m      *Main
	signer emulator.Signer
	send   func(req *http.Request) (int, []byte)
	client *http.Client
}

// benchMembers is how many members the messages come from.
const benchMembers = 200

func (h *webhookBench) run(b *testing.B) {
	h.client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	run := time.Now().UnixNano()
	for i := range benchMembers { // each follows first, so every 帮助 is a glance
		if status, body := h.send(h.request(b, run, i, fmt.Sprintf(`<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[subscribe]]></Event><EventKey><![CDATA[]]></EventKey>`))); status != http.StatusOK {
			b.Fatalf("subscribe answered %d %s", status, body)
		}
	}
	requests := make([]*http.Request, b.N)
	for i := range requests {
		requests[i] = h.request(b, run, i, fmt.Sprintf(`<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[帮助]]></Content><MsgId>%d</MsgId>`, run+int64(i)))
	}
	var next atomic.Int64
	var mu sync.Mutex
	latencies := make([]time.Duration, 0, b.N)
	statements := h.m.DB.Statements()
	cpu := processCPU()
	b.SetParallelism(16) // 32 clients on this machine's 2 cores
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		for pb.Next() {
			req := requests[next.Add(1)-1]
			begin := time.Now()
			status, body := h.send(req)
			mine = append(mine, time.Since(begin))
			if status != http.StatusOK || len(body) == 0 || string(body) == "success" {
				b.Errorf("帮助 answered %d %q, want a reply", status, body)
				return
			}
		}
		mu.Lock()
		latencies = append(latencies, mine...)
		mu.Unlock()
	})
	elapsed := time.Since(start)
	b.StopTimer()
	cpu = processCPU() - cpu
	statements = h.m.DB.Statements() - statements
	slices.Sort(latencies)
	if n := len(latencies); n > 0 {
		b.ReportMetric(float64(n)/elapsed.Seconds(), "req/s")
		b.ReportMetric(float64(latencies[n*99/100].Microseconds())/1000, "p99-ms")
		b.ReportMetric(float64(statements)/float64(n), "stmts/req")
		b.ReportMetric(float64(cpu.Microseconds())/float64(n), "cpu-µs/req")
	}
}

// request is member i's message with the given middle (MsgType onwards),
// signed and, outside plaintext mode, sealed.
func (h *webhookBench) request(b *testing.B, run int64, i int, middle string) *http.Request {
	now := time.Now()
	plain := fmt.Sprintf(`<xml><ToUserName><![CDATA[gh_bench]]></ToUserName><FromUserName><![CDATA[oBench%d_%d]]></FromUserName><CreateTime>%d</CreateTime>%s</xml>`,
		run, i%benchMembers, now.Unix(), middle)
	req, err := h.signer.Request(context.Background(), h.m.URL()+"/wechat/"+h.m.Config.Merchants[0].ID, []byte(plain), now.Unix(), fmt.Sprint(run, i))
	if err != nil {
		b.Fatal(err)
	}
	return req
}

func (h *webhookBench) overHTTP(req *http.Request) (int, []byte) {
	resp, err := h.client.Do(req)
	if err != nil {
		return 0, []byte(err.Error())
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, body
}

func (h *webhookBench) toHandler(req *http.Request) (int, []byte) {
	w := httptest.NewRecorder()
	req.RequestURI = req.URL.RequestURI()
	req.RemoteAddr = "127.0.0.1:1"
	h.m.server.Handler.ServeHTTP(w, req)
	return w.Code, bytes.Clone(w.Body.Bytes())
}

// processCPU is the user and system time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
