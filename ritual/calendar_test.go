package ritual_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wxclub/wxclub/models"
	"github.com/wxclub/wxclub/models/modelstest"
	"github.com/wxclub/wxclub/ritual"
	"github.com/wxclub/wxclub/ritual/ritualtest"
)

// shanghai is the fixture merchant's zone.
var shanghai = time.FixedZone("CST", 8*3600)

// campaignClub returns a club whose merchant runs the member day on the
// 8th of each month (double points, a 10元券 for everyone), birthdays and
// points expiry.
func campaignClub(t *testing.T, db *models.DB, clock *ritualtest.Clock, edit func(*ritual.Merchant)) (*ritual.Club, *ritual.Merchant) {
	t.Helper()
	club := ritual.NewClub(db, ritual.ClubOptions{Clock: clock.Now})
	m := ritualtest.Merchant(ritual.ModeCompatible)
	m.Campaigns = ritual.Campaigns{
		MemberDay: &ritual.MemberDayJob{
			Schedule:    ritual.Schedule{Spec: "0 9 8 * *", CatchUp: ritual.Duration(6 * time.Hour)},
			EveSchedule: "0 20 7 * *", SummarySchedule: "30 0 9 * *", Multiplier: 2, Coupon: "cash-10",
		},
		Birthday:     &ritual.BirthdayJob{Schedule: ritual.Schedule{Spec: "0 9 * * *"}, Points: 88},
		PointsExpiry: &ritual.PointsExpiryJob{Schedule: ritual.Schedule{Spec: "0 1 * * *"}, NoticeDays: 7},
	}
	if edit != nil {
		edit(m)
	}
	if _, err := club.SeedMerchant(context.Background(), m, "key-"+m.ID); err != nil {
		t.Fatal(err)
	}
	return club, m
}

func campaignJob(t *testing.T, club *ritual.Club, m *ritual.Merchant, name string) ritual.CampaignJob {
	t.Helper()
	jobs, err := club.CampaignJobs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range jobs {
		if j.Merchant == m.ID && j.Name == name {
			return j
		}
	}
	t.Fatalf("merchant has no job %s", name)
	return ritual.CampaignJob{}
}

func run(t *testing.T, club *ritual.Club, job ritual.CampaignJob, slot time.Time, owner string) bool {
	t.Helper()
	ran, err := club.RunCampaign(context.Background(), job, slot, owner)
	if err != nil {
		t.Fatalf("%s: %v", job.ID(), err)
	}
	return ran
}

func TestMemberDay(t *testing.T) {
	start := time.Date(2026, 12, 7, 20, 0, 0, 0, shanghai)
	clock := ritualtest.NewClock(start)
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		clock.Set(start) // each database starts on the same day
		club, m := campaignClub(t, db, clock, nil)
		ctx := context.Background()
		var followers []string
		for range 3 {
			openid := ritualtest.RandomID("o")
			mustHandle(t, club, m, subscribe(clock, openid, ""))
			followers = append(followers, openid)
		}
		buyer := buyer(t, club, db, m, "MD0", 100) // recognized only: a coupon, no message

		if !run(t, club, campaignJob(t, club, m, "member_day_eve"), clock.Now(), "a") {
			t.Fatal("eve did not run")
		}
		clock.Set(time.Date(2026, 12, 8, 9, 0, 0, 0, shanghai))
		day := campaignJob(t, club, m, "member_day")
		if !run(t, club, day, clock.Now(), "a") {
			t.Fatal("member day did not run")
		}
		if run(t, club, day, clock.Now(), "b") {
			t.Fatal("the member day's slot ran twice")
		}
		report, err := club.CampaignReport(ctx, m, "member_day:2026-12-08")
		if err != nil || len(report) != 1 || report[0].Messages != 3 {
			t.Fatalf("report = %+v, %v; want 3 pending announcements (followers only)", report, err)
		}
		for _, who := range append(followers, buyer.Phone) {
			coupons, _ := club.Coupons(ctx, m, who)
			if len(coupons) != 1 || coupons[0].RewardKey != "cash-10" {
				t.Fatalf("%s coupons = %+v, want the member day's 10元券 (every level alike)", who, coupons)
			}
		}
		// Orders on the member day earn double; the day after, single.
		if a := mustOrder(t, club, m, ritual.OrderInput{OrderNo: "MD1", OpenID: followers[0], AmountFen: 10000}); a.PointsEarned != 200 {
			t.Fatalf("member-day order earned %d, want 200", a.PointsEarned)
		}
		clock.Set(time.Date(2026, 12, 9, 0, 30, 0, 0, shanghai))
		if a := mustOrder(t, club, m, ritual.OrderInput{OrderNo: "MD2", OpenID: followers[0], AmountFen: 10000}); a.PointsEarned != 100 {
			t.Fatalf("next-day order earned %d, want 100", a.PointsEarned)
		}
		summary := campaignJob(t, club, m, "member_day_summary")
		run(t, club, summary, clock.Now(), "a")
		last, _ := club.LastJobRun(ctx, summary.ID())
		var s map[string]any
		if err := json.Unmarshal([]byte(last.Detail), &s); err != nil || s["member_day"] != "2026-12-08" || s["orders"] != 1.0 || s["points"] != 200.0 {
			t.Fatalf("summary = %s, want the 8th: 1 order, 200 points", last.Detail)
		}
	})
}

