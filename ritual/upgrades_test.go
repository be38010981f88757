package ritual_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/wxclub/wxclub/models"
	"github.com/wxclub/wxclub/models/modelstest"
	"github.com/wxclub/wxclub/ritual"
	"github.com/wxclub/wxclub/ritual/ritualtest"
)

// ceremonyClub returns a club whose senior level has a pledge-and-confirm
// ceremony (100 points and a 10元券 on entry, granted at the deadline) and
// whose VIP level asks only for a confirmation (300 points, keeps waiting).
func ceremonyClub(t *testing.T, db *models.DB, clock *ritualtest.Clock) (*ritual.Club, *ritual.Merchant) {
	t.Helper()
	club := ritual.NewClub(db, ritual.ClubOptions{Clock: clock.Now})
	m := ritualtest.Merchant(ritual.ModeCompatible)
	m.Membership.Levels[1].Ceremony = &ritual.CeremonyRule{
		Steps: []string{ritual.StepPledge, ritual.StepConfirm}, Pledge: "我是茶友，以茶会友", DeadlineDays: 7,
		Reward: ritual.CeremonyReward{Points: 100, Coupon: "cash-10"}, Announce: true, OnDeadline: ritual.DeadlineGrant,
	}
	m.Membership.Levels[2].Ceremony = &ritual.CeremonyRule{
		Steps: []string{ritual.StepConfirm}, DeadlineDays: 3, Reward: ritual.CeremonyReward{Points: 300}, OnDeadline: ritual.DeadlineWait,
	}
	if _, err := club.SeedMerchant(context.Background(), m, "key-"+m.ID); err != nil {
		t.Fatal(err)
	}
	return club, m
}

func outboxPurposes(t *testing.T, db *models.DB, m *ritual.Merchant, openid string) map[string]int {
	t.Helper()
	member, _ := db.Members().ByOpenID(context.Background(), m.ID, openid)
	msgs, _ := db.Outbox().ForMember(context.Background(), member.ID, 100)
	out := map[string]int{}
	for _, msg := range msgs {
		out[msg.Purpose+":"+strings.SplitN(msg.Reference, ":", 3)[len(strings.SplitN(msg.Reference, ":", 3))-1]]++
		out[msg.Purpose]++
	}
	return out
}

func levelRewards(t *testing.T, club *ritual.Club, m *ritual.Merchant, who string) int64 {
	t.Helper()
	page, _ := club.Ledger(context.Background(), m, who, 0, 100)
	var total int64
	for _, e := range page.Entries {
		if e.Source == ritual.SourceLevelReward {
			total += e.Delta
		}
	}
	return total
}

func TestCeremonyThroughChat(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		club, m := ceremonyClub(t, db, clock)
		ctx := context.Background()
		openid := ritualtest.RandomID("o")
		mustHandle(t, club, m, subscribe(clock, openid, ""))
		mustOrder(t, club, m, ritual.OrderInput{OrderNo: "CE1", OpenID: openid, AmountFen: 30000})
		answer := mustOrder(t, club, m, ritual.OrderInput{OrderNo: "CE2", OpenID: openid, AmountFen: 20000})

		// Qualified for senior, but never upgraded silently.
		if answer.Member.Level.Key != "ordinary" || answer.Member.Ceremony == nil || answer.Member.Ceremony.Nickname != "茶友" {
			t.Fatalf("after qualifying: level %s, ceremony %+v; want ordinary with the 茶友 ceremony pending", answer.Member.Level.Key, answer.Member.Ceremony)
		}
		if rights, _ := club.Rights(ctx, m, openid); rights.Right.Kind != ritual.RightFreeSample {
			t.Fatalf("right during the ceremony = %+v, want the old level's", rights.Right)
		}
		if p := outboxPurposes(t, db, m, openid); p["ceremony:open"] != 1 {
			t.Fatalf("outbox %v, want one ceremony invitation", p)
		}
		// The next chat carries the prompt, whatever was said.
		got := mustHandle(t, club, m, text(clock, openid, "积分", nextMsgID()))
		for _, want := range []string{"500 积分", "升级仪式进行中", "我是茶友，以茶会友", "确认"} {
			if !strings.Contains(got, want) {
				t.Errorf("first chat after the ceremony opened lacks %q:\n%s", want, got)
			}
		}
		if got := mustHandle(t, club, m, text(clock, openid, "我是茶友 以茶会友！", nextMsgID())); !strings.Contains(got, "这一步完成了") {
			t.Fatalf("pledge = %q", got)
		}
		if v := view(t, club, m, openid); v.Level.Key != "ordinary" {
			t.Fatalf("after one step of two: level %s", v.Level.Key)
		}
		got = mustHandle(t, club, m, text(clock, openid, "确认", nextMsgID()))
		if !strings.Contains(got, "仪式完成") || !strings.Contains(got, "100积分") || !strings.Contains(got, "10元券") {
			t.Fatalf("last step = %q, want completion with the entry reward", got)
		}
		v := view(t, club, m, openid)
		if v.Level.Key != "senior" || v.Ceremony != nil || v.Points != 600 {
			t.Fatalf("after the ceremony: %s, ceremony %+v, %d points; want senior, none, 600", v.Level.Key, v.Ceremony, v.Points)
		}
		coupons, _ := club.Coupons(ctx, m, openid)
		if len(coupons) != 1 || coupons[0].RewardKey != "cash-10" || coupons[0].Source != ritual.CouponFromCeremony {
			t.Fatalf("coupons = %+v, want the entry reward's 10元券", coupons)
		}
		member, _ := db.Members().ByOpenID(ctx, m.ID, openid)
		msgs, _ := db.Outbox().ForMember(ctx, member.ID, 100)
		for _, msg := range msgs {
			if msg.Purpose == ritual.PurposeLevelChanged && (msg.Notice.From != "ordinary" || msg.Notice.To != "senior" || msg.Notice.Delta != 100) {
				t.Fatalf("level message = %+v, want ordinary → senior with +100", msg.Notice)
			}
		}
		checkBalanced(t, db, m)
	})
}

