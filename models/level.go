package models

import (
	"context"
	"time"

	"gorm.io/gorm"

	"github.com/wxclub/wxclub/ritual"
)

// levelChangeRow is one move on a member's ladder, with its cause.
type levelChangeRow struct {
	ID         int64     `gorm:"primaryKey;autoIncrement"`
	MerchantID string    `gorm:"size:64;not null"`
	MemberID   int64     `gorm:"not null;index"`
	FromLevel  string    `gorm:"size:64;not null"`
	ToLevel    string    `gorm:"size:64;not null"`
	Cause      string    `gorm:"size:128;not null"`
	At         time.Time `gorm:"precision:3;not null"`
}

func (levelChangeRow) TableName() string { return "level_changes" }

type levelHistory struct{ db *gorm.DB }

func (s levelHistory) Append(ctx context.Context, c *ritual.LevelChange) error {
	row := levelChangeRow{MerchantID: c.MerchantID, MemberID: c.MemberID, FromLevel: c.From, ToLevel: c.To, Cause: c.Cause, At: c.At.UTC()}
	if err := s.db.WithContext(ctx).Create(&row).Error; err != nil {
		return translate(err, "record level change")
	}
	c.ID = row.ID
	return nil
}

func (s levelHistory) ForMember(ctx context.Context, memberID int64) ([]*ritual.LevelChange, error) {
	var rows []levelChangeRow
	if err := s.db.WithContext(ctx).Where("member_id = ?", memberID).Order("id DESC").Find(&rows).Error; err != nil {
		return nil, translate(err, "list level changes")
	}
	out := make([]*ritual.LevelChange, len(rows))
	for i, r := range rows {
		out[i] = &ritual.LevelChange{ID: r.ID, MerchantID: r.MerchantID, MemberID: r.MemberID, From: r.FromLevel, To: r.ToLevel, Cause: r.Cause, At: r.At.UTC()}
	}
	return out, nil
}
