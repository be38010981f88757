package ritual

import (
	"context"
	"time"
)

// Coupon sources.
const (
	CouponFromRedemption = "redemption" // bought with points; reference: the redemption number
	CouponFromGift       = "gift"       // part of the new-member gift pack; reference: "activation:<member id>"
	CouponFromCeremony   = "ceremony"   // a level's entry reward; reference: "<level change id>:<level key>"
	CouponFromCampaign   = "campaign"   // member day, birthday; reference: "<campaign>:<member id>"
)

// Coupon is a coupon issued to a member: what it buys and when it can be
// used, stated plainly.
type Coupon struct {
	ID         int64
	MerchantID string
	MemberID   int64
	Code       string // what the shop scans or types at checkout
	RewardKey  string
	Source     string
	Reference  string
	IssuedAt   time.Time
	ValidFrom  time.Time
	ValidUntil time.Time
	UsedAt     *time.Time
}

// Coupons stores coupons and what is left of each reward's stock.
type Coupons interface {
	// TakeStock takes one from the reward's remaining stock, starting it at
	// initial the first time, and reports false when none is left. Atomic:
	// concurrent takers never take more than there is.
	TakeStock(ctx context.Context, merchantID, rewardKey string, initial int64) (bool, error)
	// Remaining returns the reward's remaining stock (initial if untouched).
	Remaining(ctx context.Context, merchantID, rewardKey string, initial int64) (int64, error)
	// Issue stores c and sets its ID; ECONFLICT if the merchant issued a
	// coupon for (source, reference, reward) before.
	Issue(ctx context.Context, c *Coupon) error
	// CountForMember counts the member's coupons of a reward.
	CountForMember(ctx context.Context, memberID int64, rewardKey string) (int, error)
	// ByCode returns ENOTFOUND for an unknown code; locked in a transaction.
	ByCode(ctx context.Context, merchantID, code string) (*Coupon, error)
	// ByReference returns the coupons issued for (source, reference).
	ByReference(ctx context.Context, merchantID, source, reference string) ([]*Coupon, error)
	// MarkUsed records c.UsedAt.
	MarkUsed(ctx context.Context, c *Coupon) error
	// ForMember returns the member's coupons, newest first.
	ForMember(ctx context.Context, memberID int64) ([]*Coupon, error)
	// IssueMany stores coupons in one statement, skipping those whose
	// (source, reference, reward) exists, and returns how many it added.
	IssueMany(ctx context.Context, cs []*Coupon) (int64, error)
}
