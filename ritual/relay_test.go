package ritual_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/wxclub/wxclub/models"
	"github.com/wxclub/wxclub/models/modelstest"
	"github.com/wxclub/wxclub/ritual"
	"github.com/wxclub/wxclub/ritual/ritualtest"
	"github.com/wxclub/wxclub/wechat"
	"github.com/wxclub/wxclub/wechat/emulator"
)

const templatePath = "/cgi-bin/message/template/send"

// relayEnv is a club whose merchant has an account in the emulator, and a
// relay sending to it through the real WeChat client.
type relayEnv struct {
	t     *testing.T
	db    *models.DB
	club  *ritual.Club
	clock *ritualtest.Clock
	m     *ritual.Merchant
	relay *ritual.Relay
}

func newRelayEnv(t *testing.T, db *models.DB, clock *ritualtest.Clock) *relayEnv {
	t.Helper()
	club, m := newClub(t, db, clock)
	registerInEmulator(t, m)
	e := &relayEnv{t: t, db: db, club: club, clock: clock, m: m}
	e.relay = e.newRelay("replica-a")
	return e
}

// registerInEmulator gives the merchant an account in the emulator.
func registerInEmulator(t *testing.T, m *ritual.Merchant) {
	t.Helper()
	a := m.OfficialAccount
	if err := wx.emu.Register(emulator.Account{Name: m.ID, AppID: a.AppID, AppSecret: a.AppSecret, Token: a.Token, EncodingAESKey: a.EncodingAESKey}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(wx.emu.ClearFaults)
}

func (e *relayEnv) newRelay(owner string) *ritual.Relay {
	return e.club.NewRelay(wechat.NewClient(wechat.ClientOptions{}), ritual.RelayOptions{Owner: owner})
}

// follower returns an openid that follows the account, in the club and in WeChat.
func (e *relayEnv) follower() string {
	openid := ritualtest.RandomID("o")
	e.follow(openid)
	return openid
}

func (e *relayEnv) follow(openid string) {
	wx.emu.SetFollowing(e.m.OfficialAccount.AppID, openid, true)
	mustHandle(e.t, e.club, e.m, ritual.InboundMessage{OpenID: openid, Kind: ritual.KindEvent, Event: ritual.EventSubscribe, SentAt: e.clock.Now()})
}

// drain lets the merge delay pass and relays until nothing is due.
func (e *relayEnv) drain() {
	e.t.Helper()
	e.clock.Advance(5 * time.Second)
	for range 20 {
		n, err := e.relay.RunOnce(context.Background())
		if err != nil {
			e.t.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
	e.t.Fatal("the relay never ran dry")
}

func (e *relayEnv) templates(openid string) []emulator.InboxItem {
	var out []emulator.InboxItem
	for _, item := range wx.emu.Inbox(openid) {
		if item.Kind == "template" {
			out = append(out, item)
		}
	}
	return out
}

func (e *relayEnv) outbox(openid string) []*ritual.OutboxMessage {
	e.t.Helper()
	member, err := e.db.Members().ByOpenID(context.Background(), e.m.ID, openid)
	if err != nil {
		e.t.Fatal(err)
	}
	msgs, err := e.db.Outbox().ForMember(context.Background(), member.ID, 50)
	if err != nil {
		e.t.Fatal(err)
	}
	return msgs
}

func buy(openid, no string, fen int64) ritual.OrderInput {
	return ritual.OrderInput{OrderNo: no, OpenID: openid, AmountFen: fen}
}

func TestEveryChangeReachesTheMember(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		e := newRelayEnv(t, db, clock)
		openid := e.follower()
		mustOrder(t, e.club, e.m, buy(openid, "T20261124000123", 50000)) // 500 points; ¥500 but one order: no level yet
		e.drain()
		got := e.templates(openid)
		if len(got) != 1 {
			t.Fatalf("inbox has %d template messages, want 1: %+v", len(got), got)
		}
		msg := got[0]
		if msg.TemplateID != "TPL_POINTS" || msg.Data["character_string2"] != "+500" || msg.Data["character_string3"] != "500" {
			t.Fatalf("points message = %+v", msg)
		}
		if !strings.Contains(msg.Data["thing1"], "¥500.00") || msg.Data["time4"] != "2026-11-24 10:00" {
			t.Fatalf("reason/time = %q / %q, want the amount and the time in Shanghai", msg.Data["thing1"], msg.Data["time4"])
		}

		mustOrder(t, e.club, e.m, buy(openid, "T2", 100)) // second order: senior
		e.drain()
		got = e.templates(openid)
		if len(got) != 3 {
			t.Fatalf("inbox has %d template messages, want 3 (points, points, level)", len(got))
		}
		var level *emulator.InboxItem
		for i := range got {
			if got[i].TemplateID == "TPL_LEVEL" {
				level = &got[i]
			}
			for k, v := range got[i].Data {
				if utf8.RuneCountInString(v) > 20 || strings.ContainsAny(v, "\r\n") {
					t.Errorf("field %s = %q breaks WeChat's 20-character, one-line rule", k, v)
				}
			}
		}
		if level == nil || level.Data["thing1"] != "茶苗" || level.Data["thing2"] != "茶友" || level.Data["thing3"] != "全场95折" {
			t.Fatalf("level message = %+v, want 茶苗 → 茶友 with the new right", level)
		}
		for _, m := range e.outbox(openid) {
			if m.Status != ritual.OutboxSent || m.WeChatMsgID == 0 {
				t.Errorf("outbox %s %s: status %s msgid %d, want sent", m.Purpose, m.Reference, m.Status, m.WeChatMsgID)
			}
		}
	})
}

func TestPointsChangesMergeButLevelChangesDoNot(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		e := newRelayEnv(t, db, clock)
		openid := e.follower()
		mustOrder(t, e.club, e.m, buy(openid, "M1", 30000))
		clock.Advance(time.Second)
		mustOrder(t, e.club, e.m, buy(openid, "M2", 20000)) // reaches senior
		clock.Advance(time.Second)
		mustOrder(t, e.club, e.m, buy(openid, "M3", 1000))
		e.drain()
		got := e.templates(openid)
		if len(got) != 2 {
			t.Fatalf("inbox has %d template messages, want one merged points message and one level message: %+v", len(got), got)
		}
		points, level := got[0], got[1]
		if points.TemplateID != "TPL_POINTS" {
			points, level = level, points
		}
		if points.Data["character_string2"] != "+510" || points.Data["character_string3"] != "510" || points.Data["thing1"] != "消费¥300.00得积分 +300等3笔" {
			t.Fatalf("merged points message = %+v, want +510 over 3 changes, naming the largest", points.Data)
		}
		if level.TemplateID != "TPL_LEVEL" || level.Data["thing2"] != "茶友" {
			t.Fatalf("level message = %+v", level)
		}
	})
}

