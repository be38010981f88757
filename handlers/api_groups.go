package handlers

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/wxclub/wxclub/ritual"
)

// Groups is the merchant's WeChat groups as the bridge saw them.
type Groups interface {
	ListGroups(ctx context.Context, m *ritual.Merchant) ([]ritual.GroupView, error)
	// GroupMembers returns everyone seen in the group; ENOTFOUND for a group
	// the merchant does not have.
	GroupMembers(ctx context.Context, m *ritual.Merchant, groupID string) ([]ritual.GroupMemberView, error)
}

var _ Groups = (*ritual.Reports)(nil)

// Tags mirror segments of members to WeChat user tags.
type Tags interface {
	// SyncTag mirrors a group or a level to a WeChat user tag through
	// tagger: ECONFLICT with the account's 100 tags used up, EUNAVAILABLE
	// without a tagger or when WeChat does not answer.
	SyncTag(ctx context.Context, m *ritual.Merchant, tagger ritual.Tagger, req ritual.TagSyncRequest) (*ritual.TagSyncReport, error)
}

var _ Tags = (*ritual.Tags)(nil)

// groupsAPI answers /api/v1/groups.
type groupsAPI struct {
	groups Groups
}

// tagsAPI answers /api/v1/tags/sync.
type tagsAPI struct {
	tags   Tags
	tagger ritual.Tagger // nil: tag sync answers 503
}

type groupsView struct {
	Groups []ritual.GroupView `json:"groups"`
}

// getGroups answers GET /api/v1/groups: the merchant's groups, first seen
// first, with how many people spoke in each and how many are linked
// members.
func (h *groupsAPI) getGroups(c *gin.Context) {
	groups, err := h.groups.ListGroups(c.Request.Context(), merchantOf(c))
	if err != nil {
		writeError(c, err)
		return
	}
	if groups == nil {
		groups = []ritual.GroupView{}
	}
	c.JSON(http.StatusOK, groupsView{Groups: groups})
}

type groupMembersView struct {
	Members []ritual.GroupMemberView `json:"members"`
}

// getGroupMembers answers GET /api/v1/groups/:id/members: everyone seen in
// the group, with the member each is linked to. Another merchant's group
// is 404.
func (h *groupsAPI) getGroupMembers(c *gin.Context) {
	members, err := h.groups.GroupMembers(c.Request.Context(), merchantOf(c), c.Param("id"))
	if err != nil {
		writeError(c, err)
		return
	}
	if members == nil {
		members = []ritual.GroupMemberView{}
	}
	c.JSON(http.StatusOK, groupMembersView{Members: members})
}

// postTagSync answers POST /api/v1/tags/sync {"group_id"} or {"level"}:
// mirror the segment to a WeChat user tag through the tagger (none: 503).
// 409 when the account's 100 tags are used up.
func (h *tagsAPI) postTagSync(c *gin.Context) {
	var in ritual.TagSyncRequest
	if err := decodeJSON(c, &in); err != nil {
		writeError(c, err)
		return
	}
	report, err := h.tags.SyncTag(c.Request.Context(), merchantOf(c), h.tagger, in)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, report)
}