func TestBirthdayCouponIsTold(t *testing.T) {
	start := time.Date(2026, 5, 19, 12, 0, 0, 0, shanghai)
	clock := ritualtest.NewClock(start)
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		clock.Set(start)
		club, m := campaignClub(t, db, clock, func(m *ritual.Merchant) {
			m.Activation.Method = ritual.ActivateBirthday
			m.Campaigns.Birthday.Coupon = "cash-10"
		})
		openid := ritualtest.RandomID("o")
		mustHandle(t, club, m, subscribe(clock, openid, ""))
		mustHandle(t, club, m, text(clock, openid, "5月20日", nextMsgID()))
		job := campaignJob(t, club, m, "birthday")
		clock.Set(time.Date(2026, 5, 20, 9, 0, 0, 0, shanghai))
		run(t, club, job, clock.Now(), "a")
		couponTold(t, club, db, m, openid, ritual.CouponFromCampaign)
	})
}

func TestBirthdayGiftOnceAYear(t *testing.T) {
	start := time.Date(2026, 5, 19, 12, 0, 0, 0, shanghai)
	clock := ritualtest.NewClock(start)
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		clock.Set(start) // each database starts on the same day
		club, m := campaignClub(t, db, clock, func(m *ritual.Merchant) {
			m.Activation.Method = ritual.ActivateBirthday
			m.Membership.PointsExpireDays = 3650 // keep last year's points for the comparison
		})
		ctx := context.Background()
		may, leap := ritualtest.RandomID("o"), ritualtest.RandomID("o")
		for who, day := range map[string]string{may: "5月20日", leap: "2月29日"} {
			mustHandle(t, club, m, subscribe(clock, who, ""))
			mustHandle(t, club, m, text(clock, who, day, nextMsgID()))
		}
		job := campaignJob(t, club, m, "birthday")
		base := view(t, club, m, may).Points
		clock.Set(time.Date(2026, 5, 20, 9, 0, 0, 0, shanghai))
		run(t, club, job, clock.Now(), "a")
		clock.Advance(time.Hour)
		club.RunCampaign(ctx, job, clock.Now(), "a") // another slot the same day
		if got := view(t, club, m, may).Points; got != base+88 {
			t.Fatalf("birthday points %d, want %d (once)", got, base+88)
		}
		clock.Set(time.Date(2027, 5, 20, 9, 0, 0, 0, shanghai))
		run(t, club, job, clock.Now(), "a")
		if got := view(t, club, m, may).Points; got != base+176 {
			t.Fatalf("next year's points %d, want another gift", got)
		}
		// A 29 February birthday is kept on the 28th in other years.
		leapBase := view(t, club, m, leap).Points
		clock.Set(time.Date(2027, 2, 28, 9, 0, 0, 0, shanghai))
		run(t, club, job, clock.Now(), "a")
		if got := view(t, club, m, leap).Points; got != leapBase+88 {
			t.Fatalf("29 Feb birthday in 2027: %d points, want the gift on the 28th", got)
		}
		checkBalanced(t, db, m)
	})
}

func TestPointsExpiryJob(t *testing.T) {
	start := time.Date(2026, 1, 10, 12, 0, 0, 0, shanghai)
	clock := ritualtest.NewClock(start)
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		clock.Set(start) // each database starts on the same day
		club, m := campaignClub(t, db, clock, nil)
		ctx := context.Background()
		openid := ritualtest.RandomID("o")
		mustHandle(t, club, m, subscribe(clock, openid, ""))
		mustOrder(t, club, m, ritual.OrderInput{OrderNo: "PX1", OpenID: openid, AmountFen: 30000}) // 300, expires 2027-01-10
		job := campaignJob(t, club, m, "points_expiry")

		clock.Set(time.Date(2027, 1, 5, 1, 0, 0, 0, shanghai)) // within the 7-day notice
		run(t, club, job, clock.Now(), "a")
		clock.Set(time.Date(2027, 1, 6, 1, 0, 0, 0, shanghai))
		run(t, club, job, clock.Now(), "a")
		member, _ := db.Members().ByOpenID(ctx, m.ID, openid)
		msgs, _ := db.Outbox().ForMember(ctx, member.ID, 50)
		notices := 0
		for _, msg := range msgs {
			if msg.Purpose == ritual.PurposePointsExpiring {
				notices++
			}
		}
		if notices != 1 {
			t.Fatalf("%d expiry notices, want 1 (once per lot)", notices)
		}
		clock.Set(time.Date(2027, 1, 11, 1, 0, 0, 0, shanghai)) // the day after they expired
		run(t, club, job, clock.Now(), "a")
		if got := view(t, club, m, openid).Points; got != 0 {
			t.Fatalf("after the expiry job: %d points, want 0", got)
		}
		page, _ := club.Ledger(ctx, m, openid, 0, 5)
		if top := page.Entries[0]; top.Source != ritual.SourceExpiry || top.Delta != -300 {
			t.Fatalf("newest entry = %+v, want the expiry of 300", top)
		}
		checkBalanced(t, db, m)
	})
}

