package console_test

import (
	"context"
	"html"
	"strings"
	"testing"
	"time"

	"github.com/wxclub/wxclub/models"
	"github.com/wxclub/wxclub/models/modelstest"
	"github.com/wxclub/wxclub/ritual"
	"github.com/wxclub/wxclub/ritual/ritualtest"
)

// TestCampaignsPageTellsTimeWithTheOffset: the campaigns page shows the
// next run and 上次结果 in the merchant's zone with its offset, and a slot
// run by hand ahead of its time is shown as such, with when it really ran.
func TestCampaignsPageTellsTimeWithTheOffset(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		e := newEnv(t, db, clock, nil)
		shanghai, _ := time.LoadLocation("Asia/Shanghai")
		clock.Set(time.Date(2026, 12, 2, 10, 0, 0, 0, shanghai))
		if _, err := e.club.UpdateSettings(ctx, e.m, "campaigns", []byte(`{"member_day":{"schedule":"0 9 8 * *","multiplier":2}}`), "test", 0); err != nil {
			t.Fatal(err)
		}
		var job ritual.CampaignJob
		jobs, err := e.club.CampaignJobs(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, j := range jobs {
			if j.Merchant == e.m.ID && j.Name == "member_day" {
				job = j
			}
		}
		b := e.browser()
		b.signIn("boss", "boss-password-123")
		notes := func() string {
			t.Helper()
			p := b.get("/console/campaigns")
			if p.status != 200 {
				t.Fatalf("campaigns page: %d", p.status)
			}
			return html.UnescapeString(p.body)
		}

		if ran, err := e.club.RunCampaign(ctx, job, time.Date(2026, 11, 8, 9, 0, 0, 0, shanghai), "test"); !ran || err != nil {
			t.Fatalf("November's member day: %v %v", ran, err)
		}
		page := notes()
		for _, want := range []string{"下次运行：2026-12-08 09:00 +08:00", "上次结果：2026-11-08 09:00 +08:00 成功 ok"} {
			if !strings.Contains(page, want) {
				t.Fatalf("campaigns page lacks %q:\n%s", want, page)
			}
		}
		if strings.Contains(page, "提前运行") {
			t.Fatal("a run late is shown as run ahead of time")
		}

		// December's slot, run by hand on purpose six days early.
		if ran, err := e.club.RunCampaign(ctx, job, time.Date(2026, 12, 8, 9, 0, 0, 0, shanghai), "by-hand"); !ran || err != nil {
			t.Fatalf("December's member day ahead of time: %v %v", ran, err)
		}
		if want := "上次结果：2026-12-08 09:00 +08:00 成功 ok（提前运行于 2026-12-02 10:00 +08:00）"; !strings.Contains(notes(), want) {
			t.Fatalf("campaigns page lacks %q:\n%s", want, notes())
		}
	})
}
