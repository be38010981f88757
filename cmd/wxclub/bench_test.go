package main

import (
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gomysql "github.com/go-sql-driver/mysql"

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

// TestBenchCommand runs `wxclub bench webhook` briefly, as a user would,
// and reads its table: the service, the bare webhook and the commit limit
// each served requests without errors, and the service's statements, CPU
// and ratio are real figures. On MySQL it also checks the run's database
// is gone afterwards.
func TestBenchCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes and loads them for seconds")
	}
	for _, driver := range modelstest.Drivers() {
		t.Run(driver, func(t *testing.T) {
			args := []string{"bench", "webhook", "-db", driver, "-d", "1s", "-c", "8", "-config", shippedConfig}
			if driver == models.DriverMySQL {
				dsn := os.Getenv(modelstest.EnvMySQLDSN)
				if dsn == "" {
					t.Skipf("MySQL half skipped: %s is not set", modelstest.EnvMySQLDSN)
				}
				args = append(args, "-dsn", dsn)
			}
			out, err := exec.Command(wxclubBinary(t), args...).Output()
			if err != nil {
				t.Fatalf("wxclub %s: %v\n%s%s", strings.Join(args, " "), err, out, stderrOf(err))
			}
			rows := benchTable(t, string(out))
			service, bare, commits := rows["webhook (wxclub serve)"], rows["bare gin+silenceper webhook"], rows["commit limit (64 clients)"]
			for name, row := range map[string]map[string]string{"service": service, "bare": bare, "commit limit": commits} {
				if positive(row["req/s"]) <= 0 || positive(row["p99 ms"]) <= 0 || row["errors"] != "0" {
					t.Errorf("%s: req/s %q, p99 %q, errors %q: want requests, a latency and no errors\n%s", name, row["req/s"], row["p99 ms"], row["errors"], out)
				}
			}
			if s := positive(service["statements/req"]); s < 1 || s > 100 {
				t.Errorf("service statements/req %q: want the few statements a webhook takes", service["statements/req"])
			}
			if positive(service["service CPU µs/req"]) <= 0 || positive(bare["service CPU µs/req"]) <= 0 {
				t.Errorf("CPU µs/req of service %q, bare %q: want both measured", service["service CPU µs/req"], bare["service CPU µs/req"])
			}
			if r := positive(service["ratio"]); r <= 0 || r > 2 {
				t.Errorf("service ratio %q: want a figure above 0 and near or below 1", service["ratio"])
			}
			if driver == models.DriverMySQL {
				if m := regexp.MustCompile(`mysql database (wxclub_bench_\w+)`).FindStringSubmatch(string(out)); m == nil || mysqlHasDatabase(t, m[1]) {
					t.Errorf("the bench database is not named or was not dropped:\n%s", out)
				}
			}
		})
	}
}

// benchTable reads bench's table into rows by path, cells by column.
func benchTable(t *testing.T, out string) map[string]map[string]string {
	t.Helper()
	lines := strings.Split(out, "\n")
	head := slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(l, "path ") })
	if head < 0 {
		t.Fatalf("no table in:\n%s", out)
	}
	cells := regexp.MustCompile(`\s{2,}`)
	columns := cells.Split(strings.TrimSpace(lines[head]), -1)
	rows := map[string]map[string]string{}
	for _, line := range lines[head+1:] {
		values := cells.Split(strings.TrimSpace(line), -1)
		if len(values) != len(columns) {
			break
		}
		row := map[string]string{}
		for i, c := range columns {
			row[c] = values[i]
		}
		rows[values[0]] = row
	}
	return rows
}

func positive(s string) float64 {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return -1
	}
	return v
}

func stderrOf(err error) string {
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return string(exit.Stderr)
	}
	return ""
}

func mysqlHasDatabase(t *testing.T, name string) bool {
	t.Helper()
	cfg, err := gomysql.ParseDSN(os.Getenv(modelstest.EnvMySQLDSN))
	if err != nil {
		t.Fatal(err)
	}
	cfg.DBName = ""
	db, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = ?", name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n > 0
}
