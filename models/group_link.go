package models

import (
	"context"
	"time"

	"github.com/wxclub/wxclub/ritual"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// groupLinks implements ritual.GroupLinks.
type groupLinks struct{ db *gorm.DB }

// groupLinkRow says which member a sender is. Both directions are unique
// per merchant: one sender is one member and one member one sender.
type groupLinkRow struct {
	ID         int64     `gorm:"primaryKey;autoIncrement"`
	MerchantID string    `gorm:"size:64;not null;uniqueIndex:ux_group_links_sender,priority:1;uniqueIndex:ux_group_links_member,priority:1"`
	SenderID   string    `gorm:"size:128;not null;uniqueIndex:ux_group_links_sender,priority:2"`
	MemberID   int64     `gorm:"not null;uniqueIndex:ux_group_links_member,priority:2"`
	LinkedAt   time.Time `gorm:"precision:3;not null"`
}

func (groupLinkRow) TableName() string { return "group_links" }

// linkCodeRow is a 绑定 code the official account gave a member.
type linkCodeRow struct {
	ID         int64      `gorm:"primaryKey;autoIncrement"`
	MerchantID string     `gorm:"size:64;not null;uniqueIndex:ux_link_codes,priority:1;index:ix_link_codes_member,priority:1"`
	Code       string     `gorm:"size:16;not null;uniqueIndex:ux_link_codes,priority:2"`
	MemberID   int64      `gorm:"not null;index:ix_link_codes_member,priority:2"`
	ExpiresAt  time.Time  `gorm:"precision:3;not null"`
	UsedAt     *time.Time `gorm:"precision:3"`
	UsedBy     string     `gorm:"size:128;not null;default:''"`
	CreatedAt  time.Time  `gorm:"precision:3;not null"`
}

func (linkCodeRow) TableName() string { return "group_link_codes" }

func toLink(r groupLinkRow) *ritual.GroupLink {
	return &ritual.GroupLink{MerchantID: r.MerchantID, SenderID: r.SenderID, MemberID: r.MemberID, LinkedAt: r.LinkedAt.UTC()}
}

func (s groupLinks) LinkOfSender(ctx context.Context, merchantID, senderID string) (*ritual.GroupLink, error) {
	var row groupLinkRow
	if err := s.db.WithContext(ctx).Take(&row, "merchant_id = ? AND sender_id = ?", merchantID, senderID).Error; err != nil {
		return nil, translate(err, "find group link")
	}
	return toLink(row), nil
}

func (s groupLinks) LinkOfMember(ctx context.Context, merchantID string, memberID int64) (*ritual.GroupLink, error) {
	var row groupLinkRow
	if err := s.db.WithContext(ctx).Take(&row, "merchant_id = ? AND member_id = ?", merchantID, memberID).Error; err != nil {
		return nil, translate(err, "find group link")
	}
	return toLink(row), nil
}

func (s groupLinks) CreateLink(ctx context.Context, l *ritual.GroupLink) error {
	row := groupLinkRow{MerchantID: l.MerchantID, SenderID: l.SenderID, MemberID: l.MemberID, LinkedAt: l.LinkedAt.UTC()}
	return translate(s.db.WithContext(ctx).Create(&row).Error, "link group sender")
}

func toLinkCode(r linkCodeRow) *ritual.LinkCode {
	return &ritual.LinkCode{
		ID: r.ID, MerchantID: r.MerchantID, Code: r.Code, MemberID: r.MemberID, ExpiresAt: r.ExpiresAt.UTC(),
		UsedAt: utcPtr(r.UsedAt), UsedBy: r.UsedBy, CreatedAt: r.CreatedAt.UTC(),
	}
}

func (s groupLinks) CreateLinkCode(ctx context.Context, lc *ritual.LinkCode) error {
	row := linkCodeRow{MerchantID: lc.MerchantID, Code: lc.Code, MemberID: lc.MemberID, ExpiresAt: lc.ExpiresAt.UTC(), CreatedAt: lc.CreatedAt.UTC()}
	if err := s.db.WithContext(ctx).Create(&row).Error; err != nil {
		return translate(err, "create link code")
	}
	lc.ID = row.ID
	return nil
}

func (s groupLinks) LinkCode(ctx context.Context, merchantID, code string) (*ritual.LinkCode, error) {
	var row linkCodeRow
	err := s.db.WithContext(ctx).Clauses(clause.Locking{Strength: "UPDATE"}).Take(&row, "merchant_id = ? AND code = ?", merchantID, code).Error
	if err != nil {
		return nil, translate(err, "find link code")
	}
	return toLinkCode(row), nil
}

func (s groupLinks) ActiveLinkCode(ctx context.Context, merchantID string, memberID int64, now time.Time) (*ritual.LinkCode, error) {
	var row linkCodeRow
	err := s.db.WithContext(ctx).Where("merchant_id = ? AND member_id = ? AND used_at IS NULL AND expires_at > ?", merchantID, memberID, now.UTC()).
		Order("id DESC").Take(&row).Error
	if err != nil {
		return nil, translate(err, "find active link code")
	}
	return toLinkCode(row), nil
}

func (s groupLinks) UseLinkCode(ctx context.Context, lc *ritual.LinkCode) error {
	err := s.db.WithContext(ctx).Model(&linkCodeRow{}).Where("id = ?", lc.ID).
		Updates(map[string]any{"used_at": utcPtr(lc.UsedAt), "used_by": lc.UsedBy}).Error
	return translate(err, "use link code")
}
