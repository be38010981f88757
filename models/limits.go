package models

import (
	"context"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/wxclub/wxclub/ritual"
)

// rateCounterRow counts attempts for one key in one fixed window.
type rateCounterRow struct {
	Key         string    `gorm:"primaryKey;size:191"`
	WindowStart time.Time `gorm:"primaryKey;precision:3"`
	Count       int       `gorm:"not null"`
}

func (rateCounterRow) TableName() string { return "rate_counters" }

type rateLimits struct{ db *gorm.DB }

// Hit counts under the row's lock, so concurrent hits each see their own
// count: the nth hit reads n, never a count others raised meanwhile.
func (s rateLimits) Hit(ctx context.Context, key string, window time.Duration, now time.Time) (int, error) {
	return s.add(ctx, key, window, now, 1)
}

// add counts by under the row's lock and returns the count after.
func (s rateLimits) add(ctx context.Context, key string, window time.Duration, now time.Time, by int) (int, error) {
	start := now.UTC().Truncate(window) // window 0 from time zero: one count for the key, whose name carries the period
	var n int
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		row := rateCounterRow{Key: key, WindowStart: start}
		if err := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&row).Error; err != nil {
			return err
		}
		var got rateCounterRow
		if err := tx.Clauses(clause.Locking{Strength: "UPDATE"}).Take(&got, "`key` = ? AND window_start = ?", key, start).Error; err != nil {
			return err
		}
		n = got.Count + by
		return tx.Model(&rateCounterRow{}).Where("`key` = ? AND window_start = ?", key, start).Update("count", n).Error
	})
	return n, translate(err, "count attempt")
}

// Reserve grants an attempt with one conditional UPDATE: the database
// checks and counts under the row's lock, so concurrent reservations
// (here or on another replica) queue on the row and none sees a count
// another is about to raise.
func (s rateLimits) Reserve(ctx context.Context, key string, limit int, window time.Duration, now time.Time) (bool, error) {
	start := now.UTC().Truncate(window)
	db := s.db.WithContext(ctx)
	row := rateCounterRow{Key: key, WindowStart: start}
	if err := db.Clauses(clause.OnConflict{DoNothing: true}).Create(&row).Error; err != nil {
		return false, translate(err, "reserve attempt")
	}
	res := db.Model(&rateCounterRow{}).Where("`key` = ? AND window_start = ? AND `count` < ?", key, start, limit).
		Update("count", gorm.Expr("`count` + 1"))
	if res.Error != nil {
		return false, translate(res.Error, "reserve attempt")
	}
	return res.RowsAffected == 1, nil
}

func (s rateLimits) Release(ctx context.Context, key string, window time.Duration, now time.Time) error {
	err := s.db.WithContext(ctx).Model(&rateCounterRow{}).
		Where("`key` = ? AND window_start = ? AND `count` > 0", key, now.UTC().Truncate(window)).
		Update("count", gorm.Expr("`count` - 1")).Error
	return translate(err, "release attempt")
}

func (s rateLimits) Bump(ctx context.Context, key string, n int) (int, error) {
	return s.add(ctx, key, 0, time.Time{}, n)
}

// qrCodeRow is a QR code WeChat made for a merchant's scene.
type qrCodeRow struct {
	MerchantID string     `gorm:"primaryKey;size:64"`
	Scene      string     `gorm:"primaryKey;size:64"`
	Permanent  bool       `gorm:"primaryKey"`
	Ticket     string     `gorm:"size:255;not null"`
	ImageURL   string     `gorm:"size:512;not null"`
	ExpiresAt  *time.Time `gorm:"precision:3"`
	CreatedAt  time.Time  `gorm:"precision:3;not null"`
}

func (qrCodeRow) TableName() string { return "qr_codes" }

type qrCodes struct{ db *gorm.DB }

func (s qrCodes) Find(ctx context.Context, merchantID, scene string, permanent bool, validAt time.Time) (*ritual.QRCode, error) {
	var row qrCodeRow
	err := s.db.WithContext(ctx).
		Where("merchant_id = ? AND scene = ? AND permanent = ?", merchantID, scene, permanent).
		Where("expires_at IS NULL OR expires_at > ?", validAt.UTC()).Take(&row).Error
	if err != nil {
		return nil, translate(err, "find QR code")
	}
	return &ritual.QRCode{Ticket: row.Ticket, ImageURL: row.ImageURL, ExpiresAt: utcPtr(row.ExpiresAt)}, nil
}

func (s qrCodes) Save(ctx context.Context, merchantID, scene string, permanent bool, qr ritual.QRCode, now time.Time) error {
	row := qrCodeRow{MerchantID: merchantID, Scene: scene, Permanent: permanent, Ticket: qr.Ticket, ImageURL: qr.ImageURL,
		ExpiresAt: utcPtr(qr.ExpiresAt), CreatedAt: now.UTC()}
	err := s.db.WithContext(ctx).Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "merchant_id"}, {Name: "scene"}, {Name: "permanent"}},
		DoUpdates: clause.AssignmentColumns([]string{"ticket", "image_url", "expires_at", "created_at"}),
	}).Create(&row).Error
	return translate(err, "save QR code")
}
