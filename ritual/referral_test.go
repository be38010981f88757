package ritual_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wxclub/wxclub/models"
	"github.com/wxclub/wxclub/models/modelstest"
	"github.com/wxclub/wxclub/ritual"
	"github.com/wxclub/wxclub/ritual/ritualtest"
)

var msgIDs atomic.Int64

// nextMsgID returns a MsgId no other test message has.
func nextMsgID() int64 { return 1_000_000 + msgIDs.Add(1) }

// activeMember returns the openid of a member who bought, bound their card
// and activated.
func activeMember(t *testing.T, club *ritual.Club, db *models.DB, m *ritual.Merchant, clock *ritualtest.Clock, no string) string {
	t.Helper()
	member := buyer(t, club, db, m, no, 10000)
	openid := ritualtest.RandomID("o")
	mustHandle(t, club, m, scanEvent(clock, openid, "claim:"+member.ClaimCode, false))
	mustHandle(t, club, m, text(clock, openid, member.Phone[7:], nextMsgID()))
	return openid
}

func referralCode(t *testing.T, club *ritual.Club, db *models.DB, m *ritual.Merchant, clock *ritualtest.Clock, openid string) string {
	t.Helper()
	reply := mustHandle(t, club, m, text(clock, openid, "邀请", nextMsgID()))
	if !strings.Contains(reply, "/qr/"+m.ID+"/ref:") || !strings.Contains(reply, "200 积分") {
		t.Fatalf("邀请 = %q, want the QR link and the rule", reply)
	}
	member, _ := db.Members().ByOpenID(context.Background(), m.ID, openid)
	return member.ReferralCode
}

func TestReferral(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		club, m := newClub(t, db, clock)
		ctx := context.Background()
		referrer := activeMember(t, club, db, m, clock, "RF-A")
		code := referralCode(t, club, db, m, clock, referrer)
		before := view(t, club, m, referrer).Points

		// A new follower through the invitation, a self-scan, and someone
		// who followed before: only the new one counts.
		friend, old := ritualtest.RandomID("o"), ritualtest.RandomID("o")
		mustHandle(t, club, m, subscribe(clock, friend, "ref:"+code))
		mustHandle(t, club, m, subscribe(clock, old, ""))
		clock.Advance(time.Second)
		mustHandle(t, club, m, unsubscribe(clock, old))
		clock.Advance(time.Second)
		mustHandle(t, club, m, subscribe(clock, old, "ref:"+code))

		mustOrder(t, club, m, ritual.OrderInput{OrderNo: "RF-F1", OpenID: friend, AmountFen: 5000})
		mustOrder(t, club, m, ritual.OrderInput{OrderNo: "RF-F2", OpenID: friend, AmountFen: 5000}) // not the first
		mustOrder(t, club, m, ritual.OrderInput{OrderNo: "RF-O1", OpenID: old, AmountFen: 5000})
		if got := view(t, club, m, referrer).Points; got != before+200 {
			t.Fatalf("referrer has %d points, want %d (one reward for the new friend's first order)", got, before+200)
		}
		board, err := club.Referrals(ctx, m, "", 10)
		if err != nil || len(board.Rows) != 1 || board.Rows[0].OpenID != referrer || board.Rows[0].Referrals != 1 {
			t.Fatalf("leaderboard = %+v, %v", board, err)
		}

		// The first order refunded in full takes the reward back.
		mustRefund(t, club, m, "RF-F1", "RF-R1", 5000)
		if got := view(t, club, m, referrer).Points; got != before {
			t.Fatalf("after the full refund the referrer has %d, want %d", got, before)
		}
		if board, _ := club.Referrals(ctx, m, "", 10); len(board.Rows) != 0 {
			t.Fatalf("leaderboard after reversal = %+v, want empty", board.Rows)
		}
		checkBalanced(t, db, m)
	})
}

func TestReferralMonthlyCap(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		club := ritual.NewClub(db, ritual.ClubOptions{Clock: clock.Now})
		m := ritualtest.Merchant(ritual.ModeCompatible)
		m.Referral.MonthlyCap = 2
		if _, err := club.SeedMerchant(context.Background(), m, "key-"+m.ID); err != nil {
			t.Fatal(err)
		}
		referrer := activeMember(t, club, db, m, clock, "CAP-A")
		code := referralCode(t, club, db, m, clock, referrer)
		before := view(t, club, m, referrer).Points
		for i := range 3 {
			friend := ritualtest.RandomID("o")
			mustHandle(t, club, m, subscribe(clock, friend, "ref:"+code))
			mustOrder(t, club, m, ritual.OrderInput{OrderNo: "CAP-F" + string(rune('0'+i)), OpenID: friend, AmountFen: 1000})
		}
		if got := view(t, club, m, referrer).Points; got != before+400 {
			t.Fatalf("referrer has %d, want %d (capped at two this month)", got, before+400)
		}
	})
}

func TestInviteNeedsActivation(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		club, m := newClub(t, db, clock)
		openid := ritualtest.RandomID("o")
		mustHandle(t, club, m, subscribe(clock, openid, ""))
		if got := mustHandle(t, club, m, text(clock, openid, "邀请", 1)); !strings.Contains(got, "激活会员后") {
			t.Fatalf("邀请 before activation = %q", got)
		}
	})
}
