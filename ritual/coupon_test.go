package ritual_test

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wxclub/wxclub/models"
	"github.com/wxclub/wxclub/models/modelstest"
	"github.com/wxclub/wxclub/ritual"
	"github.com/wxclub/wxclub/ritual/ritualtest"
)

// couponStart is where every coupon test stands: 2026-11-24 10:00 in
// Shanghai. Each database's half starts there again.
var couponStart = time.Date(2026, 11, 24, 2, 0, 0, 0, time.UTC)

// newCouponClub is newClub with the fixture merchant's programme changed by
// edit before it is seeded.
func newCouponClub(t *testing.T, db *models.DB, clock *ritualtest.Clock, edit func(m *ritual.Merchant)) (*ritual.Club, *ritual.Merchant) {
	t.Helper()
	clock.Set(couponStart)
	club := ritual.NewClub(db, ritual.ClubOptions{Clock: clock.Now})
	m := ritualtest.Merchant(ritual.ModeCompatible)
	if edit != nil {
		edit(m)
	}
	if _, err := club.SeedMerchant(context.Background(), m, "key-"+m.ID); err != nil {
		t.Fatal(err)
	}
	return club, m
}

// memberWithPoints returns the openid of a new member who earned points
// with one order (1 point per yuan).
func memberWithPoints(t *testing.T, club *ritual.Club, m *ritual.Merchant, points int64) string {
	t.Helper()
	openid := ritualtest.RandomID("o")
	mustOrder(t, club, m, ritual.OrderInput{OrderNo: ritualtest.RandomID("O"), OpenID: openid, AmountFen: points * 100})
	return openid
}

// activateForGift activates openid by telling the account a birthday, which
// grants the new-member gift pack (its coupons only: no points, so balances
// stay as the test set them), and returns the member's gift coupons.
func activateForGift(t *testing.T, club *ritual.Club, m *ritual.Merchant, clock *ritualtest.Clock, openid string) []*ritual.Coupon {
	t.Helper()
	m.Activation.Method, m.Activation.Gift.Points = ritual.ActivateBirthday, 0
	mustHandle(t, club, m, text(clock, openid, "1990-05-20", nextMsgID()))
	coupons, err := club.Coupons(context.Background(), m, openid)
	if err != nil {
		t.Fatal(err)
	}
	var gifts []*ritual.Coupon
	for _, cp := range coupons {
		if cp.Source == ritual.CouponFromGift {
			gifts = append(gifts, cp)
		}
	}
	return gifts
}

// couponState is everything a redemption could change for one member and
// one reward.
type couponState struct {
	Points, Stock          int64
	Coupons, Entries, Sent int
}

