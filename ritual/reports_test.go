package ritual_test

import (
	"context"
	"testing"
	"time"

	"github.com/wxclub/wxclub/models"
	"github.com/wxclub/wxclub/models/modelstest"
	"github.com/wxclub/wxclub/ritual"
	"github.com/wxclub/wxclub/ritual/ritualtest"
)

func TestMemberPageTellsTheWholeStory(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		club, m := newClub(t, db, clock)
		ctx := context.Background()
		openid := ritualtest.RandomID("o")
		mustHandle(t, club, m, subscribe(clock, openid, ""))
		mustOrder(t, club, m, ritual.OrderInput{OrderNo: "MP-1", OpenID: openid, Phone: "13911112222", AmountFen: 30000})
		clock.Advance(time.Minute)
		mustOrder(t, club, m, ritual.OrderInput{OrderNo: "MP-2", OpenID: openid, AmountFen: 20000})

		for _, who := range []string{openid, "13911112222"} {
			page, err := club.MemberPage(ctx, m, who)
			if err != nil {
				t.Fatalf("member page of %s: %v", who, err)
			}
			if page.View.OpenID != openid || page.View.Points != 500 || page.View.Level.Nickname != "茶友" {
				t.Fatalf("view = %+v, want 500 points at 茶友", page.View)
			}
			if len(page.Ledger) != 2 || page.Ledger[0].Delta != 200 || page.Ledger[1].Delta != 300 {
				t.Fatalf("ledger = %+v, want the two orders, newest first", page.Ledger)
			}
			if len(page.Levels) == 0 || page.Levels[0].ToNickname != "茶友" || page.Levels[0].Cause != "order:MP-2" {
				t.Fatalf("level history = %+v, want the rise to 茶友 by MP-2", page.Levels)
			}
			purposes := map[string]bool{}
			for _, msg := range page.Messages {
				purposes[msg.Purpose] = true
				if msg.OpenID != openid || msg.Status == "" {
					t.Fatalf("message %+v", msg)
				}
			}
			if !purposes[ritual.PurposePointsChanged] || !purposes[ritual.PurposeLevelChanged] {
				t.Fatalf("messages %+v, want the points and the level messages", page.Messages)
			}
		}
		if _, err := club.MemberPage(ctx, m, ritualtest.RandomID("o")); ritual.ErrorCode(err) != ritual.ENOTFOUND {
			t.Fatalf("unknown member: %v", err)
		}
	})
}

func TestOutboxFailuresSayWhy(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		club, m := newClub(t, db, clock)
		_, other := newClub(t, db, clock)
		ctx := context.Background()
		openid := ritualtest.RandomID("o")
		for _, merchant := range []*ritual.Merchant{m, other} {
			mustHandle(t, club, merchant, subscribe(clock, openid, ""))
			mustOrder(t, club, merchant, ritual.OrderInput{OrderNo: "OF-1", OpenID: openid, AmountFen: 1000})
			if err := db.Exec(ctx, "UPDATE outbox SET status = ?, last_err_code = ?, last_error = ?, attempts = 3 WHERE merchant_id = ?",
				ritual.OutboxFailed, 40037, "invalid template_id", merchant.ID); err != nil {
				t.Fatal(err)
			}
		}
		failed, err := club.OutboxFailures(ctx, m, 50)
		if err != nil {
			t.Fatal(err)
		}
		if len(failed) != 1 {
			t.Fatalf("failures = %+v, want this merchant's one", failed)
		}
		if f := failed[0]; f.OpenID != openid || f.LastErrCode != 40037 || f.LastError != "invalid template_id" || f.Purpose != ritual.PurposePointsChanged {
			t.Fatalf("failure = %+v", f)
		}
	})
}

func TestLeaderboardIsThisWeeksEarners(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		club, m := newClub(t, db, clock)
		ctx := context.Background()
		early, late, lastWeekOnly := ritualtest.RandomID("oA"), ritualtest.RandomID("oB"), ritualtest.RandomID("oC")
		clock.Set(time.Date(2026, 11, 20, 2, 0, 0, 0, time.UTC)) // the Friday before
		mustOrder(t, club, m, ritual.OrderInput{OrderNo: "LB-1", OpenID: early, AmountFen: 90000})
		mustOrder(t, club, m, ritual.OrderInput{OrderNo: "LB-2", OpenID: lastWeekOnly, AmountFen: 90000})
		clock.Set(time.Date(2026, 11, 24, 2, 0, 0, 0, time.UTC)) // Tuesday
		mustOrder(t, club, m, ritual.OrderInput{OrderNo: "LB-3", OpenID: early, AmountFen: 10000})
		mustOrder(t, club, m, ritual.OrderInput{OrderNo: "LB-4", OpenID: late, AmountFen: 20000})

		board, err := club.Leaderboard(ctx, m, 10)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := board.From.In(m.Location()).Format("2006-01-02 Mon"), "2026-11-23 Mon"; got != want {
			t.Errorf("week starts %s, want %s", got, want)
		}
		if len(board.Places) != 2 {
			t.Fatalf("board = %+v, want the two who earned this week", board.Places)
		}
		if p := board.Places[0]; p.Rank != 1 || p.OpenID != late || p.Points != 200 {
			t.Errorf("first place = %+v, want %s with 200", p, late)
		}
		if p := board.Places[1]; p.Rank != 2 || p.OpenID != early || p.Points != 100 || p.Nickname != "茶友" {
			t.Errorf("second place = %+v, want %s with 100 (last week's 900 not counted), a 茶友", p, early)
		}
	})
}