func TestSkippedLevelPaysEachReward(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		club, m := ceremonyClub(t, db, clock)
		openid := ritualtest.RandomID("o")
		mustHandle(t, club, m, subscribe(clock, openid, ""))
		for i, fen := range []int64{100, 100, 100, 100, 300000} {
			mustOrder(t, club, m, ritual.OrderInput{OrderNo: "SK" + string(rune('0'+i)), OpenID: openid, AmountFen: fen})
		}
		v := view(t, club, m, openid)
		if v.Ceremony == nil || v.Ceremony.Level != "vip" || v.Level.Key != "ordinary" {
			t.Fatalf("after qualifying for VIP straight away: %+v / %s", v.Ceremony, v.Level.Key)
		}
		mustHandle(t, club, m, text(clock, openid, "确认", nextMsgID()))
		if got := view(t, club, m, openid).Level.Key; got != "vip" {
			t.Fatalf("level %s, want vip", got)
		}
		if got := levelRewards(t, club, m, openid); got != 400 {
			t.Fatalf("entry rewards %d, want 400 (senior's 100 and VIP's 300)", got)
		}
		checkBalanced(t, db, m)
	})
}

func TestLosingALevelAndWinningItBackPaysAgain(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		club, m := ceremonyClub(t, db, clock)
		openid := ritualtest.RandomID("o")
		mustHandle(t, club, m, subscribe(clock, openid, ""))
		rise := func(no string) {
			mustOrder(t, club, m, ritual.OrderInput{OrderNo: no, OpenID: openid, AmountFen: 50000})
			mustHandle(t, club, m, text(clock, openid, "我是茶友，以茶会友", nextMsgID()))
			mustHandle(t, club, m, text(clock, openid, "确认", nextMsgID()))
		}
		mustOrder(t, club, m, ritual.OrderInput{OrderNo: "LB0", OpenID: openid, AmountFen: 100})
		rise("LB1")
		mustRefund(t, club, m, "LB1", "LBR1", 50000)
		if got := view(t, club, m, openid).Level.Key; got != "ordinary" {
			t.Fatalf("after the refund: %s, want ordinary", got)
		}
		rise("LB2")
		if got := view(t, club, m, openid).Level.Key; got != "senior" {
			t.Fatalf("won back: %s", got)
		}
		if got := levelRewards(t, club, m, openid); got != 200 {
			t.Fatalf("entry rewards %d, want 200 (paid on each promotion)", got)
		}
	})
}

