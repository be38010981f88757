package handlers

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// getCampaigns answers GET /api/v1/campaigns: each campaign job with its
// next run and last result (the member day's summary is in its detail).
func (s *Server) getCampaigns(c *gin.Context) {
	list, err := s.club.CampaignStatuses(c.Request.Context(), merchantOf(c))
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"campaigns": list})
}

// getCampaignReport answers GET /api/v1/campaigns/report?campaign=member_day:2026-12-08:
// what became of a campaign's messages, and why those not sent were not.
func (s *Server) getCampaignReport(c *gin.Context) {
	campaign := c.Query("campaign")
	lines, err := s.club.CampaignReport(c.Request.Context(), merchantOf(c), campaign)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"campaign": campaign, "lines": lines})
}
