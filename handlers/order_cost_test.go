package handlers_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/wxclub/wxclub/models"
	"github.com/wxclub/wxclub/models/modelstest"
	"github.com/wxclub/wxclub/ritual"
	"github.com/wxclub/wxclub/ritual/ritualtest"
)

// Issue 12: a new order — points, level evaluation and the outbox row —
// costs at most 8 statements, BEGIN and COMMIT included, and costs the same
// for a member with ten thousand past orders as for one with none.

// maxOrderStatements is the most a new order may send inside its
// transaction; BEGIN and COMMIT make it 8.
const maxOrderStatements = 6

// transactionStatements is what a transaction costs by itself on db: BEGIN
// and COMMIT, and on MySQL a SET TRANSACTION as long as the isolation level
// is set per transaction rather than on the connection.
func transactionStatements(t *testing.T, db *models.DB) uint64 {
	t.Helper()
	before := db.Statements()
	if err := db.Atomic(context.Background(), func(ritual.Repos) error { return nil }); err != nil {
		t.Fatal(err)
	}
	return db.Statements() - before
}

// follower makes openid a member who follows the account, so their points
// messages are pending (and could merge) rather than waiting for a follow.
func (e *env) follower(openid string) {
	e.t.Helper()
	if r := e.send(e.deliver(e.eventXML(openid, "subscribe", ""), false)); r.status != 200 {
		e.t.Fatalf("subscribe: %d %s", r.status, r.body)
	}
}

// orderCost posts a new order and returns the statements it sent.
func (e *env) orderCost(openid, orderNo string, amountFen int64) (uint64, map[string]any) {
	e.t.Helper()
	before := e.db.Statements()
	r := e.postJSON("/api/v1/orders", e.apiKey, fmt.Sprintf(`{"order_no":%q,"openid":%q,"amount_fen":%d}`, orderNo, openid, amountFen))
	cost := e.db.Statements() - before
	if r.status != 201 {
		e.t.Fatalf("order %s: %d %s", orderNo, r.status, r.body)
	}
	return cost, decode(e.t, r)
}

func TestNewOrderCostsAtMostEightStatements(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		e := newEnv(t, db, clock, ritual.ModePlaintext, 5*time.Minute)
		tx := transactionStatements(t, db)
		shopper := ritualtest.RandomID("o")
		e.follower(shopper)
		// The first order makes them a member of the lowest level and
		// looks up the merchant's API key, which is then cached for the
		// merchant TTL (10 s): the orders after it are what an order
		// costs while the shop keeps sending.
		e.orderCost(shopper, ritualtest.RandomID("C"), 1000)
		for i, amount := range []int64{12000, 8000, 3000} {
			clock.Advance(3100 * time.Millisecond) // past the 3 s merge delay, within the 10 s merchant TTL: each order's message stands alone
			cost, answer := e.orderCost(shopper, ritualtest.RandomID("C"), amount)
			member := answer["member"].(map[string]any)
			if answer["points_earned"] != float64(amount/100) || member["period"].(map[string]any)["orders"] != float64(i+2) ||
				member["level"].(map[string]any)["key"] != "ordinary" {
				t.Fatalf("order %d answered %v", i+1, answer)
			}
			if cost-tx > maxOrderStatements {
				t.Errorf("order %d sent %d statements: %d besides the transaction's own %d, want at most %d (8 with BEGIN and COMMIT)",
					i+1, cost, cost-tx, tx, maxOrderStatements)
			}
		}
		if got := outboxRows(t, db, shopper, e.merchant.ID); got != 4 {
			t.Fatalf("%d points messages queued, want one an order", got)
		}
	})
}

