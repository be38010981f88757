package ritual_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/wxclub/wxclub/models"
	"github.com/wxclub/wxclub/models/modelstest"
	"github.com/wxclub/wxclub/ritual"
	"github.com/wxclub/wxclub/ritual/ritualtest"
)

func order(no, phone string, fen int64) ritual.OrderInput {
	return ritual.OrderInput{OrderNo: no, Phone: phone, AmountFen: fen}
}

func mustOrder(t *testing.T, club *ritual.Club, m *ritual.Merchant, in ritual.OrderInput) *ritual.OrderAnswer {
	t.Helper()
	answer, _, err := club.RecordOrder(context.Background(), m, in)
	if err != nil {
		t.Fatalf("order %s: %v", in.OrderNo, err)
	}
	return answer
}

func mustRefund(t *testing.T, club *ritual.Club, m *ritual.Merchant, orderNo, refundNo string, fen int64) *ritual.RefundAnswer {
	t.Helper()
	answer, _, err := club.RecordRefund(context.Background(), m, ritual.RefundInput{OrderNo: orderNo, RefundNo: refundNo, AmountFen: fen})
	if err != nil {
		t.Fatalf("refund %s: %v", refundNo, err)
	}
	return answer
}

// spend spends points of who (openid or phone) the way a shopper does: by
// redeeming a reward that costs exactly that many points.
func spend(t *testing.T, club *ritual.Club, m *ritual.Merchant, who string, points int64, no string) {
	t.Helper()
	key := fmt.Sprintf("spend-%d", points)
	m.Rewards = append(m.Rewards, ritual.Reward{Key: key, Name: key, Product: "测试券", ValueFen: 100, PointsPrice: points, Stock: 1000, ValidDays: 30})
	if _, _, err := club.Redeem(context.Background(), m, who, key, no); err != nil {
		t.Fatal(err)
	}
}

func randomPhone() string { return fmt.Sprintf("139%08d", rand.IntN(100000000)) }

func view(t *testing.T, club *ritual.Club, m *ritual.Merchant, who string) ritual.MemberView {
	t.Helper()
	v, err := club.MemberView(context.Background(), m, who)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// checkBalanced fails unless every member's balance equals their ledger sum.
func checkBalanced(t *testing.T, db *models.DB, m *ritual.Merchant) {
	t.Helper()
	bad, err := db.Ledger().Imbalances(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bad {
		if b.MerchantID == m.ID {
			t.Fatalf("member %d: balance %d, ledger sums to %s %s", b.MemberID, b.Balance, b.LedgerSum, b.Unreadable)
		}
	}
}

func TestOrderMakesARecognizedMember(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		club, m := newClub(t, db, clock)
		phone := randomPhone()
		answer, isNew, err := club.RecordOrder(context.Background(), m, ritual.OrderInput{OrderNo: "A1", Phone: "+86 " + phone, AmountFen: 12850, Channel: "youzan"})
		if err != nil || !isNew {
			t.Fatalf("record: %v new=%v", err, isNew)
		}
		if got, want := answer.PointsEarned, int64(128); got != want {
			t.Fatalf("points earned %d, want %d (1 point per whole yuan of ¥128.50)", got, want)
		}
		v := answer.Member
		if v.State != ritual.StateRecognized || v.Phone != phone || v.Points != 128 {
			t.Fatalf("member = %+v, want a recognized member with the normalised phone and 128 points", v)
		}
		if v.Level.Key != "ordinary" || v.Level.Nickname != "茶苗" || v.Level.Right.Kind != ritual.RightFreeSample {
			t.Fatalf("level = %+v, want ordinary 茶苗 with its free sample", v.Level)
		}
		if v.Period.AmountFen != 12850 || v.Period.Orders != 1 || v.Period.Days != 365 {
			t.Fatalf("period = %+v", v.Period)
		}
		if n := v.NextLevel; n == nil || n.Key != "senior" || n.AmountFenNeeded != 50000-12850 || n.OrdersNeeded != 1 {
			t.Fatalf("next level = %+v, want senior needing ¥371.50 and 1 order", n)
		}
		checkBalanced(t, db, m)
	})
}

func TestOrderResendAndConflict(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		club, m := newClub(t, db, clock)
		phone := randomPhone()
		in := order("R1", phone, 10000)
		first := mustOrder(t, club, m, in)
		mustOrder(t, club, m, order("R2", phone, 10000)) // the member changes after R1

		again, isNew, err := club.RecordOrder(context.Background(), m, in)
		if err != nil || isNew {
			t.Fatalf("resend: %v new=%v, want the old answer", err, isNew)
		}
		if again.Member.Points != first.Member.Points || again.PointsEarned != first.PointsEarned {
			t.Fatalf("resend answered %+v, want the first answer %+v", again, first)
		}
		if v := view(t, club, m, phone); v.Points != 200 || v.Period.Orders != 2 {
			t.Fatalf("after resend: %d points, %d orders; want 200 and 2 (no second effect)", v.Points, v.Period.Orders)
		}

		changed := in
		changed.AmountFen = 20000
		if _, _, err := club.RecordOrder(context.Background(), m, changed); ritual.ErrorCode(err) != ritual.ECONFLICT {
			t.Fatalf("same order_no, other amount: %v, want conflict", err)
		}
		checkBalanced(t, db, m)
	})
}

