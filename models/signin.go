package models

import (
	"context"
	"time"

	"github.com/wxclub/wxclub/ritual"
	"gorm.io/gorm"
)

// signIns implements ritual.SignInLog.
type signIns struct{ db *gorm.DB }

// signInRow is a member's sign-in for one local day of the merchant, made
// in a group or on the official account. (merchant, member, local_date) is
// unique: a day is signed once wherever it is signed.
type signInRow struct {
	ID         int64     `gorm:"primaryKey;autoIncrement"`
	MerchantID string    `gorm:"size:64;not null;uniqueIndex:ux_sign_ins,priority:1"`
	MemberID   int64     `gorm:"not null;uniqueIndex:ux_sign_ins,priority:2"`
	LocalDate  string    `gorm:"size:10;not null;uniqueIndex:ux_sign_ins,priority:3"`
	Streak     int       `gorm:"not null"`
	Location   string    `gorm:"column:signed_where;size:128;not null"` // a group id or "oa"
	Makeup     bool      `gorm:"not null;default:false"`
	CreatedAt  time.Time `gorm:"precision:3;not null"`
}

func (signInRow) TableName() string { return "sign_ins" }

func (s signIns) SignInOn(ctx context.Context, merchantID string, memberID int64, date string) (*ritual.DailySignIn, error) {
	var row signInRow
	err := s.db.WithContext(ctx).Take(&row, "merchant_id = ? AND member_id = ? AND local_date = ?", merchantID, memberID, date).Error
	if err != nil {
		return nil, translate(err, "find sign-in")
	}
	return &ritual.DailySignIn{
		MerchantID: row.MerchantID, MemberID: row.MemberID, LocalDate: row.LocalDate, Streak: row.Streak,
		Where: row.Location, Makeup: row.Makeup, CreatedAt: row.CreatedAt.UTC(),
	}, nil
}

func (s signIns) CreateSignIn(ctx context.Context, in *ritual.DailySignIn) error {
	row := signInRow{
		MerchantID: in.MerchantID, MemberID: in.MemberID, LocalDate: in.LocalDate, Streak: in.Streak,
		Location: in.Where, Makeup: in.Makeup, CreatedAt: in.CreatedAt.UTC(),
	}
	return translate(s.db.WithContext(ctx).Create(&row).Error, "record sign-in")
}

func (s signIns) StreaksAtStake(ctx context.Context, merchantID, yesterday, today string, afterMemberID int64, limit int) ([]ritual.DailySignIn, error) {
	var rows []signInRow
	signedToday := s.db.Table("sign_ins AS t").Select("1").
		Where("t.merchant_id = sign_ins.merchant_id AND t.member_id = sign_ins.member_id AND t.local_date = ?", today)
	err := s.db.WithContext(ctx).Where("merchant_id = ? AND local_date = ? AND member_id > ?", merchantID, yesterday, afterMemberID).
		Where("NOT EXISTS (?)", signedToday).Order("member_id").Limit(limit).Find(&rows).Error
	out := make([]ritual.DailySignIn, len(rows))
	for i, r := range rows {
		out[i] = ritual.DailySignIn{MerchantID: r.MerchantID, MemberID: r.MemberID, LocalDate: r.LocalDate, Streak: r.Streak, Where: r.Location, Makeup: r.Makeup, CreatedAt: r.CreatedAt.UTC()}
	}
	return out, translate(err, "find streaks at stake")
}
