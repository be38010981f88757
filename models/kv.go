package models

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/wxclub/wxclub/ritual"
)

// kvRow is one shared value with its expiry: the database-backed
// ritual.KeyValue for deployments without Redis.
type kvRow struct {
	Key       string    `gorm:"primaryKey;size:191"`
	Value     string    `gorm:"size:2048;not null"`
	ExpiresAt time.Time `gorm:"precision:3;not null;index"`
}

func (kvRow) TableName() string { return "shared_values" }

// KeyValue is the database-backed ritual.KeyValue.
type KeyValue struct {
	db    *gorm.DB
	clock ritual.Clock
}

var _ ritual.KeyValue = KeyValue{}

// KeyValue returns the database-backed shared key-value store.
func (db *DB) KeyValue() KeyValue { return KeyValue{db: db.gorm, clock: db.clock} }

func (kv KeyValue) Get(ctx context.Context, key string) (string, bool, error) {
	var row kvRow
	err := kv.db.WithContext(ctx).Take(&row, "`key` = ? AND expires_at > ?", key, kv.clock().UTC()).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return "", false, nil
	}
	return row.Value, err == nil, translate(err, "read shared value")
}

func (kv KeyValue) Set(ctx context.Context, key, value string, ttl time.Duration) error {
	row := kvRow{Key: key, Value: value, ExpiresAt: kv.clock().Add(ttl).UTC()}
	err := kv.db.WithContext(ctx).Clauses(clause.OnConflict{
		Columns: []clause.Column{{Name: "key"}}, DoUpdates: clause.AssignmentColumns([]string{"value", "expires_at"}),
	}).Create(&row).Error
	return translate(err, "store shared value")
}

// SetIfAbsent takes over an expired row or inserts a new one; exactly one
// of several concurrent callers succeeds.
func (kv KeyValue) SetIfAbsent(ctx context.Context, key, value string, ttl time.Duration) (bool, error) {
	now := kv.clock().UTC()
	res := kv.db.WithContext(ctx).Model(&kvRow{}).Where("`key` = ? AND expires_at <= ?", key, now).
		Updates(map[string]any{"value": value, "expires_at": now.Add(ttl)})
	if res.Error != nil {
		return false, translate(res.Error, "take over shared value")
	}
	if res.RowsAffected == 1 {
		return true, nil
	}
	row := kvRow{Key: key, Value: value, ExpiresAt: now.Add(ttl)}
	ins := kv.db.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&row)
	return ins.RowsAffected == 1, translate(ins.Error, "store shared value if absent")
}

func (kv KeyValue) DeleteIf(ctx context.Context, key, value string) (bool, error) {
	res := kv.db.WithContext(ctx).Where("`key` = ? AND value = ?", key, value).Delete(&kvRow{})
	return res.RowsAffected == 1, translate(res.Error, "delete shared value")
}
