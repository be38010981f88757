package ritual

import (
	"context"
	"time"
)

// What the merchant's web console reads beyond the merchant API: a member's
// whole story on one page, the messages WeChat refused, and the week's
// points board. Every query is scoped to the merchant passed in, which the
// console takes from the signed-in session and nowhere else.

// MemberPage is everything the console shows about one member.
type MemberPage struct {
	View       MemberView
	Ledger     []*PointsEntry
	Levels     []LevelChangeView
	Ceremonies []CeremonyView
	Coupons    []CouponView
	Messages   []MessageView
}

// LevelChangeView is one level change with the nicknames the member saw.
type LevelChangeView struct {
	From, To                 string
	FromNickname, ToNickname string
	Cause                    string
	At                       time.Time
}

// MessageView is one outbound message as operators see it: what it was
// for, where it stands and, if it failed, why.
type MessageView struct {
	ID          int64
	OpenID      string
	Purpose     string
	Reference   string
	Campaign    string
	Reason      string
	Delta       int64
	Status      OutboxStatus
	Attempts    int
	LastErrCode int
	LastError   string
	MergedInto  int64
	CreatedAt   time.Time
	SentAt      *time.Time
}

func messageView(msg *OutboxMessage, openid string) MessageView {
	return MessageView{
		ID: msg.ID, OpenID: openid, Purpose: msg.Purpose, Reference: msg.Reference, Campaign: msg.Campaign,
		Reason: msg.Notice.Reason, Delta: msg.Notice.Delta, Status: msg.Status, Attempts: msg.Attempts,
		LastErrCode: msg.LastErrCode, LastError: msg.LastError, MergedInto: msg.MergedInto,
		CreatedAt: msg.CreatedAt, SentAt: msg.SentAt,
	}
}

// memberPageRows bounds each list on the member page.
const memberPageRows = 50

// MemberPage returns the member found by openid or phone among the
// merchant's members (ENOTFOUND otherwise): their view, latest ledger
// entries, level history, ceremonies, coupons and messages.
func (c *Reports) MemberPage(ctx context.Context, m *Merchant, openidOrPhone string) (MemberPage, error) {
	member, err := findMember(ctx, c.store, m, openidOrPhone)
	if err != nil {
		return MemberPage{}, err
	}
	stats, err := periodStats(ctx, c.store, m, member.ID, c.clock())
	if err != nil {
		return MemberPage{}, err
	}
	open, err := openCeremonyOf(ctx, c.store, member)
	if err != nil {
		return MemberPage{}, err
	}
	page := MemberPage{View: m.view(member, stats, open)}
	if page.Ledger, err = c.store.Ledger().Entries(ctx, member.ID, 0, memberPageRows); err != nil {
		return MemberPage{}, err
	}
	changes, err := c.store.Levels().ForMember(ctx, member.ID)
	if err != nil {
		return MemberPage{}, err
	}
	for _, ch := range changes {
		from, _ := m.Membership.Level(ch.From)
		to, _ := m.Membership.Level(ch.To)
		page.Levels = append(page.Levels, LevelChangeView{From: ch.From, To: ch.To, FromNickname: from.Nickname, ToNickname: to.Nickname, Cause: ch.Cause, At: ch.At})
	}
	cers, err := c.store.Ceremonies().ForMember(ctx, member.ID, memberPageRows)
	if err != nil {
		return MemberPage{}, err
	}
	for _, cer := range cers {
		page.Ceremonies = append(page.Ceremonies, m.ceremonyView(cer, member))
	}
	coupons, err := c.store.Coupons().ForMember(ctx, member.ID)
	if err != nil {
		return MemberPage{}, err
	}
	for _, cp := range coupons {
		page.Coupons = append(page.Coupons, m.CouponView(cp))
	}
	msgs, err := c.store.Outbox().ForMember(ctx, member.ID, memberPageRows)
	if err != nil {
		return MemberPage{}, err
	}
	for _, msg := range msgs {
		page.Messages = append(page.Messages, messageView(msg, member.OpenID))
	}
	return page, nil
}

