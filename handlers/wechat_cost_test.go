package handlers_test

import (
	"strings"
	"testing"
	"time"

	"github.com/wxclub/wxclub/models"
	"github.com/wxclub/wxclub/models/modelstest"
	"github.com/wxclub/wxclub/ritual"
	"github.com/wxclub/wxclub/ritual/ritualtest"
)

// TestWebhookStatementBudget sends a member fresh messages through the
// real webhook and counts what each request sends to the database, BEGIN
// and COMMIT included: a reply that changes nothing (帮助, 积分) costs at
// most 4 statements. Every round trip is latency a shopper waits for and
// CPU the service spends. The goal for a sign-in or a redemption is 8; the
// budgets below are what they cost now, most of it in the member change
// (expiry, level and ceremony settled, the member saved, the outbox).
func TestWebhookStatementBudget(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		clock.Set(couponStart)
		e := newEnv(t, db, clock, ritual.ModePlaintext, 5*time.Minute)
		openid := e.buyer(e.apiKey, 1000)
		e.open(e.send(e.deliver(e.eventXML(openid, "subscribe", ""), false)), false)
		cases := []struct {
			say, want string
			budget    uint64
		}{
			{"帮助", "你可以", 4},
			{"积分", "1000", 4},
			{"签到", "签到", 11},
			{"兑换 10元券", "10元券", 21},
			{"帮助", "你可以", 4}, // after points moved
			{"积分", "700", 4},
		}
		for i, tc := range cases {
			clock.Advance(time.Second)
			before := db.Statements()
			reply := e.open(e.send(e.deliver(e.textXML(openid, tc.say, clock.Now().UnixNano()+int64(i)), false)), false)
			got := db.Statements() - before
			if !strings.Contains(reply.Content, tc.want) {
				t.Fatalf("%s: reply %q lacks %q", tc.say, reply.Content, tc.want)
			}
			t.Logf("%s: %d statements", tc.say, got)
			if got > tc.budget {
				t.Errorf("%s cost %d statements, want at most %d", tc.say, got, tc.budget)
			}
		}
	})
}
