package ritual_test

import (
	"bufio"
	"context"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wxclub/wxclub/models"
	"github.com/wxclub/wxclub/models/modelstest"
	"github.com/wxclub/wxclub/ritual"
	"github.com/wxclub/wxclub/ritual/ritualtest"
	"github.com/wxclub/wxclub/wechat"
	"github.com/wxclub/wxclub/wechat/emulator"
)

// BenchmarkMemberDayEnqueue queues the member day — one announcement per
// follower and one coupon per member — for WXCLUB_BENCH_MEMBERS members
// (default 100,000), on MariaDB when WXCLUB_TEST_MYSQL_DSN is set, and
// reports the time, the rate, the peak Go heap and peak RSS, and the CPU
// seconds of the process (cpu-s) and, when the server runs on this machine,
// of the database (db-cpu-s); on a shared machine the CPU seconds compare
// runs better than the wall clock. The requirement is 1,000,000 members in
// 60 s within 200 MB:
//
//	WXCLUB_TEST_MYSQL_DSN='root@tcp(127.0.0.1:3306)/wxclub_test' WXCLUB_BENCH_MEMBERS=1000000 \
//	  go test -run '^$' -bench MemberDayEnqueue -benchtime 1x ./ritual
func BenchmarkMemberDayEnqueue(b *testing.B) {
	members := 100_000
	if n, err := strconv.Atoi(os.Getenv("WXCLUB_BENCH_MEMBERS")); err == nil && n > 0 {
		members = n
	}
	driver := models.DriverSQLite
	if os.Getenv(modelstest.EnvMySQLDSN) != "" {
		driver = models.DriverMySQL
	}
	start := time.Date(2026, 12, 8, 9, 0, 0, 0, shanghai)
	clock := ritualtest.NewClock(start)
	for i := 0; i < b.N; i++ {
		db := modelstest.Open(b, driver, clock.Now)
		club := ritual.NewClub(db, ritual.ClubOptions{Clock: clock.Now})
		m := ritualtest.Merchant(ritual.ModeCompatible)
		m.Campaigns.MemberDay = &ritual.MemberDayJob{Schedule: ritual.Schedule{Spec: "0 9 8 * *"}, Multiplier: 2, Coupon: "cash-10"}
		if _, err := club.SeedMerchant(context.Background(), m, "key-"+m.ID); err != nil {
			b.Fatal(err)
		}
		seedFollowers(b, db, m.ID, "oBench", members)
		job := benchJob(b, club, m)

		b.ResetTimer()
		peak := watchHeap()
		began, cpu, dbCPU := time.Now(), cpuTime(os.Getpid()), cpuTime(localDBServer())
		if ran, err := club.RunCampaign(context.Background(), job, clock.Now(), "bench"); err != nil || !ran {
			b.Fatalf("member day: ran=%v err=%v", ran, err)
		}
		took := time.Since(began)
		b.StopTimer()
		b.ReportMetric(took.Seconds(), "s")
		b.ReportMetric((cpuTime(os.Getpid()) - cpu).Seconds(), "cpu-s")
		if driver == models.DriverMySQL && localDBServer() != 0 {
			b.ReportMetric((cpuTime(localDBServer()) - dbCPU).Seconds(), "db-cpu-s")
		}
		b.ReportMetric(float64(members)/took.Seconds(), "members/s")
		b.ReportMetric(float64(peak())/(1<<20), "peak-heap-MB")
		b.ReportMetric(float64(peakRSS())/(1<<20), "peak-RSS-MB")
		last, _ := club.LastJobRun(context.Background(), job.ID())
		b.Logf("%d members on %s: %s in %s", members, driver, last.Detail, took.Round(time.Millisecond))
	}
}

// seedFollowers inserts n following members, with openids prefix1 to
// prefixN, in the database itself. The
// numbers come from a 1000-row recursive CTE joined with itself (MariaDB
// stops recursion at 1000 by default).
func seedFollowers(b *testing.B, db *models.DB, merchantID, prefix string, n int) {
	b.Helper()
	now := time.Now().UTC()
	concat := "CONCAT('" + prefix + "', k)"
	if db.Driver() == models.DriverSQLite {
		concat = "'" + prefix + "' || k"
	}
	err := db.Exec(context.Background(), `
		INSERT INTO members (merchant_id, openid, state, points, level_key, subscribe_scene, referred_by, birthday, created_at, updated_at)
		WITH RECURSIVE a(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM a WHERE n < 999),
		     seq(k) AS (SELECT x.n * 1000 + y.n + 1 FROM a AS x, a AS y)
		SELECT ?, `+concat+`, 'following', 0, '', '', 0, '', ?, ? FROM seq WHERE k <= ?`, merchantID, now, now, n)
	if err != nil {
		b.Fatal(err)
	}
}

