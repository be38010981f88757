package handlers

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/wxclub/wxclub/ritual"
)

// Settings is the merchant's configuration as the merchant edits it:
// sections of JSON, secrets masked when read, every change a new version.
type Settings interface {
	Settings(ctx context.Context, m *ritual.Merchant) (ritual.SettingsDoc, error)
	// Section returns one section and the current version.
	Section(ctx context.Context, m *ritual.Merchant, section string) (value json.RawMessage, version int, err error)
	// UpdateSettings replaces one section with body and stores a new
	// version by whom: bad input is EINVALID naming the field and changes
	// nothing; ifVersion, when not 0, must be the current version
	// (ECONFLICT otherwise).
	UpdateSettings(ctx context.Context, m *ritual.Merchant, section string, body []byte, by string, ifVersion int) (*ritual.SettingsVersion, error)
	// SettingsVersions lists the changes, newest first.
	SettingsVersions(ctx context.Context, m *ritual.Merchant, limit int) ([]ritual.SettingsVersion, error)
}

var _ Settings = (*ritual.Admin)(nil)

// settingsAPI answers /api/v1/settings.
type settingsAPI struct {
	settings Settings
}

// getSettings answers GET /api/v1/settings: every section, secrets masked,
// and the version.
func (h *settingsAPI) getSettings(c *gin.Context) {
	doc, err := h.settings.Settings(c.Request.Context(), merchantOf(c))
	if err != nil {
		writeError(c, err)
		return
	}
	c.Header("ETag", strconv.Quote(strconv.Itoa(doc.Version)))
	c.JSON(http.StatusOK, doc)
}

// getSettingsSection answers GET /api/v1/settings/:section.
func (h *settingsAPI) getSettingsSection(c *gin.Context) {
	value, version, err := h.settings.Section(c.Request.Context(), merchantOf(c), c.Param("section"))
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
func (h *settingsAPI) putSettingsSection(c *gin.Context) {
	body, err := readJSON(c.Request, maxAPIBody)
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
	v, err := h.settings.UpdateSettings(c.Request.Context(), merchantOf(c), c.Param("section"), body, "api", ifVersion)
	if err != nil {
		writeError(c, err)
		return
	}
	c.Header("ETag", strconv.Quote(strconv.Itoa(v.Version)))
	c.JSON(http.StatusOK, gin.H{"section": c.Param("section"), "version": v.Version})
}

// getSettingsVersions answers GET /api/v1/settings/versions?limit=: who
// changed what, when.
func (h *settingsAPI) getSettingsVersions(c *gin.Context) {
	limit, err := queryInt(c, "limit", 50)
	if err != nil {
		writeError(c, err)
		return
	}
	list, err := h.settings.SettingsVersions(c.Request.Context(), merchantOf(c), limit)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"versions": list})
}