func TestRelaySurvivesWeChatFaults(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		e := newRelayEnv(t, db, clock)
		openid := e.follower()

		// HTTP 502: retried with backoff.
		wx.emu.AddFault(emulator.Fault{Path: templatePath, Count: 1, Status: 502})
		mustOrder(t, e.club, e.m, buy(openid, "F502", 1000))
		e.drain()
		if n := len(e.templates(openid)); n != 0 {
			t.Fatalf("delivered %d during the 502", n)
		}
		clock.Advance(time.Minute)
		e.drain()
		if n := len(e.templates(openid)); n != 1 {
			t.Fatalf("after the backoff: %d messages, want 1", n)
		}

		// 40001: the client refreshes its token and resends at once.
		wx.emu.AddFault(emulator.Fault{Path: templatePath, Count: 1, ErrCode: 40001})
		mustOrder(t, e.club, e.m, buy(openid, "F40001", 1000))
		e.drain()
		if n := len(e.templates(openid)); n != 2 {
			t.Fatalf("after a stale token: %d messages, want 2", n)
		}

		// 45009: the merchant's sending pauses until the quota resets at
		// midnight in China, then resumes.
		wx.emu.AddFault(emulator.Fault{Path: templatePath, Count: 1, ErrCode: 45009})
		mustOrder(t, e.club, e.m, buy(openid, "F45009", 1000))
		e.drain()
		clock.Advance(time.Hour)
		e.drain()
		if n := len(e.templates(openid)); n != 2 {
			t.Fatalf("during the quota pause: %d messages, want still 2", n)
		}
		now := clock.Now().In(time.FixedZone("CST", 8*3600))
		clock.Set(time.Date(now.Year(), now.Month(), now.Day()+1, 0, 0, 1, 0, now.Location()))
		e.drain()
		if n := len(e.templates(openid)); n != 3 {
			t.Fatalf("after midnight: %d messages, want 3", n)
		}

		// A 6-second stall times out the client (2 s here); the resend
		// carries the same client_msg_id, so the member gets it once.
		wx.emu.AddFault(emulator.Fault{Path: templatePath, Count: 1, DelayMS: 6000})
		mustOrder(t, e.club, e.m, buy(openid, "Fslow", 1000))
		e.drain()
		time.Sleep(4500 * time.Millisecond) // let the stalled call finish on WeChat's side
		clock.Advance(time.Minute)
		e.drain()
		if n := len(e.templates(openid)); n != 4 {
			t.Fatalf("after the stall: %d messages, want 4 (each change once)", n)
		}
		for _, m := range e.outbox(openid) {
			if m.Status != ritual.OutboxSent {
				t.Errorf("outbox %s: %s (%d %s), want sent", m.Reference, m.Status, m.LastErrCode, m.LastError)
			}
		}
	})
}

