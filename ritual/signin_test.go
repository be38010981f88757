package ritual_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wxclub/wxclub/models"
	"github.com/wxclub/wxclub/models/modelstest"
	"github.com/wxclub/wxclub/ritual"
	"github.com/wxclub/wxclub/ritual/ritualtest"
)

// signInOA sends 签到 (makeup: 补签) to the official account as openid.
func (e *groupEnv) signInOA(openid string, makeup bool) string {
	e.t.Helper()
	command := "签到"
	if makeup {
		command = "补签"
	}
	return mustHandle(e.t, e.club, e.m, text(e.clock, openid, command, nextMsgID()))
}

// signIn returns the member's sign-in for date, or nil.
func (e *groupEnv) signIn(openid, date string) *ritual.DailySignIn {
	e.t.Helper()
	s, err := e.db.SignIns().SignInOn(context.Background(), e.m.ID, e.member(openid).ID, date)
	if ritual.ErrorCode(err) == ritual.ENOTFOUND {
		return nil
	} else if err != nil {
		e.t.Fatal(err)
	}
	return s
}

func TestSignInOncePerLocalDayWherever(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		e := newGroupEnv(t, db, clock, nil)
		anna := e.linked("wx-anna")
		if got := e.say("wx-anna", "签到"); !strings.Contains(got, "签到成功") || !strings.Contains(got, "+10积分") {
			t.Fatalf("签到 in the group = %q", got)
		}
		if got := e.signInOA(anna, false); !strings.Contains(got, "已经签过到") {
			t.Fatalf("签到 on the official account the same day = %q, want signed before", got)
		}
		if got := e.say("wx-anna", "签到"); !strings.Contains(got, "已经签过到") {
			t.Fatalf("签到 twice in the group = %q", got)
		}
		if s := e.signIn(anna, "2026-11-24"); s == nil || s.Where != e.group || s.Streak != 1 {
			t.Fatalf("sign-in = %+v, want today's, in the group, streak 1", s)
		}

		// The official account first, then the group, the next local day.
		clock.Set(time.Date(2026, 11, 24, 16, 5, 0, 0, time.UTC)) // 11-25 00:05 Shanghai
		got := e.signInOA(anna, false)
		if !strings.Contains(got, "签到成功") || !strings.Contains(got, "连续签到2天") || !strings.Contains(got, "现在共有20积分") {
			t.Fatalf("签到 on the official account = %q, want streak 2 and the balance", got)
		}
		if got := e.say("wx-anna", "签到"); !strings.Contains(got, "已经签过到") {
			t.Fatalf("签到 in the group after the official account = %q", got)
		}
		if s := e.signIn(anna, "2026-11-25"); s == nil || s.Where != ritual.SignInOfficialAccount {
			t.Fatalf("sign-in = %+v, want one on the official account", s)
		}
		if got, want := e.member(anna).Points, int64(20); got != want {
			t.Fatalf("points = %d, want %d", got, want)
		}
		if got := len(e.entries(anna, ritual.SourceSignIn)); got != 2 {
			t.Fatalf("%d sign-in entries, want 2", got)
		}
		checkBalanced(t, db, e.m)
	})
}

func TestSignInStreaks(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		e := newGroupEnv(t, db, clock, nil)
		anna := e.linked("wx-anna")
		// 23:50 and 00:10 Shanghai are two days; 00:10 and 23:50 of one
		// day are one.
		days := []struct {
			at     time.Time
			streak int
		}{
			{time.Date(2026, 11, 24, 15, 50, 0, 0, time.UTC), 1}, // 11-24 23:50
			{time.Date(2026, 11, 24, 16, 10, 0, 0, time.UTC), 2}, // 11-25 00:10
			{time.Date(2026, 11, 26, 15, 50, 0, 0, time.UTC), 3}, // 11-26 23:50
			{time.Date(2026, 11, 27, 1, 0, 0, 0, time.UTC), 4},   // 11-27 09:00
		}
		for i, d := range days {
			clock.Set(d.at)
			got := e.say("wx-anna", "签到")
			if !strings.Contains(got, "签到成功") || !strings.Contains(got, "连续签到"+strconv.Itoa(d.streak)+"天") {
				t.Fatalf("day %d: %q, want streak %d", i+1, got, d.streak)
			}
			if bonus := strings.Contains(got, "+50"); bonus != (d.streak == 3) {
				t.Fatalf("day %d: %q; the bonus comes on day 3 only", i+1, got)
			}
			if strings.Contains(got, "共有") {
				t.Fatalf("day %d: %q shows the balance in the group", i+1, got)
			}
		}
		if got := len(e.entries(anna, ritual.SourceSignInBonus)); got != 1 {
			t.Fatalf("%d streak bonuses, want 1", got)
		}
		if got, want := e.member(anna).Points, int64(4*10+50); got != want {
			t.Fatalf("points = %d, want %d", got, want)
		}
		bonus := e.entries(anna, ritual.SourceSignInBonus)[0]
		if bonus.Reference != strconv.FormatInt(e.member(anna).ID, 10)+":2026-11-26" || bonus.Delta != 50 {
			t.Fatalf("bonus entry = %+v", bonus)
		}

		// 11-28 is missed: 11-29 starts again.
		clock.Set(time.Date(2026, 11, 29, 2, 0, 0, 0, time.UTC))
		if got := e.say("wx-anna", "签到"); !strings.Contains(got, "连续签到1天") {
			t.Fatalf("after a missed day: %q, want the streak to start again", got)
		}
		checkBalanced(t, db, e.m)
	})
}