func stateOf(t *testing.T, db *models.DB, m *ritual.Merchant, openid, rewardKey string) couponState {
	t.Helper()
	ctx := context.Background()
	member, err := db.Members().ByOpenID(ctx, m.ID, openid)
	if err != nil {
		t.Fatal(err)
	}
	coupons, err := db.Coupons().ForMember(ctx, member.ID)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := db.Ledger().Entries(ctx, member.ID, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	outbox, err := db.Outbox().ForMember(ctx, member.ID, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var initial int64
	for _, r := range m.Rewards {
		if r.Key == rewardKey {
			initial = r.Stock
		}
	}
	stock, err := db.Coupons().Remaining(ctx, m.ID, rewardKey, initial)
	if err != nil {
		t.Fatal(err)
	}
	return couponState{Points: member.Points, Stock: stock, Coupons: len(coupons), Entries: len(entries), Sent: len(outbox)}
}

func mustRedeem(t *testing.T, club *ritual.Club, m *ritual.Merchant, openid, reward, no string) *ritual.Redemption {
	t.Helper()
	r, created, err := club.Redeem(context.Background(), m, openid, reward, no)
	if err != nil || !created {
		t.Fatalf("redeem %s as %s: %v (created=%v)", reward, no, err, created)
	}
	return r
}

func TestRedeemSpendsPointsAndIssuesTheCoupon(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		club, m := newCouponClub(t, db, clock, nil)
		ctx := context.Background()
		openid := memberWithPoints(t, club, m, 1000)

		r := mustRedeem(t, club, m, openid, "10元券", "R-1")
		if r.PointsSpent != 300 || r.Member.Points != 700 || r.RedemptionNo != "R-1" {
			t.Fatalf("redemption = %+v, want 300 points spent and 700 left", r)
		}
		cp := r.Coupon
		if cp.Reward != "cash-10" || cp.Product != "全店满100减10" || cp.ValueFen != 1000 || cp.Source != ritual.CouponFromRedemption || cp.UsedAt != nil {
			t.Fatalf("coupon = %+v, want an unused cash-10 coupon stating its product", cp)
		}
		if !cp.ValidFrom.Equal(couponStart) || !cp.ValidUntil.Equal(couponStart.AddDate(0, 0, 30)) {
			t.Fatalf("window %s – %s, want %s plus exactly 30 days", cp.ValidFrom, cp.ValidUntil, couponStart)
		}
		if len(cp.Code) != 10 || strings.ContainsAny(cp.Code, "01OIL") {
			t.Fatalf("code %q, want 10 unambiguous characters", cp.Code)
		}
		// The shop's answer is JSON with the coupon spelled out.
		raw, _ := json.Marshal(r)
		for _, want := range []string{`"redemption_no":"R-1"`, `"points_spent":300`, `"code":"` + cp.Code + `"`, `"product":"全店满100减10"`,
			`"valid_from":"2026-11-24T02:00:00Z"`, `"valid_until":"2026-12-24T02:00:00Z"`, `"used_at":null`, `"points":700`} {
			if !strings.Contains(string(raw), want) {
				t.Errorf("answer %s lacks %s", raw, want)
			}
		}

		stock, _ := db.Coupons().Remaining(ctx, m.ID, "cash-10", 500)
		if stock != 499 {
			t.Fatalf("stock %d, want 499", stock)
		}
		page, err := club.Ledger(ctx, m, openid, 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		top := page.Entries[0]
		if top.Source != ritual.SourceRedemption || top.Reference != "R-1" || top.Delta != -300 || top.BalanceAfter != 700 || !strings.Contains(top.Reason, "10元券") {
			t.Fatalf("newest ledger entry = %+v, want -300 for the redemption, naming the reward", top)
		}

		member, _ := db.Members().ByOpenID(ctx, m.ID, openid)
		msgs, err := db.Outbox().ForMember(ctx, member.ID, 10)
		if err != nil {
			t.Fatal(err)
		}
		var issued, points *ritual.OutboxMessage
		for _, msg := range msgs {
			switch {
			case msg.Purpose == ritual.PurposeCouponIssued:
				issued = msg
			case msg.Purpose == ritual.PurposePointsChanged && msg.Notice.Delta == -300:
				points = msg
			}
		}
		if issued == nil || points == nil {
			t.Fatalf("outbox = %+v, want coupon_issued and a points_changed of -300", msgs)
		}
		if issued.Reference != "coupon:"+cp.Code || issued.Notice.Reason != "全店满100减10" || !issued.Notice.At.Equal(cp.ValidUntil) {
			t.Fatalf("coupon_issued = %+v, want the product and the end of the window", issued)
		}
		if points.Notice.Balance != 700 || !strings.Contains(points.Notice.Reason, "10元券") {
			t.Fatalf("points_changed notice = %+v", points.Notice)
		}
		list, err := club.Coupons(ctx, m, openid)
		if err != nil || len(list) != 1 || list[0].Code != cp.Code {
			t.Fatalf("member's coupons = %+v, %v; want the one issued", list, err)
		}
		checkBalanced(t, db, m)
	})
}

func TestRedeemRefusalsChangeNothing(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		club, m := newCouponClub(t, db, clock, func(m *ritual.Merchant) {
			m.Rewards = append(m.Rewards, ritual.Reward{Key: "gone", Name: "售罄券", Product: "招牌奶茶一杯", ValueFen: 1800, PointsPrice: 50, Stock: 0, ValidDays: 7})
		})
		ctx := context.Background()
		rich := memberWithPoints(t, club, m, 2500)
		mustRedeem(t, club, m, rich, "teapot", "T-1") // teapot: one per member
		poor := memberWithPoints(t, club, m, 299)

		cases := []struct {
			name, openid, reward string
			key                  string // whose stock must not move
			code, says           string
		}{
			{"not enough points", poor, "10元券", "cash-10", ritual.EINVALID, "(1 short)"},
			{"over the per-member limit", rich, "紫砂小壶", "teapot", ritual.EINVALID, "allows 1 per member"},
			{"out of stock", rich, "售罄券", "gone", ritual.EINVALID, "sold out"},
			{"gift only", rich, "新人茶包", "welcome-tea", ritual.EINVALID, "is a gift"},
			{"unknown reward", rich, "金条", "cash-10", ritual.ENOTFOUND, "金条"},
		}
		for i, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				before := stateOf(t, db, m, c.openid, c.key)
				r, created, err := club.Redeem(ctx, m, c.openid, c.reward, fmt.Sprintf("X-%d", i))
				if ritual.ErrorCode(err) != c.code || !strings.Contains(ritual.ErrorMessage(err), c.says) || r != nil || created {
					t.Fatalf("redeem: %v, %+v; want %s saying %q", err, r, c.code, c.says)
				}
				if after := stateOf(t, db, m, c.openid, c.key); after != before {
					t.Fatalf("refusal changed %+v into %+v", before, after)
				}
			})
		}
		// The number of a refused redemption is free for a good one.
		mustRedeem(t, club, m, rich, "10元券", "X-0")
		checkBalanced(t, db, m)
	})
}

