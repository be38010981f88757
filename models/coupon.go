package models

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/wxclub/wxclub/ritual"
)

// couponRow is an issued coupon. (merchant, source, reference, reward) is
// unique, so a redemption retried or a gift granted twice issues once.
type couponRow struct {
	ID         int64      `gorm:"primaryKey;autoIncrement"`
	MerchantID string     `gorm:"size:64;not null;uniqueIndex:ux_coupons_code,priority:1;uniqueIndex:ux_coupons_ref,priority:1"`
	MemberID   int64      `gorm:"not null;index:ix_coupons_member,priority:1"`
	Code       string     `gorm:"size:32;not null;uniqueIndex:ux_coupons_code,priority:2"`
	RewardKey  string     `gorm:"size:32;not null;index:ix_coupons_member,priority:2;uniqueIndex:ux_coupons_ref,priority:4"`
	Source     string     `gorm:"size:16;not null;uniqueIndex:ux_coupons_ref,priority:2"`
	Reference  string     `gorm:"size:128;not null;uniqueIndex:ux_coupons_ref,priority:3"`
	IssuedAt   time.Time  `gorm:"precision:3;not null"`
	ValidFrom  time.Time  `gorm:"precision:3;not null"`
	ValidUntil time.Time  `gorm:"precision:3;not null"`
	UsedAt     *time.Time `gorm:"precision:3"`
}

func (couponRow) TableName() string { return "coupons" }

// rewardStockRow is what is left of a reward's stock.
type rewardStockRow struct {
	MerchantID string `gorm:"primaryKey;size:64"`
	RewardKey  string `gorm:"primaryKey;size:32"`
	Remaining  int64  `gorm:"not null"`
}

func (rewardStockRow) TableName() string { return "reward_stock" }

func (r couponRow) toCoupon() *ritual.Coupon {
	return &ritual.Coupon{
		ID: r.ID, MerchantID: r.MerchantID, MemberID: r.MemberID, Code: r.Code, RewardKey: r.RewardKey,
		Source: r.Source, Reference: r.Reference, IssuedAt: r.IssuedAt.UTC(), ValidFrom: r.ValidFrom.UTC(),
		ValidUntil: r.ValidUntil.UTC(), UsedAt: utcPtr(r.UsedAt),
	}
}

type coupons struct{ db *gorm.DB }

// ensureStock starts a reward's stock at initial unless it has one.
func (s coupons) ensureStock(ctx context.Context, merchantID, rewardKey string, initial int64) error {
	row := rewardStockRow{MerchantID: merchantID, RewardKey: rewardKey, Remaining: initial}
	return translate(s.db.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&row).Error, "start reward stock")
}

func (s coupons) TakeStock(ctx context.Context, merchantID, rewardKey string, initial int64) (bool, error) {
	if err := s.ensureStock(ctx, merchantID, rewardKey, initial); err != nil {
		return false, err
	}
	res := s.db.WithContext(ctx).Model(&rewardStockRow{}).
		Where("merchant_id = ? AND reward_key = ? AND remaining > 0", merchantID, rewardKey).
		Update("remaining", gorm.Expr("remaining - 1"))
	return res.RowsAffected == 1, translate(res.Error, "take reward stock")
}

func (s coupons) Remaining(ctx context.Context, merchantID, rewardKey string, initial int64) (int64, error) {
	var row rewardStockRow
	err := s.db.WithContext(ctx).Take(&row, "merchant_id = ? AND reward_key = ?", merchantID, rewardKey).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return initial, nil
	}
	return row.Remaining, translate(err, "read reward stock")
}

func (s coupons) Issue(ctx context.Context, c *ritual.Coupon) error {
	row := couponRow{
		MerchantID: c.MerchantID, MemberID: c.MemberID, Code: c.Code, RewardKey: c.RewardKey, Source: c.Source,
		Reference: c.Reference, IssuedAt: c.IssuedAt.UTC(), ValidFrom: c.ValidFrom.UTC(), ValidUntil: c.ValidUntil.UTC(),
	}
	if err := s.db.WithContext(ctx).Create(&row).Error; err != nil {
		return translate(err, "issue coupon")
	}
	c.ID = row.ID
	return nil
}

func (s coupons) CountForMember(ctx context.Context, memberID int64, rewardKey string) (int, error) {
	var n int64
	err := s.db.WithContext(ctx).Model(&couponRow{}).Where("member_id = ? AND reward_key = ?", memberID, rewardKey).Count(&n).Error
	return int(n), translate(err, "count member's coupons")
}

func (s coupons) ByCode(ctx context.Context, merchantID, code string) (*ritual.Coupon, error) {
	var row couponRow
	err := s.db.WithContext(ctx).Clauses(clause.Locking{Strength: "UPDATE"}).
		Take(&row, "merchant_id = ? AND code = ?", merchantID, code).Error
	if err != nil {
		return nil, translate(err, "find coupon")
	}
	return row.toCoupon(), nil
}

func (s coupons) ByReference(ctx context.Context, merchantID, source, reference string) ([]*ritual.Coupon, error) {
	var rows []couponRow
	err := s.db.WithContext(ctx).Where("merchant_id = ? AND source = ? AND reference = ?", merchantID, source, reference).
		Order("id").Find(&rows).Error
	return toCoupons(rows), translate(err, "find coupons by reference")
}

func (s coupons) MarkUsed(ctx context.Context, c *ritual.Coupon) error {
	err := s.db.WithContext(ctx).Model(&couponRow{}).Where("id = ?", c.ID).Update("used_at", utcPtr(c.UsedAt)).Error
	return translate(err, "mark coupon used")
}

func (s coupons) ForMember(ctx context.Context, memberID int64) ([]*ritual.Coupon, error) {
	var rows []couponRow
	err := s.db.WithContext(ctx).Where("member_id = ?", memberID).Order("id DESC").Find(&rows).Error
	return toCoupons(rows), translate(err, "list member's coupons")
}

func toCoupons(rows []couponRow) []*ritual.Coupon {
	out := make([]*ritual.Coupon, len(rows))
	for i, r := range rows {
		out[i] = r.toCoupon()
	}
	return out
}

// couponsPerInsert keeps one INSERT's placeholders (ten a coupon) under
// SQLite's limit of 32,766.
const couponsPerInsert = 2000

func (s coupons) IssueMany(ctx context.Context, cs []*ritual.Coupon) (int64, error) {
	if len(cs) == 0 {
		return 0, nil
	}
	rows := make([]couponRow, len(cs))
	for i, c := range cs {
		rows[i] = couponRow{
			MerchantID: c.MerchantID, MemberID: c.MemberID, Code: c.Code, RewardKey: c.RewardKey, Source: c.Source,
			Reference: c.Reference, IssuedAt: c.IssuedAt.UTC(), ValidFrom: c.ValidFrom.UTC(), ValidUntil: c.ValidUntil.UTC(),
		}
	}
	res := s.db.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).CreateInBatches(rows, couponsPerInsert)
	return res.RowsAffected, translate(res.Error, "issue campaign coupons")
}
