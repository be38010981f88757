package ritual

import (
	"fmt"
	"regexp"
)

// Activation methods: the one small deliberate act that turns a bound
// member into an activated one.
const (
	ActivatePhoneLast4 = "phone_last4" // reply with the last 4 digits of the order phone
	ActivateBirthday   = "birthday"    // tell us your birthday
	ActivateMemberCard = "member_card" // fill in WeChat's own member card
)

// Activation is how a member activates and what they get for it.
type Activation struct {
	Method string `json:"method"`
	// CardID is the WeChat member card, for method member_card.
	CardID string `json:"card_id,omitempty"`
	Gift   Gift   `json:"gift"`
}

// Gift is the new-member gift pack, granted once on activation.
type Gift struct {
	Points  int64    `json:"points"`            // 0 to 1,000,000
	Coupons []string `json:"coupons,omitempty"` // reward keys
}

// Reward is a coupon members can redeem with points (or get as a gift).
type Reward struct {
	Key            string `json:"key"`
	Name           string `json:"name"`             // what members type after 兑换
	Product        string `json:"product"`          // what it buys, stated plainly
	ValueFen       int64  `json:"value_fen"`        // 1 to 10^9 fen, like an order
	PointsPrice    int64  `json:"points_price"`     // 0: gift only, not for redemption; at most 10^9
	Stock          int64  `json:"stock"`            // initial stock, at most 10^9
	PerMemberLimit int    `json:"per_member_limit"` // 0: no limit; at most 1,000,000
	ValidDays      int    `json:"valid_days"`       // how long it can be used after it is issued: 1 to 36,500 days
}

// Referral is the fission rule: what a referrer earns when someone they
// brought places a first paid order.
type Referral struct {
	Points     int64 `json:"points"`      // 0 to 1,000,000
	MonthlyCap int   `json:"monthly_cap"` // rewarded referrals per referrer per month; 0: no cap; at most 1,000,000
}

var rewardKeyPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)

// Validate checks the activation settings against the rewards they give.
func (a Activation) Validate(rewards []Reward) error {
	switch a.Method {
	case ActivatePhoneLast4, ActivateBirthday:
	case ActivateMemberCard:
		if a.CardID == "" {
			return FieldErrorf("card_id", "is required for method member_card")
		}
	default:
		return FieldErrorf("method", "must be phone_last4, birthday or member_card, got %q", a.Method)
	}
	if err := between("gift.points", a.Gift.Points, 0, maxPointsPerAction); err != nil {
		return err
	}
	for i, key := range a.Gift.Coupons {
		if _, ok := findReward(rewards, key); !ok {
			return FieldErrorf(fmt.Sprintf("gift.coupons[%d]", i), "no reward with key %q", key)
		}
	}
	return nil
}

// Validate checks the referral rule.
func (r Referral) Validate() error {
	return firstError(
		between("points", r.Points, 0, maxPointsPerAction),
		between("monthly_cap", r.MonthlyCap, 0, maxCount),
	)
}

func validateRewards(rewards []Reward) error {
	seen := map[string]bool{}
	for i, r := range rewards {
		path := fmt.Sprintf("rewards[%d]", i)
		if seen[r.Key] || seen["name:"+r.Name] {
			return FieldErrorf(path+".key", "duplicate reward %q / %q", r.Key, r.Name)
		}
		seen[r.Key], seen["name:"+r.Name] = true, true
		if err := r.Validate(); err != nil {
			return Prefix(path, err)
		}
	}
	return nil
}

// Validate checks one reward.
func (r Reward) Validate() error {
	switch {
	case !rewardKeyPattern.MatchString(r.Key):
		return FieldErrorf("key", "must be 1-32 lower-case letters, digits, '-' or '_', got %q", r.Key)
	case r.Name == "" || len([]rune(r.Name)) > 16:
		return FieldErrorf("name", "is required, at most 16 characters")
	case r.Product == "":
		return FieldErrorf("product", "is required: say what the coupon buys")
	}
	return firstError(
		between("value_fen", r.ValueFen, 1, maxOrderFen),
		between("points_price", r.PointsPrice, 0, maxPointsPrice),
		between("stock", r.Stock, 0, maxStock),
		between("per_member_limit", r.PerMemberLimit, 0, maxCount),
		between("valid_days", r.ValidDays, 1, maxDays),
	)
}

func findReward(rewards []Reward, keyOrName string) (Reward, bool) {
	for _, r := range rewards {
		if r.Key == keyOrName || r.Name == keyOrName {
			return r, true
		}
	}
	return Reward{}, false
}