func TestFinalRefusalIsRecordedWithItsReason(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		e := newRelayEnv(t, db, clock)
		openid := e.follower()
		wx.emu.AddFault(emulator.Fault{Path: templatePath, Count: 1, ErrCode: 43101})
		mustOrder(t, e.club, e.m, buy(openid, "X1", 1000))
		e.drain()
		clock.Advance(time.Hour)
		e.drain()
		msgs := e.outbox(openid)
		if len(msgs) != 1 || msgs[0].Status != ritual.OutboxFailed || msgs[0].LastErrCode != 43101 || msgs[0].LastError == "" {
			t.Fatalf("outbox = %+v, want one failed message with errcode 43101 and a reason", msgs[0])
		}
		if n := len(e.templates(openid)); n != 0 {
			t.Fatalf("a refused message arrived %d times", n)
		}
	})
}

func TestMessagesWaitForAFollow(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		e := newRelayEnv(t, db, clock)
		openid := ritualtest.RandomID("o") // known to the shop, not following yet
		mustOrder(t, e.club, e.m, buy(openid, "W1", 60000))
		mustOrder(t, e.club, e.m, buy(openid, "W2", 1000))
		e.drain()
		if msgs := e.outbox(openid); len(msgs) != 3 || msgs[0].Status != ritual.OutboxWaitingFollow {
			t.Fatalf("outbox = %d messages, first %s; want 3 waiting for a follow", len(msgs), msgs[0].Status)
		}
		if n := len(e.templates(openid)); n != 0 {
			t.Fatalf("%d messages reached someone who does not follow", n)
		}
		e.follow(openid)
		e.drain()
		if n := len(e.templates(openid)); n != 3 {
			t.Fatalf("after following: %d messages, want the 3 that waited", n)
		}
	})
}

func TestADeadReplicasMessagesAreSentOnce(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		e := newRelayEnv(t, db, clock)
		openid := e.follower()
		mustOrder(t, e.club, e.m, buy(openid, "D1", 1000))
		clock.Advance(5 * time.Second)

		// Replica A claims the message and dies before sending it.
		var claimed []*ritual.OutboxMessage
		err := db.Atomic(context.Background(), func(tx ritual.Repos) error {
			var err error
			claimed, err = tx.Outbox().ClaimDue(context.Background(), clock.Now(), "replica-dead", time.Minute, 10)
			return err
		})
		if err != nil || len(claimed) == 0 {
			t.Fatalf("claim: %v (%d)", err, len(claimed))
		}
		// Replica B finds nothing while A's lease holds...
		b := e.newRelay("replica-b")
		if n, err := b.RunOnce(context.Background()); err != nil || n != 0 {
			t.Fatalf("replica B claimed %d while the lease held (%v)", n, err)
		}
		// ...and sends it once the lease runs out.
		clock.Advance(2 * time.Minute)
		if n, err := b.RunOnce(context.Background()); err != nil || n != 1 {
			t.Fatalf("replica B claimed %d after the lease (%v), want 1", n, err)
		}
		if n := len(e.templates(openid)); n != 1 {
			t.Fatalf("%d messages, want 1", n)
		}
	})
}

func TestStaleWaitingMessagesAreNotSentMonthsLater(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		e := newRelayEnv(t, db, clock)
		openid := ritualtest.RandomID("o")
		mustOrder(t, e.club, e.m, buy(openid, "OLD1", 1000))
		clock.Advance(30 * 24 * time.Hour)
		mustOrder(t, e.club, e.m, buy(openid, "NEW1", 1000))
		e.follow(openid)
		e.drain()
		got := e.templates(openid)
		if len(got) != 1 || got[0].Data["character_string3"] != "20" {
			t.Fatalf("after following a month on: %+v, want only the recent message", got)
		}
		for _, m := range e.outbox(openid) {
			if m.Status == ritual.OutboxFailed && !strings.Contains(m.LastError, "stale") {
				t.Errorf("stale message failed without saying why: %+v", m)
			}
		}
	})
}

