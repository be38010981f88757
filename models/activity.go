package models

import (
	"context"
	"time"

	"github.com/wxclub/wxclub/ritual"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// activities implements ritual.Activities.
type activities struct{ db *gorm.DB }

// activityRow is an activity an operator runs in a group. OpenTitle is the
// title while the activity is unconfirmed and NULL after, so the unique
// index allows one unconfirmed activity per title per group and any number
// of confirmed ones.
type activityRow struct {
	ID          int64      `gorm:"primaryKey;autoIncrement"`
	MerchantID  string     `gorm:"size:64;not null;uniqueIndex:ux_activities_open,priority:1;index:ix_activities_title,priority:1"`
	GroupID     string     `gorm:"size:128;not null;uniqueIndex:ux_activities_open,priority:2;index:ix_activities_title,priority:2"`
	Title       string     `gorm:"size:64;not null;index:ix_activities_title,priority:3"`
	OpenTitle   *string    `gorm:"size:64;uniqueIndex:ux_activities_open,priority:3"`
	Points      int64      `gorm:"not null"`
	Capacity    int        `gorm:"not null"`
	Joined      int        `gorm:"not null;default:0"`
	Deadline    time.Time  `gorm:"precision:3;not null"`
	Status      string     `gorm:"size:16;not null"`
	CreatedBy   string     `gorm:"size:128;not null"`
	CreatedAt   time.Time  `gorm:"precision:3;not null"`
	ConfirmedAt *time.Time `gorm:"precision:3"`
}

func (activityRow) TableName() string { return "group_activities" }

// activityEntryRow is one member's place in an activity.
type activityEntryRow struct {
	ID         int64     `gorm:"primaryKey;autoIncrement"`
	ActivityID int64     `gorm:"not null;uniqueIndex:ux_activity_entries,priority:1"`
	MemberID   int64     `gorm:"not null;uniqueIndex:ux_activity_entries,priority:2"`
	SenderID   string    `gorm:"size:128;not null"`
	JoinedAt   time.Time `gorm:"precision:3;not null"`
}

func (activityEntryRow) TableName() string { return "activity_entries" }

func toActivity(r activityRow) *ritual.Activity {
	return &ritual.Activity{
		ID: r.ID, MerchantID: r.MerchantID, GroupID: r.GroupID, Title: r.Title, Points: r.Points, Capacity: r.Capacity,
		Joined: r.Joined, Deadline: r.Deadline.UTC(), Status: r.Status, CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt.UTC(),
		ConfirmedAt: utcPtr(r.ConfirmedAt),
	}
}

func (s activities) CreateActivity(ctx context.Context, a *ritual.Activity) error {
	row := activityRow{
		MerchantID: a.MerchantID, GroupID: a.GroupID, Title: a.Title, Points: a.Points, Capacity: a.Capacity,
		Joined: a.Joined, Deadline: a.Deadline.UTC(), Status: a.Status, CreatedBy: a.CreatedBy, CreatedAt: a.CreatedAt.UTC(),
	}
	if a.Status != ritual.ActivityConfirmed {
		row.OpenTitle = &row.Title
	}
	if err := s.db.WithContext(ctx).Create(&row).Error; err != nil {
		return translate(err, "create activity")
	}
	a.ID = row.ID
	return nil
}

func (s activities) OpenActivity(ctx context.Context, merchantID, groupID, title string) (*ritual.Activity, error) {
	var row activityRow
	err := s.db.WithContext(ctx).Clauses(clause.Locking{Strength: "UPDATE"}).
		Take(&row, "merchant_id = ? AND group_id = ? AND open_title = ?", merchantID, groupID, title).Error
	if err != nil {
		return nil, translate(err, "find open activity")
	}
	return toActivity(row), nil
}

func (s activities) LatestActivity(ctx context.Context, merchantID, groupID, title string) (*ritual.Activity, error) {
	var row activityRow
	err := s.db.WithContext(ctx).Where("merchant_id = ? AND group_id = ? AND title = ?", merchantID, groupID, title).
		Order("id DESC").Take(&row).Error
	if err != nil {
		return nil, translate(err, "find activity")
	}
	return toActivity(row), nil
}

func (s activities) UpdateActivity(ctx context.Context, a *ritual.Activity) error {
	updates := map[string]any{"joined": a.Joined, "status": a.Status, "confirmed_at": utcPtr(a.ConfirmedAt)}
	if a.Status == ritual.ActivityConfirmed {
		updates["open_title"] = nil
	}
	return translate(s.db.WithContext(ctx).Model(&activityRow{}).Where("id = ?", a.ID).Updates(updates).Error, "update activity")
}

func (s activities) AddEntry(ctx context.Context, e *ritual.ActivityEntry) error {
	row := activityEntryRow{ActivityID: e.ActivityID, MemberID: e.MemberID, SenderID: e.SenderID, JoinedAt: e.JoinedAt.UTC()}
	return translate(s.db.WithContext(ctx).Create(&row).Error, "join activity")
}

func (s activities) HasEntry(ctx context.Context, activityID, memberID int64) (bool, error) {
	var n int64
	err := s.db.WithContext(ctx).Model(&activityEntryRow{}).Where("activity_id = ? AND member_id = ?", activityID, memberID).Count(&n).Error
	return n > 0, translate(err, "find activity entry")
}

func (s activities) Entries(ctx context.Context, activityID int64) ([]*ritual.ActivityEntry, error) {
	var rows []activityEntryRow
	if err := s.db.WithContext(ctx).Where("activity_id = ?", activityID).Order("member_id").Find(&rows).Error; err != nil {
		return nil, translate(err, "list activity entries")
	}
	out := make([]*ritual.ActivityEntry, len(rows))
	for i, r := range rows {
		out[i] = &ritual.ActivityEntry{ActivityID: r.ActivityID, MemberID: r.MemberID, SenderID: r.SenderID, JoinedAt: r.JoinedAt.UTC()}
	}
	return out, nil
}
