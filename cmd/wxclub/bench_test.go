package main

import (
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wxclub/wxclub/models"
	"github.com/wxclub/wxclub/models/modelstest"
)

// BenchmarkOrderIntake posts new orders through the HTTP API of the whole
// service — points, level evaluation and the outbox row in one transaction,
// with the relay running — from 32 concurrent clients, and reports orders
// per second, the 99th-percentile latency and the statements sent per
// order. It runs on MariaDB when WXCLUB_TEST_MYSQL_DSN is set, else on
// SQLite:
//
//	WXCLUB_TEST_MYSQL_DSN='root@tcp(127.0.0.1:3306)/wxclub_test' go test -run '^$' -bench OrderIntake -benchtime 5000x ./cmd/wxclub
func BenchmarkOrderIntake(b *testing.B) {
	driver := models.DriverSQLite
	if os.Getenv(modelstest.EnvMySQLDSN) != "" {
		driver = models.DriverMySQL
	}
	m := startBenchMain(b, driver)
	key := m.Config.Merchants[0].APIKey
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	var seq atomic.Int64
	var mu sync.Mutex
	latencies := make([]time.Duration, 0, b.N)
	run := time.Now().UnixNano()
	b.SetParallelism(16) // 32 clients on this machine's 2 cores
	b.ResetTimer()
	start, statements := time.Now(), m.DB.Statements()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		for pb.Next() {
			n := seq.Add(1)
			body := fmt.Sprintf(`{"order_no":"BN-%d-%d","openid":"oBench%022d","amount_fen":%d}`, run, n, n%1000, 1000+n%50000)
			req, _ := http.NewRequest(http.MethodPost, m.URL()+"/api/v1/orders", strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+key)
			req.Header.Set("Content-Type", "application/json")
			begin := time.Now()
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			resp.Body.Close()
			mine = append(mine, time.Since(begin))
			if resp.StatusCode != http.StatusCreated {
				b.Errorf("order answered %d", resp.StatusCode)
				return
			}
		}
		mu.Lock()
		latencies = append(latencies, mine...)
		mu.Unlock()
	})
	elapsed, statements := time.Since(start), m.DB.Statements()-statements
	b.StopTimer()
	slices.Sort(latencies)
	if len(latencies) > 0 {
		b.ReportMetric(float64(len(latencies))/elapsed.Seconds(), "orders/s")
		b.ReportMetric(float64(latencies[len(latencies)*99/100].Microseconds())/1000, "p99-ms")
		// Everything sent while the orders came in, the relay's and the
		// jobs' included.
		b.ReportMetric(float64(statements)/float64(len(latencies)), "statements/order")
	}
}

// startBenchMain is startMain for a benchmark.
func startBenchMain(b *testing.B, driver string) *Main {
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
	}
	m := NewMain(cfg, discardLogger())
	if err := m.Run(b.Context()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { m.Close() })
	return m
}
