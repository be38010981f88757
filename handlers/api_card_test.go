package handlers_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/wxclub/wxclub/models"
	"github.com/wxclub/wxclub/models/modelstest"
	"github.com/wxclub/wxclub/ritual"
	"github.com/wxclub/wxclub/ritual/ritualtest"
)

func TestFunnelAndReferralAPIs(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		e := newEnv(t, db, clock, ritual.ModePlaintext, 5*time.Minute)
		for _, no := range []string{"FA-1", "FA-2"} {
			if r := e.postJSON("/api/v1/orders", e.apiKey, `{"order_no":"`+no+`","phone":"1390000000`+no[3:]+`","amount_fen":100}`); r.status != 201 {
				t.Fatalf("order: %d %s", r.status, r.body)
			}
		}
		day := clock.Now().In(time.FixedZone("CST", 8*3600)).Format("2006-01-02")
		status, body := e.api("GET", "/api/v1/funnel?from="+day+"&to="+day, e.apiKey)
		stages, _ := body["stages"].([]any)
		if status != 200 || len(stages) != 6 {
			t.Fatalf("funnel: %d %v", status, body)
		}
		first := stages[0].(map[string]any)
		if first["stage"] != "recognized" || first["members"] != 2.0 || first["conversion_from_previous"] != nil {
			t.Fatalf("first stage = %v, want 2 recognized today", first)
		}
		for _, bad := range []string{"?from=" + day, "?from=yesterday&to=" + day, "?from=" + day + "&to=2000-01-01"} {
			if status, body := e.api("GET", "/api/v1/funnel"+bad, e.apiKey); status != 422 {
				t.Errorf("funnel%s: %d %v, want 422", bad, status, body)
			}
		}
		status, board := e.api("GET", "/api/v1/referrals/leaderboard?month=2026-11", e.apiKey)
		if status != 200 || board["month"] != "2026-11" {
			t.Fatalf("leaderboard: %d %v", status, board)
		}
		if status, _ := e.api("GET", "/api/v1/referrals/leaderboard?month=November", e.apiKey); status != 422 {
			t.Fatalf("leaderboard for a bad month: %d, want 422", status)
		}
	})
}

func TestCardAPIRefusals(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		e := newEnv(t, db, clock, ritual.ModePlaintext, 5*time.Minute)
		openid := ritualtest.RandomID("o")
		e.send(e.deliver(e.eventXML(openid, "subscribe", ""), false))
		if status, body := e.api("GET", "/api/v1/members/"+openid+"/card", e.apiKey); status != 422 {
			t.Fatalf("card of a follower who never ordered: %d %v, want 422", status, body)
		}
		_, other := e.seed(ritualtest.Merchant(ritual.ModePlaintext))
		if status, _ := e.api("GET", "/api/v1/members/"+openid+"/card", other); status != 404 {
			t.Fatalf("another merchant's member's card: %d, want 404", status)
		}
		resp, err := http.Get(e.server.URL + "/qr/" + e.merchant.ID + "/claim:NOPE22")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 404 {
			t.Fatalf("QR link for an unknown code: %d, want 404", resp.StatusCode)
		}
	})
}