func TestFallingBelowClosesTheCeremonyKindly(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		club, m := ceremonyClub(t, db, clock)
		openid := ritualtest.RandomID("o")
		mustHandle(t, club, m, subscribe(clock, openid, ""))
		mustOrder(t, club, m, ritual.OrderInput{OrderNo: "FB0", OpenID: openid, AmountFen: 100})
		mustOrder(t, club, m, ritual.OrderInput{OrderNo: "FB1", OpenID: openid, AmountFen: 50000})
		mustRefund(t, club, m, "FB1", "FBR", 1000)
		if v := view(t, club, m, openid); v.Ceremony != nil {
			t.Fatalf("ceremony still open after falling below: %+v", v.Ceremony)
		}
		if p := outboxPurposes(t, db, m, openid); p["ceremony:closed"] != 1 {
			t.Fatalf("outbox %v, want the kind closing message", p)
		}
		list, _ := club.Ceremonies(context.Background(), m, ritual.CeremonyClosed, 10)
		if len(list) != 1 || list[0].Outcome != "fell_below" {
			t.Fatalf("closed ceremonies = %+v", list)
		}
		if got := mustHandle(t, club, m, text(clock, openid, "确认", nextMsgID())); strings.Contains(got, "仪式完成") {
			t.Fatal("a closed ceremony could still be completed")
		}
	})
}

func TestCeremonyRemindersDeadlinesAndGrantByHand(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		club, m := ceremonyClub(t, db, clock)
		ctx := context.Background()
		a, b, c := ritualtest.RandomID("o"), ritualtest.RandomID("o"), ritualtest.RandomID("o")
		for _, who := range []string{a, b} { // senior: grant at the deadline
			mustOrder(t, club, m, ritual.OrderInput{OrderNo: "D0" + who, OpenID: who, AmountFen: 100})
			mustOrder(t, club, m, ritual.OrderInput{OrderNo: "D1" + who, OpenID: who, AmountFen: 50000})
		}
		for i, fen := range []int64{100, 100, 100, 100, 300000} { // c: VIP, keeps waiting
			mustOrder(t, club, m, ritual.OrderInput{OrderNo: "DV" + string(rune('0'+i)) + c, OpenID: c, AmountFen: fen})
		}
		// The tick is the system's, over every merchant (other tests' too on
		// the shared MySQL database): count what it did to this one.
		reminders := func() [3]int {
			var n [3]int
			for i, who := range []string{a, b, c} {
				n[i] = outboxPurposes(t, db, m, who)["ceremony:remind"]
			}
			return n
		}
		if _, err := club.CeremonyTick(ctx); err != nil || reminders() != [3]int{} {
			t.Fatalf("tick on day one: %v, reminders %v; want none", err, reminders())
		}
		clock.Advance(6*24*time.Hour + time.Hour) // within a day of the senior deadline; past VIP's
		if _, err := club.CeremonyTick(ctx); err != nil || reminders() != [3]int{1, 1, 0} {
			t.Fatalf("tick a day before the deadline: %v, reminders %v; want a and b reminded", err, reminders())
		}
		if club.CeremonyTick(ctx); reminders() != [3]int{1, 1, 0} {
			t.Fatalf("after a second tick reminders are %v, want one each", reminders())
		}
		open, _ := club.Ceremonies(ctx, m, ritual.CeremonyOpen, 10)
		var bID int64
		for _, cer := range open {
			if cer.OpenID == b {
				bID = cer.ID
			}
		}
		if granted, err := club.GrantCeremony(ctx, m, bID); err != nil || granted.Outcome != "by_hand" {
			t.Fatalf("grant by hand: %+v %v", granted, err)
		}
		if _, err := club.GrantCeremony(ctx, m, bID); ritual.ErrorCode(err) != ritual.ECONFLICT {
			t.Fatalf("granting twice: %v, want conflict", err)
		}
		clock.Advance(24 * time.Hour)
		club.CeremonyTick(ctx)
		if got := view(t, club, m, a).Level.Key; got != "senior" {
			t.Fatalf("a after the deadline: %s, want senior (grant policy)", got)
		}
		if v := view(t, club, m, c); v.Level.Key != "ordinary" || v.Ceremony == nil {
			t.Fatalf("c after the deadline: %s %+v, want still waiting (wait policy)", v.Level.Key, v.Ceremony)
		}
		if p := outboxPurposes(t, db, m, a); p["ceremony:remind"] != 1 {
			t.Fatalf("a's outbox %v, want one reminder", p)
		}
	})
}

