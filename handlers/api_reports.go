package handlers

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/wxclub/wxclub/ritual"
)

// Reports tell the merchant how the club is doing: the card-activation
// funnel and the referrers.
type Reports interface {
	// Funnel reports the members recognized from an order in [from, to); a
	// zero to is the end of today in the merchant's zone, a zero from 30
	// days before to.
	Funnel(ctx context.Context, m *ritual.Merchant, from, to time.Time) (ritual.FunnelReport, error)
	// Referrals ranks referrers for month ("2006-01" in the merchant's time
	// zone, "" for the current one); another form is EINVALID.
	Referrals(ctx context.Context, m *ritual.Merchant, month string, limit int) (ritual.ReferralBoard, error)
}

var _ Reports = (*ritual.Reports)(nil)

// reportsAPI answers /api/v1/funnel and the referral board.
type reportsAPI struct {
	reports Reports
}

// getFunnel answers GET /api/v1/funnel?from=&to= (dates or RFC 3339
// times; dates are days in the merchant's time zone, to inclusive). Either
// may be left out: without both it is the last 30 days.
func (h *reportsAPI) getFunnel(c *gin.Context) {
	m := merchantOf(c)
	from, err := queryTime(c, "from", m.Location(), false)
	if err != nil {
		writeError(c, err)
		return
	}
	to, err := queryTime(c, "to", m.Location(), true)
	if err != nil {
		writeError(c, err)
		return
	}
	report, err := h.reports.Funnel(c.Request.Context(), m, from, to)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, report)
}

// queryTime reads a date ("2026-11-01", a day in loc; the day after for an
// inclusive end) or an RFC 3339 time; the zero time when it is not given.
func queryTime(c *gin.Context, name string, loc *time.Location, end bool) (time.Time, error) {
	raw := c.Query(name)
	if raw == "" {
		return time.Time{}, nil
	}
	if day, err := time.ParseInLocation("2006-01-02", raw, loc); err == nil {
		if end {
			day = day.AddDate(0, 0, 1)
		}
		return day, nil
	}
	t, err := time.Parse(time.RFC3339, raw)
	if err != nil {
		return time.Time{}, ritual.FieldErrorf(name, "must be a date (2026-11-01) or an RFC 3339 time, got %q", raw)
	}
	return t, nil
}

// getReferralBoard answers GET /api/v1/referrals/leaderboard?month=&limit=.
func (h *reportsAPI) getReferralBoard(c *gin.Context) {
	limit, err := queryInt(c, "limit", 20)
	if err != nil {
		writeError(c, err)
		return
	}
	board, err := h.reports.Referrals(c.Request.Context(), merchantOf(c), c.Query("month"), limit)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, board)
}
