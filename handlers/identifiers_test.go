package handlers_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/wxclub/wxclub/models"
	"github.com/wxclub/wxclub/models/modelstest"
	"github.com/wxclub/wxclub/ritual"
	"github.com/wxclub/wxclub/ritual/ritualtest"
)

// TestIdentifiersCompareExactly: openids, order numbers and refund numbers
// that differ only in case, by a trailing space or by an accent name
// different things on both databases. WeChat openids are case-sensitive: a
// case-insensitive match would credit one shopper's order to another.
func TestIdentifiersCompareExactly(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		e := newEnv(t, db, clock, ritual.ModePlaintext, 5*time.Minute)
		base := "oCaseSensitive" + ritualtest.RandomID("")
		pairs := []struct{ name, a, b string }{
			{"case", base + "a", strings.ToUpper(base + "a")},
			{"trailing space", base + "b", base + "b "},
			{"accent", base + "e", base + "é"},
		}
		for i, p := range pairs {
			t.Run("openid differing by "+p.name, func(t *testing.T) {
				first := e.postJSON("/api/v1/orders", e.apiKey, fmt.Sprintf(`{"order_no":"ID-%d-A","openid":%q,"amount_fen":10000}`, i, p.a))
				second := e.postJSON("/api/v1/orders", e.apiKey, fmt.Sprintf(`{"order_no":"ID-%d-B","openid":%q,"amount_fen":20000}`, i, p.b))
				if first.status != 201 || second.status != 201 {
					t.Fatalf("orders: %d %s / %d %s", first.status, first.body, second.status, second.body)
				}
				if got := decode(t, second)["member"].(map[string]any)["points"]; got != 200.0 {
					t.Fatalf("%q has %v points, want 200: its order was credited to %q", p.b, got, p.a)
				}
			})
		}

		t.Run("openid differing by case, from WeChat", func(t *testing.T) {
			lower := "oFollower" + ritualtest.RandomID("")
			upper := strings.ToUpper(lower)
			for _, openid := range []string{lower, upper} {
				e.open(e.send(e.deliver(e.eventXML(openid, "subscribe", ""), false)), false)
			}
			a, errA := e.db.Members().ByOpenID(t.Context(), e.merchant.ID, lower)
			b, errB := e.db.Members().ByOpenID(t.Context(), e.merchant.ID, upper)
			if errA != nil || errB != nil {
				t.Fatalf("find the followers: %v, %v", errA, errB)
			}
			if a.ID == b.ID || a.OpenID != lower || b.OpenID != upper {
				t.Fatalf("%s → member %d %q, %s → member %d %q; want two members", lower, a.ID, a.OpenID, upper, b.ID, b.OpenID)
			}
		})

		t.Run("order and refund numbers differing by case", func(t *testing.T) {
			openid := ritualtest.RandomID("o")
			body := `{"order_no":%q,"openid":%q,"amount_fen":10000}`
			if r := e.postJSON("/api/v1/orders", e.apiKey, fmt.Sprintf(body, "Case-Order", openid)); r.status != 201 {
				t.Fatalf("order Case-Order: %d %s", r.status, r.body)
			}
			r := e.postJSON("/api/v1/orders", e.apiKey, fmt.Sprintf(body, "CASE-ORDER", openid))
			if r.status != 201 || decode(t, r)["member"].(map[string]any)["points"] != 200.0 {
				t.Fatalf("order CASE-ORDER: %d %s, want a second order (201, 200 points in all)", r.status, r.body)
			}
			for _, no := range []string{"Case-Refund", "CASE-REFUND"} {
				if r := e.postJSON("/api/v1/orders/Case-Order/refunds", e.apiKey, fmt.Sprintf(`{"refund_no":%q,"amount_fen":1000}`, no)); r.status != 201 {
					t.Fatalf("refund %s: %d %s, want a refund of its own", no, r.status, r.body)
				}
			}
			if r := e.postJSON("/api/v1/orders/case-order/refunds", e.apiKey, `{"refund_no":"R-X","amount_fen":1}`); r.status != 404 {
				t.Fatalf("refund of case-order: %d %s, want 404: no order has that number", r.status, r.body)
			}
		})
	})
}