func TestRedeemBadInput(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		club, m := newCouponClub(t, db, clock, nil)
		openid := memberWithPoints(t, club, m, 1000)
		for _, c := range []struct{ reward, no, field string }{
			{"cash-10", "", "redemption_no"},
			{"cash-10", "has space", "redemption_no"},
			{"cash-10", strings.Repeat("a", 65), "redemption_no"},
			{"", "B-1", "reward"},
		} {
			_, _, err := club.Redeem(context.Background(), m, openid, c.reward, c.no)
			if ritual.ErrorCode(err) != ritual.EINVALID || ritual.ErrorField(err) != c.field {
				t.Errorf("redeem %q as %q: %v, want invalid %s", c.reward, c.no, err, c.field)
			}
		}
		if _, _, err := club.Redeem(context.Background(), m, "o-nobody", "cash-10", "B-2"); ritual.ErrorCode(err) != ritual.ENOTFOUND {
			t.Fatalf("unknown member: %v, want not found", err)
		}
		mustRedeem(t, club, m, openid, "cash-10", strings.Repeat("a", 64))
	})
}

func TestRedeemRepeat(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		club, m := newCouponClub(t, db, clock, nil)
		ctx := context.Background()
		openid := memberWithPoints(t, club, m, 1000)

		first := mustRedeem(t, club, m, openid, "10元券", "SAME-1")
		again, created, err := club.Redeem(ctx, m, openid, "cash-10", "SAME-1") // by key this time
		if err != nil || created {
			t.Fatalf("repeat: %v created=%v, want the first redemption", err, created)
		}
		a, _ := json.Marshal(first)
		b, _ := json.Marshal(again)
		if string(a) != string(b) {
			t.Fatalf("repeat answered\n%s\nwant the first answer\n%s", b, a)
		}
		if s := stateOf(t, db, m, openid, "cash-10"); s.Points != 700 || s.Coupons != 1 || s.Stock != 499 {
			t.Fatalf("after the repeat: %+v, want one redemption's effect", s)
		}
		_, _, err = club.Redeem(ctx, m, openid, "teapot", "SAME-1")
		if ritual.ErrorCode(err) != ritual.ECONFLICT || ritual.ErrorField(err) != "redemption_no" {
			t.Fatalf("same number, other reward: %v, want conflict on redemption_no", err)
		}
		other := memberWithPoints(t, club, m, 1000)
		_, _, err = club.Redeem(ctx, m, other, "cash-10", "SAME-1")
		if ritual.ErrorCode(err) != ritual.ECONFLICT || ritual.ErrorField(err) != "redemption_no" {
			t.Fatalf("same number, other member: %v, want conflict on redemption_no", err)
		}
		if s := stateOf(t, db, m, other, "cash-10"); s.Points != 1000 || s.Coupons != 0 {
			t.Fatalf("the other member changed: %+v", s)
		}

		// Ten at once with one number: one redemption, ten equal answers.
		const n = 10
		var wg sync.WaitGroup
		answers := make([]*ritual.Redemption, n)
		news := make([]bool, n)
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				answers[i], news[i], errs[i] = club.Redeem(ctx, m, other, "cash-10", "SAME-2")
			}()
		}
		wg.Wait()
		created2 := 0
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("concurrent repeat %d: %v", i, errs[i])
			}
			if news[i] {
				created2++
			}
			if answers[i].Coupon.Code != answers[0].Coupon.Code || answers[i].PointsSpent != 300 {
				t.Fatalf("answer %d = %+v, want the one coupon %s", i, answers[i], answers[0].Coupon.Code)
			}
		}
		if created2 != 1 {
			t.Fatalf("%d answers said created, want 1", created2)
		}
		if s := stateOf(t, db, m, other, "cash-10"); s.Points != 700 || s.Coupons != 1 || s.Stock != 498 {
			t.Fatalf("after ten concurrent repeats: %+v, want one redemption's effect", s)
		}
		checkBalanced(t, db, m)
	})
}

