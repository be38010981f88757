package handlers_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wxclub/wxclub/models"
	"github.com/wxclub/wxclub/models/modelstest"
	"github.com/wxclub/wxclub/ritual"
	"github.com/wxclub/wxclub/ritual/ritualtest"
)

func (e *env) postJSON(path, key, body string) response {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.server.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	return e.do(req)
}

func decode(t *testing.T, r response) map[string]any {
	t.Helper()
	var body map[string]any
	if err := json.Unmarshal([]byte(r.body), &body); err != nil {
		t.Fatalf("body is not JSON: %q", r.body)
	}
	return body
}

func TestPostOrder(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		e := newEnv(t, db, clock, ritual.ModePlaintext, 5*time.Minute)
		body := `{"order_no":"HO-1","phone":"13912345678","amount_fen":52000,"paid_at":"2026-11-24T09:30:00+08:00","channel":"taobao"}`
		first := e.postJSON("/api/v1/orders", e.apiKey, body)
		if first.status != 201 {
			t.Fatalf("new order: %d %s", first.status, first.body)
		}
		got := decode(t, first)
		member := got["member"].(map[string]any)
		level := member["level"].(map[string]any)
		if got["points_earned"] != 520.0 || member["state"] != "recognized" || member["points"] != 520.0 || level["nickname"] != "茶苗" {
			t.Fatalf("answer = %s", first.body)
		}
		if next := member["next_level"].(map[string]any); next["key"] != "senior" || next["amount_fen_needed"] != 0.0 || next["orders_needed"] != 1.0 {
			t.Fatalf("next_level = %v, want senior needing one more order", next)
		}
		if got["paid_at"] != "2026-11-24T01:30:00Z" {
			t.Fatalf("paid_at = %v, want the time the shop gave, in UTC", got["paid_at"])
		}

		again := e.postJSON("/api/v1/orders", e.apiKey, body)
		if again.status != 200 || again.body != first.body {
			t.Fatalf("resend: %d %s, want 200 and the first answer", again.status, again.body)
		}
		other := e.postJSON("/api/v1/orders", e.apiKey, strings.Replace(body, "52000", "52001", 1))
		if other.status != 409 || errorCode(decode(t, other)) != ritual.ECONFLICT {
			t.Fatalf("same order_no, other amount: %d %s, want 409", other.status, other.body)
		}
	})
}

func TestPostOrderBadInput(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		e := newEnv(t, db, clock, ritual.ModePlaintext, 5*time.Minute)
		cases := []struct {
			name, body string
			status     int
			field      string
		}{
			{"no openid or phone", `{"order_no":"B1","amount_fen":100}`, 422, "openid"},
			{"zero amount", `{"order_no":"B2","phone":"13912345678","amount_fen":0}`, 422, "amount_fen"},
			{"negative amount", `{"order_no":"B3","phone":"13912345678","amount_fen":-5}`, 422, "amount_fen"},
			{"amount as text", `{"order_no":"B4","phone":"13912345678","amount_fen":"100"}`, 422, "amount_fen"},
			{"fractional fen", `{"order_no":"B5","phone":"13912345678","amount_fen":10.5}`, 422, "amount_fen"},
			{"paid_at not a time", `{"order_no":"B6","phone":"13912345678","amount_fen":100,"paid_at":"yesterday"}`, 422, "paid_at"},
			{"unknown field", `{"order_no":"B7","phone":"13912345678","amount_fen":100,"coupon":"X"}`, 422, "coupon"},
			{"bad phone", `{"order_no":"B8","phone":"12345","amount_fen":100}`, 422, "phone"},
			{"no order_no", `{"phone":"13912345678","amount_fen":100}`, 422, "order_no"},
			{"not JSON", `{"order_no":`, 400, ""},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				r := e.postJSON("/api/v1/orders", e.apiKey, c.body)
				body := decode(t, r)
				errBody, _ := body["error"].(map[string]any)
				if r.status != c.status || (c.field != "" && errBody["field"] != c.field) || errBody["message"] == "" {
					t.Fatalf("%d %s, want %d naming %q", r.status, r.body, c.status, c.field)
				}
			})
		}
		// Nothing was stored: the shop's corrected order is new.
		if r := e.postJSON("/api/v1/orders", e.apiKey, `{"order_no":"B2","phone":"13912345678","amount_fen":100}`); r.status != 201 {
			t.Fatalf("corrected order: %d %s", r.status, r.body)
		}
	})
}

