package models

import (
	"context"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// inboundRow remembers one delivery from WeChat by its dedupe key, with the
// reply it got, so that WeChat's retries are answered the same way.
type inboundRow struct {
	ID         int64     `gorm:"primaryKey;autoIncrement"`
	MerchantID string    `gorm:"size:64;not null;uniqueIndex:ux_inbound_key,priority:1"`
	DedupeKey  string    `gorm:"size:64;not null;uniqueIndex:ux_inbound_key,priority:2"`
	Reply      string    `gorm:"size:4096;not null"`
	ReceivedAt time.Time `gorm:"precision:3;not null;index"`
}

func (inboundRow) TableName() string { return "inbound_messages" }

type inboundLog struct{ db *gorm.DB }

func (s inboundLog) Claim(ctx context.Context, merchantID, key, reply string, at time.Time) (bool, error) {
	row := inboundRow{MerchantID: merchantID, DedupeKey: key, Reply: reply, ReceivedAt: at.UTC()}
	res := s.db.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&row)
	if res.Error != nil {
		return false, translate(res.Error, "claim inbound message")
	}
	return res.RowsAffected == 1, nil
}

func (s inboundLog) Reply(ctx context.Context, merchantID, key string) (string, error) {
	var row inboundRow
	err := s.db.WithContext(ctx).Select("reply").Take(&row, "merchant_id = ? AND dedupe_key = ?", merchantID, key).Error
	return row.Reply, translate(err, "find reply")
}

func (s inboundLog) Prune(ctx context.Context, before time.Time, limit int) (int64, error) {
	var ids []int64
	err := s.db.WithContext(ctx).Model(&inboundRow{}).Where("received_at < ?", before.UTC()).
		Order("id").Limit(limit).Pluck("id", &ids).Error
	if err != nil || len(ids) == 0 {
		return 0, translate(err, "find old inbound messages")
	}
	res := s.db.WithContext(ctx).Where("id IN ?", ids).Delete(&inboundRow{})
	return res.RowsAffected, translate(res.Error, "prune inbound messages")
}
