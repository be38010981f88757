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
	MerchantID     string     `gorm:"size:64;not null;uniqueIndex:ux_members_openid,priority:1;uniqueIndex:ux_members_phone,priority:1;index:ix_members_level,priority:1;uniqueIndex:ux_members_claim,priority:1;uniqueIndex:ux_members_referral,priority:1;index:ix_members_test_shopper,priority:1"`
	OpenID         *string    `gorm:"column:openid;size:64;uniqueIndex:ux_members_openid,priority:2"`
	Phone          *string    `gorm:"size:20;uniqueIndex:ux_members_phone,priority:2"`
	State          string     `gorm:"size:16;not null"`
	Points         int64      `gorm:"not null;default:0"`
	LevelKey       string     `gorm:"size:64;not null;default:'';index:ix_members_level,priority:2"`
	LevelSince     *time.Time `gorm:"precision:3"`
	SubscribeScene string     `gorm:"size:64;not null;default:''"`
	FollowedAt     *time.Time `gorm:"precision:3"`
	UnfollowedAt   *time.Time `gorm:"precision:3"`
	CreatedAt      time.Time  `gorm:"precision:3"`
	UpdatedAt      time.Time  `gorm:"precision:3"`

	ClaimCode          *string    `gorm:"size:16;uniqueIndex:ux_members_claim,priority:2"`
	ReferralCode       *string    `gorm:"size:16;uniqueIndex:ux_members_referral,priority:2"`
	ReferredBy         int64      `gorm:"not null;default:0;index"`
	Birthday           string     `gorm:"size:10;not null;default:''"`
	CardCode           *string    `gorm:"size:64;index"`
	RecognizedAt       *time.Time `gorm:"precision:3;index"`
	CardScannedAt      *time.Time `gorm:"precision:3"`
	FirstFollowedAt    *time.Time `gorm:"precision:3"`
	ActivatedAt        *time.Time `gorm:"precision:3"`
	BenefitClaimedAt   *time.Time `gorm:"precision:3"`
	FirstRepeatOrderAt *time.Time `gorm:"precision:3"`

	// TestShopper is set when the console's phone preview makes the member
	// and never changes after (Update leaves it alone); rows from before
	// the column get false: every existing member is a real one.
	TestShopper bool `gorm:"not null;default:false;index:ix_members_test_shopper,priority:2"`
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
		State: string(m.State), Points: m.Points, LevelKey: m.LevelKey, LevelSince: utcPtr(m.LevelSince),
		SubscribeScene: m.SubscribeScene, FollowedAt: utcPtr(m.FollowedAt), UnfollowedAt: utcPtr(m.UnfollowedAt),
		CreatedAt: m.CreatedAt.UTC(), UpdatedAt: m.UpdatedAt.UTC(),
		ClaimCode: nullable(m.ClaimCode), ReferralCode: nullable(m.ReferralCode),
		ReferredBy: m.ReferredBy, Birthday: m.Birthday, CardCode: nullable(m.CardCode),
		RecognizedAt: utcPtr(m.Funnel.RecognizedAt), CardScannedAt: utcPtr(m.Funnel.CardScannedAt),
		FirstFollowedAt: utcPtr(m.Funnel.FollowedAt), ActivatedAt: utcPtr(m.Funnel.ActivatedAt),
		BenefitClaimedAt: utcPtr(m.Funnel.BenefitClaimedAt), FirstRepeatOrderAt: utcPtr(m.Funnel.FirstRepeatOrderAt),
		TestShopper: m.TestShopper,
	}
}

