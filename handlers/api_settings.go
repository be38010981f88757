package handlers

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/wxclub/wxclub/ritual"
)

// getSettings answers GET /api/v1/settings: every section, secrets masked,
// and the version.
func (s *Server) getSettings(c *gin.Context) {
	doc, err := s.club.Settings(c.Request.Context(), merchantOf(c))
	if err != nil {
		writeError(c, err)
		return
	}
	c.Header("ETag", strconv.Quote(strconv.Itoa(doc.Version)))
	c.JSON(http.StatusOK, doc)
}

// getSettingsSection answers GET /api/v1/settings/:section.
func (s *Server) getSettingsSection(c *gin.Context) {
	value, version, err := s.club.Section(c.Request.Context(), merchantOf(c), c.Param("section"))
	if err != nil {
		writeError(c, err)
		return
	}
	c.Header("ETag", strconv.Quote(strconv.Itoa(version)))
	c.JSON(http.StatusOK, gin.H{"section": c.Param("section"), "version": version, "value": value})
}

// putSettingsSection answers PUT /api/v1/settings/:section with the
// section's new value as the body. If-Match (the version, as the ETag
// gave it) makes a lost update a 409.
func (s *Server) putSettingsSection(c *gin.Context) {
	body, err := readLimited(c.Request, maxAPIBody)
	if err != nil {
		writeError(c, err)
		return
	}
	ifVersion := 0
	if match := strings.Trim(c.GetHeader("If-Match"), `"`); match != "" {
		if ifVersion, err = strconv.Atoi(match); err != nil {
			writeError(c, ritual.FieldErrorf("If-Match", "must be a settings version as the ETag gives it"))
			return
		}
	}
	v, err := s.club.UpdateSettings(c.Request.Context(), merchantOf(c), c.Param("section"), body, "api", ifVersion)
	if err != nil {
		writeError(c, err)
		return
	}
	c.Header("ETag", strconv.Quote(strconv.Itoa(v.Version)))
	c.JSON(http.StatusOK, gin.H{"section": c.Param("section"), "version": v.Version})
}

// getSettingsVersions answers GET /api/v1/settings/versions?limit=: who
// changed what, when.
func (s *Server) getSettingsVersions(c *gin.Context) {
	limit, err := queryInt(c, "limit", 50)
	if err != nil {
		writeError(c, err)
		return
	}
	list, err := s.club.SettingsVersions(c.Request.Context(), merchantOf(c), limit)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"versions": list})
}
