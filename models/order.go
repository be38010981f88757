package models

import (
	"context"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/wxclub/wxclub/ritual"
)

// orderRow is a paid order. Answer keeps what recording it answered, so a
// resend gets the same answer. ix_orders_period holds everything a member's
// period sums, so the sum reads the index alone, from the period's start
// (databases made before it keep ix_orders_member beside it, unused).
type orderRow struct {
	ID             int64     `gorm:"primaryKey;autoIncrement"`
	MerchantID     string    `gorm:"size:64;not null;uniqueIndex:ux_orders_no,priority:1;index:ix_orders_period,priority:1"`
	OrderNo        string    `gorm:"size:64;not null;uniqueIndex:ux_orders_no,priority:2"`
	MemberID       int64     `gorm:"not null;index:ix_orders_period,priority:2"`
	AmountFen      int64     `gorm:"not null;index:ix_orders_period,priority:4"`
	RefundedFen    int64     `gorm:"not null;default:0;index:ix_orders_period,priority:5"`
	PaidAt         time.Time `gorm:"precision:3;not null;index:ix_orders_period,priority:3"`
	Channel        string    `gorm:"size:32;not null;default:''"`
	PointsEarned   int64     `gorm:"not null"`
	PointsReversed int64     `gorm:"not null;default:0"`
	RequestHash    string    `gorm:"size:64;not null"`
	Answer         string    `gorm:"type:text"`
	CreatedAt      time.Time `gorm:"precision:3"`
}

func (orderRow) TableName() string { return "orders" }

// refundRow is a refund of an order.
type refundRow struct {
	ID             int64     `gorm:"primaryKey;autoIncrement"`
	MerchantID     string    `gorm:"size:64;not null;uniqueIndex:ux_refunds_no,priority:1"`
	RefundNo       string    `gorm:"size:64;not null;uniqueIndex:ux_refunds_no,priority:2"`
	OrderID        int64     `gorm:"not null;index"`
	AmountFen      int64     `gorm:"not null"`
	PointsReversed int64     `gorm:"not null"`
	Shortfall      int64     `gorm:"not null"`
	RequestHash    string    `gorm:"size:64;not null"`
	Answer         string    `gorm:"type:text"`
	CreatedAt      time.Time `gorm:"precision:3"`
}

func (refundRow) TableName() string { return "refunds" }

func orderToRow(o *ritual.Order) (orderRow, error) {
	answer, err := toJSON(o.Answer)
	return orderRow{
		ID: o.ID, MerchantID: o.MerchantID, OrderNo: o.OrderNo, MemberID: o.MemberID, AmountFen: o.AmountFen,
		RefundedFen: o.RefundedFen, PaidAt: o.PaidAt.UTC(), Channel: o.Channel, PointsEarned: o.PointsEarned,
		PointsReversed: o.PointsReversed, RequestHash: o.RequestHash, Answer: answer, CreatedAt: o.CreatedAt.UTC(),
	}, err
}

func (r orderRow) toOrder() (*ritual.Order, error) {
	o := &ritual.Order{
		ID: r.ID, MerchantID: r.MerchantID, OrderNo: r.OrderNo, MemberID: r.MemberID, AmountFen: r.AmountFen,
		RefundedFen: r.RefundedFen, PaidAt: r.PaidAt.UTC(), Channel: r.Channel, PointsEarned: r.PointsEarned,
		PointsReversed: r.PointsReversed, RequestHash: r.RequestHash, CreatedAt: r.CreatedAt.UTC(),
	}
	if r.Answer != "" {
		o.Answer = &ritual.OrderAnswer{}
	}
	return o, fromJSON(r.Answer, o.Answer)
}

type orders struct{ db *gorm.DB }

func (s orders) Create(ctx context.Context, o *ritual.Order) error {
	row, err := orderToRow(o)
	if err != nil {
		return err
	}
	if err := s.db.WithContext(ctx).Create(&row).Error; err != nil {
		return translate(err, "create order "+o.OrderNo)
	}
	o.ID = row.ID
	return nil
}

func (s orders) ByNo(ctx context.Context, merchantID, orderNo string) (*ritual.Order, error) {
	var row orderRow
	err := s.db.WithContext(ctx).Clauses(clause.Locking{Strength: "UPDATE"}).
		Take(&row, "merchant_id = ? AND order_no = ?", merchantID, orderNo).Error
	if err != nil {
		return nil, translate(err, "find order "+orderNo)
	}
	return row.toOrder()
}