func (r memberRow) toMember() *ritual.Member {
	return &ritual.Member{
		ID: r.ID, MerchantID: r.MerchantID, OpenID: deref(r.OpenID), Phone: deref(r.Phone),
		State: ritual.MemberState(r.State), Points: r.Points, LevelKey: r.LevelKey, LevelSince: utcPtr(r.LevelSince),
		SubscribeScene: r.SubscribeScene, FollowedAt: utcPtr(r.FollowedAt), UnfollowedAt: utcPtr(r.UnfollowedAt),
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
		ClaimCode: deref(r.ClaimCode), ReferralCode: deref(r.ReferralCode), ReferredBy: r.ReferredBy,
		Birthday: r.Birthday, CardCode: deref(r.CardCode), TestShopper: r.TestShopper,
		Funnel: ritual.Funnel{
			RecognizedAt: utcPtr(r.RecognizedAt), CardScannedAt: utcPtr(r.CardScannedAt),
			FollowedAt: utcPtr(r.FirstFollowedAt), ActivatedAt: utcPtr(r.ActivatedAt),
			BenefitClaimedAt: utcPtr(r.BenefitClaimedAt), FirstRepeatOrderAt: utcPtr(r.FirstRepeatOrderAt),
		},
	}
}

type members struct{ db *gorm.DB }

// take reads one member, locking the row inside a transaction.
func (s members) take(ctx context.Context, what string, query string, args ...any) (*ritual.Member, error) {
	var row memberRow
	err := s.db.WithContext(ctx).Clauses(clause.Locking{Strength: "UPDATE"}).Where(query, args...).Take(&row).Error
	if err != nil {
		return nil, translate(err, what)
	}
	return row.toMember(), nil
}

func (s members) ByOpenID(ctx context.Context, merchantID, openid string) (*ritual.Member, error) {
	return s.take(ctx, "find member", "merchant_id = ? AND openid = ?", merchantID, openid)
}

func (s members) ByPhone(ctx context.Context, merchantID, phone string) (*ritual.Member, error) {
	return s.take(ctx, "find member by phone", "merchant_id = ? AND phone = ?", merchantID, phone)
}

func (s members) ByID(ctx context.Context, id int64) (*ritual.Member, error) {
	return s.take(ctx, "find member", "id = ?", id)
}

func (s members) ByIDs(ctx context.Context, ids []int64) ([]*ritual.Member, error) {
	var rows []memberRow
	if err := s.db.WithContext(ctx).Where("id IN ?", ids).Find(&rows).Error; err != nil {
		return nil, translate(err, "find members")
	}
	out := make([]*ritual.Member, len(rows))
	for i, r := range rows {
		out[i] = r.toMember()
	}
	return out, nil
}

// EnsureByOpenID and EnsureByPhone return a member they created as they
// wrote it (the insert holds its row locked), and read one that was there.
func (s members) EnsureByOpenID(ctx context.Context, merchantID, openid string, state ritual.MemberState, now time.Time) (*ritual.Member, bool, error) {
	row := memberRow{MerchantID: merchantID, OpenID: &openid, State: string(state)}
	created, err := s.insertIgnore(ctx, &row, now)
	if err != nil || created {
		return row.toMember(), created, err
	}
	m, err := s.ByOpenID(ctx, merchantID, openid)
	return m, false, err
}

func (s members) EnsureByPhone(ctx context.Context, merchantID, phone string, now time.Time) (*ritual.Member, bool, error) {
	row := memberRow{MerchantID: merchantID, Phone: &phone, State: string(ritual.StateRecognized)}
	created, err := s.insertIgnore(ctx, &row, now)
	if err != nil || created {
		return row.toMember(), created, err
	}
	m, err := s.ByPhone(ctx, merchantID, phone)
	return m, false, err
}

// insertIgnore creates row unless a unique key is taken; a concurrent
// insert of the same key waits for the first to commit, then does nothing.
// Times are kept to the millisecond the columns hold, so a created row
// reads back as it was written.
func (s members) insertIgnore(ctx context.Context, row *memberRow, now time.Time) (bool, error) {
	now = now.UTC().Truncate(time.Millisecond)
	row.CreatedAt, row.UpdatedAt = now, now
	res := s.db.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(row)
	if res.Error != nil {
		return false, translate(res.Error, "create member")
	}
	return res.RowsAffected == 1, nil
}

