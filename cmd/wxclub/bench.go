package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"text/tabwriter"
	"time"
)

const benchAbout = `usage: wxclub bench webhook|orders|signin [-db sqlite|mysql] [-dsn DSN] [-c 32] [-d 10s]

Measure the service as it runs: start wxclub serve as a child process on a
database of the run's own (SQLite in a temporary directory, or a fresh
MySQL/MariaDB database wxclub_bench_<random> on -dsn, dropped after) with
the emulator, drive its load merchant with -c connections for -d, and
print one table: requests per second, p50 and p99, errors, SQL statements
per request (the service's own count, BEGIN and COMMIT included), the CPU
the service and the database server used per request (/proc). Beside it,
from the same run: the bare framework (gin and silenceper answering the
same webhook messages, storing nothing) and the commit limit (autocommit
single-row INSERTs with a unique key from 64 clients), and the service's
ratio to the lower of the two.

actions:
  webhook   "帮助" text messages, signed and encrypted as WeChat sends them
  orders    POST /api/v1/orders with fresh order numbers
  signin    "签到" from a fresh shopper per request: every one a real sign-in`

// runBench measures the service against the bare framework and the commit
// limit, in one run:
//
//	wxclub bench webhook|orders|signin [-db sqlite|mysql] [-dsn DSN] [-c 32] [-d 10s]
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newCommandLine(benchAbout, stdout)
	driver := fs.String("db", "sqlite", "database: sqlite or mysql")
	dsn := fs.String("dsn", "root@tcp(127.0.0.1:3306)/", "mysql: the server to create the bench database on")
	path := fs.String("config", "config.yaml", "configuration the load merchant's settings come from")
	concurrency := fs.Int("c", 32, "concurrent connections")
	duration := fs.Duration("d", 10*time.Second, "how long each measurement runs")
	positional, err := fs.parse(args)
	if err != nil {
		return err
	}
	if len(positional) != 1 || !slices.Contains(loadActions, positional[0]) {
		return fs.usageErrorf("bench: say what to measure: webhook, orders or signin")
	}
	if *driver != "sqlite" && *driver != "mysql" {
		return fs.usageErrorf("bench: -db must be sqlite or mysql, got %q", *driver)
	}
	b := &bench{action: positional[0], concurrency: *concurrency, duration: *duration, progress: stderr}
	if err := b.prepare(ctx, *driver, *dsn, *path); err != nil {
		return err
	}
	defer b.cleanUp()
	rows, err := b.measureAll(ctx)
	if err != nil {
		return err
	}
	b.print(stdout, rows)
	return nil
}

// bench is one run: its directory, database and configuration.
type bench struct {
	action      string
	concurrency int
	duration    time.Duration
	progress    io.Writer

	dir      string
	db       *benchDatabase
	config   string   // the children's configuration file
	env      []string // the children's overrides of it
	merchant MerchantConfig
}

func (b *bench) prepare(ctx context.Context, driver, dsn, configPath string) error {
	src, err := os.ReadFile(configPath)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	if b.dir, err = os.MkdirTemp("", "wxclub-bench"); err != nil {
		return err
	}
	b.config = filepath.Join(b.dir, "config.yaml")
	if err := os.WriteFile(b.config, src, 0o600); err != nil {
		return err
	}
	if b.db, err = openBenchDatabase(ctx, driver, dsn, b.dir); err != nil {
		os.RemoveAll(b.dir)
		return err
	}
	b.env = []string{
		"WXCLUB_DATABASE_DRIVER=" + driver, "WXCLUB_DATABASE_DSN=" + b.db.dsn,
		"WXCLUB_WECHAT_API_BASE=" + APIBaseEmulator, "WXCLUB_REDIS_ADDR=",
		"WXCLUB_LOG_FORMAT=json", "WXCLUB_LOG_LEVEL=info", // as in production
	}
	cfg, err := LoadConfig(b.config, append(os.Environ(), b.env...))
	if err != nil {
		b.cleanUp()
		return err
	}
	var ok bool
	if b.merchant, ok = loadMerchant(cfg); !ok {
		b.cleanUp()
		return fmt.Errorf("bench: %s has no merchant to copy the load merchant's settings from", configPath)
	}
	return nil
}

func (b *bench) cleanUp() {
	b.db.close()
	os.RemoveAll(b.dir)
}

// benchRow is one line of the table; a figure of -1 was not measured.
type benchRow struct {
	path                    string
	report                  loadReport
	statements, questions   float64 // per request
	serviceCPU, databaseCPU time.Duration
	ratioTo                 float64 // req/s of the yardstick, set when printing
}

// measureAll measures the service, then the bare webhook, then the commit
// limit, one after the other on the same machine.
func (b *bench) measureAll(ctx context.Context) ([]benchRow, error) {
	service, err := b.measureChild(ctx, "serve", b.action+" (wxclub serve)", b.action, "serve", "-config", b.config)
	if err != nil {
		return nil, err
	}
	bare, err := b.measureChild(ctx, "bare", "bare gin+silenceper webhook", "webhook", "bench-bare-webhook", "-addr", "ADDR", "-config", b.config)
	if err != nil {
		return nil, err
	}
	bare.statements, bare.questions, bare.databaseCPU = -1, -1, -1
	commits, err := b.measureCommits(ctx)
	if err != nil {
		return nil, err
	}
	return []benchRow{service, bare, commits}, nil
}

