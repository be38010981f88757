package main

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/wxclub/wxclub/models"
)

// TestCampaignScheduleFollowsSettings changes the member day's schedule and
// then drops the birthday job through the settings, and checks this
// replica's cron after its reload: no restart.
func TestCampaignScheduleFollowsSettings(t *testing.T) {
	m := startMain(t, models.DriverSQLite)
	ctx := context.Background()
	merchant, err := m.Club.Merchant(ctx, m.Config.Merchants[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	id := merchant.ID
	before := m.schedule.campaigns[id+":member_day"]
	if before.id == 0 || m.schedule.campaigns[id+":birthday"].id == 0 {
		t.Fatalf("campaigns on cron at start: %v", m.schedule.campaigns)
	}

	next := merchant.Campaigns
	day := *next.MemberDay
	day.Spec = "0 10 15 * *"
	next.MemberDay, next.Birthday = &day, nil
	body, _ := json.Marshal(next)
	if _, err := m.Club.UpdateSettings(ctx, merchant, "campaigns", body, "test", 0); err != nil {
		t.Fatal(err)
	}
	if err := m.schedule.reloadCampaigns(ctx); err != nil {
		t.Fatal(err)
	}

	after := m.schedule.campaigns[id+":member_day"]
	if after.id == before.id || m.schedule.cron.Entry(before.id).Valid() {
		t.Fatalf("member day entry %v → %v: want the old one replaced", before, after)
	}
	shanghai, _ := time.LoadLocation("Asia/Shanghai")
	if at := m.schedule.cron.Entry(after.id).Schedule.Next(time.Now()).In(shanghai); at.Day() != 15 || at.Hour() != 10 {
		t.Errorf("member day next runs %v, want the 15th at 10:00 Shanghai time", at)
	}
	if _, ok := m.schedule.campaigns[id+":birthday"]; ok {
		t.Errorf("the birthday job is still on cron after it was removed: %v", m.schedule.campaigns)
	}
	fresh, _ := m.Club.Merchant(ctx, id)
	statuses, _ := m.Club.CampaignStatuses(ctx, fresh)
	for _, s := range statuses {
		if s.Job == "birthday" {
			t.Errorf("campaign statuses still list the birthday job: %+v", statuses)
		}
	}
}
