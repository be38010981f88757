package handlers

import (
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/wxclub/wxclub/ritual"
)

// getCeremonies answers GET /api/v1/ceremonies?status=open|completed|closed&limit=.
func (s *Server) getCeremonies(c *gin.Context) {
	limit, err := queryInt(c, "limit", 50)
	if err != nil {
		writeError(c, err)
		return
	}
	list, err := s.club.Ceremonies(c.Request.Context(), merchantOf(c), c.Query("status"), limit)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"ceremonies": list})
}

// postCeremonyGrant answers POST /api/v1/ceremonies/:id/grant: an operator
// grants the level and waives the remaining steps.
func (s *Server) postCeremonyGrant(c *gin.Context) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		writeError(c, ritual.Errorf(ritual.ENOTFOUND, "no ceremony %q", c.Param("id")))
		return
	}
	view, err := s.club.GrantCeremony(c.Request.Context(), merchantOf(c), id)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, view)
}
