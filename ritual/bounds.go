package ritual

import (
	"math"
	"math/bits"
	"time"
)

// The bounds of every number a merchant sets and of every balance. They are
// far beyond what a real programme uses, and chosen so that nothing
// computed from them overflows int64 or leaves the dates both databases
// hold (MySQL's DATETIME ends with the year 9999; SQLite keeps times as
// text that reads back only with four-digit years):
//
//   - an order earns at most maxOrderFen/100 × maxPointsPerYuan ×
//     maxMultiplier = 10^7 × 1,000 × 10 = 10^11 points;
//   - a refund takes back points earned × fen refunded / fen paid, up to
//     10^11 × 10^9: that product is taken in 128 bits (mulDiv);
//   - a balance never passes MaxBalance, so a member's ledger, and the
//     balances of nine thousand members at the limit, still sum in int64;
//   - every date computed from a setting is at most maxDays from now.
//
// Validate refuses settings past them, naming the field; the ledger refuses
// a booking past MaxBalance whatever the settings said when it was stored.
const (
	// MaxBalance is the most points a member can hold.
	MaxBalance int64 = 1_000_000_000_000_000

	// maxPointsPerAction bounds the points of one sign-in, streak bonus,
	// gift, referral, birthday, ceremony reward, leaderboard place and
	// the cost of a make-up sign-in.
	maxPointsPerAction int64 = 1_000_000
	// maxPointsPrice bounds what a reward costs in points.
	maxPointsPrice int64 = 1_000_000_000
	// maxPointsPerYuan bounds the points an order earns per yuan.
	maxPointsPerYuan = 1_000
	// maxMultiplier bounds the member day's points multiplier.
	maxMultiplier = 10

	// maxThresholdFen bounds a level's spending threshold (10^10 yuan).
	maxThresholdFen int64 = 1_000_000_000_000
	// maxOrderFen bounds one order and one coupon's value (10 million
	// yuan): anything bigger is a unit mistake (yuan sent as fen times 100),
	// not a sale.
	maxOrderFen int64 = 1_000_000_000

	// maxDays bounds every length of time a merchant sets in days: points
	// expiry, coupon validity, streaks (100 years).
	maxDays = 36_500
	// maxPeriodDays bounds the statistical period of levels (10 years).
	maxPeriodDays = 3_660
	// maxCatchUp bounds how late a missed campaign slot may still run:
	// later, what it announces is stale.
	maxCatchUp = 7 * 24 * time.Hour

	// maxCount bounds counts a merchant sets: orders to reach a level,
	// coupons per member, rewarded referrals a month.
	maxCount = 1_000_000
	// maxStock bounds a reward's initial stock.
	maxStock int64 = 1_000_000_000
	// maxTemplateQuota bounds the daily template-message quota (WeChat
	// grants 100,000 by default, more to large accounts).
	maxTemplateQuota = 100_000_000
)

// between returns an EINVALID error naming field unless lo ≤ v ≤ hi.
func between[T ~int | ~int64](field string, v, lo, hi T) error {
	if v < lo || v > hi {
		return FieldErrorf(field, "must be between %d and %d, got %d", lo, hi, v)
	}
	return nil
}

// firstError returns the first error that is not nil.
func firstError(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// mulDiv returns a × b / c for non-negative a, b and positive c, rounded
// down, with the product taken in 128 bits so that it cannot overflow. A
// share of something (b ≤ c) is never more than a; a quotient past int64
// (only from corrupt input) saturates rather than wrapping.
func mulDiv(a, b, c int64) int64 {
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	if hi >= uint64(c) {
		return math.MaxInt64
	}
	q, _ := bits.Div64(hi, lo, uint64(c))
	return int64(min(q, math.MaxInt64))
}
