package ritual_test

import (
	"context"
	"os"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wxclub/wxclub/models"
	"github.com/wxclub/wxclub/models/modelstest"
	"github.com/wxclub/wxclub/ritual"
	"github.com/wxclub/wxclub/ritual/ritualtest"
)

// BenchmarkMemberDayEnqueue queues the member day — one announcement per
// follower and one coupon per member — for WXCLUB_BENCH_MEMBERS members
// (default 100,000), on MariaDB when WXCLUB_TEST_MYSQL_DSN is set, and
// reports the time, the rate and the peak Go heap while it runs:
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
		seedFollowers(b, db, m.ID, members)
		job := benchJob(b, club, m)

		b.ResetTimer()
		peak := watchHeap()
		began := time.Now()
		if ran, err := club.RunCampaign(context.Background(), job, clock.Now(), "bench"); err != nil || !ran {
			b.Fatalf("member day: ran=%v err=%v", ran, err)
		}
		took := time.Since(began)
		b.StopTimer()
		b.ReportMetric(took.Seconds(), "s")
		b.ReportMetric(float64(members)/took.Seconds(), "members/s")
		b.ReportMetric(float64(peak())/(1<<20), "peak-heap-MB")
		last, _ := club.LastJobRun(context.Background(), job.ID())
		b.Logf("%d members on %s: %s in %s", members, driver, last.Detail, took.Round(time.Millisecond))
	}
}

// seedFollowers inserts n following members in the database itself. The
// numbers come from a 1000-row recursive CTE joined with itself (MariaDB
// stops recursion at 1000 by default).
func seedFollowers(b *testing.B, db *models.DB, merchantID string, n int) {
	b.Helper()
	now := time.Now().UTC()
	concat := "CONCAT('oBench', k)"
	if db.Driver() == models.DriverSQLite {
		concat = "'oBench' || k"
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
