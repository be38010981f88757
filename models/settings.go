package models

import (
	"context"
	"time"

	"gorm.io/gorm"

	"github.com/wxclub/wxclub/ritual"
)

// settingsVersionRow is one change to a merchant's settings.
type settingsVersionRow struct {
	MerchantID   string     `gorm:"primaryKey;size:64"`
	Version      int        `gorm:"primaryKey"`
	Section      string     `gorm:"size:32;not null"`
	ChangedBy    string     `gorm:"size:128;not null"`
	ChangedAt    time.Time  `gorm:"precision:3;not null"`
	Before       string     `gorm:"type:text"`
	After        string     `gorm:"type:text"`
	Reevaluate   bool       `gorm:"not null;default:false;index:ix_settings_reevaluate,priority:1"`
	ReevaluateAt *time.Time `gorm:"column:reevaluated_at;precision:3;index:ix_settings_reevaluate,priority:2"`
}

func (settingsVersionRow) TableName() string { return "settings_versions" }

type settingsLog struct{ db *gorm.DB }

func (s settingsLog) Append(ctx context.Context, v *ritual.SettingsVersion) error {
	row := settingsVersionRow{
		MerchantID: v.MerchantID, Version: v.Version, Section: v.Section, ChangedBy: v.ChangedBy, ChangedAt: v.ChangedAt.UTC(),
		Before: string(v.Before), After: string(v.After), Reevaluate: v.Reevaluate,
	}
	return translate(s.db.WithContext(ctx).Create(&row).Error, "record settings version")
}

func toVersions(rows []settingsVersionRow) []ritual.SettingsVersion {
	out := make([]ritual.SettingsVersion, len(rows))
	for i, r := range rows {
		out[i] = ritual.SettingsVersion{
			MerchantID: r.MerchantID, Version: r.Version, Section: r.Section, ChangedBy: r.ChangedBy,
			ChangedAt: r.ChangedAt.UTC(), Before: rawOrNil(r.Before), After: rawOrNil(r.After),
			Reevaluate: r.Reevaluate, ReevaluateAt: utcPtr(r.ReevaluateAt),
		}
	}
	return out
}

func rawOrNil(s string) []byte {
	if s == "" {
		return nil
	}
	return []byte(s)
}

func (s settingsLog) List(ctx context.Context, merchantID string, limit int) ([]ritual.SettingsVersion, error) {
	var rows []settingsVersionRow
	err := s.db.WithContext(ctx).Where("merchant_id = ?", merchantID).Order("version DESC").Limit(limit).Find(&rows).Error
	return toVersions(rows), translate(err, "list settings versions")
}

func (s settingsLog) PendingReevaluation(ctx context.Context, limit int) ([]ritual.SettingsVersion, error) {
	var rows []settingsVersionRow
	err := s.db.WithContext(ctx).Where("reevaluate = ? AND reevaluated_at IS NULL", true).
		Order("changed_at").Limit(limit).Find(&rows).Error
	return toVersions(rows), translate(err, "find settings to re-evaluate")
}

func (s settingsLog) MarkReevaluated(ctx context.Context, merchantID string, version int, at time.Time) error {
	err := s.db.WithContext(ctx).Model(&settingsVersionRow{}).Where("merchant_id = ? AND version = ?", merchantID, version).
		Update("reevaluated_at", at.UTC()).Error
	return translate(err, "mark settings re-evaluated")
}