func (s members) CreateTestShopper(ctx context.Context, merchantID, openid string, now time.Time) (*ritual.Member, error) {
	row := memberRow{MerchantID: merchantID, OpenID: &openid, State: string(ritual.StateRecognized), TestShopper: true}
	created, err := s.insertIgnore(ctx, &row, now)
	if err != nil {
		return nil, err
	}
	if !created {
		return nil, ritual.Errorf(ritual.ECONFLICT, "merchant %s already has a member with openid %s", merchantID, openid)
	}
	return s.ByOpenID(ctx, merchantID, openid)
}

func (s members) TestShoppers(ctx context.Context, merchantID string, limit int) ([]string, error) {
	var openids []string
	err := s.db.WithContext(ctx).Model(&memberRow{}).Where("merchant_id = ? AND test_shopper = ?", merchantID, true).
		Order("id DESC").Limit(limit).Pluck("openid", &openids).Error
	return openids, translate(err, "list test shoppers")
}

func (s members) IDsAboveLevel(ctx context.Context, merchantID, lowest string, afterID int64, limit int) ([]int64, error) {
	var ids []int64
	err := s.db.WithContext(ctx).Model(&memberRow{}).
		Where("merchant_id = ? AND level_key <> '' AND level_key <> ? AND id > ?", merchantID, lowest, afterID).
		Order("id").Limit(limit).Pluck("id", &ids).Error
	return ids, translate(err, "list members above the lowest level")
}

func (s members) Update(ctx context.Context, m *ritual.Member) error {
	row := memberToRow(m)
	res := s.db.WithContext(ctx).Select("*").Omit("id", "created_at", "test_shopper").Where("id = ?", m.ID).Updates(&row)
	if res.Error != nil {
		return translate(res.Error, "update member")
	}
	// RowsAffected is not checked: MySQL counts changed rows, not matched
	// ones, and the member was read in this transaction anyway.
	m.UpdatedAt = row.UpdatedAt
	return nil
}

func (s members) ByClaimCode(ctx context.Context, merchantID, code string) (*ritual.Member, error) {
	return s.take(ctx, "find member by claim code", "merchant_id = ? AND claim_code = ?", merchantID, code)
}

func (s members) ByReferralCode(ctx context.Context, merchantID, code string) (*ritual.Member, error) {
	return s.take(ctx, "find member by referral code", "merchant_id = ? AND referral_code = ?", merchantID, code)
}

func (s members) Delete(ctx context.Context, id int64) error {
	return translate(s.db.WithContext(ctx).Delete(&memberRow{}, "id = ?", id).Error, "delete member")
}

func (s members) Funnel(ctx context.Context, merchantID string, from, to time.Time) ([]ritual.Funnel, error) {
	var rows []memberRow
	err := s.db.WithContext(ctx).
		Select("recognized_at", "card_scanned_at", "first_followed_at", "activated_at", "benefit_claimed_at", "first_repeat_order_at").
		Where("merchant_id = ? AND recognized_at >= ? AND recognized_at < ?", merchantID, from.UTC(), to.UTC()).
		Find(&rows).Error
	out := make([]ritual.Funnel, len(rows))
	for i, r := range rows {
		out[i] = r.toMember().Funnel
	}
	return out, translate(err, "read the funnel")
}

func (s members) Page(ctx context.Context, merchantID string, afterID int64, limit int) ([]*ritual.Member, error) {
	var rows []memberRow
	err := s.db.WithContext(ctx).Select("id", "merchant_id", "openid", "state").
		Where("merchant_id = ? AND id > ?", merchantID, afterID).Order("id").Limit(limit).Find(&rows).Error
	out := make([]*ritual.Member, len(rows))
	for i, r := range rows {
		out[i] = &ritual.Member{ID: r.ID, MerchantID: r.MerchantID, OpenID: deref(r.OpenID), State: ritual.MemberState(r.State)}
	}
	return out, translate(err, "page members")
}

func (s members) WithBirthday(ctx context.Context, merchantID string, monthDay string) ([]int64, error) {
	var ids []int64
	err := s.db.WithContext(ctx).Model(&memberRow{}).
		Where("merchant_id = ? AND (birthday = ? OR birthday LIKE ?)", merchantID, monthDay, "____-"+monthDay).
		Order("id").Pluck("id", &ids).Error
	return ids, translate(err, "find birthdays")
}
