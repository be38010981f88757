package handlers

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/wxclub/wxclub/ritual"
)

// getCard answers GET /api/v1/members/:openid/card?permanent=true: what
// the merchant prints on the membership card or sends the buyer.
func (s *Server) getCard(c *gin.Context) {
	permanent, _ := strconv.ParseBool(c.Query("permanent"))
	card, err := s.club.Card(c.Request.Context(), merchantOf(c), c.Param("openid"), permanent)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, card)
}

// getFunnel answers GET /api/v1/funnel?from=&to= (dates or RFC 3339
// times; dates are days in the merchant's time zone, to inclusive).
func (s *Server) getFunnel(c *gin.Context) {
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
	report, err := s.club.Funnel(c.Request.Context(), m, from, to)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, report)
}

// queryTime reads a date ("2026-11-01", a day in loc; the day after for an
// inclusive end) or an RFC 3339 time.
func queryTime(c *gin.Context, name string, loc *time.Location, end bool) (time.Time, error) {
	raw := c.Query(name)
	if raw == "" {
		return time.Time{}, ritual.FieldErrorf(name, "is required")
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
func (s *Server) getReferralBoard(c *gin.Context) {
	limit, err := queryInt(c, "limit", 20)
	if err != nil {
		writeError(c, err)
		return
	}
	board, err := s.club.Referrals(c.Request.Context(), merchantOf(c), c.Query("month"), limit)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, board)
}

// getQR answers GET /qr/:merchant/:scene, the link a member gets in chat
// for their card or invitation code: a redirect to WeChat's QR image.
func (s *Server) getQR(c *gin.Context) {
	url, err := s.club.QRImage(c.Request.Context(), c.Param("merchant"), c.Param("scene"))
	if err != nil {
		writeError(c, err)
		return
	}
	c.Redirect(http.StatusFound, url)
}
