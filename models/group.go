package models

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/wxclub/wxclub/ritual"
)

// groupRow is a merchant's WeChat group, as the bridge names it. (The
// table is not called "groups": GROUPS is a reserved word in MySQL 8.)
type groupRow struct {
	ID         int64     `gorm:"primaryKey;autoIncrement"`
	MerchantID string    `gorm:"size:64;not null;uniqueIndex:ux_chat_groups,priority:1"`
	GroupID    string    `gorm:"size:128;not null;uniqueIndex:ux_chat_groups,priority:2"`
	Name       string    `gorm:"size:128;not null;default:''"`
	FirstSeen  time.Time `gorm:"precision:3;not null"`
}

func (groupRow) TableName() string { return "chat_groups" }

// groupSenderRow is someone who wrote in a group.
type groupSenderRow struct {
	ID         int64     `gorm:"primaryKey;autoIncrement"`
	MerchantID string    `gorm:"size:64;not null;uniqueIndex:ux_group_senders,priority:1;index:ix_group_senders_sender,priority:1"`
	GroupID    string    `gorm:"size:128;not null;uniqueIndex:ux_group_senders,priority:2"`
	SenderID   string    `gorm:"size:128;not null;uniqueIndex:ux_group_senders,priority:3;index:ix_group_senders_sender,priority:2"`
	Nickname   string    `gorm:"size:64;not null;default:''"`
	FirstSeen  time.Time `gorm:"precision:3;not null"`
	LastSeen   time.Time `gorm:"precision:3;not null"`
}

func (groupSenderRow) TableName() string { return "group_senders" }

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

// groupStore implements ritual.GroupStore.
type groupStore struct{ db *gorm.DB }

func (s groupStore) GroupsOfMember(ctx context.Context, merchantID string, memberID int64) ([]string, error) {
	var ids []string
	err := s.db.WithContext(ctx).Table("group_senders AS s").
		Joins("JOIN group_links AS l ON l.merchant_id = s.merchant_id AND l.sender_id = s.sender_id").
		Where("s.merchant_id = ? AND l.member_id = ?", merchantID, memberID).
		Distinct("s.group_id").Order("s.group_id").Pluck("s.group_id", &ids).Error
	return ids, translate(err, "list the member's groups")
}

// Seen writes only what changed: the group's row is written when it is
// new or renamed, so messages in one group do not queue on it.
func (s groupStore) Seen(ctx context.Context, merchantID string, group ritual.Group, sender ritual.GroupSender, t time.Time) error {
	t = t.UTC()
	db := s.db.WithContext(ctx)
	var g groupRow
	err := db.Take(&g, "merchant_id = ? AND group_id = ?", merchantID, group.GroupID).Error
	switch {
	case errors.Is(err, gorm.ErrRecordNotFound):
		row := groupRow{MerchantID: merchantID, GroupID: group.GroupID, Name: group.Name, FirstSeen: t}
		if err := db.Clauses(clause.OnConflict{DoNothing: true}).Create(&row).Error; err != nil {
			return translate(err, "record group")
		}
	case err != nil:
		return translate(err, "find group")
	case group.Name != "" && g.Name != group.Name:
		if err := db.Model(&groupRow{}).Where("id = ?", g.ID).Update("name", group.Name).Error; err != nil {
			return translate(err, "rename group")
		}
	}
	res := db.Model(&groupSenderRow{}).
		Where("merchant_id = ? AND group_id = ? AND sender_id = ?", merchantID, group.GroupID, sender.SenderID).
		Updates(map[string]any{"nickname": sender.Nickname, "last_seen": t})
	if res.Error != nil {
		return translate(res.Error, "record group sender")
	}
	if res.RowsAffected > 0 {
		return nil
	}
	// New, or (MySQL counts changed rows only) seen again with nothing
	// changed: insert unless it is there.
	row := groupSenderRow{MerchantID: merchantID, GroupID: group.GroupID, SenderID: sender.SenderID, Nickname: sender.Nickname, FirstSeen: t, LastSeen: t}
	return translate(db.Clauses(clause.OnConflict{DoNothing: true}).Create(&row).Error, "record group sender")
}

