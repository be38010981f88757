package console

import (
	"net/http"

	"github.com/wxclub/wxclub/ritual"
)

// homePage is the overview the console opens on: the settings version,
// open ceremonies, failed messages, campaign runs, latest changes and the
// levels.
type homePage struct {
	*renderer
	settings     Settings
	ceremonies   Ceremonies
	reports      Reports
	campaigns    Campaigns
	previewReady bool // a Shopper drives the phone preview
}

type homeData struct {
	Version        int
	OpenCeremonies int
	Failures       int
	Campaigns      []ritual.CampaignStatus
	LatestVersions []ritual.SettingsVersion
	PreviewReady   bool
	Levels         []ritual.Level
}

func (p homePage) serve(q *request) {
	ctx := q.r.Context()
	_, version, err := p.settings.Section(ctx, q.m, "profile")
	if err != nil {
		p.fail(q, err)
		return
	}
	d := homeData{Version: version, PreviewReady: p.previewReady, Levels: q.m.Membership.Levels}
	open, err := p.ceremonies.Ceremonies(ctx, q.m, ritual.CeremonyOpen, 500)
	if err != nil {
		p.fail(q, err)
		return
	}
	failed, err := p.reports.OutboxFailures(ctx, q.m, 500)
	if err != nil {
		p.fail(q, err)
		return
	}
	d.OpenCeremonies, d.Failures = len(open), len(failed)
	if d.Campaigns, err = p.campaigns.CampaignStatuses(ctx, q.m); err != nil {
		p.fail(q, err)
		return
	}
	if d.LatestVersions, err = p.settings.SettingsVersions(ctx, q.m, 5); err != nil {
		p.fail(q, err)
		return
	}
	p.render(q.w, q.r, http.StatusOK, "home", q.view("概览", "home", d))
}