func benchJob(b *testing.B, club *ritual.Club, m *ritual.Merchant) ritual.CampaignJob {
	jobs, err := club.CampaignJobs(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	for _, j := range jobs {
		if j.Merchant == m.ID && j.Name == "member_day" {
			return j
		}
	}
	b.Fatal("no member day job")
	return ritual.CampaignJob{}
}

// watchHeap samples the Go heap every 20 ms until the returned function is
// called, which returns the highest sample.
func watchHeap() func() uint64 {
	var peak atomic.Uint64
	done := make(chan struct{})
	go func() {
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	return func() uint64 { close(done); return peak.Load() }
}

// peakRSS is the process's peak resident set (VmHWM), what the operating
// system charges the process, Go runtime and driver buffers included; 0
// where /proc is not mounted.
func peakRSS() uint64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if kb, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			n, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(kb), " kB"), 10, 64)
			return n << 10
		}
	}
	return 0
}

// BenchmarkRelaySend queues a member day for WXCLUB_BENCH_MESSAGES
// followers (default 10,000) and relays it to the in-process emulator with
// the relay's default batch and workers, as `wxclub serve` runs it, on
// MariaDB when WXCLUB_TEST_MYSQL_DSN is set; it reports template messages
// sent per second (the requirement: 1,000) and fails unless the emulator
// received every message exactly once:
//
//	WXCLUB_TEST_MYSQL_DSN='root@tcp(127.0.0.1:3306)/wxclub_test' \
//	  go test -run '^$' -bench RelaySend -benchtime 1x ./ritual
func BenchmarkRelaySend(b *testing.B) {
	messages := 10_000
	if n, err := strconv.Atoi(os.Getenv("WXCLUB_BENCH_MESSAGES")); err == nil && n > 0 {
		messages = n
	}
	driver := models.DriverSQLite
	if os.Getenv(modelstest.EnvMySQLDSN) != "" {
		driver = models.DriverMySQL
	}
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		clock := ritualtest.NewClock(time.Date(2026, 12, 8, 9, 0, 0, 0, shanghai))
		db := modelstest.Open(b, driver, clock.Now)
		club := ritual.NewClub(db, ritual.ClubOptions{Clock: clock.Now})
		m := ritualtest.Merchant(ritual.ModeCompatible)
		m.Campaigns.MemberDay = &ritual.MemberDayJob{Schedule: ritual.Schedule{Spec: "0 9 8 * *"}, Multiplier: 2}
		if _, err := club.SeedMerchant(ctx, m, "key-"+m.ID); err != nil {
			b.Fatal(err)
		}
		a := m.OfficialAccount
		if err := wx.emu.Register(emulator.Account{Name: m.ID, AppID: a.AppID, AppSecret: a.AppSecret, Token: a.Token, EncodingAESKey: a.EncodingAESKey}); err != nil {
			b.Fatal(err)
		}
		prefix := ritualtest.RandomID("o") + "-" // the emulator's inboxes outlive the database
		seedFollowers(b, db, m.ID, prefix, messages)
		for k := 1; k <= messages; k++ {
			wx.emu.SetFollowing(a.AppID, prefix+strconv.Itoa(k), true)
		}
		if ran, err := club.RunCampaign(ctx, benchJob(b, club, m), clock.Now(), "bench"); err != nil || !ran {
			b.Fatalf("member day: ran=%v err=%v", ran, err)
		}
		relay := club.NewRelay(wechat.NewClient(wechat.ClientOptions{}), ritual.RelayOptions{Owner: "bench"})
		before := wx.emu.Stats().Calls[templatePath]

		b.ResetTimer()
		began := time.Now()
		for {
			n, err := relay.RunOnce(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if n == 0 {
				break
			}
		}
		took := time.Since(began)
		b.StopTimer()
		if got := wx.emu.Stats().Calls[templatePath] - before; got != messages {
			b.Fatalf("the emulator was asked %d times for %d messages", got, messages)
		}
		for k := 1; k <= messages; k++ {
			if n := len(wx.emu.Inbox(prefix + strconv.Itoa(k))); n != 1 {
				b.Fatalf("%s%d received %d messages, want 1", prefix, k, n)
			}
		}
		b.ReportMetric(took.Seconds(), "s")
		b.ReportMetric(float64(messages)/took.Seconds(), "msgs/s")
		b.Logf("%d template messages on %s in %s", messages, driver, took.Round(time.Millisecond))
	}
}

// cpuTime is the CPU time (user and system) process pid has used, from
// /proc; 0 where there is none. On a machine shared with other work, CPU
// seconds compare runs better than the wall clock does.
func cpuTime(pid int) time.Duration {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil || pid == 0 {
		return 0
	}
	_, after, _ := strings.Cut(string(stat), ") ") // the command name may hold spaces
	f := strings.Fields(after)
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / 100 // USER_HZ is 100 on Linux
}

// localDBServer is the pid of a MariaDB or MySQL server on this machine, so
// the benchmark can say what the database spent; 0 if there is none.
func localDBServer() int {
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		comm, _ := os.ReadFile("/proc/" + d.Name() + "/comm")
		if name := strings.TrimSpace(string(comm)); name == "mariadbd" || name == "mysqld" {
			return pid
		}
	}
	return 0
}