func (s groupStore) Group(ctx context.Context, merchantID, groupID string, lock bool) (*ritual.Group, error) {
	q := s.db.WithContext(ctx)
	if lock {
		q = q.Clauses(clause.Locking{Strength: "UPDATE"})
	}
	var row groupRow
	if err := q.Take(&row, "merchant_id = ? AND group_id = ?", merchantID, groupID).Error; err != nil {
		return nil, translate(err, "find group")
	}
	return &ritual.Group{MerchantID: row.MerchantID, GroupID: row.GroupID, Name: row.Name, FirstSeen: row.FirstSeen.UTC()}, nil
}

func (s groupStore) ListGroups(ctx context.Context, merchantID string) ([]ritual.GroupSummary, error) {
	var rows []struct {
		GroupID       string
		Name          string
		FirstSeen     time.Time
		Members       int
		LinkedMembers int
	}
	err := s.db.WithContext(ctx).Table("chat_groups AS g").
		Select("g.group_id, g.name, g.first_seen, COUNT(s.id) AS members, COUNT(l.id) AS linked_members").
		Joins("LEFT JOIN group_senders AS s ON s.merchant_id = g.merchant_id AND s.group_id = g.group_id").
		Joins("LEFT JOIN group_links AS l ON l.merchant_id = s.merchant_id AND l.sender_id = s.sender_id").
		Where("g.merchant_id = ?", merchantID).
		Group("g.id, g.group_id, g.name, g.first_seen").Order("g.first_seen, g.id").Scan(&rows).Error
	out := make([]ritual.GroupSummary, len(rows))
	for i, r := range rows {
		out[i] = ritual.GroupSummary{
			Group:   ritual.Group{MerchantID: merchantID, GroupID: r.GroupID, Name: r.Name, FirstSeen: r.FirstSeen.UTC()},
			Members: r.Members, LinkedMembers: r.LinkedMembers,
		}
	}
	return out, translate(err, "list groups")
}

func (s groupStore) Senders(ctx context.Context, merchantID, groupID string) ([]ritual.LinkedSender, error) {
	var rows []struct {
		SenderID  string
		Nickname  string
		FirstSeen time.Time
		LastSeen  time.Time
		MemberID  *int64
		OpenID    *string
		LevelKey  *string
	}
	err := s.db.WithContext(ctx).Table("group_senders AS s").
		Select("s.sender_id, s.nickname, s.first_seen, s.last_seen, l.member_id, m.openid AS open_id, m.level_key").
		Joins("LEFT JOIN group_links AS l ON l.merchant_id = s.merchant_id AND l.sender_id = s.sender_id").
		Joins("LEFT JOIN members AS m ON m.id = l.member_id").
		Where("s.merchant_id = ? AND s.group_id = ?", merchantID, groupID).
		Order("s.first_seen, s.id").Scan(&rows).Error
	out := make([]ritual.LinkedSender, len(rows))
	for i, r := range rows {
		out[i] = ritual.LinkedSender{
			GroupSender: ritual.GroupSender{SenderID: r.SenderID, Nickname: r.Nickname, FirstSeen: r.FirstSeen.UTC(), LastSeen: r.LastSeen.UTC()},
			OpenID:      deref(r.OpenID), LevelKey: deref(r.LevelKey),
		}
		if r.MemberID != nil {
			out[i].MemberID = *r.MemberID
		}
	}
	return out, translate(err, "list group senders")
}

func toLink(r groupLinkRow) *ritual.GroupLink {
	return &ritual.GroupLink{MerchantID: r.MerchantID, SenderID: r.SenderID, MemberID: r.MemberID, LinkedAt: r.LinkedAt.UTC()}
}

func (s groupStore) LinkOfSender(ctx context.Context, merchantID, senderID string) (*ritual.GroupLink, error) {
	var row groupLinkRow
	if err := s.db.WithContext(ctx).Take(&row, "merchant_id = ? AND sender_id = ?", merchantID, senderID).Error; err != nil {
		return nil, translate(err, "find group link")
	}
	return toLink(row), nil
}