func TestMissedSlotRunsOnceWithinCatchUp(t *testing.T) {
	start := time.Date(2026, 12, 8, 13, 0, 0, 0, shanghai) // 4 h after the 09:00 slot
	clock := ritualtest.NewClock(start)
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		clock.Set(start)
		club, m := campaignClub(t, db, clock, nil)
		ctx := context.Background()
		ran, err := club.CatchUp(ctx, "a")
		if err != nil || !contains(ran, m.ID+":member_day") {
			t.Fatalf("catch-up ran %v (%v), want the member day missed 4 h ago (window 6 h)", ran, err)
		}
		if again, _ := club.CatchUp(ctx, "b"); contains(again, m.ID+":member_day") {
			t.Fatal("the missed slot ran twice")
		}
		clock.Set(time.Date(2027, 1, 8, 16, 0, 0, 0, shanghai)) // 7 h late: outside the window
		if late, _ := club.CatchUp(ctx, "a"); contains(late, m.ID+":member_day") {
			t.Fatal("a slot outside the catch-up window ran")
		}
	})
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestThreeReplicasRunEachSlotOnce runs one slot from three engines with
// their own connection pools on the same database at once.
func TestThreeReplicasRunEachSlotOnce(t *testing.T) {
	start := time.Date(2026, 12, 8, 9, 0, 0, 0, shanghai)
	clock := ritualtest.NewClock(start)
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		clock.Set(start) // each database starts on the same day
		club, m := campaignClub(t, db, clock, nil)
		for range 5 {
			mustHandle(t, club, m, subscribe(clock, ritualtest.RandomID("o"), ""))
		}
		engines := []*ritual.Club{club}
		for range 2 {
			other := db
			if db.Driver() == models.DriverMySQL {
				other = modelstest.Open(t, models.DriverMySQL, clock.Now) // a replica of its own
			}
			engines = append(engines, ritual.NewClub(other, ritual.ClubOptions{Clock: clock.Now}))
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		ran := 0
		for i, e := range engines {
			wg.Add(1)
			go func() {
				defer wg.Done()
				did, err := e.RunCampaign(context.Background(), campaignJob(t, e, m, "member_day"), clock.Now(), fmt.Sprintf("replica-%d", i))
				if err != nil {
					t.Error(err)
				}
				if did {
					mu.Lock()
					ran++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if ran != 1 {
			t.Fatalf("the slot ran on %d replicas, want 1", ran)
		}
		report, _ := club.CampaignReport(context.Background(), m, "member_day:2026-12-08")
		if len(report) != 1 || report[0].Messages != 5 {
			t.Fatalf("report = %+v, want 5 announcements, each once", report)
		}
	})
}

// A member day whose schedule fires twice in a day (or a run repeated
// after a crash) queues the same campaign again: only members it has not
// reached yet get a message and a coupon.
func TestMemberDayRunAgainReachesOnlyNewcomers(t *testing.T) {
	start := time.Date(2026, 12, 8, 8, 0, 0, 0, shanghai)
	clock := ritualtest.NewClock(start)
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		clock.Set(start)
		club, m := campaignClub(t, db, clock, func(m *ritual.Merchant) {
			m.Campaigns.MemberDay.Schedule.Spec = "0 9,15 8 * *"
		})
		ctx := context.Background()
		follow := func() string {
			openid := ritualtest.RandomID("o")
			mustHandle(t, club, m, subscribe(clock, openid, ""))
			return openid
		}
		followers := []string{follow(), follow()}
		day := campaignJob(t, club, m, "member_day")
		clock.Set(time.Date(2026, 12, 8, 9, 0, 0, 0, shanghai))
		run(t, club, day, clock.Now(), "a")
		followers = append(followers, follow())
		clock.Set(time.Date(2026, 12, 8, 15, 0, 0, 0, shanghai))
		run(t, club, day, clock.Now(), "a")

		last, _ := club.LastJobRun(ctx, day.ID())
		if !strings.Contains(last.Detail, `"messages":1`) || !strings.Contains(last.Detail, `"coupons":1`) {
			t.Errorf("second run: %s, want 1 message and 1 coupon, for the newcomer", last.Detail)
		}
		report, err := club.CampaignReport(ctx, m, "member_day:2026-12-08")
		if err != nil || len(report) != 1 || report[0].Messages != 3 {
			t.Errorf("report = %+v, %v; want 3 announcements, one per follower", report, err)
		}
		for _, openid := range followers {
			if coupons, _ := club.Coupons(ctx, m, openid); len(coupons) != 1 {
				t.Errorf("%s has %d coupons, want the day's one", openid, len(coupons))
			}
		}
	})
}
