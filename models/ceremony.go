package models

import (
	"context"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/wxclub/wxclub/ritual"
)

// ceremonyRow is one member's upgrade ceremony.
type ceremonyRow struct {
	ID         int64      `gorm:"primaryKey;autoIncrement"`
	MerchantID string     `gorm:"size:64;not null;index:ix_ceremonies_status,priority:1"`
	MemberID   int64      `gorm:"not null;index"`
	FromLevel  string     `gorm:"size:64;not null"`
	ToLevel    string     `gorm:"size:64;not null"`
	Steps      string     `gorm:"size:255;not null"` // comma-separated
	Done       string     `gorm:"size:255;not null;default:''"`
	Status     string     `gorm:"size:16;not null;index:ix_ceremonies_status,priority:2"`
	Deadline   time.Time  `gorm:"precision:3;not null;index:ix_ceremonies_status,priority:3"`
	OpenedAt   time.Time  `gorm:"precision:3;not null"`
	PromptedAt *time.Time `gorm:"precision:3"`
	RemindedAt *time.Time `gorm:"precision:3"`
	ClosedAt   *time.Time `gorm:"precision:3"`
	Outcome    string     `gorm:"size:32;not null;default:''"`
}

func (ceremonyRow) TableName() string { return "ceremonies" }

func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

func ceremonyToRow(c *ritual.Ceremony) ceremonyRow {
	return ceremonyRow{
		ID: c.ID, MerchantID: c.MerchantID, MemberID: c.MemberID, FromLevel: c.FromLevel, ToLevel: c.ToLevel,
		Steps: strings.Join(c.Steps, ","), Done: strings.Join(c.Done, ","), Status: c.Status,
		Deadline: c.Deadline.UTC(), OpenedAt: c.OpenedAt.UTC(), PromptedAt: utcPtr(c.PromptedAt),
		RemindedAt: utcPtr(c.RemindedAt), ClosedAt: utcPtr(c.ClosedAt), Outcome: c.Outcome,
	}
}

func (r ceremonyRow) toCeremony() *ritual.Ceremony {
	return &ritual.Ceremony{
		ID: r.ID, MerchantID: r.MerchantID, MemberID: r.MemberID, FromLevel: r.FromLevel, ToLevel: r.ToLevel,
		Steps: splitList(r.Steps), Done: splitList(r.Done), Status: r.Status,
		Deadline: r.Deadline.UTC(), OpenedAt: r.OpenedAt.UTC(), PromptedAt: utcPtr(r.PromptedAt),
		RemindedAt: utcPtr(r.RemindedAt), ClosedAt: utcPtr(r.ClosedAt), Outcome: r.Outcome,
	}
}

type ceremonies struct{ db *gorm.DB }

func (s ceremonies) Create(ctx context.Context, c *ritual.Ceremony) error {
	row := ceremonyToRow(c)
	if err := s.db.WithContext(ctx).Create(&row).Error; err != nil {
		return translate(err, "open ceremony")
	}
	c.ID = row.ID
	return nil
}

func (s ceremonies) Update(ctx context.Context, c *ritual.Ceremony) error {
	row := ceremonyToRow(c)
	err := s.db.WithContext(ctx).Model(&ceremonyRow{}).Where("id = ?", c.ID).Select("*").Omit("id").Updates(&row).Error
	return translate(err, "update ceremony")
}

func (s ceremonies) take(ctx context.Context, query string, args ...any) (*ritual.Ceremony, error) {
	var row ceremonyRow
	err := s.db.WithContext(ctx).Clauses(clause.Locking{Strength: "UPDATE"}).Where(query, args...).Order("id DESC").Take(&row).Error
	if err != nil {
		return nil, translate(err, "find ceremony")
	}
	return row.toCeremony(), nil
}

func (s ceremonies) OpenFor(ctx context.Context, memberID int64) (*ritual.Ceremony, error) {
	return s.take(ctx, "member_id = ? AND status = ?", memberID, ritual.CeremonyOpen)
}

func (s ceremonies) ByID(ctx context.Context, merchantID string, id int64) (*ritual.Ceremony, error) {
	return s.take(ctx, "merchant_id = ? AND id = ?", merchantID, id)
}

func (s ceremonies) List(ctx context.Context, merchantID, status string, limit int) ([]*ritual.Ceremony, error) {
	q := s.db.WithContext(ctx).Where("merchant_id = ?", merchantID)
	if status != "" {
		q = q.Where("status = ?", status)
	}
	var rows []ceremonyRow
	if err := q.Order("id DESC").Limit(limit).Find(&rows).Error; err != nil {
		return nil, translate(err, "list ceremonies")
	}
	out := make([]*ritual.Ceremony, len(rows))
	for i, r := range rows {
		out[i] = r.toCeremony()
	}
	return out, nil
}

func (s ceremonies) ForMember(ctx context.Context, memberID int64, limit int) ([]*ritual.Ceremony, error) {
	var rows []ceremonyRow
	if err := s.db.WithContext(ctx).Where("member_id = ?", memberID).Order("id DESC").Limit(limit).Find(&rows).Error; err != nil {
		return nil, translate(err, "list member's ceremonies")
	}
	out := make([]*ritual.Ceremony, len(rows))
	for i, r := range rows {
		out[i] = r.toCeremony()
	}
	return out, nil
}

func (s ceremonies) OpenBefore(ctx context.Context, merchantID string, t time.Time, limit int) ([]int64, error) {
	var ids []int64
	err := s.db.WithContext(ctx).Model(&ceremonyRow{}).
		Where("merchant_id = ? AND status = ? AND deadline < ?", merchantID, ritual.CeremonyOpen, t.UTC()).
		Order("deadline, id").Limit(limit).Pluck("id", &ids).Error
	return ids, translate(err, "find ceremonies due")
}