func (s groupStore) LinkOfMember(ctx context.Context, merchantID string, memberID int64) (*ritual.GroupLink, error) {
	var row groupLinkRow
	if err := s.db.WithContext(ctx).Take(&row, "merchant_id = ? AND member_id = ?", merchantID, memberID).Error; err != nil {
		return nil, translate(err, "find group link")
	}
	return toLink(row), nil
}

func (s groupStore) CreateLink(ctx context.Context, l *ritual.GroupLink) error {
	row := groupLinkRow{MerchantID: l.MerchantID, SenderID: l.SenderID, MemberID: l.MemberID, LinkedAt: l.LinkedAt.UTC()}
	return translate(s.db.WithContext(ctx).Create(&row).Error, "link group sender")
}

func toLinkCode(r linkCodeRow) *ritual.LinkCode {
	return &ritual.LinkCode{
		ID: r.ID, MerchantID: r.MerchantID, Code: r.Code, MemberID: r.MemberID, ExpiresAt: r.ExpiresAt.UTC(),
		UsedAt: utcPtr(r.UsedAt), UsedBy: r.UsedBy, CreatedAt: r.CreatedAt.UTC(),
	}
}

func (s groupStore) CreateLinkCode(ctx context.Context, lc *ritual.LinkCode) error {
	row := linkCodeRow{MerchantID: lc.MerchantID, Code: lc.Code, MemberID: lc.MemberID, ExpiresAt: lc.ExpiresAt.UTC(), CreatedAt: lc.CreatedAt.UTC()}
	if err := s.db.WithContext(ctx).Create(&row).Error; err != nil {
		return translate(err, "create link code")
	}
	lc.ID = row.ID
	return nil
}

func (s groupStore) LinkCode(ctx context.Context, merchantID, code string) (*ritual.LinkCode, error) {
	var row linkCodeRow
	err := s.db.WithContext(ctx).Clauses(clause.Locking{Strength: "UPDATE"}).Take(&row, "merchant_id = ? AND code = ?", merchantID, code).Error
	if err != nil {
		return nil, translate(err, "find link code")
	}
	return toLinkCode(row), nil
}

func (s groupStore) ActiveLinkCode(ctx context.Context, merchantID string, memberID int64, now time.Time) (*ritual.LinkCode, error) {
	var row linkCodeRow
	err := s.db.WithContext(ctx).Where("merchant_id = ? AND member_id = ? AND used_at IS NULL AND expires_at > ?", merchantID, memberID, now.UTC()).
		Order("id DESC").Take(&row).Error
	if err != nil {
		return nil, translate(err, "find active link code")
	}
	return toLinkCode(row), nil
}

func (s groupStore) UseLinkCode(ctx context.Context, lc *ritual.LinkCode) error {
	err := s.db.WithContext(ctx).Model(&linkCodeRow{}).Where("id = ?", lc.ID).
		Updates(map[string]any{"used_at": utcPtr(lc.UsedAt), "used_by": lc.UsedBy}).Error
	return translate(err, "use link code")
}

func toActivity(r activityRow) *ritual.Activity {
	return &ritual.Activity{
		ID: r.ID, MerchantID: r.MerchantID, GroupID: r.GroupID, Title: r.Title, Points: r.Points, Capacity: r.Capacity,
		Joined: r.Joined, Deadline: r.Deadline.UTC(), Status: r.Status, CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt.UTC(),
		ConfirmedAt: utcPtr(r.ConfirmedAt),
	}
}

