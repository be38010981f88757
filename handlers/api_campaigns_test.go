package handlers_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
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
		if job["job"] != "member_day" || job["next_run"] != "2026-12-08T09:00:00+08:00" || job["last_run"] != nil {
			t.Fatalf("member day = %v, want next run on the 8th at 09:00 Shanghai (+08:00), never run", job)
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

// TestCampaignLastRunInTheMerchantsZone: the last run's times carry the
// merchant's offset and its detail is a JSON object — the job's own
// report, or a plain-text detail of an older row wrapped in one.
func TestCampaignLastRunInTheMerchantsZone(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		clock.Set(time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC)) // each database starts on the same day
		e := newEnv(t, db, clock, ritual.ModePlaintext, 5*time.Minute)
		m := ritualtest.Merchant(ritual.ModePlaintext)
		m.Campaigns.MemberDay = &ritual.MemberDayJob{Schedule: ritual.Schedule{Spec: "0 9 8 * *"}, Multiplier: 2}
		_, key := e.seed(m)
		lastRun := func() map[string]any {
			t.Helper()
			status, body := e.api("GET", "/api/v1/campaigns", key)
			list, _ := body["campaigns"].([]any)
			if status != 200 || len(list) != 1 {
				t.Fatalf("campaigns: %d %v", status, body)
			}
			last, _ := list[0].(map[string]any)["last_run"].(map[string]any)
			return last
		}

		shanghai, _ := time.LoadLocation("Asia/Shanghai")
		for _, c := range []struct {
			detail string
			err    error
			want   map[string]any
		}{
			{"written before details were JSON", nil, map[string]any{"text": "written before details were JSON"}},
			{"", errors.New("merchant gone"), map[string]any{"error": "merchant gone"}},
		} {
			clock.Advance(time.Hour)
			slot := clock.Now().Truncate(time.Minute)
			if _, err := e.club.RunJob(ctx, m.ID+":member_day", slot, "test", func(context.Context) (string, error) { return c.detail, c.err }); (err != nil) != (c.err != nil) {
				t.Fatal(err)
			}
			last := lastRun()
			if detail, ok := last["detail"].(map[string]any); !ok || !reflect.DeepEqual(detail, c.want) {
				t.Fatalf("detail of a plain-text run = %#v, want the object %v", last["detail"], c.want)
			}
			if want := slot.In(shanghai).Format(time.RFC3339); last["slot"] != want {
				t.Fatalf("slot = %v, want %s", last["slot"], want)
			}
		}

		clock.Set(time.Date(2026, 12, 8, 9, 0, 20, 0, shanghai))
		jobs, err := e.club.CampaignJobs(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, job := range jobs {
			if job.Merchant == m.ID && job.Name == "member_day" {
				if ran, err := e.club.RunCampaign(ctx, job, clock.Now(), "test"); !ran || err != nil {
					t.Fatalf("member day: ran=%v %v", ran, err)
				}
			}
		}
		last := lastRun()
		if last["slot"] != "2026-12-08T09:00:00+08:00" || last["started_at"] != "2026-12-08T09:00:20+08:00" || last["finished_at"] != "2026-12-08T09:00:20+08:00" {
			t.Fatalf("last run = %v, want its times at 09:00 +08:00", last)
		}
		detail, ok := last["detail"].(map[string]any)
		if !ok || detail["campaign"] != "member_day:2026-12-08" {
			t.Fatalf("detail = %#v, want the member day's report as a JSON object", last["detail"])
		}
	})
}

func TestCeremoniesAPI(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		e := newEnv(t, db, clock, ritual.ModePlaintext, 5*time.Minute)
		m := ritualtest.Merchant(ritual.ModePlaintext)
		m.Membership.Levels[1].Ceremony = &ritual.CeremonyRule{Steps: []string{ritual.StepConfirm}, DeadlineDays: 7, OnDeadline: ritual.DeadlineWait}
		_, key := e.seed(m)
		for _, no := range []string{"CA1", "CA2"} {
			if r := e.postJSON("/api/v1/orders", key, `{"order_no":"`+no+`","phone":"13911112222","amount_fen":30000}`); r.status != 201 {
				t.Fatalf("order: %d %s", r.status, r.body)
			}
		}
		status, body := e.api("GET", "/api/v1/ceremonies?status=open", key)
		list, _ := body["ceremonies"].([]any)
		if status != 200 || len(list) != 1 {
			t.Fatalf("open ceremonies: %d %v", status, body)
		}
		cer := list[0].(map[string]any)
		if cer["to_level"] != "senior" || cer["phone"] != "13911112222" || cer["status"] != "open" {
			t.Fatalf("ceremony = %v", cer)
		}
		id := fmt.Sprint(int64(cer["id"].(float64)))
		if r := e.postJSON("/api/v1/ceremonies/"+id+"/grant", e.apiKey, ``); r.status != 404 {
			t.Fatalf("granting another merchant's ceremony: %d, want 404", r.status)
		}
		if r := e.postJSON("/api/v1/ceremonies/"+id+"/grant", key, ``); r.status != 200 || !strings.Contains(r.body, `"outcome":"by_hand"`) {
			t.Fatalf("grant: %d %s", r.status, r.body)
		}
		if r := e.postJSON("/api/v1/ceremonies/"+id+"/grant", key, ``); r.status != 409 {
			t.Fatalf("granting twice: %d, want 409", r.status)
		}
		if status, _ := e.api("GET", "/api/v1/ceremonies?status=sleeping", key); status != 422 {
			t.Fatalf("bad status filter: %d, want 422", status)
		}
		if _, v := e.api("GET", "/api/v1/members/13911112222", key); v["level"].(map[string]any)["key"] != "senior" {
			t.Fatalf("member after the grant = %v", v["level"])
		}
	})
}
