package models

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/wxclub/wxclub/ritual"
)

// merchantRow is a merchant. Its settings (credentials, programme,
// templates) are one JSON document: they are read and written as a whole
// and never queried by their parts.
type merchantRow struct {
	ID         string   `gorm:"primaryKey;size:64"`
	Name       freeText `gorm:"size:128;not null"`
	APIKeyHash string   `gorm:"size:64;not null;uniqueIndex"`
	AppID      string   `gorm:"size:64;not null;index"`
	Settings   string   `gorm:"size:1048576;not null"`
	Version    int      `gorm:"not null;default:1"`
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

func (merchantRow) TableName() string { return "merchants" }

func merchantToRow(m *ritual.Merchant) (merchantRow, error) {
	settings, err := json.Marshal(m)
	if err != nil {
		return merchantRow{}, fmt.Errorf("models: encode merchant %s: %w", m.ID, err)
	}
	return merchantRow{
		ID: m.ID, Name: freeText(m.Name), APIKeyHash: m.APIKeyHash, AppID: m.OfficialAccount.AppID,
		Settings: string(settings), Version: max(1, m.Version), CreatedAt: m.CreatedAt, UpdatedAt: m.UpdatedAt,
	}, nil
}

func (r merchantRow) toMerchant() (*ritual.Merchant, error) {
	var m ritual.Merchant
	if err := json.Unmarshal([]byte(r.Settings), &m); err != nil {
		return nil, fmt.Errorf("models: decode merchant %s: %w", r.ID, err)
	}
	m.ID, m.Name, m.APIKeyHash, m.Version = r.ID, string(r.Name), r.APIKeyHash, r.Version
	m.CreatedAt, m.UpdatedAt = r.CreatedAt, r.UpdatedAt
	return &m, nil
}

type merchants struct{ db *gorm.DB }

func (s merchants) ByID(ctx context.Context, id string) (*ritual.Merchant, error) {
	var row merchantRow
	if err := s.db.WithContext(ctx).Take(&row, "id = ?", id).Error; err != nil {
		return nil, translate(err, "find merchant "+id)
	}
	return row.toMerchant()
}

func (s merchants) ByAPIKeyHash(ctx context.Context, hash string) (*ritual.Merchant, error) {
	var row merchantRow
	if err := s.db.WithContext(ctx).Take(&row, "api_key_hash = ?", hash).Error; err != nil {
		return nil, translate(err, "find merchant by API key")
	}
	return row.toMerchant()
}

func (s merchants) Create(ctx context.Context, m *ritual.Merchant) error {
	row, err := merchantToRow(m)
	if err != nil {
		return err
	}
	return translate(s.db.WithContext(ctx).Create(&row).Error, "create merchant "+m.ID)
}

func (s merchants) List(ctx context.Context) ([]*ritual.Merchant, error) {
	var rows []merchantRow
	if err := s.db.WithContext(ctx).Order("id").Find(&rows).Error; err != nil {
		return nil, translate(err, "list merchants")
	}
	out := make([]*ritual.Merchant, 0, len(rows))
	for _, r := range rows {
		m, err := r.toMerchant()
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

func (s merchants) Lock(ctx context.Context, id string) (*ritual.Merchant, error) {
	var row merchantRow
	err := s.db.WithContext(ctx).Clauses(clause.Locking{Strength: "UPDATE"}).Take(&row, "id = ?", id).Error
	if err != nil {
		return nil, translate(err, "find merchant "+id)
	}
	return row.toMerchant()
}

func (s merchants) Update(ctx context.Context, m *ritual.Merchant) error {
	row, err := merchantToRow(m)
	if err != nil {
		return err
	}
	err = s.db.WithContext(ctx).Model(&merchantRow{}).Where("id = ?", m.ID).Updates(map[string]any{
		"name": row.Name, "app_id": row.AppID, "settings": row.Settings, "version": row.Version, "updated_at": m.UpdatedAt.UTC(),
	}).Error
	return translate(err, "update merchant "+m.ID)
}
