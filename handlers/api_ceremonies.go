package handlers

import (
	"context"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/wxclub/wxclub/ritual"
)

// Ceremonies are the steps a member takes into a new level, and the
// operator's hand that can waive them.
type Ceremonies interface {
	// Ceremonies lists the merchant's ceremonies in status ("" for all).
	Ceremonies(ctx context.Context, m *ritual.Merchant, status string, limit int) ([]ritual.CeremonyView, error)
	// GrantCeremony completes an open ceremony by hand: ENOTFOUND for
	// another merchant's, ECONFLICT for one no longer open.
	GrantCeremony(ctx context.Context, m *ritual.Merchant, id int64) (ritual.CeremonyView, error)
}

var _ Ceremonies = (*ritual.Upgrades)(nil)

// ceremoniesAPI answers /api/v1/ceremonies.
type ceremoniesAPI struct {
	ceremonies Ceremonies
}

// getCeremonies answers GET /api/v1/ceremonies?status=open|completed|closed&limit=.
func (h *ceremoniesAPI) getCeremonies(c *gin.Context) {
	limit, err := queryInt(c, "limit", 50)
	if err != nil {
		writeError(c, err)
		return
	}
	list, err := h.ceremonies.Ceremonies(c.Request.Context(), merchantOf(c), c.Query("status"), limit)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"ceremonies": list})
}

// postCeremonyGrant answers POST /api/v1/ceremonies/:id/grant: an operator
// grants the level and waives the remaining steps.
func (h *ceremoniesAPI) postCeremonyGrant(c *gin.Context) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		writeError(c, ritual.Errorf(ritual.ENOTFOUND, "no ceremony %q", c.Param("id")))
		return
	}
	view, err := h.ceremonies.GrantCeremony(c.Request.Context(), merchantOf(c), id)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, view)
}