func TestRefundLedgerAndRights(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		e := newEnv(t, db, clock, ritual.ModePlaintext, 5*time.Minute)
		openid := ritualtest.RandomID("o")
		for i := 1; i <= 3; i++ {
			r := e.postJSON("/api/v1/orders", e.apiKey, fmt.Sprintf(`{"order_no":"RL-%d","openid":%q,"amount_fen":30000}`, i, openid))
			if r.status != 201 {
				t.Fatalf("order %d: %d %s", i, r.status, r.body)
			}
		}
		if status, body := e.api("GET", "/api/v1/members/"+openid+"/rights", e.apiKey); status != 200 || body["right"].(map[string]any)["kind"] != "discount" {
			t.Fatalf("rights of a senior: %d %v, want the 95%% discount", status, body)
		}

		refund := e.postJSON("/api/v1/orders/RL-3/refunds", e.apiKey, `{"refund_no":"RR-1","amount_fen":30000}`)
		if refund.status != 201 || decode(t, refund)["points_reversed"] != 300.0 {
			t.Fatalf("refund: %d %s", refund.status, refund.body)
		}
		if again := e.postJSON("/api/v1/orders/RL-3/refunds", e.apiKey, `{"refund_no":"RR-1","amount_fen":30000}`); again.status != 200 || again.body != refund.body {
			t.Fatalf("refund resend: %d %s", again.status, again.body)
		}
		if over := e.postJSON("/api/v1/orders/RL-2/refunds", e.apiKey, `{"refund_no":"RR-2","amount_fen":30001}`); over.status != 422 {
			t.Fatalf("refund over the amount: %d %s, want 422", over.status, over.body)
		}
		if none := e.postJSON("/api/v1/orders/NOPE/refunds", e.apiKey, `{"refund_no":"RR-3","amount_fen":1}`); none.status != 404 {
			t.Fatalf("refund of an unknown order: %d, want 404", none.status)
		}

		status, page := e.api("GET", "/api/v1/members/"+openid+"/ledger?limit=2", e.apiKey)
		entries := page["entries"].([]any)
		if status != 200 || len(entries) != 2 || entries[0].(map[string]any)["delta"] != -300.0 || page["next_before"] == nil {
			t.Fatalf("ledger page 1: %d %v", status, page)
		}
		before := int64(page["next_before"].(float64))
		_, page2 := e.api("GET", fmt.Sprintf("/api/v1/members/%s/ledger?limit=2&before=%d", openid, before), e.apiKey)
		rest := page2["entries"].([]any)
		if len(rest) != 2 || page2["next_before"] != nil {
			t.Fatalf("ledger page 2: %v, want the last 2 entries and no further page", page2)
		}

		_, otherKey := e.seed(ritualtest.Merchant(ritual.ModePlaintext))
		for _, path := range []string{"/api/v1/members/" + openid + "/ledger", "/api/v1/members/" + openid + "/rights"} {
			if status, _ := e.api("GET", path, otherKey); status != 404 {
				t.Errorf("%s with another merchant's key: %d, want 404", path, status)
			}
		}
		if r := e.postJSON("/api/v1/orders/RL-1/refunds", otherKey, `{"refund_no":"X","amount_fen":1}`); r.status != 404 {
			t.Errorf("refunding another merchant's order: %d, want 404", r.status)
		}
	})
}