func TestRefunds(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		club, m := newClub(t, db, clock)
		phone := randomPhone()
		mustOrder(t, club, m, order("F1", phone, 10001)) // 100 points

		r := mustRefund(t, club, m, "F1", "RF1", 3333)
		if r.PointsReversed != 33 || r.Member.Points != 67 || r.Shortfall != 0 {
			t.Fatalf("partial refund = %+v, want 33 points back, 67 left", r)
		}
		if again := mustRefund(t, club, m, "F1", "RF1", 3333); again.Member.Points != 67 {
			t.Fatalf("refund resend changed the balance to %d", again.Member.Points)
		}
		if _, _, err := club.RecordRefund(context.Background(), m, ritual.RefundInput{OrderNo: "F1", RefundNo: "RF1", AmountFen: 100}); ritual.ErrorCode(err) != ritual.ECONFLICT {
			t.Fatalf("same refund_no, other amount: %v, want conflict", err)
		}
		_, _, err := club.RecordRefund(context.Background(), m, ritual.RefundInput{OrderNo: "F1", RefundNo: "RF2", AmountFen: 6669})
		if ritual.ErrorCode(err) != ritual.EINVALID || ritual.ErrorField(err) != "amount_fen" {
			t.Fatalf("refund over what is left: %v, want invalid amount_fen", err)
		}
		if _, _, err := club.RecordRefund(context.Background(), m, ritual.RefundInput{OrderNo: "NOPE", RefundNo: "RF9", AmountFen: 1}); ritual.ErrorCode(err) != ritual.ENOTFOUND {
			t.Fatalf("refund of an unknown order: %v, want not found", err)
		}
		rest := mustRefund(t, club, m, "F1", "RF3", 6668)
		if rest.Member.Points != 0 || rest.PointsReversed != 67 || rest.Member.Period.Orders != 0 {
			t.Fatalf("refunding the rest = %+v, want every point back and the order no longer counted", rest)
		}
		checkBalanced(t, db, m)
	})
}

func TestRefundOfSpentPointsRecordsTheShortfall(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		club, m := newClub(t, db, clock)
		phone := randomPhone()
		mustOrder(t, club, m, order("S1", phone, 30000)) // 300 points
		spend(t, club, m, phone, 250, "spend-1")
		r := mustRefund(t, club, m, "S1", "SR1", 30000)
		if r.Member.Points != 0 || r.PointsReversed != 50 || r.Shortfall != 250 {
			t.Fatalf("refund after spending = %+v, want balance 0, 50 taken back, shortfall 250 on record", r)
		}
		page, err := club.Ledger(context.Background(), m, phone, 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		if top := page.Entries[0]; top.Source != ritual.SourceRefund || top.Delta != -50 || top.Shortfall != 250 || top.BalanceAfter != 0 {
			t.Fatalf("newest ledger entry = %+v, want the refund with its shortfall", top)
		}
		checkBalanced(t, db, m)
	})
}

func TestPointsExpireOldestFirst(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		club, m := newClub(t, db, clock)
		phone := randomPhone()
		start := clock.Now()
		mustOrder(t, club, m, order("E1", phone, 10000)) // lot A: 100, expires day 365
		clock.Set(start.AddDate(0, 0, 100))
		mustOrder(t, club, m, order("E2", phone, 10000)) // lot B: 100, expires day 465
		clock.Set(start.AddDate(0, 0, 110))
		spend(t, club, m, phone, 150, "spend-1")
		// Spending took lot A whole and 50 of B. Past A's expiry nothing is
		// lost; past B's the last 50 go.
		clock.Set(start.AddDate(0, 0, 366))
		mustOrder(t, club, m, order("E3", phone, 100)) // any change to the member settles expiry: +1
		if v := view(t, club, m, phone); v.Points != 51 {
			t.Fatalf("after lot A's expiry: %d points, want 51 (spending took the oldest first)", v.Points)
		}
		clock.Set(start.AddDate(0, 0, 466))
		if _, err := club.ReevaluateAllLevels(context.Background()); err != nil {
			t.Fatal(err)
		}
		mustOrder(t, club, m, order("E4", phone, 100))
		v := view(t, club, m, phone)
		if v.Points != 2 {
			t.Fatalf("after lot B's expiry: %d points, want 2", v.Points)
		}
		page, _ := club.Ledger(context.Background(), m, phone, 0, 10)
		expired := 0
		for _, e := range page.Entries {
			if e.Source == ritual.SourceExpiry {
				expired += int(-e.Delta)
			}
		}
		if expired != 50 {
			t.Fatalf("expiry entries total %d, want 50", expired)
		}
		checkBalanced(t, db, m)
	})
}

