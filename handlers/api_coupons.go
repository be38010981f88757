package handlers

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/wxclub/wxclub/ritual"
)

// Rewards is what members spend points on: a reward redeemed becomes a
// coupon, which the shop marks used at checkout.
type Rewards interface {
	// Redeem buys a reward (by key or name) with the member's points and
	// issues its coupon: ENOTFOUND for an unknown reward, EINVALID (saying
	// why) when the member cannot have it. redemptionNo is the shop's
	// idempotency key: a repeat gets the first redemption and
	// created=false; the same number for another reward or member is
	// ECONFLICT.
	Redeem(ctx context.Context, m *ritual.Merchant, openidOrPhone, reward, redemptionNo string) (r *ritual.Redemption, created bool, err error)
	// Coupons returns the member's coupons, newest first.
	Coupons(ctx context.Context, m *ritual.Merchant, openidOrPhone string) ([]*ritual.Coupon, error)
	// UseCoupon marks the coupon with code used, once: ENOTFOUND for a code
	// the merchant never issued, ECONFLICT if used before, EINVALID outside
	// its window.
	UseCoupon(ctx context.Context, m *ritual.Merchant, code string) (*ritual.Coupon, error)
}

var _ Rewards = (*ritual.Shop)(nil)

// rewardsAPI answers redemptions and coupons under /api/v1.
type rewardsAPI struct {
	rewards Rewards
}

// redemptionRequest is the body of POST /api/v1/members/:openid/redemptions.
type redemptionRequest struct {
	Reward       string `json:"reward"`        // the reward's key or name
	RedemptionNo string `json:"redemption_no"` // the shop's idempotency key
}

// postRedemption answers POST /api/v1/members/:openid/redemptions: 201 with
// the redemption (coupon, points spent, member); 200 with the same for a
// resend; 422 when the member cannot have it, saying why.
func (h *rewardsAPI) postRedemption(c *gin.Context) {
	var in redemptionRequest
	if err := decodeJSON(c, &in); err != nil {
		writeError(c, err)
		return
	}
	r, isNew, err := h.rewards.Redeem(c.Request.Context(), merchantOf(c), c.Param("openid"), in.Reward, in.RedemptionNo)
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
func (h *rewardsAPI) getCoupons(c *gin.Context) {
	m := merchantOf(c)
	coupons, err := h.rewards.Coupons(c.Request.Context(), m, c.Param("openid"))
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
func (h *rewardsAPI) postCouponUse(c *gin.Context) {
	m := merchantOf(c)
	cp, err := h.rewards.UseCoupon(c.Request.Context(), m, c.Param("code"))
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, m.CouponView(cp))
}
