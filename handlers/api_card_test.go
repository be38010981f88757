package handlers_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sync"
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
		// Asked without a window, the funnel covers the last 30 days in the
		// merchant's zone, today included: today's buyers are in it.
		cst := time.FixedZone("CST", 8*3600)
		now := clock.Now().In(cst)
		tomorrow := time.Date(now.Year(), now.Month(), now.Day()+1, 0, 0, 0, 0, cst)
		for _, query := range []string{"", "?from=" + day, "?to=" + day} {
			status, body := e.api("GET", "/api/v1/funnel"+query, e.apiKey)
			stages, _ := body["stages"].([]any)
			if status != 200 || len(stages) != 6 || stages[0].(map[string]any)["members"] != 2.0 {
				t.Fatalf("funnel%s: %d %v, want today's 2 recognized", query, status, body)
			}
			if query == "" && (body["from"] != tomorrow.AddDate(0, 0, -30).UTC().Format(time.RFC3339) || body["to"] != tomorrow.UTC().Format(time.RFC3339)) {
				t.Fatalf("funnel without from and to covers %v to %v, want the 30 days to the end of today in Shanghai (%v)", body["from"], body["to"], tomorrow)
			}
		}
		for _, bad := range []string{"?from=yesterday&to=" + day, "?from=" + day + "&to=2000-01-01", "?from=2999-01-01"} {
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
		if status, _ := e.getQRLink("claim:NOPE22", randomAddress()); status != 404 {
			t.Fatalf("QR link for an unknown code: %d, want 404", status)
		}
	})
}

// getQRLink asks for a QR link from the peer address remote, through the
// router itself, since the test server's peer is always loopback.
func (e *env) getQRLink(scene, remote string, header ...string) (int, string) {
	req := httptest.NewRequest("GET", "/qr/"+e.merchant.ID+"/"+scene, nil)
	req.RemoteAddr = remote
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	e.server.Config.Handler.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

// randomAddress is a peer address no other test run has used: the limits
// per address outlive a test in its database.
func randomAddress() string {
	return fmt.Sprintf("[2001:db8:%x:%x::1]:4000", rand.Uint32(), rand.Uint32())
}

func TestQRLinkIsNoOracle(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		e := newEnv(t, db, clock, ritual.ModePlaintext, 5*time.Minute)
		if r := e.postJSON("/api/v1/orders", e.apiKey, `{"order_no":"QO-1","phone":"13900001111","amount_fen":100}`); r.status != 201 {
			t.Fatalf("order: %d %s", r.status, r.body)
		}
		live, err := db.Members().ByPhone(context.Background(), e.merchant.ID, "13900001111")
		if err != nil || live.ClaimCode == "" {
			t.Fatalf("the buyer: %+v, %v", live, err)
		}
		dead := "ZZ22ZZ"
		if dead == live.ClaimCode {
			dead = "ZZ33ZZ"
		}
		liveStatus, liveBody := e.getQRLink("claim:"+live.ClaimCode, randomAddress())
		deadStatus, deadBody := e.getQRLink("claim:"+dead, randomAddress())
		if liveStatus != deadStatus || liveBody != deadBody || liveStatus != 404 {
			t.Fatalf("a live card code answers %d %s, a dead one %d %s: want the same 404", liveStatus, liveBody, deadStatus, deadBody)
		}

		// Per address: sixty an hour, also at once, and X-Forwarded-For
		// (anyone can write it) does not make a guesser many addresses.
		guesser := randomAddress()
		codes := make([]int, 70)
		var wg sync.WaitGroup
		for i := range codes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				codes[i], _ = e.getQRLink(fmt.Sprintf("claim:ZZ%d2ZZ", i%8+2), guesser, "X-Forwarded-For", fmt.Sprintf("198.51.100.%d", i))
			}()
		}
		wg.Wait()
		refused := 0
		for _, code := range codes {
			if code == http.StatusTooManyRequests {
				refused++
			} else if code != 404 {
				t.Fatalf("a guess got %d", code)
			}
		}
		if refused != 10 {
			t.Fatalf("%d of 70 guesses from one address refused, want 10 (sixty an hour)", refused)
		}

		// Per merchant: 2000 an hour from all addresses together (the two
		// above and the sixty let through count too).
		refused = 0
		for range 2000 - 62 + 5 {
			if status, _ := e.getQRLink("claim:"+dead, randomAddress()); status == http.StatusTooManyRequests {
				refused++
			}
		}
		if refused != 5 {
			t.Fatalf("%d requests past the merchant's 2000 refused, want 5", refused)
		}
		clock.Advance(time.Hour)
		if status, _ := e.getQRLink("claim:"+dead, randomAddress()); status != 404 {
			t.Fatalf("an hour later: %d, want 404", status)
		}
	})
}
