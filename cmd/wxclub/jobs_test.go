package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wxclub/wxclub/models"
	"github.com/wxclub/wxclub/models/modelstest"
	"github.com/wxclub/wxclub/ritual"
)

// jobsEnv is the shipped configuration on a fresh database of one driver,
// for the jobs command, with the database open to look at what it did.
type jobsEnv struct {
	t    *testing.T
	path string
	db   *models.DB
	now  time.Time
	seq  int // members added so far
}

// forEachJobsDB runs fn on a fresh SQLite database and, when configured,
// a fresh MariaDB one.
func forEachJobsDB(t *testing.T, fn func(t *testing.T, e *jobsEnv)) {
	for _, driver := range modelstest.Drivers() {
		t.Run(driver, func(t *testing.T) {
			dsn := filepath.Join(t.TempDir(), "jobs.db")
			if driver == models.DriverMySQL {
				dsn = modelstest.FreshMySQLDSN(t)
			}
			text := strings.Replace(mustReadFile(t, shippedConfig), "driver: sqlite", "driver: "+driver, 1)
			e := &jobsEnv{t: t, path: writeConfig(t, strings.Replace(text, "dsn: wxclub.db", "dsn: '"+dsn+"'", 1)), now: time.Now()}
			e.jobs("list") // migrates and seeds the merchants
			db, err := models.Open(context.Background(), models.Config{Driver: driver, DSN: dsn})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			e.db = db
			fn(t, e)
		})
	}
}

// jobs runs `wxclub jobs args...` and returns its stdout, stderr and error.
func (e *jobsEnv) try(args ...string) (string, string, error) {
	var out, errOut bytes.Buffer
	err := run(context.Background(), append(append([]string{"jobs"}, args...), "-config", e.path), &out, &errOut)
	return out.String(), errOut.String(), err
}

// jobs runs `wxclub jobs args...`, which must succeed, and returns stdout.
func (e *jobsEnv) jobs(args ...string) string {
	e.t.Helper()
	out, errOut, err := e.try(args...)
	if err != nil {
		e.t.Fatalf("jobs %v: %v\n%s%s", args, err, out, errOut)
	}
	return out
}

