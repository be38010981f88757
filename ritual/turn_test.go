package ritual_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wxclub/wxclub/models"
	"github.com/wxclub/wxclub/models/modelstest"
	"github.com/wxclub/wxclub/ritual"
	"github.com/wxclub/wxclub/ritual/ritualtest"
)

// deliverAtOnce hands every message to the club at the same moment, n
// copies of each, and returns the replies in order: copies of msgs[0]
// first.
func deliverAtOnce(t *testing.T, club *ritual.Club, m *ritual.Merchant, n int, msgs ...ritual.InboundMessage) [][]string {
	t.Helper()
	replies := make([][]string, len(msgs))
	errs := make([]error, len(msgs)*n)
	var wg sync.WaitGroup
	for j, msg := range msgs {
		replies[j] = make([]string, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r, err := club.HandleMessage(context.Background(), m, msg)
				replies[j][i], errs[j*n+i] = r.Text, err
			}()
		}
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("delivery %d: %v", i, err)
		}
	}
	return replies
}

// newSignInClub is newClub with 10 points for a sign-in.
func newSignInClub(t *testing.T, db *models.DB, clock *ritualtest.Clock) (*ritual.Club, *ritual.Merchant) {
	t.Helper()
	club := ritual.NewClub(db, ritual.ClubOptions{Clock: clock.Now})
	m := ritualtest.Merchant(ritual.ModeCompatible)
	m.SignIn = ritual.SignIn{Points: 10}
	if _, err := club.SeedMerchant(context.Background(), m, "key-"+m.ID); err != nil {
		t.Fatal(err)
	}
	return club, m
}

// A sign-in WeChat delivers many times at once is one sign-in: the claim
// of the delivery comes last in its transaction, so every copy but the
// first rolls back what it did and answers with the first one's reply.
func TestConcurrentCopiesOfASignInSignInOnce(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		club, m := newSignInClub(t, db, clock)
		openid := ritualtest.RandomID("o")
		mustHandle(t, club, m, subscribe(clock, openid, ""))
		clock.Advance(time.Second)
		replies := deliverAtOnce(t, club, m, 12, text(clock, openid, "签到", 7001))[0]
		for i, r := range replies {
			if r != replies[0] || !strings.Contains(r, "签到成功") {
				t.Fatalf("copy %d answered %q; want 签到成功, the same for every copy (copy 0: %q)", i, r, replies[0])
			}
		}
		member, err := db.Members().ByOpenID(context.Background(), m.ID, openid)
		if err != nil {
			t.Fatal(err)
		}
		if member.Points != 10 {
			t.Fatalf("points %d after one sign-in delivered 12 times, want 10", member.Points)
		}
		checkBalanced(t, db, m)
	})
}

// 积分 answered without a transaction, delivered many times at once while
// the same member signs in: every copy gets one reply, and it shows the
// points either before or after the sign-in, never a balance from before
// with the list of changes from after.
func TestConcurrentCopiesOfPointsGetOneReply(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		club, m := newSignInClub(t, db, clock)
		openid := ritualtest.RandomID("o")
		mustHandle(t, club, m, subscribe(clock, openid, ""))
		clock.Advance(time.Second)
		replies := deliverAtOnce(t, club, m, 8, text(clock, openid, "积分", 7101), text(clock, openid, "签到", 7102))
		for i, r := range replies[0] {
			if r != replies[0][0] {
				t.Fatalf("copy %d of 积分 answered %q, copy 0 %q; want one reply", i, r, replies[0][0])
			}
		}
		if signed, ten := strings.Contains(replies[0][0], "+10 每日签到"), strings.Contains(replies[0][0], "有 10 积分"); signed != ten {
			t.Fatalf("积分 answered %q: the balance and the list of changes disagree", replies[0][0])
		}
		if again := mustHandle(t, club, m, text(clock, openid, "积分", 7101)); again != replies[0][0] {
			t.Fatalf("a later repeat of 积分 answered %q, want the stored %q", again, replies[0][0])
		}
		for i, r := range replies[1] {
			if r != replies[1][0] || !strings.Contains(r, "签到成功") {
				t.Fatalf("copy %d of 签到 answered %q, want one 签到成功 reply", i, r)
			}
		}
		checkBalanced(t, db, m)
	})
}
