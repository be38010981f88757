package handlers

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/wxclub/wxclub/ritual"
)

// Members is what the merchant API shows of a member, found by openid or
// mobile number; a member of another merchant is ENOTFOUND.
type Members interface {
	MemberView(ctx context.Context, m *ritual.Merchant, openidOrPhone string) (ritual.MemberView, error)
	// Rights returns the core right of the member's level.
	Rights(ctx context.Context, m *ritual.Merchant, openidOrPhone string) (ritual.RightView, error)
	// Ledger returns up to limit entries older than before (0: the newest).
	Ledger(ctx context.Context, m *ritual.Merchant, openidOrPhone string, before int64, limit int) (ritual.LedgerPage, error)
}

var _ Members = (*ritual.Reports)(nil)

// membersAPI answers /api/v1/members/:openid and its ledger and rights.
type membersAPI struct {
	members Members
}

// getMember answers GET /api/v1/members/:openid (an openid or a mobile
// number). A member of another merchant is simply not found: keys never
// learn about other merchants.
func (h *membersAPI) getMember(c *gin.Context) {
	view, err := h.members.MemberView(c.Request.Context(), merchantOf(c), c.Param("openid"))
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, view)
}

// getRights answers GET /api/v1/members/:openid/rights: what a shop applies
// at checkout.
func (h *membersAPI) getRights(c *gin.Context) {
	rights, err := h.members.Rights(c.Request.Context(), merchantOf(c), c.Param("openid"))
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, rights)
}

// entryView is a ledger entry as the API shows it.
type entryView struct {
	ID           int64      `json:"id"`
	Delta        int64      `json:"delta"`
	BalanceAfter int64      `json:"balance_after"`
	Shortfall    int64      `json:"shortfall,omitempty"`
	Reason       string     `json:"reason"`
	Source       string     `json:"source"`
	Reference    string     `json:"reference"`
	ExpiresAt    *time.Time `json:"expires_at,omitempty"`
	CreatedAt    time.Time  `json:"created_at"`
}

type ledgerView struct {
	Entries []entryView `json:"entries"`
	// NextBefore, when set, fetches the next (older) page as ?before=.
	NextBefore int64 `json:"next_before,omitempty"`
}

// getLedger answers GET /api/v1/members/:openid/ledger?limit=&before=,
// newest first.
func (h *membersAPI) getLedger(c *gin.Context) {
	limit, err := queryInt(c, "limit", 20)
	if err != nil {
		writeError(c, err)
		return
	}
	before, err := queryInt(c, "before", 0)
	if err != nil {
		writeError(c, err)
		return
	}
	page, err := h.members.Ledger(c.Request.Context(), merchantOf(c), c.Param("openid"), int64(before), limit)
	if err != nil {
		writeError(c, err)
		return
	}
	out := ledgerView{Entries: make([]entryView, 0, len(page.Entries)), NextBefore: page.Before}
	for _, e := range page.Entries {
		out.Entries = append(out.Entries, entryView{
			ID: e.ID, Delta: e.Delta, BalanceAfter: e.BalanceAfter, Shortfall: e.Shortfall, Reason: e.Reason,
			Source: e.Source, Reference: e.Reference, ExpiresAt: e.ExpiresAt, CreatedAt: e.CreatedAt,
		})
	}
	c.JSON(http.StatusOK, out)
}

func queryInt(c *gin.Context, name string, def int) (int, error) {
	raw := c.Query(name)
	if raw == "" {
		return def, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 0 {
		return 0, ritual.FieldErrorf(name, "must be a whole number, got %q", raw)
	}
	return n, nil
}