func TestConcurrentRedemptionsOfTheLastCoupon(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		club, m := newCouponClub(t, db, clock, func(m *ritual.Merchant) {
			m.Rewards = append(m.Rewards, ritual.Reward{Key: "last", Name: "限量茶饼", Product: "2019年古树普洱茶饼一片", ValueFen: 29800, PointsPrice: 100, Stock: 1, ValidDays: 90})
		})
		ctx := context.Background()
		const n = 10
		members := make([]string, n)
		for i := range members {
			members[i] = memberWithPoints(t, club, m, 500)
		}
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _, errs[i] = club.Redeem(ctx, m, members[i], "限量茶饼", fmt.Sprintf("LAST-%d", i))
			}()
		}
		wg.Wait()
		won, coupons := -1, 0
		for i, err := range errs {
			switch {
			case err == nil && won < 0:
				won = i
			case err == nil:
				t.Fatalf("members %d and %d both got the last coupon", won, i)
			case ritual.ErrorCode(err) != ritual.EINVALID || !strings.Contains(ritual.ErrorMessage(err), "sold out"):
				t.Fatalf("member %d: %v, want sold out", i, err)
			}
		}
		if won < 0 {
			t.Fatal("nobody got the last coupon")
		}
		for i, openid := range members {
			s := stateOf(t, db, m, openid, "last")
			coupons += s.Coupons
			want := int64(500)
			if i == won {
				want = 400
			}
			if s.Points != want || s.Stock != 0 {
				t.Fatalf("member %d: %+v, want %d points and the stock at 0", i, s, want)
			}
		}
		if coupons != 1 {
			t.Fatalf("%d coupons issued, want 1", coupons)
		}
		checkBalanced(t, db, m)

		// One member, ten numbers at once, against a limit of three.
		openid := memberWithPoints(t, club, m, 5000)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _, errs[i] = club.Redeem(ctx, m, openid, "10元券", fmt.Sprintf("LIM-%d", i))
			}()
		}
		wg.Wait()
		ok := 0
		for i, err := range errs {
			if err == nil {
				ok++
			} else if ritual.ErrorCode(err) != ritual.EINVALID || !strings.Contains(ritual.ErrorMessage(err), "allows 3 per member") {
				t.Fatalf("redemption %d: %v, want over the limit", i, err)
			}
		}
		if s := stateOf(t, db, m, openid, "cash-10"); ok != 3 || s.Coupons != 3 || s.Points != 5000-900 || s.Stock != 497 {
			t.Fatalf("%d succeeded, state %+v; want exactly 3 coupons for 900 points", ok, s)
		}
		checkBalanced(t, db, m)
	})
}

