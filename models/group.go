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
	Name       freeText  `gorm:"size:128;not null;default:''"`
	FirstSeen  time.Time `gorm:"precision:3;not null"`
}

func (groupRow) TableName() string { return "chat_groups" }

// groupSenderRow is someone who wrote in a group.
type groupSenderRow struct {
	ID         int64     `gorm:"primaryKey;autoIncrement"`
	MerchantID string    `gorm:"size:64;not null;uniqueIndex:ux_group_senders,priority:1;index:ix_group_senders_sender,priority:1"`
	GroupID    string    `gorm:"size:128;not null;uniqueIndex:ux_group_senders,priority:2"`
	SenderID   string    `gorm:"size:128;not null;uniqueIndex:ux_group_senders,priority:3;index:ix_group_senders_sender,priority:2"`
	Nickname   freeText  `gorm:"size:64;not null;default:''"`
	FirstSeen  time.Time `gorm:"precision:3;not null"`
	LastSeen   time.Time `gorm:"precision:3;not null"`
}

func (groupSenderRow) TableName() string { return "group_senders" }

// groupStore implements ritual.GroupStore.
type groupStore struct{ db *gorm.DB }

func (s groupStore) GroupsOfMember(ctx context.Context, merchantID string, memberID int64) ([]ritual.MemberInGroup, error) {
	var rows []ritual.MemberInGroup
	// A member links one sender id, and (merchant, group, sender) is unique
	// in group_senders: one row per group.
	err := s.db.WithContext(ctx).Table("group_senders AS s").
		Select("s.group_id, s.sender_id, s.nickname").
		Joins("JOIN group_links AS l ON l.merchant_id = s.merchant_id AND l.sender_id = s.sender_id").
		Where("s.merchant_id = ? AND l.member_id = ?", merchantID, memberID).
		Order("s.group_id").Scan(&rows).Error
	return rows, translate(err, "list the member's groups")
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
		row := groupRow{MerchantID: merchantID, GroupID: group.GroupID, Name: freeText(group.Name), FirstSeen: t}
		if err := db.Clauses(clause.OnConflict{DoNothing: true}).Create(&row).Error; err != nil {
			return translate(err, "record group")
		}
	case err != nil:
		return translate(err, "find group")
	case group.Name != "" && string(g.Name) != group.Name:
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
	row := groupSenderRow{MerchantID: merchantID, GroupID: group.GroupID, SenderID: sender.SenderID, Nickname: freeText(sender.Nickname), FirstSeen: t, LastSeen: t}
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
	return &ritual.Group{MerchantID: row.MerchantID, GroupID: row.GroupID, Name: string(row.Name), FirstSeen: row.FirstSeen.UTC()}, nil
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

func (s groupStore) Board(ctx context.Context, merchantID, groupID string, from, to time.Time, limit int) ([]ritual.GroupBoardRow, error) {
	var rows []struct {
		MemberID int64
		SenderID string
		Nickname string
		Points   int64
	}
	earned := s.db.Table("points_entries").Select("member_id, SUM(delta) AS points").
		Where("merchant_id = ? AND delta > 0 AND source <> ? AND created_at >= ? AND created_at < ?", merchantID, ritual.SourceLeaderboard, from.UTC(), to.UTC()).
		Group("member_id")
	err := s.db.WithContext(ctx).Table("group_senders AS s").
		Select("l.member_id, s.sender_id, s.nickname, e.points").
		Joins("JOIN group_links AS l ON l.merchant_id = s.merchant_id AND l.sender_id = s.sender_id").
		Joins("JOIN (?) AS e ON e.member_id = l.member_id", earned).
		Where("s.merchant_id = ? AND s.group_id = ?", merchantID, groupID).
		Order("e.points DESC, l.member_id").Limit(limit).Scan(&rows).Error
	out := make([]ritual.GroupBoardRow, len(rows))
	for i, r := range rows {
		out[i] = ritual.GroupBoardRow{MemberID: r.MemberID, SenderID: r.SenderID, Nickname: r.Nickname, Points: r.Points}
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
