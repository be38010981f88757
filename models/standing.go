package models

import (
	"context"
	"reflect"

	"gorm.io/gorm/clause"

	"github.com/wxclub/wxclub/ritual"
)

// standingRow is a member row with its standing (ritual.Standing) beside it.
type standingRow struct {
	Member        memberRow `gorm:"embedded"`
	PeriodAmount  int64
	PeriodOrders  int
	FirstOrder    int
	SecondOrder   int
	ExpiryDue     bool
	OpenCeremony  int64
	PendingPoints int64
}

// standingColumns reads the standing beside the member row, each part a
// subquery bounded by an index on the member: the period's orders by
// ix_orders_period (which covers them, so the sum reads no order rows), the
// first two orders ever by the same index, open lots by ix_lots_open, the
// open ceremony by the member's ceremonies, the waiting points message by
// ix_outbox_member. A locking read of the member does not lock the rows the
// subqueries read: the member's lock already keeps them still.
const standingColumns = `
	COALESCE((SELECT SUM(o.amount_fen - o.refunded_fen) FROM orders o WHERE o.merchant_id = members.merchant_id AND o.member_id = members.id AND o.paid_at >= ? AND o.refunded_fen < o.amount_fen), 0) AS period_amount,
	(SELECT COUNT(*) FROM orders o WHERE o.merchant_id = members.merchant_id AND o.member_id = members.id AND o.paid_at >= ? AND o.refunded_fen < o.amount_fen) AS period_orders,
	COALESCE((SELECT 1 FROM orders o WHERE o.merchant_id = members.merchant_id AND o.member_id = members.id LIMIT 1), 0) AS first_order,
	COALESCE((SELECT 1 FROM orders o WHERE o.merchant_id = members.merchant_id AND o.member_id = members.id LIMIT 1 OFFSET 1), 0) AS second_order,
	EXISTS (SELECT 1 FROM points_lots l WHERE l.member_id = members.id AND l.remaining > 0 AND l.expires_at <= ?) AS expiry_due,
	COALESCE((SELECT MAX(c.id) FROM ceremonies c WHERE c.member_id = members.id AND c.status = ?), 0) AS open_ceremony,
	COALESCE((SELECT MAX(x.id) FROM outbox x WHERE x.member_id = members.id AND x.purpose = ? AND x.status = ? AND x.next_attempt_at > ? AND x.lease_until IS NULL), 0) AS pending_points`

func standingArgs(at ritual.StandingAt) []any {
	since, now := at.Since.UTC(), at.Now.UTC()
	return []any{since, since, now, ritual.CeremonyOpen, ritual.PurposePointsChanged, ritual.OutboxPending, now}
}

func (r standingRow) standing() ritual.Standing {
	return ritual.Standing{
		Period:        ritual.PeriodStats{AmountFen: r.PeriodAmount, Orders: r.PeriodOrders},
		Orders:        r.FirstOrder + r.SecondOrder,
		ExpiryDue:     r.ExpiryDue,
		OpenCeremony:  r.OpenCeremony,
		PendingPoints: r.PendingPoints,
	}
}

// withStanding reads one member with their standing, locking the member row
// inside a transaction.
func (s members) withStanding(ctx context.Context, what string, at ritual.StandingAt, query string, args ...any) (*ritual.Member, ritual.Standing, error) {
	var row standingRow
	err := s.db.WithContext(ctx).Table("members").Select("members.*,"+standingColumns, standingArgs(at)...).
		Clauses(clause.Locking{Strength: "UPDATE"}).Where(query, args...).Take(&row).Error
	if err != nil {
		return nil, ritual.Standing{}, translate(err, what)
	}
	return row.Member.toMember(), row.standing(), nil
}

func (s members) ByOpenIDWithStanding(ctx context.Context, merchantID, openid string, at ritual.StandingAt) (*ritual.Member, ritual.Standing, error) {
	return s.withStanding(ctx, "find member", at, "members.merchant_id = ? AND members.openid = ?", merchantID, openid)
}

func (s members) Standing(ctx context.Context, id int64, at ritual.StandingAt) (ritual.Standing, error) {
	_, st, err := s.withStanding(ctx, "read member's standing", at, "members.id = ?", id)
	return st, err
}

func (s members) UpdateFrom(ctx context.Context, was, m *ritual.Member) error {
	before, after := memberColumns(memberToRow(was)), memberColumns(memberToRow(m))
	changed := map[string]any{}
	for col, v := range after {
		if !reflect.DeepEqual(before[col], v) {
			changed[col] = v
		}
	}
	if len(changed) == 0 {
		return nil
	}
	now := m.UpdatedAt
	if s.db.NowFunc != nil {
		now = s.db.NowFunc()
	}
	changed["updated_at"] = now.UTC()
	err := s.db.WithContext(ctx).Model(&memberRow{}).Where("id = ?", m.ID).Updates(changed).Error
	if err != nil {
		return translate(err, "update member")
	}
	m.UpdatedAt = now.UTC()
	return nil
}

// memberColumns are the columns a member change may move, by name.
func memberColumns(r memberRow) map[string]any {
	return map[string]any{
		"openid": r.OpenID, "phone": r.Phone, "state": r.State, "points": r.Points, "level_key": r.LevelKey,
		"level_since": r.LevelSince, "subscribe_scene": r.SubscribeScene, "followed_at": r.FollowedAt,
		"unfollowed_at": r.UnfollowedAt, "claim_code": r.ClaimCode, "referral_code": r.ReferralCode,
		"referred_by": r.ReferredBy, "birthday": r.Birthday, "card_code": r.CardCode,
		"recognized_at": r.RecognizedAt, "card_scanned_at": r.CardScannedAt, "first_followed_at": r.FirstFollowedAt,
		"activated_at": r.ActivatedAt, "benefit_claimed_at": r.BenefitClaimedAt,
		"first_repeat_order_at": r.FirstRepeatOrderAt,
	}
}
