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

// newClub returns a club on db with one fresh merchant.
func newClub(t *testing.T, db *models.DB, clock *ritualtest.Clock) (*ritual.Club, *ritual.Merchant) {
	t.Helper()
	club := ritual.NewClub(db, ritual.ClubOptions{Clock: clock.Now})
	m := ritualtest.Merchant(ritual.ModeCompatible)
	if _, err := club.SeedMerchant(context.Background(), m, "key-"+m.ID); err != nil {
		t.Fatal(err)
	}
	return club, m
}

func subscribe(clock *ritualtest.Clock, openid, scene string) ritual.InboundMessage {
	key := ""
	if scene != "" {
		key = "qrscene_" + scene
	}
	return ritual.InboundMessage{OpenID: openid, Kind: ritual.KindEvent, Event: ritual.EventSubscribe, EventKey: key, SentAt: clock.Now()}
}

func unsubscribe(clock *ritualtest.Clock, openid string) ritual.InboundMessage {
	return ritual.InboundMessage{OpenID: openid, Kind: ritual.KindEvent, Event: ritual.EventUnsubscribe, SentAt: clock.Now()}
}

func text(clock *ritualtest.Clock, openid, content string, msgID int64) ritual.InboundMessage {
	return ritual.InboundMessage{OpenID: openid, Kind: ritual.KindText, Content: content, MsgID: msgID, SentAt: clock.Now()}
}

func mustHandle(t *testing.T, club *ritual.Club, m *ritual.Merchant, msg ritual.InboundMessage) string {
	t.Helper()
	reply, err := club.HandleMessage(context.Background(), m, msg)
	if err != nil {
		t.Fatalf("handle %s/%s: %v", msg.Kind, msg.Event, err)
	}
	return reply.Text
}

func TestFollowUnfollowFollowAgain(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		club, m := newClub(t, db, clock)
		ctx := context.Background()
		openid := ritualtest.RandomID("o")

		if got := mustHandle(t, club, m, subscribe(clock, openid, "poster1")); !strings.Contains(got, "欢迎关注"+m.Name) {
			t.Fatalf("first follow reply = %q, want the welcome naming the merchant", got)
		}
		member, err := db.Members().ByOpenID(ctx, m.ID, openid)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := member.State, ritual.StateFollowing; got != want {
			t.Fatalf("state = %s, want %s", got, want)
		}
		if got, want := member.SubscribeScene, "poster1"; got != want {
			t.Fatalf("scene = %q, want %q", got, want)
		}

		clock.Advance(time.Hour)
		if got := mustHandle(t, club, m, unsubscribe(clock, openid)); got != "" {
			t.Fatalf("unsubscribe reply = %q, want none", got)
		}
		member, _ = db.Members().ByOpenID(ctx, m.ID, openid)
		if member.State != ritual.StateUnfollowed || member.UnfollowedAt == nil {
			t.Fatalf("after unsubscribe: state %s unfollowed_at %v", member.State, member.UnfollowedAt)
		}

		clock.Advance(time.Hour)
		if got := mustHandle(t, club, m, subscribe(clock, openid, "")); !strings.Contains(got, "欢迎回来") {
			t.Fatalf("second follow reply = %q, want welcome back", got)
		}
		again, _ := db.Members().ByOpenID(ctx, m.ID, openid)
		if again.ID != member.ID || again.State != ritual.StateFollowing || again.SubscribeScene != "poster1" {
			t.Fatalf("returning member = %+v, want the same member following with its first scene", again)
		}
	})
}

func TestTextReplies(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		club, m := newClub(t, db, clock)
		openid := ritualtest.RandomID("o")
		help := mustHandle(t, club, m, text(clock, openid, " 帮助 ", 1))
		if !strings.Contains(help, "帮助") || !strings.Contains(help, "你可以") {
			t.Fatalf("help reply = %q", help)
		}
		if got := mustHandle(t, club, m, text(clock, openid, "HELP", 2)); got != help {
			t.Fatalf("'HELP' reply = %q, want the help text", got)
		}
		other := mustHandle(t, club, m, text(clock, openid, "你们几点开门", 3))
		if other == help || other == "" {
			t.Fatalf("other text reply = %q, want a short friendly default", other)
		}
		// Someone who messages us follows us, even if we never saw them follow.
		member, err := db.Members().ByOpenID(context.Background(), m.ID, openid)
		if err != nil || member.State != ritual.StateFollowing {
			t.Fatalf("sender = %+v, %v; want a following member", member, err)
		}
	})
}

func TestRepeatedDeliveryHasNoSecondEffect(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		club, m := newClub(t, db, clock)
		openid := ritualtest.RandomID("o")
		first := subscribe(clock, openid, "")
		want := mustHandle(t, club, m, first)
		clock.Advance(time.Minute)
		mustHandle(t, club, m, unsubscribe(clock, openid))

		// WeChat retries the original subscribe: same reply, and the member
		// stays unfollowed because the retry must not follow them again.
		if got := mustHandle(t, club, m, first); got != want {
			t.Fatalf("repeat reply = %q, want the first reply %q", got, want)
		}
		member, _ := db.Members().ByOpenID(context.Background(), m.ID, openid)
		if member.State != ritual.StateUnfollowed {
			t.Fatalf("state after repeated subscribe = %s, want unfollowed", member.State)
		}
	})
}

