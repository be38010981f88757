package handlers

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/wxclub/wxclub/ritual"
)

// redemptionRequest is the body of POST /api/v1/members/:openid/redemptions.
type redemptionRequest struct {
	Reward       string `json:"reward"`        // the reward's key or name
	RedemptionNo string `json:"redemption_no"` // the shop's idempotency key
}

// postRedemption answers POST /api/v1/members/:openid/redemptions: 201 with
// the redemption (coupon, points spent, member); 200 with the same for a
// resend; 422 when the member cannot have it, saying why.
func (s *Server) postRedemption(c *gin.Context) {
	var in redemptionRequest
	if err := decodeJSON(c, &in); err != nil {
		writeError(c, err)
		return
	}
	r, isNew, err := s.club.Redeem(c.Request.Context(), merchantOf(c), c.Param("openid"), in.Reward, in.RedemptionNo)
	if err != nil {
		writeError(c, err)
		return
	}
	created(c, isNew, r)
}

type couponsView struct {
	Coupons []ritual.CouponView `json:"coupons"`
}

// getCoupons answers GET /api/v1/members/:openid/coupons, newest first.
func (s *Server) getCoupons(c *gin.Context) {
	m := merchantOf(c)
	coupons, err := s.club.Coupons(c.Request.Context(), m, c.Param("openid"))
	if err != nil {
		writeError(c, err)
		return
	}
	out := couponsView{Coupons: make([]ritual.CouponView, 0, len(coupons))}
	for _, cp := range coupons {
		out.Coupons = append(out.Coupons, m.CouponView(cp))
	}
	c.JSON(http.StatusOK, out)
}

// postCouponUse answers POST /api/v1/coupons/:code/use: 200 with the coupon
// now used; 404 for a code the merchant never issued, 409 if it was used
// before, 422 outside its window.
func (s *Server) postCouponUse(c *gin.Context) {
	m := merchantOf(c)
	cp, err := s.club.UseCoupon(c.Request.Context(), m, c.Param("code"))
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, m.CouponView(cp))
}