func TestOrderCostDoesNotGrowWithPastOrders(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		e := newEnv(t, db, clock, ritual.ModePlaintext, 5*time.Minute)
		fresh, loyal := ritualtest.RandomID("o"), ritualtest.RandomID("o")
		for _, openid := range []string{fresh, loyal} {
			e.follower(openid)
			e.orderCost(openid, ritualtest.RandomID("F"), 5000)
		}
		pastOrders(t, db, e.merchant.ID, loyal, 10000, clock.Now().AddDate(-2, 0, 0))
		clock.Advance(4 * time.Second)
		want, _ := e.orderCost(fresh, ritualtest.RandomID("N"), 5000)
		got, answer := e.orderCost(loyal, ritualtest.RandomID("N"), 5000)
		if got != want {
			t.Errorf("a new order cost %d statements for a member with 10,000 past orders, %d for one with one", got, want)
		}
		if db.Driver() == models.DriverMySQL {
			// Equal statements could still scan the history: count the
			// rows the server reads for one order, on the one connection
			// the pool keeps, whose session counters see nothing else.
			db.SQL().SetMaxOpenConns(1)
			before := rowsRead(t, db)
			e.orderCost(loyal, ritualtest.RandomID("N"), 100)
			if reads := rowsRead(t, db) - before; reads > 1000 {
				t.Errorf("a new order read %d rows for a member with 10,000 past orders, want a bounded few", reads)
			}
		}
		// The orders before the period do not count towards the level.
		if period := answer["member"].(map[string]any)["period"].(map[string]any); period["orders"] != 2.0 || period["amount_fen"] != 10000.0 {
			t.Fatalf("period = %v, want the 2 orders of this year", period)
		}
	})
}

// pastOrders stores n orders of openid paid at paid, in bulk.
func pastOrders(t *testing.T, db *models.DB, merchantID, openid string, n int, paid time.Time) {
	t.Helper()
	ctx := context.Background()
	member, err := db.Members().ByOpenID(ctx, merchantID, openid)
	if err != nil {
		t.Fatal(err)
	}
	const batch = 500
	for start := 0; start < n; start += batch {
		var rows []string
		var args []any
		for i := start; i < min(n, start+batch); i++ {
			rows = append(rows, "(?, ?, ?, 1000, 0, ?, '', 10, 0, '', '', ?)")
			args = append(args, merchantID, fmt.Sprintf("PAST-%d-%d", member.ID, i), member.ID, paid.UTC(), paid.UTC())
		}
		err := db.Exec(ctx, "INSERT INTO orders (merchant_id, order_no, member_id, amount_fen, refunded_fen, paid_at, channel, points_earned, points_reversed, request_hash, answer, created_at) VALUES "+
			strings.Join(rows, ","), args...)
		if err != nil {
			t.Fatal(err)
		}
	}
}

// outboxRows counts the points messages queued for openid.
func outboxRows(t *testing.T, db *models.DB, openid, merchantID string) int {
	t.Helper()
	ctx := context.Background()
	member, err := db.Members().ByOpenID(ctx, merchantID, openid)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	err = db.SQL().QueryRowContext(ctx, "SELECT COUNT(*) FROM outbox WHERE member_id = ? AND purpose = ? AND status = ?",
		member.ID, ritual.PurposePointsChanged, ritual.OutboxPending).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// rowsRead is how many rows the MySQL session of the pool's one connection
// has read.
func rowsRead(t *testing.T, db *models.DB) uint64 {
	t.Helper()
	rows, err := db.SQL().QueryContext(context.Background(), "SHOW SESSION STATUS LIKE 'Handler_read%'")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var total uint64
	for rows.Next() {
		var name string
		var n uint64
		if err := rows.Scan(&name, &n); err != nil {
			t.Fatal(err)
		}
		total += n
	}
	return total
}

// The merchant's API key is cached, so an order costs no lookup of it; a
// key revoked on another replica (or by hand in the database) stops
// working here within the merchant TTL, 10 seconds.
func TestRevokedAPIKeyStopsWithinTheMerchantTTL(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		e := newEnv(t, db, clock, ritual.ModePlaintext, 5*time.Minute)
		order := func() int {
			body := fmt.Sprintf(`{"order_no":%q,"openid":"oRevoked","amount_fen":100}`, ritualtest.RandomID("R"))
			return e.postJSON("/api/v1/orders", e.apiKey, body).status
		}
		if got := order(); got != 201 {
			t.Fatalf("order: %d", got)
		}
		if err := db.Exec(context.Background(), "UPDATE merchants SET api_key_hash = ? WHERE id = ?", ritual.HashAPIKey("another-key"), e.merchant.ID); err != nil {
			t.Fatal(err)
		}
		clock.Advance(5 * time.Second)
		if got := order(); got != 201 {
			t.Fatalf("within the TTL the cached key still works: got %d", got)
		}
		clock.Advance(6 * time.Second)
		if got := order(); got != 401 {
			t.Fatalf("11 s after the key was revoked an order answered %d, want 401", got)
		}
	})
}