func TestConcurrentRepeatsAreHandledOnce(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		club, m := newClub(t, db, clock)
		openid := ritualtest.RandomID("o")
		mustHandle(t, club, m, subscribe(clock, openid, ""))
		clock.Advance(time.Second)
		mustHandle(t, club, m, unsubscribe(clock, openid))
		clock.Advance(time.Second)

		// The member comes back and WeChat delivers that follow many times at
		// once. Handled once, every copy says "welcome back"; handled twice,
		// the second would find them following already and say "welcome".
		msg := subscribe(clock, openid, "")
		const n = 16
		replies := make([]string, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r, err := club.HandleMessage(context.Background(), m, msg)
				replies[i], errs[i] = r.Text, err
			}()
		}
		wg.Wait()
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("delivery %d: %v", i, errs[i])
			}
			if !strings.Contains(replies[i], "欢迎回来") {
				t.Fatalf("delivery %d reply = %q, want every copy to get the one welcome back", i, replies[i])
			}
		}
	})
}

func TestDistinctEventsAreNotMerged(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		club, m := newClub(t, db, clock)
		openid := ritualtest.RandomID("o")
		mustHandle(t, club, m, subscribe(clock, openid, ""))
		mustHandle(t, club, m, unsubscribe(clock, openid)) // same second, different event
		clock.Advance(time.Second)
		if got := mustHandle(t, club, m, subscribe(clock, openid, "")); !strings.Contains(got, "欢迎回来") {
			t.Fatalf("follow a second later = %q, want welcome back (a new event, not a repeat)", got)
		}
	})
}

func TestMemberNotFound(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		club, m := newClub(t, db, clock)
		_, err := club.MemberView(context.Background(), m, "nobody")
		if got, want := ritual.ErrorCode(err), ritual.ENOTFOUND; got != want {
			t.Fatalf("code = %q, want %q (err %v)", got, want, err)
		}
	})
}

func TestDeliveriesAreRememberedForTheRetention(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		club, m := newClub(t, db, clock)
		ctx := context.Background()
		openid := ritualtest.RandomID("o")
		first := subscribe(clock, openid, "")
		want := mustHandle(t, club, m, first)
		clock.Advance(time.Second)
		mustHandle(t, club, m, unsubscribe(clock, openid))

		clock.Advance(time.Hour)
		if _, err := club.ForgetDeliveries(ctx, 2*time.Hour); err != nil {
			t.Fatal(err)
		}
		if got := mustHandle(t, club, m, first); got != want {
			t.Fatalf("repeat inside the retention = %q, want the stored reply %q", got, want)
		}

		clock.Advance(2 * time.Hour)
		n, err := club.ForgetDeliveries(ctx, 2*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if n < 2 {
			t.Fatalf("forgot %d deliveries, want the two older than the retention", n)
		}
	})
}

func TestPointsInChat(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		club, m := newClub(t, db, clock)
		openid := ritualtest.RandomID("o")
		if got := mustHandle(t, club, m, text(clock, openid, "积分", 1)); !strings.Contains(got, "0 积分") || !strings.Contains(got, "还没有积分记录") {
			t.Fatalf("points before any order = %q", got)
		}
		mustOrder(t, club, m, ritual.OrderInput{OrderNo: "CH1", OpenID: openid, AmountFen: 12800})
		got := mustHandle(t, club, m, text(clock, openid, "积分", 2))
		for _, want := range []string{"茶苗", "128 积分", "¥372.00", "1笔订单", "茶友", "+128", "消费¥128.00"} {
			if !strings.Contains(got, want) {
				t.Errorf("points reply lacks %q:\n%s", want, got)
			}
		}
	})
}

// A command that does not apply says why, not the catch-all 收到啦.
func TestCommandsThatDoNotApplySayWhy(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		club, m := newClub(t, db, clock)
		openid := activeMember(t, club, db, m, clock, "NA1")
		got := mustHandle(t, club, m, text(clock, openid, "仪式", nextMsgID()))
		if strings.Contains(got, "收到啦") || !strings.Contains(got, "没有进行中的升级仪式") || !strings.Contains(got, "积分") {
			t.Fatalf("仪式 with no ceremony open = %q, want that none is open and what 积分 shows", got)
		}
		got = mustHandle(t, club, m, text(clock, openid, "5678", nextMsgID()))
		if strings.Contains(got, "收到啦") || !strings.Contains(got, "已经激活") {
			t.Fatalf("four digits after activation = %q, want that they are activated already", got)
		}
		if v := view(t, club, m, openid); v.Points != 200 {
			t.Fatalf("points after the replies = %d, want 200 (order and gift only)", v.Points)
		}
	})
}
