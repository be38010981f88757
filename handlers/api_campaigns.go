package handlers

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/wxclub/wxclub/ritual"
)

// Campaigns tell what became of each campaign.
type Campaigns interface {
	// CampaignStatuses lists the campaign jobs with their next slot and
	// last run.
	CampaignStatuses(ctx context.Context, m *ritual.Merchant) ([]ritual.CampaignStatus, error)
	// CampaignReport tells how many of a campaign's messages were sent,
	// are waiting or failed, and why.
	CampaignReport(ctx context.Context, m *ritual.Merchant, campaign string) ([]ritual.ReportLine, error)
}

var _ Campaigns = (*ritual.Calendar)(nil)

// campaignsAPI answers /api/v1/campaigns and their reports.
type campaignsAPI struct {
	campaigns Campaigns
}

// getCampaigns answers GET /api/v1/campaigns: each campaign job with its
// next run and last result (the member day's summary is in its detail, a
// JSON object). Times are RFC 3339 with the merchant's offset.
func (h *campaignsAPI) getCampaigns(c *gin.Context) {
	m := merchantOf(c)
	list, err := h.campaigns.CampaignStatuses(c.Request.Context(), m)
	if err != nil {
		writeError(c, err)
		return
	}
	loc := m.Location()
	for i, st := range list {
		list[i].NextRun = st.NextRun.In(loc)
		if st.LastRun != nil {
			last := st.LastRun.In(loc)
			list[i].LastRun = &last
		}
	}
	c.JSON(http.StatusOK, gin.H{"campaigns": list})
}

// getCampaignReport answers GET /api/v1/campaigns/report?campaign=member_day:2026-12-08:
// what became of a campaign's messages, and why those not sent were not.
func (h *campaignsAPI) getCampaignReport(c *gin.Context) {
	campaign := c.Query("campaign")
	lines, err := h.campaigns.CampaignReport(c.Request.Context(), merchantOf(c), campaign)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"campaign": campaign, "lines": lines})
}