// TestMergedPointsMessageSaysWhatHappened: changes close together reach
// the member as one message that names the largest (a refund hidden among
// small earnings) and how many there were, cuts no order number in half,
// and 积分 then lists every change it counted.
func TestMergedPointsMessageSaysWhatHappened(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		e := newRelayEnv(t, db, clock)
		openid := e.follower()
		mustOrder(t, e.club, e.m, buy(openid, "T1000123456", 18000))
		e.drain()
		clock.Advance(time.Hour)

		mustOrder(t, e.club, e.m, buy(openid, "B1", 1000))
		if _, _, err := e.club.RecordRefund(context.Background(), e.m, ritual.RefundInput{OrderNo: "T1000123456", RefundNo: "RT1", AmountFen: 18000}); err != nil {
			t.Fatal(err)
		}
		mustOrder(t, e.club, e.m, buy(openid, "C1", 500))
		mustOrder(t, e.club, e.m, buy(openid, "D1", 300))
		mustOrder(t, e.club, e.m, buy(openid, "E1", 200))
		clock.Advance(time.Minute)
		e.drain()
		got := e.templates(openid)
		if len(got) != 2 {
			t.Fatalf("inbox has %d template messages, want the first order's and one merged: %+v", len(got), got)
		}
		merged := got[1].Data
		reason := merged["thing1"]
		if merged["character_string2"] != "-160" || !strings.HasPrefix(reason, "退款¥180.00") || !strings.HasSuffix(reason, " -180等5笔") {
			t.Fatalf("merged message = %+v, want the refund named (-180), 5 changes, -160 in all", merged)
		}
		if utf8.RuneCountInString(reason) > 20 || strings.Contains(reason, "（") || strings.Contains(reason, "…1") {
			t.Fatalf("reason %q is over 20 characters or cuts the order number", reason)
		}

		reply := mustHandle(t, e.club, e.m, text(clock, openid, "积分", nextMsgID()))
		for _, want := range []string{"订单B1", "退款¥180.00", "订单C1", "订单D1", "订单E1"} {
			if !strings.Contains(reply, want) {
				t.Errorf("积分 = %q, does not list %s", reply, want)
			}
		}
	})
}

// TestPointsReasonNeverCutsAnOrderNumber: a reason too long for WeChat's
// 20-character keyword loses the order number whole, never half of it.
func TestPointsReasonNeverCutsAnOrderNumber(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		e := newRelayEnv(t, db, clock)
		openid := e.follower()
		mustOrder(t, e.club, e.m, buy(openid, "T1000123456", 18000))
		clock.Advance(time.Hour)
		if _, _, err := e.club.RecordRefund(context.Background(), e.m, ritual.RefundInput{OrderNo: "T1000123456", RefundNo: "RT1", AmountFen: 18000}); err != nil {
			t.Fatal(err)
		}
		clock.Advance(time.Minute)
		e.drain()
		got := e.templates(openid)
		if len(got) != 2 {
			t.Fatalf("inbox has %d template messages, want the order's and the refund's", len(got))
		}
		want := map[string]string{"+180": "消费¥180.00得积分", "-180": "退款¥180.00扣回积分"} // the order number dropped whole
		for _, msg := range got {
			if reason := msg.Data["thing1"]; reason != want[msg.Data["character_string2"]] {
				t.Errorf("the %s message's reason = %q, want %q", msg.Data["character_string2"], reason, want[msg.Data["character_string2"]])
			}
		}
	})
}

func TestTwoRelaysSendEachMessageOnce(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		e := newRelayEnv(t, db, clock)
		openids := make([]string, 120)
		for i := range openids {
			openids[i] = e.follower()
			mustOrder(t, e.club, e.m, buy(openids[i], fmt.Sprintf("TWO%d", i), 1000))
		}
		clock.Advance(5 * time.Second)
		before := wx.emu.Stats().Calls[templatePath]

		// Two replicas relay the same outbox at once, each with its defaults.
		var wg sync.WaitGroup
		for _, owner := range []string{"replica-a", "replica-b"} {
			relay := e.newRelay(owner)
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					n, err := relay.RunOnce(context.Background())
					if err != nil {
						t.Error(err)
						return
					}
					if n == 0 {
						return
					}
				}
			}()
		}
		wg.Wait()

		queued := 0
		for _, openid := range openids {
			msgs := e.outbox(openid)
			queued += len(msgs)
			for _, msg := range msgs {
				if msg.Status != ritual.OutboxSent || msg.Attempts != 1 {
					t.Errorf("%s %s: %s after %d attempts, want sent after 1", openid, msg.Reference, msg.Status, msg.Attempts)
				}
			}
			if got := len(e.templates(openid)); got != len(msgs) {
				t.Errorf("%s received %d messages, want %d", openid, got, len(msgs))
			}
		}
		if got := wx.emu.Stats().Calls[templatePath] - before; queued == 0 || got != queued {
			t.Errorf("WeChat was asked to send %d times for %d messages", got, queued)
		}
	})
}
