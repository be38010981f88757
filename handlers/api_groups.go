package handlers

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/wxclub/wxclub/ritual"
)

type groupsView struct {
	Groups []ritual.GroupView `json:"groups"`
}

// getGroups answers GET /api/v1/groups: the merchant's groups, first seen
// first, with how many people spoke in each and how many are linked
// members.
func (s *Server) getGroups(c *gin.Context) {
	groups, err := s.club.ListGroups(c.Request.Context(), merchantOf(c))
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
func (s *Server) getGroupMembers(c *gin.Context) {
	members, err := s.club.GroupMembers(c.Request.Context(), merchantOf(c), c.Param("id"))
	if err != nil {
		writeError(c, err)
		return
	}
	if members == nil {
		members = []ritual.GroupMemberView{}
	}
	c.JSON(http.StatusOK, groupMembersView{Members: members})
}

// postTagSync returns the handler of POST /api/v1/tags/sync
// {"group_id"} or {"level"}: mirror the segment to a WeChat user tag
// through tagger (nil: 503). 409 when the account's 100 tags are used up.
func (s *Server) postTagSync(tagger ritual.Tagger) gin.HandlerFunc {
	return func(c *gin.Context) {
		var in ritual.TagSyncRequest
		if err := decodeJSON(c, &in); err != nil {
			writeError(c, err)
			return
		}
		report, err := s.club.SyncTag(c.Request.Context(), merchantOf(c), tagger, in)
		if err != nil {
			writeError(c, err)
			return
		}
		c.JSON(http.StatusOK, report)
	}
}
