package handlers_test

import (
	"testing"
	"time"

	"github.com/wxclub/wxclub/models"
	"github.com/wxclub/wxclub/models/modelstest"
	"github.com/wxclub/wxclub/ritual"
	"github.com/wxclub/wxclub/ritual/ritualtest"
)

func TestCampaignAPIs(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		e := newEnv(t, db, clock, ritual.ModePlaintext, 5*time.Minute)
		m := ritualtest.Merchant(ritual.ModePlaintext)
		m.Campaigns.MemberDay = &ritual.MemberDayJob{Schedule: ritual.Schedule{Spec: "0 9 8 * *"}, Multiplier: 2}
		_, key := e.seed(m)

		status, body := e.api("GET", "/api/v1/campaigns", key)
		list, _ := body["campaigns"].([]any)
		if status != 200 || len(list) != 1 {
			t.Fatalf("campaigns: %d %v, want the member day", status, body)
		}
		job := list[0].(map[string]any)
		if job["job"] != "member_day" || job["next_run"] != "2026-12-08T01:00:00Z" || job["last_run"] != nil {
			t.Fatalf("member day = %v, want next run on the 8th at 09:00 Shanghai, never run", job)
		}
		if status, _ := e.api("GET", "/api/v1/campaigns/report", key); status != 422 {
			t.Fatalf("report without a campaign: %d, want 422", status)
		}
		status, body = e.api("GET", "/api/v1/campaigns/report?campaign=member_day:2026-12-08", key)
		if lines, _ := body["lines"].([]any); status != 200 || len(lines) != 0 {
			t.Fatalf("report of a campaign not run: %d %v", status, body)
		}
		if status, body := e.api("GET", "/api/v1/campaigns", e.apiKey); status != 200 || len(body["campaigns"].([]any)) != 0 {
			t.Fatalf("another merchant's campaigns: %d %v, want none", status, body)
		}
	})
}
