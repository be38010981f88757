package handlers

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/wxclub/wxclub/ritual"
)

// memberView is a member as the merchant API shows it.
type memberView struct {
	OpenID         string     `json:"openid"`
	State          string     `json:"state"`
	SubscribeScene string     `json:"subscribe_scene,omitempty"`
	FollowedAt     *time.Time `json:"followed_at"`
	UnfollowedAt   *time.Time `json:"unfollowed_at"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
}

func viewMember(m *ritual.Member) memberView {
	return memberView{
		OpenID: m.OpenID, State: string(m.State), SubscribeScene: m.SubscribeScene,
		FollowedAt: m.FollowedAt, UnfollowedAt: m.UnfollowedAt, CreatedAt: m.CreatedAt, UpdatedAt: m.UpdatedAt,
	}
}

// getMember answers GET /api/v1/members/:openid. A member of another
// merchant is simply not found: keys never learn about other merchants.
func (s *Server) getMember(c *gin.Context) {
	member, err := s.club.Member(c.Request.Context(), merchantOf(c), c.Param("openid"))
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, viewMember(member))
}
