package ritual

import "fmt"

// Membership is the merchant's programme: how points are earned and how
// levels are reached.
type Membership struct {
	// PeriodDays is the statistical period over which spending and orders
	// count towards a level: 1 to 3,660 days.
	PeriodDays int `json:"period_days"`
	// PointsPerYuan is what an order earns per yuan paid: 0 to 1,000.
	PointsPerYuan int `json:"points_per_yuan"`
	// PointsExpireDays is how long earned points last: 1 to 36,500 days.
	PointsExpireDays int     `json:"points_expire_days"`
	Levels           []Level `json:"levels"`
}

// Level is one rung of the ladder, lowest first. A member reaches it when
// both thresholds are met within the period.
type Level struct {
	Key      string `json:"key"`
	Name     string `json:"name"`
	Nickname string `json:"nickname"`
	// MinAmountFen (at most 10^12 fen) and MinOrders (at most 1,000,000)
	// are the thresholds; the lowest level has none.
	MinAmountFen int64 `json:"min_amount_fen"`
	MinOrders    int   `json:"min_orders"`
	Right        Right `json:"right"`
	// Ceremony, when set, is what a member performs to enter the level:
	// they are never upgraded silently.
	Ceremony *CeremonyRule `json:"ceremony,omitempty"`
}

// Right kinds: each level carries exactly one core right.
const (
	RightDiscount     = "discount"      // Value: percent paid, e.g. 95 = 5% off
	RightFreeShipping = "free_shipping" // no value
	RightPrepayRatio  = "prepay_ratio"  // Value: percent prepaid on custom orders
	RightMemberOnly   = "member_only"   // access to member-only products
	RightFreeSample   = "free_sample"   // a free sample with the next order
)

// Right is the one core right of a level, as a shop applies it at checkout.
type Right struct {
	Kind  string `json:"kind"`
	Value int    `json:"value,omitempty"`
	Title string `json:"title"`
}

// Validate checks the programme; field names are relative to "membership".
func (ms Membership) Validate() error {
	if err := firstError(
		between("period_days", ms.PeriodDays, 1, maxPeriodDays),
		between("points_per_yuan", ms.PointsPerYuan, 0, maxPointsPerYuan),
		between("points_expire_days", ms.PointsExpireDays, 1, maxDays),
	); err != nil {
		return err
	}
	if len(ms.Levels) == 0 {
		return FieldErrorf("levels", "at least one level is required")
	}
	seen := map[string]bool{}
	for i, lv := range ms.Levels {
		path := fmt.Sprintf("levels[%d]", i)
		if seen[lv.Key] {
			return FieldErrorf(path+".key", "duplicate level key %q", lv.Key)
		}
		seen[lv.Key] = true
		if err := lv.validate(i, ms.Levels); err != nil {
			return Prefix(path, err)
		}
	}
	return nil
}

func (lv Level) validate(i int, all []Level) error {
	switch {
	case !merchantIDPattern.MatchString(lv.Key):
		return FieldErrorf("key", "must be lower-case letters, digits, '-' or '_', got %q", lv.Key)
	case lv.Name == "":
		return FieldErrorf("name", "is required")
	case lv.Nickname == "":
		return FieldErrorf("nickname", "is required")
	case len([]rune(lv.Nickname)) > 10:
		return FieldErrorf("nickname", "must be at most 10 characters, got %d", len([]rune(lv.Nickname)))
	}
	if err := lv.validateThresholds(i, all); err != nil {
		return err
	}
	if lv.Ceremony != nil {
		if i == 0 {
			return FieldErrorf("ceremony", "the lowest level is every member's: it has no ceremony")
		}
		if err := lv.Ceremony.Validate(); err != nil {
			return Prefix("ceremony", err)
		}
	}
	return Prefix("right", lv.Right.Validate())
}

func (lv Level) validateThresholds(i int, all []Level) error {
	if i == 0 {
		if lv.MinAmountFen != 0 || lv.MinOrders != 0 {
			return FieldErrorf("min_amount_fen", "the lowest level is every member's and takes no thresholds")
		}
		return nil
	}
	below := all[i-1]
	switch {
	case lv.MinAmountFen <= 0:
		return FieldErrorf("min_amount_fen", "is required and must be positive")
	case lv.MinAmountFen > maxThresholdFen:
		return FieldErrorf("min_amount_fen", "must be at most %d fen, got %d", maxThresholdFen, lv.MinAmountFen)
	case lv.MinOrders <= 0:
		return FieldErrorf("min_orders", "is required and must be positive")
	case lv.MinOrders > maxCount:
		return FieldErrorf("min_orders", "must be at most %d, got %d", maxCount, lv.MinOrders)
	case lv.MinAmountFen < below.MinAmountFen:
		return FieldErrorf("min_amount_fen", "%d is lower than the level below (%s: %d)", lv.MinAmountFen, below.Key, below.MinAmountFen)
	case lv.MinOrders < below.MinOrders:
		return FieldErrorf("min_orders", "%d is lower than the level below (%s: %d)", lv.MinOrders, below.Key, below.MinOrders)
	case lv.MinAmountFen == below.MinAmountFen && lv.MinOrders == below.MinOrders:
		return FieldErrorf("min_amount_fen", "thresholds equal the level below (%s); one must be higher", below.Key)
	}
	return nil
}

// Validate checks a right.
func (r Right) Validate() error {
	switch r.Kind {
	case RightDiscount:
		if r.Value < 1 || r.Value > 99 {
			return FieldErrorf("value", "a discount is the percent paid, 1-99, got %d", r.Value)
		}
	case RightPrepayRatio:
		if r.Value < 1 || r.Value > 100 {
			return FieldErrorf("value", "a prepay ratio is a percent, 1-100, got %d", r.Value)
		}
	case RightFreeShipping, RightMemberOnly, RightFreeSample:
	default:
		return FieldErrorf("kind", "must be discount, free_shipping, prepay_ratio, member_only or free_sample, got %q", r.Kind)
	}
	if r.Title == "" {
		return FieldErrorf("title", "is required: it is what the member reads")
	}
	return nil
}