func TestMakeupSignIn(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		e := newGroupEnv(t, db, clock, nil)
		anna := e.linked("wx-anna")
		clock.Set(time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC)) // 11-23
		e.say("wx-anna", "签到")
		clock.Set(time.Date(2026, 11, 25, 2, 0, 0, 0, time.UTC)) // 11-25; 11-24 was missed

		// 10 points are not enough for a 20-point make-up.
		if got := e.say("wx-anna", "补签"); !strings.Contains(got, "积分不够") {
			t.Fatalf("补签 short of points = %q", got)
		}
		if e.signIn(anna, "2026-11-24") != nil || e.member(anna).Points != 10 {
			t.Fatal("a refused 补签 changed something")
		}
		mustOrder(t, e.club, e.m, ritual.OrderInput{OrderNo: ritualtest.RandomID("o"), OpenID: anna, AmountFen: 5000}) // +50

		got := e.say("wx-anna", "补签")
		if !strings.Contains(got, "已补签11-24") || !strings.Contains(got, "20积分") || !strings.Contains(got, "连续签到2天") {
			t.Fatalf("补签 = %q", got)
		}
		if s := e.signIn(anna, "2026-11-24"); s == nil || !s.Makeup || s.Streak != 2 {
			t.Fatalf("made-up sign-in = %+v", s)
		}
		if got := e.member(anna).Points; got != 10+50-20 {
			t.Fatalf("points after 补签 = %d, want 40", got)
		}
		if got := e.say("wx-anna", "补签"); !strings.Contains(got, "不用补签") {
			t.Fatalf("补签 twice = %q", got)
		}
		// Today's sign-in continues the bought-back streak to 3: the bonus.
		if got := e.say("wx-anna", "签到"); !strings.Contains(got, "连续签到3天") || !strings.Contains(got, "+50") {
			t.Fatalf("签到 after 补签 = %q", got)
		}
		cost := e.entries(anna, ritual.SourceMakeup)
		if len(cost) != 1 || cost[0].Delta != -20 {
			t.Fatalf("make-up entries = %+v", cost)
		}

		// Too late once today is signed; off when it costs nothing.
		clock.Set(time.Date(2026, 11, 27, 2, 0, 0, 0, time.UTC)) // 11-27; 11-26 missed
		e.signInOA(anna, false)
		if got := e.signInOA(anna, true); !strings.Contains(got, "当天签到之前") {
			t.Fatalf("补签 after today's sign-in = %q", got)
		}
		free := newGroupEnv(t, db, clock, func(m *ritual.Merchant) { m.SignIn.MakeupCost = 0 })
		bob := free.linked("wx-bob")
		if got := free.signInOA(bob, true); !strings.Contains(got, "没有开放补签") {
			t.Fatalf("补签 with makeup_cost 0 = %q", got)
		}
		checkBalanced(t, db, e.m)
	})
}

// TestRefusedMakeupKeepsTheLedgerBalanced: a 补签 refused for want of
// points still settles the points that expired before it was refused, and
// the balance moves with the ledger.
func TestRefusedMakeupKeepsTheLedgerBalanced(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		e := newGroupEnv(t, db, clock, nil)
		anna := e.linked("wx-anna")
		start := time.Date(2026, 1, 10, 2, 0, 0, 0, time.UTC)
		clock.Set(start)
		mustOrder(t, e.club, e.m, ritual.OrderInput{OrderNo: ritualtest.RandomID("o"), OpenID: anna, AmountFen: 3000}) // 30 points
		clock.Set(start.AddDate(1, 0, 5))                                                                              // the 30 points expired; yesterday was not signed

		if got := e.say("wx-anna", "补签"); !strings.Contains(got, "积分不够") {
			t.Fatalf("补签 with expired points = %q, want short of points", got)
		}
		if got := e.member(anna).Points; got != 0 {
			t.Fatalf("balance after the expiry = %d, want 0", got)
		}
		checkBalanced(t, db, e.m)
	})
}
