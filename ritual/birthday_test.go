package ritual_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/wxclub/wxclub/models"
	"github.com/wxclub/wxclub/models/modelstest"
	"github.com/wxclub/wxclub/ritual"
	"github.com/wxclub/wxclub/ritual/ritualtest"
)

// With the shipped activation (phone_last4) the birthday is told with 生日
// after activation, once, and the birthday campaign then gives the gift.
func TestBirthdayToldInChat(t *testing.T) {
	start := time.Date(2026, 8, 10, 12, 0, 0, 0, shanghai)
	clock := ritualtest.NewClock(start)
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		clock.Set(start) // each database starts on the same day
		club, m := campaignClub(t, db, clock, nil)
		ctx := context.Background()
		birthday := func(openid string) string {
			t.Helper()
			member, err := db.Members().ByOpenID(ctx, m.ID, openid)
			if err != nil {
				t.Fatal(err)
			}
			return member.Birthday
		}

		var told []string
		for i, say := range []string{"生日 0815", "生日 8月15日", "生日1990-08-15"} {
			member := buyer(t, club, db, m, "BD"+string(rune('A'+i)), 10000)
			openid := ritualtest.RandomID("o")
			mustHandle(t, club, m, scanEvent(clock, openid, "claim:"+member.ClaimCode, false))
			if got := mustHandle(t, club, m, text(clock, openid, member.Phone[7:], nextMsgID())); !strings.Contains(got, "激活成功") || !strings.Contains(got, "生日 0815") {
				t.Fatalf("activation reply = %q, want it to ask for the birthday with 生日", got)
			}
			if got := mustHandle(t, club, m, text(clock, openid, "生日 13月1日", nextMsgID())); !strings.Contains(got, "没看懂") || birthday(openid) != "" {
				t.Fatalf("生日 13月1日 = %q (stored %q), want it refused as unclear and nothing stored", got, birthday(openid))
			}
			if got := mustHandle(t, club, m, text(clock, openid, say, nextMsgID())); !strings.Contains(got, "8月15日") {
				t.Fatalf("%s = %q, want the birthday confirmed", say, got)
			}
			told = append(told, openid)
		}
		if got := birthday(told[2]); got != "1990-08-15" {
			t.Fatalf("stored birthday %q, want 1990-08-15", got)
		}
		// A second 生日 is refused: moving it would let a member pick the day of a gift.
		if got := mustHandle(t, club, m, text(clock, told[0], "生日 0811", nextMsgID())); !strings.Contains(got, "不能") || !strings.Contains(got, "8月15日") {
			t.Fatalf("changing the birthday = %q, want a refusal naming the birthday kept", got)
		}
		if got := birthday(told[0]); got != "08-15" {
			t.Fatalf("birthday after a second 生日 = %q, want 08-15 kept", got)
		}
		if got := mustHandle(t, club, m, text(clock, told[0], "帮助", nextMsgID())); !strings.Contains(got, "生日") {
			t.Fatalf("帮助 = %q, want 生日 listed", got)
		}

		// A WeChat user bound by the card's code alone, and a follower who
		// never activated, are told to activate first.
		claimed := buyer(t, club, db, m, "BD-X", 10000)
		stranger := ritualtest.RandomID("o")
		mustHandle(t, club, m, scanEvent(clock, stranger, "claim:"+claimed.ClaimCode, false))
		if got := mustHandle(t, club, m, text(clock, stranger, "生日 0815", nextMsgID())); !strings.Contains(got, "激活") || !strings.Contains(got, "后4位") {
			t.Fatalf("生日 before the proof = %q, want how to activate", got)
		}
		follower := ritualtest.RandomID("o")
		mustHandle(t, club, m, subscribe(clock, follower, ""))
		if got := mustHandle(t, club, m, text(clock, follower, "生日 0815", nextMsgID())); !strings.Contains(got, "激活") {
			t.Fatalf("生日 from a follower who never activated = %q, want activate first", got)
		}
		if got := birthday(stranger); got != "" {
			t.Fatalf("code-bound user stored birthday %q", got)
		}
		if got := birthday(follower); got != "" {
			t.Fatalf("unactivated follower stored birthday %q", got)
		}

		before := make([]int64, len(told))
		for i, openid := range told {
			before[i] = view(t, club, m, openid).Points
		}
		clock.Set(time.Date(2026, 8, 15, 9, 0, 0, 0, shanghai))
		job := campaignJob(t, club, m, "birthday")
		if !run(t, club, job, clock.Now(), "a") {
			t.Fatal("the birthday job did not run")
		}
		for i, openid := range told {
			if got := view(t, club, m, openid).Points; got != before[i]+88 {
				t.Fatalf("member %d on their birthday has %d points, want %d", i, got, before[i]+88)
			}
		}
		last, err := club.LastJobRun(ctx, job.ID())
		if err != nil {
			t.Fatal(err)
		}
		var detail map[string]any
		if err := json.Unmarshal([]byte(last.Detail), &detail); err != nil || detail["gifts"] != 3.0 {
			t.Fatalf("birthday job detail = %s, want 3 gifts", last.Detail)
		}
		if got := view(t, club, m, claimed.Phone).Points; got != 100 {
			t.Fatalf("the code-bound buyer has %d points, want their 100 and no gift", got)
		}
		checkBalanced(t, db, m)
	})
}

// An upgrade ceremony whose only step is the birthday, opened before the
// member told 生日, is met by any birthday but does not move the one told.
func TestCeremonyDoesNotMoveTheBirthday(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		club, m := campaignClub(t, db, clock, func(m *ritual.Merchant) {
			m.Membership.Levels[1].Ceremony = &ritual.CeremonyRule{Steps: []string{ritual.StepBirthday}, DeadlineDays: 7, OnDeadline: ritual.DeadlineGrant}
		})
		ctx := context.Background()
		member := buyer(t, club, db, m, "CB1", 10000)
		openid := ritualtest.RandomID("o")
		mustHandle(t, club, m, scanEvent(clock, openid, "claim:"+member.ClaimCode, false))
		mustHandle(t, club, m, text(clock, openid, member.Phone[7:], nextMsgID()))
		mustOrder(t, club, m, order("CB2", member.Phone, 45000)) // qualifies for senior: the ceremony opens
		mustHandle(t, club, m, text(clock, openid, "生日 0815", nextMsgID()))
		if got := mustHandle(t, club, m, text(clock, openid, "1月1日", nextMsgID())); !strings.Contains(got, "仪式完成") {
			t.Fatalf("birthday step = %q, want it met", got)
		}
		if got, err := db.Members().ByOpenID(ctx, m.ID, openid); err != nil || got.Birthday != "08-15" {
			t.Fatalf("birthday after the ceremony step = %q (%v), want 08-15 kept", got.Birthday, err)
		}
	})
}