func TestRedeemInChat(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		clock.Set(couponStart)
		e := newRelayEnv(t, db, clock)
		ctx := context.Background()
		openid := e.follower()
		mustOrder(t, e.club, e.m, buy(openid, "CH-1", 100000)) // 1000 points
		e.drain()

		list := mustHandle(t, e.club, e.m, text(clock, openid, "兑换", 9001))
		for _, want := range []string{"1000 积分", "10元券", "全店满100减10", "300积分", "剩500份", "紫砂小壶", "还差1000积分"} {
			if !strings.Contains(list, want) {
				t.Errorf("list %q lacks %q", list, want)
			}
		}
		if strings.Contains(list, "新人茶包") {
			t.Errorf("list %q offers the gift-only reward", list)
		}

		reply := mustHandle(t, e.club, e.m, text(clock, openid, "兑换 10元券", 9002))
		coupons, err := e.club.Coupons(ctx, e.m, openid)
		if err != nil || len(coupons) != 1 {
			t.Fatalf("coupons %+v, %v; want the one redeemed", coupons, err)
		}
		cp := coupons[0]
		for _, want := range []string{"兑换成功", "全店满100减10", cp.Code, "2026-11-24 10:00 至 2026-12-24 10:00", "还剩700积分"} {
			if !strings.Contains(reply, want) {
				t.Errorf("reply %q lacks %q", reply, want)
			}
		}
		if !cp.ValidUntil.Equal(couponStart.AddDate(0, 0, 30)) || !strings.HasPrefix(cp.Reference, "chat-") {
			t.Fatalf("coupon = %+v", cp)
		}
		e.drain()
		var tm map[string]string
		for _, item := range e.templates(openid) {
			if item.TemplateID == "TPL_COUPON" {
				tm = item.Data
			}
		}
		if tm["thing1"] != "全店满100减10" || tm["time2"] != "2026-12-24 10:00" {
			t.Fatalf("coupon template message = %v, want the product and the end of the window", tm)
		}

		// Refusals are replies, change nothing, and a repeat delivery gets
		// the same reply.
		before := stateOf(t, db, e.m, openid, "teapot")
		refused := mustHandle(t, e.club, e.m, text(clock, openid, "兑换 紫砂小壶", 9003))
		if !strings.Contains(refused, "积分不够") || !strings.Contains(refused, "还差1300") {
			t.Fatalf("refusal = %q, want it to say the points are short by 1300", refused)
		}
		if again := mustHandle(t, e.club, e.m, text(clock, openid, "兑换 紫砂小壶", 9003)); again != refused {
			t.Fatalf("repeat delivery answered %q, want %q", again, refused)
		}
		if unknown := mustHandle(t, e.club, e.m, text(clock, openid, "兑换 金条", 9004)); !strings.Contains(unknown, "没有「金条」这个兑换项") {
			t.Fatalf("unknown reward reply = %q", unknown)
		}
		if after := stateOf(t, db, e.m, openid, "teapot"); after != before {
			t.Fatalf("chat refusals changed %+v into %+v", before, after)
		}
		// A redemption delivered twice redeems once.
		if again := mustHandle(t, e.club, e.m, text(clock, openid, "兑换 10元券", 9002)); again != reply {
			t.Fatalf("repeat delivery answered %q, want %q", again, reply)
		}
		if s := stateOf(t, db, e.m, openid, "cash-10"); s.Points != 700 || s.Coupons != 1 {
			t.Fatalf("after the repeat delivery: %+v", s)
		}
		checkBalanced(t, db, e.m)
	})
}