// count counts a table's rows.
func (e *jobsEnv) count(table string) int {
	e.t.Helper()
	var n int
	if err := e.db.SQL().QueryRow("SELECT COUNT(*) FROM " + table).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// members adds following members (and, with unfollowed, as many who
// unfollowed) to the demo merchant, each born on birthday (MM-DD) if set.
func (e *jobsEnv) members(following, unfollowed int, birthday string) {
	e.t.Helper()
	ctx := context.Background()
	for i := range following + unfollowed {
		state := ritual.StateFollowing
		if i >= following {
			state = ritual.StateUnfollowed
		}
		m, _, err := e.db.Members().EnsureByOpenID(ctx, "demo", fmt.Sprintf("oJobs%06d", e.seq), state, time.Now())
		if err != nil {
			e.t.Fatal(err)
		}
		m.Phone, m.Birthday = fmt.Sprintf("139%08d", e.seq), birthday
		e.seq++
		if err := e.db.Members().Update(ctx, m); err != nil {
			e.t.Fatal(err)
		}
	}
}

var shanghai, _ = time.LoadLocation("Asia/Shanghai")

// at is t as --at takes it, in Shanghai's zone.
func at(t time.Time) string { return t.In(shanghai).Format(time.RFC3339) }

// shown is t as the jobs command shows it: Shanghai time with its offset.
func shown(t time.Time) string { return t.In(shanghai).Format("2006-01-02 15:04 +08:00") }

// TestJobsRunPrintsTheRunItRan: a run by hand prints its own slot, in the
// merchant's zone with the offset, and its own result — not the latest
// slot that ever ran.
func TestJobsRunPrintsTheRunItRan(t *testing.T) {
	forEachJobsDB(t, func(t *testing.T, e *jobsEnv) {
		later := e.now.AddDate(1, 0, 0).Truncate(time.Hour)
		e.jobs("run", "member_day", "--merchant", "demo", "--at", at(later), "--future")
		earlier := e.now.AddDate(0, -1, 0).Truncate(time.Hour)
		out := e.jobs("run", "member_day", "--merchant", "demo", "--at", at(earlier))
		want := "demo:member_day slot " + shown(earlier) + ` ran: ok {"campaign":"member_day:` + earlier.In(shanghai).Format("2006-01-02") + `"`
		if !strings.HasPrefix(out, want) {
			t.Fatalf("jobs run printed %q, want %q…", out, want)
		}
		if again := e.jobs("run", "member_day", "--merchant", "demo", "--at", at(earlier)); !strings.Contains(again, "slot "+shown(earlier)+" already ran; nothing done") {
			t.Fatalf("the same slot again printed %q", again)
		}
	})
}

// TestJobsListShowsTheMerchantsZone: next run and last slot are in the
// merchant's zone with the offset; the detail is the job's JSON report.
func TestJobsListShowsTheMerchantsZone(t *testing.T) {
	forEachJobsDB(t, func(t *testing.T, e *jobsEnv) {
		slot := e.now.AddDate(0, 0, -2).Truncate(time.Hour)
		e.jobs("run", "birthday", "--merchant", "demo", "--at", at(slot))
		var line string
		for _, l := range strings.Split(e.jobs("list"), "\n") {
			if strings.HasPrefix(l, "demo:birthday ") {
				line = l
			}
		}
		next := regexp.MustCompile(`\d{4}-\d\d-\d\d 09:00 \+08:00`)
		if !next.MatchString(line) || !strings.Contains(line, shown(slot)+"  ok") || strings.Contains(line, "Z ") ||
			!strings.Contains(line, `{"day":"`+slot.In(shanghai).Format("2006-01-02")+`","gifts":0}`) {
			t.Fatalf("jobs list shows the birthday job as\n%s\nwant its next run at 09:00 +08:00 and the last slot %s ok with its report", line, shown(slot))
		}
	})
}

// TestJobsRunRefusesAFutureSlot: a slot still to come is refused with both
// times named, and nothing runs; --future runs it, and the console's and
// the list's last run say it ran ahead of time.
func TestJobsRunRefusesAFutureSlot(t *testing.T) {
	forEachJobsDB(t, func(t *testing.T, e *jobsEnv) {
		e.members(3, 0, "")
		slot := e.now.AddDate(0, 0, 6).Truncate(time.Hour)
		out, _, err := e.try("run", "member_day", "--merchant", "demo", "--at", at(slot))
		if err == nil || !strings.Contains(err.Error(), "slot "+shown(slot)+" is in the future (now ") || !strings.Contains(err.Error(), "--future") {
			t.Fatalf("a future slot: %v %q, want it refused naming the slot and now", err, out)
		}
		if n := e.count("outbox") + e.count("coupons") + e.count("job_runs"); n != 0 {
			t.Fatalf("a refused run left %d rows in outbox, coupons and job_runs", n)
		}
		out = e.jobs("run", "member_day", "--merchant", "demo", "--at", at(slot), "--future")
		if !strings.Contains(out, "slot "+shown(slot)+" ran: ok") || e.count("outbox") != 3 {
			t.Fatalf("with --future: %q and %d messages, want the slot run for 3 followers", out, e.count("outbox"))
		}
		if list := e.jobs("list"); !strings.Contains(list, shown(slot)+"  ok (ahead of time, at ") {
			t.Fatalf("jobs list does not say the slot ran ahead of time:\n%s", list)
		}
	})
}

// TestJobsDryRun: --dry-run prints who would get what, and stores, queues
// and sends nothing — the slot then still runs for real.
func TestJobsDryRun(t *testing.T) {
	forEachJobsDB(t, func(t *testing.T, e *jobsEnv) {
		e.members(4, 2, "")
		slot := e.now.AddDate(0, 0, 3).Truncate(time.Hour)
		out := e.jobs("run", "member_day", "--merchant", "demo", "--at", at(slot), "--dry-run", "--sample", "2")
		for _, want := range []string{
			"demo:member_day slot " + shown(slot) + ", dry run: nothing stored, queued or sent",
			"members:  6", "messages: 4 (to followers): 今天是会员日：下单2倍积分，送10元券", "coupons:  6 × 10元券",
			"139****0000: the message + coupon 10元券", "139****0001: the message + coupon 10元券",
		} {
			if !strings.Contains(out, want) {
				t.Fatalf("dry run printed\n%s\nwant %q", out, want)
			}
		}
		if strings.Count(out, "e.g. member") != 2 {
			t.Fatalf("dry run showed %d examples, want 2:\n%s", strings.Count(out, "e.g. member"), out)
		}
		if n := e.count("outbox") + e.count("coupons") + e.count("job_runs"); n != 0 {
			t.Fatalf("a dry run left %d rows in outbox, coupons and job_runs", n)
		}

		birthday := e.now.AddDate(0, 0, -1).Truncate(time.Hour)
		e.members(2, 0, birthday.In(shanghai).Format("01-02"))
		out = e.jobs("run", "birthday", "--merchant", "demo", "--at", at(birthday), "--dry-run")
		if !strings.Contains(out, "members:  2") || !strings.Contains(out, "points:   176 in all") || !strings.Contains(out, "生日快乐") {
			t.Fatalf("birthday dry run printed\n%s\nwant 2 members, 88 points each", out)
		}
		if n := e.count("outbox") + e.count("coupons") + e.count("job_runs") + e.count("points_entries"); n != 0 {
			t.Fatalf("a dry run left %d rows", n)
		}

		e.jobs("run", "member_day", "--merchant", "demo", "--at", at(slot), "--future")
		if e.count("outbox") != 6 {
			t.Fatalf("the real run after the dry run queued %d messages, want 6 (the followers)", e.count("outbox"))
		}
	})
}

// TestJobsRunPrintsProgress: a run by hand reports members done, messages
// queued and the rate on stderr.
func TestJobsRunPrintsProgress(t *testing.T) {
	forEachJobsDB(t, func(t *testing.T, e *jobsEnv) {
		e.members(5, 2, "")
		slot := e.now.AddDate(0, 0, -1).Truncate(time.Hour)
		out, errOut, err := e.try("run", "member_day", "--merchant", "demo", "--at", at(slot), "--progress", "1ms")
		done := regexp.MustCompile(`(?m)^done demo:member_day: 7 members, 5 messages queued, \d+ members/s`)
		if err != nil || !done.MatchString(errOut) || !strings.Contains(out, "ran: ok") {
			t.Fatalf("run with progress: %v\nstdout %q\nstderr %q", err, out, errOut)
		}
	})
}

// lockedBuffer is a buffer one goroutine writes while another reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

type fakeCounts struct {
	mu                sync.Mutex
	members, messages int64
}

func (f *fakeCounts) set(members, messages int64) {
	f.mu.Lock()
	f.members, f.messages = members, messages
	f.mu.Unlock()
}

func (f *fakeCounts) Members() int64  { f.mu.Lock(); defer f.mu.Unlock(); return f.members }
func (f *fakeCounts) Messages() int64 { f.mu.Lock(); defer f.mu.Unlock(); return f.messages }

// TestProgressWhileRunning: progress lines come while the job still runs,
// each with the counts so far, not only at the end.
func TestProgressWhileRunning(t *testing.T) {
	var w lockedBuffer
	counts := &fakeCounts{}
	stop := watchProgress("demo:member_day", counts, time.Millisecond, &w)
	for _, c := range [][2]int64{{1000, 950}, {2000, 1900}} {
		counts.set(c[0], c[1])
		want := fmt.Sprintf("demo:member_day: %d members, %d messages queued, ", c[0], c[1])
		deadline := time.Now().Add(5 * time.Second)
		for !strings.Contains(w.String(), want) {
			if time.Now().After(deadline) {
				stop()
				t.Fatalf("no progress line %q while running; wrote:\n%s", want, w.String())
			}
			time.Sleep(time.Millisecond)
		}
	}
	stop()
	if !strings.Contains(w.String(), "done demo:member_day: 2000 members, 1900 messages queued") {
		t.Fatalf("no final line:\n%s", w.String())
	}
	if quiet := watchProgress("x", counts, 0, io.Discard); quiet == nil {
		t.Fatal("no stop for a quiet watch")
	}
}