// OutboxFailures returns the merchant's messages WeChat refused for good,
// newest first, with the reason it gave.
func (c *Reports) OutboxFailures(ctx context.Context, m *Merchant, limit int) ([]MessageView, error) {
	if limit < 1 || limit > 500 {
		return nil, FieldErrorf("limit", "must be between 1 and 500")
	}
	msgs, err := c.store.Outbox().Failures(ctx, m.ID, limit)
	if err != nil {
		return nil, err
	}
	openids := map[int64]string{}
	out := make([]MessageView, 0, len(msgs))
	for _, msg := range msgs {
		openid, seen := openids[msg.MemberID]
		if !seen {
			member, err := c.store.Members().ByID(ctx, msg.MemberID)
			if err != nil && ErrorCode(err) != ENOTFOUND {
				return nil, err
			}
			if member != nil {
				openid = member.OpenID
			}
			openids[msg.MemberID] = openid
		}
		out = append(out, messageView(msg, openid))
	}
	return out, nil
}

// PointsBoard is the week's top earners of the whole shop.
type PointsBoard struct {
	From, To time.Time // the week, Monday to Monday in the merchant's zone
	Places   []BoardPlace
}

// BoardPlace is one member's place on the board.
type BoardPlace struct {
	Rank     int
	OpenID   string
	Phone    string
	Nickname string // the level's nickname
	Points   int64
}

// Leaderboard ranks the merchant's members by the points they earned this
// week (leaderboard rewards excluded), as the weekly leaderboard campaign
// will; ties keep the earlier member first.
func (c *Reports) Leaderboard(ctx context.Context, m *Merchant, limit int) (PointsBoard, error) {
	if limit < 1 || limit > 100 {
		return PointsBoard{}, FieldErrorf("limit", "must be between 1 and 100")
	}
	from := weekStart(c.clock(), m.Location())
	board := PointsBoard{From: from, To: from.AddDate(0, 0, 7)}
	rows, err := c.store.Ledger().TopEarners(ctx, m.ID, board.From, board.To, limit)
	if err != nil {
		return PointsBoard{}, err
	}
	for i, r := range rows {
		place := BoardPlace{Rank: i + 1, Points: r.Points}
		member, err := c.store.Members().ByID(ctx, r.MemberID)
		if err != nil && ErrorCode(err) != ENOTFOUND {
			return PointsBoard{}, err
		}
		if member != nil {
			lv, _ := m.Membership.Level(member.LevelKey)
			place.OpenID, place.Phone, place.Nickname = member.OpenID, member.Phone, lv.Nickname
		}
		board.Places = append(board.Places, place)
	}
	return board, nil
}

// ListGroups returns the merchant's groups as the merchant API shows them.
func (c *Reports) ListGroups(ctx context.Context, m *Merchant) ([]GroupView, error) {
	groups, err := c.store.Groups().ListGroups(ctx, m.ID)
	if err != nil {
		return nil, err
	}
	out := make([]GroupView, len(groups))
	for i, g := range groups {
		out[i] = GroupView{ID: g.GroupID, Name: g.Name, FirstSeen: g.FirstSeen, Members: g.Members, LinkedMembers: g.LinkedMembers}
	}
	return out, nil
}

// GroupView is a group as the merchant API shows it: a segment of members.
type GroupView struct {
	ID            string    `json:"id"`
	Name          string    `json:"name"`
	FirstSeen     time.Time `json:"first_seen"`
	Members       int       `json:"members"`        // senders seen in the group
	LinkedMembers int       `json:"linked_members"` // of them, linked to a member
}

// GroupMemberView is one sender of a group as the merchant API shows it.
type GroupMemberView struct {
	SenderID  string    `json:"sender_id"`
	Nickname  string    `json:"nickname"`
	Linked    bool      `json:"linked"`
	OpenID    string    `json:"openid"` // the linked member's; "" when not linked or not known by openid
	Level     string    `json:"level"`  // the linked member's level nickname
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
}

// GroupMembers returns everyone seen in the merchant's group; ENOTFOUND for
// a group the merchant does not have.
func (c *Reports) GroupMembers(ctx context.Context, m *Merchant, groupID string) ([]GroupMemberView, error) {
	if _, err := c.store.Groups().Group(ctx, m.ID, groupID, false); err != nil {
		return nil, err
	}
	senders, err := c.store.Groups().Senders(ctx, m.ID, groupID)
	if err != nil {
		return nil, err
	}
	out := make([]GroupMemberView, len(senders))
	for i, s := range senders {
		v := GroupMemberView{SenderID: s.SenderID, Nickname: s.Nickname, Linked: s.MemberID != 0, OpenID: s.OpenID,
			FirstSeen: s.FirstSeen, LastSeen: s.LastSeen}
		if v.Linked {
			lv, _ := m.Membership.Level(s.LevelKey)
			v.Level = lv.Nickname
		}
		out[i] = v
	}
	return out, nil
}
