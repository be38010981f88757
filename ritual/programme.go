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
	Points  int64    `json:"points"`
	Coupons []string `json:"coupons,omitempty"` // reward keys
}

// Reward is a coupon members can redeem with points (or get as a gift).
type Reward struct {
	Key            string `json:"key"`
	Name           string `json:"name"`    // what members type after 兑换
	Product        string `json:"product"` // what it buys, stated plainly
	ValueFen       int64  `json:"value_fen"`
	PointsPrice    int64  `json:"points_price"` // 0: gift only, not for redemption
	Stock          int64  `json:"stock"`        // initial stock
	PerMemberLimit int    `json:"per_member_limit"`
	ValidDays      int    `json:"valid_days"` // how long it can be used after it is issued
}

// Referral is the fission rule: what a referrer earns when someone they
// brought places a first paid order.
type Referral struct {
	Points     int64 `json:"points"`
	MonthlyCap int   `json:"monthly_cap"` // rewarded referrals per referrer per month; 0: no cap
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
	if a.Gift.Points < 0 {
		return FieldErrorf("gift.points", "must not be negative")
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
	switch {
	case r.Points < 0:
		return FieldErrorf("points", "must not be negative")
	case r.MonthlyCap < 0:
		return FieldErrorf("monthly_cap", "must not be negative")
	}
	return nil
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
	case r.ValueFen <= 0:
		return FieldErrorf("value_fen", "must be positive")
	case r.PointsPrice < 0:
		return FieldErrorf("points_price", "must not be negative")
	case r.Stock < 0:
		return FieldErrorf("stock", "must not be negative")
	case r.PerMemberLimit < 0:
		return FieldErrorf("per_member_limit", "must not be negative (0: no limit)")
	case r.ValidDays < 1:
		return FieldErrorf("valid_days", "must be at least 1")
	}
	return nil
}

func findReward(rewards []Reward, keyOrName string) (Reward, bool) {
	for _, r := range rewards {
		if r.Key == keyOrName || r.Name == keyOrName {
			return r, true
		}
	}
	return Reward{}, false
}