func TestUseCoupon(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		club, m := newCouponClub(t, db, clock, nil)
		ctx := context.Background()
		openid := memberWithPoints(t, club, m, 1000)
		cp := mustRedeem(t, club, m, openid, "10元券", "U-1").Coupon

		clock.Advance(time.Hour)
		used, err := club.UseCoupon(ctx, m, " "+strings.ToLower(cp.Code)+" ") // as typed at the till
		if err != nil || used.UsedAt == nil || !used.UsedAt.Equal(clock.Now()) {
			t.Fatalf("first use: %+v, %v; want it marked used now", used, err)
		}
		_, err = club.UseCoupon(ctx, m, cp.Code)
		if ritual.ErrorCode(err) != ritual.ECONFLICT || !strings.Contains(ritual.ErrorMessage(err), "2026-11-24 11:00") {
			t.Fatalf("reuse: %v, want conflict saying when it was used", err)
		}
		if _, err := club.UseCoupon(ctx, m, "ZZZZZZZZZZ"); ritual.ErrorCode(err) != ritual.ENOTFOUND {
			t.Fatalf("unknown code: %v, want not found", err)
		}
		_, other := newCouponClub(t, db, clock, nil)
		clock.Set(couponStart.Add(time.Hour))
		if _, err := club.UseCoupon(ctx, other, cp.Code); ritual.ErrorCode(err) != ritual.ENOTFOUND {
			t.Fatalf("another merchant's code: %v, want not found", err)
		}

		// The window: from its first minute to its last, not outside.
		late := mustRedeem(t, club, m, openid, "10元券", "U-2").Coupon
		clock.Set(late.ValidFrom.Add(-time.Minute))
		_, err = club.UseCoupon(ctx, m, late.Code)
		if ritual.ErrorCode(err) != ritual.EINVALID || !strings.Contains(ritual.ErrorMessage(err), "from 2026-11-24 11:00 until 2026-12-24 11:00") {
			t.Fatalf("before the window: %v, want invalid stating the window", err)
		}
		clock.Set(late.ValidUntil)
		_, err = club.UseCoupon(ctx, m, late.Code)
		if ritual.ErrorCode(err) != ritual.EINVALID || !strings.Contains(ritual.ErrorMessage(err), "has expired") {
			t.Fatalf("at the end of the window: %v, want invalid, expired", err)
		}
		clock.Set(late.ValidUntil.Add(-time.Second))
		if _, err := club.UseCoupon(ctx, m, late.Code); err != nil {
			t.Fatalf("in the window's last second: %v", err)
		}
		member, _ := db.Members().ByOpenID(ctx, m.ID, openid)
		if member.Funnel.BenefitClaimedAt != nil {
			t.Fatalf("using a bought coupon claimed the new-member benefit at %v", member.Funnel.BenefitClaimedAt)
		}

		// Using the new-member gift is the funnel's "benefit claimed".
		gifts := activateForGift(t, club, m, clock, openid)
		if len(gifts) != 1 {
			t.Fatalf("gift coupons %+v", gifts)
		}
		clock.Advance(time.Minute)
		if _, err := club.UseCoupon(ctx, m, gifts[0].Code); err != nil {
			t.Fatal(err)
		}
		member, _ = db.Members().ByOpenID(ctx, m.ID, openid)
		if at := member.Funnel.BenefitClaimedAt; at == nil || !at.Equal(clock.Now()) {
			t.Fatalf("benefit claimed at %v, want %v", at, clock.Now())
		}
		if member.Points != 400 {
			t.Fatalf("using coupons changed the balance to %d", member.Points)
		}
	})
}