func (s orders) Update(ctx context.Context, o *ritual.Order) error {
	row, err := orderToRow(o)
	if err != nil {
		return err
	}
	err = s.db.WithContext(ctx).Model(&orderRow{}).Where("id = ?", o.ID).Updates(map[string]any{
		"refunded_fen": row.RefundedFen, "points_reversed": row.PointsReversed, "answer": row.Answer,
	}).Error
	return translate(err, "update order "+o.OrderNo)
}

func (s orders) PeriodStats(ctx context.Context, merchantID string, memberID int64, since time.Time) (ritual.PeriodStats, error) {
	var out struct {
		Amount int64
		Orders int
	}
	err := s.db.WithContext(ctx).Model(&orderRow{}).
		Select("COALESCE(SUM(amount_fen - refunded_fen), 0) AS amount, COUNT(*) AS orders").
		Where("merchant_id = ? AND member_id = ? AND paid_at >= ? AND refunded_fen < amount_fen", merchantID, memberID, since.UTC()).
		Scan(&out).Error
	return ritual.PeriodStats{AmountFen: out.Amount, Orders: out.Orders}, translate(err, "sum orders in the period")
}

func (s orders) CreateRefund(ctx context.Context, r *ritual.Refund) error {
	answer, err := toJSON(r.Answer)
	if err != nil {
		return err
	}
	row := refundRow{
		MerchantID: r.MerchantID, RefundNo: r.RefundNo, OrderID: r.OrderID, AmountFen: r.AmountFen,
		PointsReversed: r.PointsReversed, Shortfall: r.Shortfall, RequestHash: r.RequestHash, Answer: answer,
		CreatedAt: r.CreatedAt.UTC(),
	}
	if err := s.db.WithContext(ctx).Create(&row).Error; err != nil {
		return translate(err, "create refund "+r.RefundNo)
	}
	r.ID = row.ID
	return nil
}

func (s orders) RefundByNo(ctx context.Context, merchantID, refundNo string) (*ritual.Refund, error) {
	var row refundRow
	if err := s.db.WithContext(ctx).Take(&row, "merchant_id = ? AND refund_no = ?", merchantID, refundNo).Error; err != nil {
		return nil, translate(err, "find refund "+refundNo)
	}
	r := &ritual.Refund{
		ID: row.ID, MerchantID: row.MerchantID, RefundNo: row.RefundNo, OrderID: row.OrderID, AmountFen: row.AmountFen,
		PointsReversed: row.PointsReversed, Shortfall: row.Shortfall, RequestHash: row.RequestHash, CreatedAt: row.CreatedAt.UTC(),
	}
	if row.Answer != "" {
		r.Answer = &ritual.RefundAnswer{}
	}
	return r, fromJSON(row.Answer, r.Answer)
}

// CountForMember names the member's merchant too, so the count reads the
// member's entries of ix_orders_period, not the whole table.
func (s orders) CountForMember(ctx context.Context, memberID int64) (int, error) {
	var n int64
	err := s.db.WithContext(ctx).Model(&orderRow{}).
		Where("merchant_id = (SELECT merchant_id FROM members WHERE id = ?) AND member_id = ?", memberID, memberID).Count(&n).Error
	return int(n), translate(err, "count member's orders")
}

func (s orders) DaySummary(ctx context.Context, merchantID string, from, to time.Time) (ritual.DaySummary, error) {
	var out ritual.DaySummary
	err := s.db.WithContext(ctx).Model(&orderRow{}).
		Select("COUNT(DISTINCT member_id) AS members, COUNT(*) AS orders, COALESCE(SUM(amount_fen - refunded_fen), 0) AS amount_fen, COALESCE(SUM(points_earned - points_reversed), 0) AS points").
		Where("merchant_id = ? AND paid_at >= ? AND paid_at < ?", merchantID, from.UTC(), to.UTC()).Scan(&out).Error
	return out, translate(err, "sum the day's orders")
}

func (s orders) MembersSince(ctx context.Context, merchantID string, since time.Time, afterID int64, limit int) ([]int64, error) {
	var ids []int64
	err := s.db.WithContext(ctx).Model(&orderRow{}).Distinct("member_id").
		Where("merchant_id = ? AND paid_at >= ? AND member_id > ?", merchantID, since.UTC(), afterID).
		Order("member_id").Limit(limit).Pluck("member_id", &ids).Error
	return ids, translate(err, "find members with orders in the period")
}
