package models

import (
	"context"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/wxclub/wxclub/ritual"
)

// memberRow is a member. OpenID and Phone are NULL until known, so the
// unique indexes only bind the members that have them.
type memberRow struct {
	ID             int64      `gorm:"primaryKey;autoIncrement"`
	MerchantID     string     `gorm:"size:64;not null;uniqueIndex:ux_members_openid,priority:1;uniqueIndex:ux_members_phone,priority:1"`
	OpenID         *string    `gorm:"column:openid;size:64;uniqueIndex:ux_members_openid,priority:2"`
	Phone          *string    `gorm:"size:20;uniqueIndex:ux_members_phone,priority:2"`
	State          string     `gorm:"size:16;not null"`
	SubscribeScene string     `gorm:"size:64;not null;default:''"`
	FollowedAt     *time.Time `gorm:"precision:3"`
	UnfollowedAt   *time.Time `gorm:"precision:3"`
	CreatedAt      time.Time  `gorm:"precision:3"`
	UpdatedAt      time.Time  `gorm:"precision:3"`
}

func (memberRow) TableName() string { return "members" }

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func memberToRow(m *ritual.Member) memberRow {
	return memberRow{
		ID: m.ID, MerchantID: m.MerchantID, OpenID: nullable(m.OpenID), Phone: nullable(m.Phone),
		State: string(m.State), SubscribeScene: m.SubscribeScene,
		FollowedAt: utcPtr(m.FollowedAt), UnfollowedAt: utcPtr(m.UnfollowedAt),
		CreatedAt: m.CreatedAt.UTC(), UpdatedAt: m.UpdatedAt.UTC(),
	}
}

func (r memberRow) toMember() *ritual.Member {
	return &ritual.Member{
		ID: r.ID, MerchantID: r.MerchantID, OpenID: deref(r.OpenID), Phone: deref(r.Phone),
		State: ritual.MemberState(r.State), SubscribeScene: r.SubscribeScene,
		FollowedAt: utcPtr(r.FollowedAt), UnfollowedAt: utcPtr(r.UnfollowedAt),
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}
}

type members struct{ db *gorm.DB }

func (s members) ByOpenID(ctx context.Context, merchantID, openid string) (*ritual.Member, error) {
	var row memberRow
	err := s.db.WithContext(ctx).Clauses(clause.Locking{Strength: "UPDATE"}).
		Take(&row, "merchant_id = ? AND openid = ?", merchantID, openid).Error
	if err != nil {
		return nil, translate(err, "find member")
	}
	return row.toMember(), nil
}

func (s members) EnsureByOpenID(ctx context.Context, merchantID, openid string, now time.Time) (*ritual.Member, bool, error) {
	row := memberRow{
		MerchantID: merchantID, OpenID: &openid, State: string(ritual.StateFollowing),
		CreatedAt: now.UTC(), UpdatedAt: now.UTC(),
	}
	res := s.db.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&row)
	if res.Error != nil {
		return nil, false, translate(res.Error, "create member")
	}
	m, err := s.ByOpenID(ctx, merchantID, openid)
	return m, res.RowsAffected == 1, err
}

func (s members) Update(ctx context.Context, m *ritual.Member) error {
	row := memberToRow(m)
	res := s.db.WithContext(ctx).Select("*").Omit("id", "created_at").Where("id = ?", m.ID).Updates(&row)
	if res.Error != nil {
		return translate(res.Error, "update member")
	}
	// RowsAffected is not checked: MySQL counts changed rows, not matched
	// ones, and the member was read in this transaction anyway.
	m.UpdatedAt = row.UpdatedAt
	return nil
}