func (s groupStore) CreateActivity(ctx context.Context, a *ritual.Activity) error {
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

func (s groupStore) OpenActivity(ctx context.Context, merchantID, groupID, title string) (*ritual.Activity, error) {
	var row activityRow
	err := s.db.WithContext(ctx).Clauses(clause.Locking{Strength: "UPDATE"}).
		Take(&row, "merchant_id = ? AND group_id = ? AND open_title = ?", merchantID, groupID, title).Error
	if err != nil {
		return nil, translate(err, "find open activity")
	}
	return toActivity(row), nil
}

func (s groupStore) LatestActivity(ctx context.Context, merchantID, groupID, title string) (*ritual.Activity, error) {
	var row activityRow
	err := s.db.WithContext(ctx).Where("merchant_id = ? AND group_id = ? AND title = ?", merchantID, groupID, title).
		Order("id DESC").Take(&row).Error
	if err != nil {
		return nil, translate(err, "find activity")
	}
	return toActivity(row), nil
}

func (s groupStore) UpdateActivity(ctx context.Context, a *ritual.Activity) error {
	updates := map[string]any{"joined": a.Joined, "status": a.Status, "confirmed_at": utcPtr(a.ConfirmedAt)}
	if a.Status == ritual.ActivityConfirmed {
		updates["open_title"] = nil
	}
	return translate(s.db.WithContext(ctx).Model(&activityRow{}).Where("id = ?", a.ID).Updates(updates).Error, "update activity")
}

func (s groupStore) AddEntry(ctx context.Context, e *ritual.ActivityEntry) error {
	row := activityEntryRow{ActivityID: e.ActivityID, MemberID: e.MemberID, SenderID: e.SenderID, JoinedAt: e.JoinedAt.UTC()}
	return translate(s.db.WithContext(ctx).Create(&row).Error, "join activity")
}

func (s groupStore) HasEntry(ctx context.Context, activityID, memberID int64) (bool, error) {
	var n int64
	err := s.db.WithContext(ctx).Model(&activityEntryRow{}).Where("activity_id = ? AND member_id = ?", activityID, memberID).Count(&n).Error
	return n > 0, translate(err, "find activity entry")
}

func (s groupStore) Entries(ctx context.Context, activityID int64) ([]*ritual.ActivityEntry, error) {
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

func (s groupStore) Board(ctx context.Context, merchantID, groupID string, from, to time.Time, limit int) ([]ritual.GroupBoardRow, error) {
	var rows []struct {
		MemberID int64
		Nickname string
		Points   int64
	}
	earned := s.db.Table("points_entries").Select("member_id, SUM(delta) AS points").
		Where("merchant_id = ? AND delta > 0 AND source <> ? AND created_at >= ? AND created_at < ?", merchantID, ritual.SourceLeaderboard, from.UTC(), to.UTC()).
		Group("member_id")
	err := s.db.WithContext(ctx).Table("group_senders AS s").
		Select("l.member_id, s.nickname, e.points").
		Joins("JOIN group_links AS l ON l.merchant_id = s.merchant_id AND l.sender_id = s.sender_id").
		Joins("JOIN (?) AS e ON e.member_id = l.member_id", earned).
		Where("s.merchant_id = ? AND s.group_id = ?", merchantID, groupID).
		Order("e.points DESC, l.member_id").Limit(limit).Scan(&rows).Error
	out := make([]ritual.GroupBoardRow, len(rows))
	for i, r := range rows {
		out[i] = ritual.GroupBoardRow{MemberID: r.MemberID, Nickname: r.Nickname, Points: r.Points}
	}
	return out, translate(err, "rank the group")
}

func (s groupStore) LinkedOpenIDs(ctx context.Context, merchantID, groupID string) ([]string, error) {
	var openids []string
	err := s.db.WithContext(ctx).Table("group_senders AS s").
		Joins("JOIN group_links AS l ON l.merchant_id = s.merchant_id AND l.sender_id = s.sender_id").
		Joins("JOIN members AS m ON m.id = l.member_id").
		Where("s.merchant_id = ? AND s.group_id = ? AND m.state = ? AND m.openid IS NOT NULL", merchantID, groupID, ritual.StateFollowing).
		Order("m.id").Pluck("m.openid", &openids).Error
	return openids, translate(err, "list the group's followers")
}

func (s groupStore) TagAudienceAtLevel(ctx context.Context, merchantID, levelKey string, withUnset bool) ([]string, error) {
	q := s.db.WithContext(ctx).Model(&memberRow{}).
		Where("merchant_id = ? AND state = ? AND openid IS NOT NULL", merchantID, ritual.StateFollowing)
	if withUnset {
		q = q.Where("level_key IN ?", []string{levelKey, ""})
	} else {
		q = q.Where("level_key = ?", levelKey)
	}
	var openids []string
	err := q.Order("id").Pluck("openid", &openids).Error
	return openids, translate(err, "list the level's followers")
}