func TestGiftCoupons(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		club, m := newCouponClub(t, db, clock, func(m *ritual.Merchant) {
			m.Rewards = append(m.Rewards, ritual.Reward{Key: "rare", Name: "限量礼盒", Product: "中秋礼盒一份", ValueFen: 19800, Stock: 1, ValidDays: 14})
			m.Activation.Gift.Coupons = []string{"welcome-tea", "rare"}
		})
		first := memberWithPoints(t, club, m, 1)
		second := memberWithPoints(t, club, m, 1)

		got := activateForGift(t, club, m, clock, first)
		slices.SortFunc(got, func(a, b *ritual.Coupon) int { return cmp.Compare(b.RewardKey, a.RewardKey) })
		if len(got) != 2 || got[0].RewardKey != "welcome-tea" || got[1].RewardKey != "rare" {
			t.Fatalf("first member's gifts = %+v; want welcome-tea and rare", got)
		}
		if cp := got[0]; cp.Source != ritual.CouponFromGift || !cp.ValidUntil.Equal(couponStart.AddDate(0, 0, 30)) {
			t.Fatalf("gift coupon = %+v", cp)
		}
		again := activateForGift(t, club, m, clock, first) // activating twice grants nothing more
		slices.SortFunc(again, func(a, b *ritual.Coupon) int { return cmp.Compare(b.RewardKey, a.RewardKey) })
		if len(again) != 2 || again[0].Code != got[0].Code || again[1].Code != got[1].Code {
			t.Fatalf("activating again left %+v; want the same two coupons", again)
		}
		if s := stateOf(t, db, m, first, "welcome-tea"); s.Coupons != 2 || s.Stock != 99999 {
			t.Fatalf("after granting twice: %+v, want 2 coupons and one taken from stock", s)
		}
		// The second member gets the gift too; the rare coupon is gone, and
		// is skipped without failing.
		got2 := activateForGift(t, club, m, clock, second)
		if len(got2) != 1 || got2[0].RewardKey != "welcome-tea" || got2[0].Code == got[0].Code {
			t.Fatalf("second member's gifts = %+v; want their own welcome-tea only", got2)
		}
		if s := stateOf(t, db, m, second, "rare"); s.Coupons != 1 || s.Stock != 0 {
			t.Fatalf("second member: %+v", s)
		}
	})
}

func TestRedeemCountsOnlyPointsNotExpired(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		club, m := newCouponClub(t, db, clock, nil)
		ctx := context.Background()
		openid := memberWithPoints(t, club, m, 400) // expires on day 365
		clock.Set(couponStart.AddDate(0, 0, 300))
		mustOrder(t, club, m, buy(openid, "EX-2", 35000)) // 350 more, expiring on day 665
		clock.Set(couponStart.AddDate(0, 0, 366))

		// 750 on record, but 400 of them are past their expiry.
		before := stateOf(t, db, m, openid, "teapot")
		mustRedeem(t, club, m, openid, "cash-10", "EX-R0") // 350 unexpired pay for 300
		_, _, err := club.Redeem(ctx, m, openid, "teapot", "EX-R1")
		if ritual.ErrorCode(err) != ritual.EINVALID || !strings.Contains(ritual.ErrorMessage(err), "the member can spend 50 ") {
			t.Fatalf("redeeming with expired points: %v, want refused counting 50", err)
		}
		after := stateOf(t, db, m, openid, "teapot")
		// The successful redemption expired the old lot (-400) and spent 300.
		if after.Points != 50 || after.Entries != before.Entries+2 {
			t.Fatalf("after redeeming: %+v (before %+v), want 50 points and an expiry and a spending entry", after, before)
		}
		page, _ := club.Ledger(ctx, m, openid, 0, 2)
		if page.Entries[0].Source != ritual.SourceRedemption || page.Entries[1].Source != ritual.SourceExpiry || page.Entries[1].Delta != -400 {
			t.Fatalf("newest entries = %+v, %+v; want the expiry, then the redemption", page.Entries[1], page.Entries[0])
		}
		checkBalanced(t, db, m)
	})
}