// 积分 during a ceremony says once which ceremony is open and how to do it,
// and what the level after it needs, never "再即可成为茶友".
func TestPointsDuringACeremony(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		club, m := ceremonyClub(t, db, clock)
		openid := ritualtest.RandomID("o")
		mustHandle(t, club, m, subscribe(clock, openid, ""))
		mustOrder(t, club, m, ritual.OrderInput{OrderNo: "PC1", OpenID: openid, AmountFen: 30000})
		mustOrder(t, club, m, ritual.OrderInput{OrderNo: "PC2", OpenID: openid, AmountFen: 20000})

		for _, attempt := range []string{"first chat after the ceremony opened", "asked again"} {
			got := mustHandle(t, club, m, text(clock, openid, "积分", nextMsgID()))
			if a, b := strings.Count(got, "升级仪式进行中"), strings.Count(got, "前完成"); a != 1 || b != 1 {
				t.Errorf("%s: 积分 tells of the ceremony %d times and its deadline %d times, want once:\n%s", attempt, a, b, got)
			}
			for _, want := range []string{"500 积分", "「茶友」", "我是茶友，以茶会友", "确认", "¥2500.00", "3笔订单", "成为茶仙"} {
				if !strings.Contains(got, want) {
					t.Errorf("%s: 积分 lacks %q:\n%s", attempt, want, got)
				}
			}
			if strings.Contains(got, "再即可") || strings.Contains(got, "成为茶友。") {
				t.Errorf("%s: 积分 offers the level being entered as the next one:\n%s", attempt, got)
			}
		}
		if v := view(t, club, m, openid); v.NextLevel == nil || v.NextLevel.Key != "vip" || v.NextLevel.OrdersNeeded != 3 {
			t.Fatalf("next level in the member view = %+v, want vip needing 3 more orders", v.NextLevel)
		}

		// Qualified for 茶仙 straight past 茶友: 积分 tells of the 茶仙 ceremony.
		vip := ritualtest.RandomID("o")
		mustHandle(t, club, m, subscribe(clock, vip, ""))
		for i, fen := range []int64{100, 100, 100, 100, 300000} {
			mustOrder(t, club, m, ritual.OrderInput{OrderNo: "PV" + string(rune('0'+i)), OpenID: vip, AmountFen: fen})
		}
		got := mustHandle(t, club, m, text(clock, vip, "积分", nextMsgID()))
		if !strings.Contains(got, "「茶仙」") || strings.Count(got, "升级仪式进行中") != 1 || strings.Contains(got, "茶友") || strings.Contains(got, "再即可") {
			t.Fatalf("积分 of a member entering 茶仙 = %q, want the 茶仙 ceremony once and no 茶友", got)
		}
		if v := view(t, club, m, vip); v.NextLevel != nil {
			t.Fatalf("next level of a member entering the top level = %+v, want none", v.NextLevel)
		}
	})
}

// couponTold fails unless every coupon of source the member holds was told
// to them in a coupon_issued message naming its product and when it stops
// being valid.
func couponTold(t *testing.T, club *ritual.Club, db *models.DB, m *ritual.Merchant, openid, source string) {
	t.Helper()
	ctx := context.Background()
	member, _ := db.Members().ByOpenID(ctx, m.ID, openid)
	msgs, _ := db.Outbox().ForMember(ctx, member.ID, 100)
	told := map[string]ritual.Notice{}
	for _, msg := range msgs {
		if msg.Purpose == ritual.PurposeCouponIssued {
			told[msg.Reference] = msg.Notice
		}
	}
	coupons, _ := club.Coupons(ctx, m, openid)
	held := 0
	for _, cp := range coupons {
		if cp.Source != source {
			continue
		}
		held++
		n, ok := told["coupon:"+cp.Code]
		if !ok {
			t.Fatalf("coupon %s (%s, %s) was issued silently; coupon messages: %v", cp.Code, cp.RewardKey, cp.Source, told)
		}
		if want := m.CouponView(cp).Product; n.Reason != want || !n.At.Equal(cp.ValidUntil) {
			t.Fatalf("coupon message says %q until %v, want %q until %v", n.Reason, n.At, want, cp.ValidUntil)
		}
	}
	if held == 0 {
		t.Fatalf("the member holds no %s coupon", source)
	}
}

func TestCeremonyCouponIsTold(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		club, m := ceremonyClub(t, db, clock)
		openid := ritualtest.RandomID("o")
		mustHandle(t, club, m, subscribe(clock, openid, ""))
		mustOrder(t, club, m, ritual.OrderInput{OrderNo: "CT1", OpenID: openid, AmountFen: 30000})
		mustOrder(t, club, m, ritual.OrderInput{OrderNo: "CT2", OpenID: openid, AmountFen: 20000})
		mustHandle(t, club, m, text(clock, openid, "积分", nextMsgID())) // carries the ceremony's prompt
		mustHandle(t, club, m, text(clock, openid, "我是茶友 以茶会友！", nextMsgID()))
		mustHandle(t, club, m, text(clock, openid, "确认", nextMsgID()))
		if got := view(t, club, m, openid).Level.Key; got != "senior" {
			t.Fatalf("level %s, want senior", got)
		}
		couponTold(t, club, db, m, openid, ritual.CouponFromCeremony)
	})
}