// measureChild starts a child, warms it up, drives it for the run's
// duration and reads what it cost.
func (b *bench) measureChild(ctx context.Context, name, path, action string, args ...string) (benchRow, error) {
	child, err := startBenchChild(ctx, b.dir, name, b.env, args...)
	if err != nil {
		return benchRow{}, err
	}
	defer child.stop()
	l := newLoadRun([]string{child.url}, b.merchant, 1000, b.concurrency)
	l.drive(ctx, b.concurrency, min(b.duration/5, 2*time.Second), l.action(action), io.Discard)
	fmt.Fprintf(b.progress, "bench: %s, pid %d, %d connections for %s\n", path, child.pid(), b.concurrency, b.duration)
	before := b.snapshot(ctx, child)
	report := l.drive(ctx, b.concurrency, b.duration, l.action(action), b.progress)
	after := b.snapshot(ctx, child)
	if ctx.Err() != nil {
		return benchRow{}, ctx.Err()
	}
	return b.row(path, report, before, after), nil
}

func (b *bench) measureCommits(ctx context.Context) (benchRow, error) {
	fmt.Fprintf(b.progress, "bench: commit limit, %d clients for %s\n", commitClients, b.duration)
	before := b.snapshot(ctx, nil)
	report, err := commitLimit(ctx, b.db, b.duration)
	if err != nil {
		return benchRow{}, err
	}
	after := b.snapshot(ctx, nil)
	row := b.row(fmt.Sprintf("commit limit (%d clients)", commitClients), report, before, after)
	row.statements, row.serviceCPU = 1, -1
	return row, nil
}

// costs is what a process and the database had spent at one moment.
type costs struct {
	serviceCPU, databaseCPU time.Duration
	statements, questions   float64
	hasStatements, hasQuest bool
}

func (b *bench) snapshot(ctx context.Context, child *benchChild) costs {
	var c costs
	if child != nil {
		c.serviceCPU, _ = cpuTime(child.pid())
		c.statements, c.hasStatements = child.statements(ctx)
	}
	if pid := b.db.serverPID(); pid != 0 {
		c.databaseCPU, _ = cpuTime(pid)
	}
	q, ok := b.db.questions(ctx)
	c.questions, c.hasQuest = float64(q), ok
	return c
}

func (b *bench) row(path string, report loadReport, before, after costs) benchRow {
	n := float64(max(report.requests, 1))
	row := benchRow{path: path, report: report, statements: -1, questions: -1, databaseCPU: -1}
	row.serviceCPU = time.Duration(float64(after.serviceCPU-before.serviceCPU) / n)
	if after.hasStatements && before.hasStatements {
		row.statements = (after.statements - before.statements) / n
	}
	if after.hasQuest && before.hasQuest {
		row.questions = (after.questions - before.questions) / n
	}
	if b.db.serverPID() != 0 {
		row.databaseCPU = time.Duration(float64(after.databaseCPU-before.databaseCPU) / n)
	}
	return row
}

// print writes the table: the service, the bare webhook, the commit
// limit, each as a ratio of the lower of the last two.
func (b *bench) print(w io.Writer, rows []benchRow) {
	yardstick := min(rows[1].report.rate(), rows[2].report.rate())
	fmt.Fprintf(w, "wxclub bench %s: %s, %d connections, %s each, merchant %s\n",
		b.action, b.db.describe(), b.concurrency, b.duration, b.merchant.ID)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "path\treq/s\tp50 ms\tp99 ms\terrors\tcancelled\tstatements/req\tservice CPU µs/req\tdatabase CPU µs/req\tratio")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%.0f\t%.1f\t%.1f\t%d\t%d\t%s\t%s\t%s\t%.2f\n", r.path, r.report.rate(),
			ms(r.report.percentile(0.50)), ms(r.report.percentile(0.99)), r.report.failures, r.report.cancelled,
			figure(r.statements, "%.1f"), micros(r.serviceCPU), micros(r.databaseCPU), r.report.rate()/yardstick)
	}
	tw.Flush()
	fmt.Fprintf(w, "ratio = req/s ÷ min(bare webhook, commit limit) = ÷ %.0f\n", yardstick)
	if q := rows[0].questions; q >= 0 {
		fmt.Fprintf(w, "MariaDB Questions per request: %.1f (server-wide: other clients of the server count too)\n", q)
	}
	if b.db.serverPID() == 0 && b.db.driver != "sqlite" {
		fmt.Fprintln(w, "database CPU: no mariadbd or mysqld process on this machine")
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func micros(d time.Duration) string {
	if d < 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f", float64(d)/float64(time.Microsecond))
}

func figure(v float64, format string) string {
	if v < 0 {
		return "-"
	}
	return fmt.Sprintf(format, v)
}