func TestLevels(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		club, m := newClub(t, db, clock)
		ctx := context.Background()
		phone := randomPhone()
		start := clock.Now()

		mustOrder(t, club, m, order("L1", phone, 20000))
		if got := mustOrder(t, club, m, order("L2", phone, 30000)).Member.Level.Key; got != "senior" {
			t.Fatalf("exactly at senior's thresholds (¥500, 2 orders): level %s", got)
		}
		mustRefund(t, club, m, "L2", "LR2", 1)
		if got := view(t, club, m, phone).Level.Key; got != "ordinary" {
			t.Fatalf("one fen under the threshold after a refund: level %s, want ordinary", got)
		}

		// Skipping: another buyer goes straight from ordinary to VIP.
		skipper := randomPhone()
		for i := 1; i <= 4; i++ {
			mustOrder(t, club, m, order(fmt.Sprintf("K%d", i), skipper, 100))
		}
		if got := view(t, club, m, skipper).Level.Key; got != "ordinary" {
			t.Fatalf("four small orders: level %s, want ordinary", got)
		}
		if got := mustOrder(t, club, m, order("K5", skipper, 300000)).Member.Level.Key; got != "vip" {
			t.Fatalf("after a big fifth order: level %s, want vip (skipping senior)", got)
		}

		// The period slides past the orders: the daily job lowers the levels.
		clock.Set(start.AddDate(0, 0, 366))
		if _, err := club.ReevaluateAllLevels(ctx); err != nil {
			t.Fatal(err)
		}
		if got := view(t, club, m, skipper).Level.Key; got != "ordinary" {
			t.Fatalf("a year on: level %s, want ordinary", got)
		}

		member, _ := db.Members().ByPhone(ctx, m.ID, skipper)
		history, err := db.Levels().ForMember(ctx, member.ID)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"vip→ordinary period", "ordinary→vip order:K5"}
		if len(history) != len(want) {
			t.Fatalf("history has %d changes, want %d", len(history), len(want))
		}
		for i, c := range history {
			if got := c.From + "→" + c.To + " " + c.Cause; got != want[i] {
				t.Errorf("history[%d] = %q, want %q", i, got, want[i])
			}
		}
		first, _ := db.Members().ByPhone(ctx, m.ID, phone)
		if h, _ := db.Levels().ForMember(ctx, first.ID); len(h) != 2 || h[0].Cause != "refund:LR2" || h[1].Cause != "order:L2" {
			t.Fatalf("first buyer's history = %+v, want the rise on L2 and the fall on refund LR2", h)
		}
	})
}

func TestConcurrentOrdersForOneMember(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		club, m := newClub(t, db, clock)
		phone := randomPhone()
		const n = 200
		var wg sync.WaitGroup
		errs := make(chan error, n+20)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _, err := club.RecordOrder(context.Background(), m, order(fmt.Sprintf("C%03d", i), phone, 1000+int64(i)))
				errs <- err
			}()
		}
		for range 20 { // and one order resent twenty times at once
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _, err := club.RecordOrder(context.Background(), m, order("C000", phone, 1000))
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		v := view(t, club, m, phone)
		var wantPoints int64
		for i := range n {
			wantPoints += (1000 + int64(i)) / 100
		}
		if v.Period.Orders != n || v.Points != wantPoints {
			t.Fatalf("%d orders, %d points; want %d orders, %d points", v.Period.Orders, v.Points, n, wantPoints)
		}
		checkBalanced(t, db, m)
	})
}

func TestOrderByOpenIDThenPhone(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		club, m := newClub(t, db, clock)
		phone := randomPhone()
		openid := ritualtest.RandomID("o")
		mustOrder(t, club, m, order("P1", phone, 5000))
		// The shop learns the buyer's openid: the phone's member gains it.
		a := mustOrder(t, club, m, ritual.OrderInput{OrderNo: "P2", OpenID: openid, Phone: phone, AmountFen: 5000})
		if a.Member.OpenID != openid || a.Member.Points != 100 || a.Member.Period.Orders != 2 {
			t.Fatalf("member = %+v, want the phone's member with the openid and both orders", a.Member)
		}
		if v := view(t, club, m, openid); v.Phone != phone {
			t.Fatalf("by openid: %+v", v)
		}
	})
}
