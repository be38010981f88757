package ritual

import (
	"context"
	"crypto/sha256"
	"strings"
	"time"
)

// GroupChat answers the messages of a merchant's groups.
type GroupChat struct {
	*changer
	replies
	signIns *signIns
}

// HandleGroupMessage answers one message in a merchant's group. Like
// HandleMessage, the claim of the msg_id, every effect and the stored
// replies commit in one transaction: a repeat (also a concurrent one) gets
// the first replies and changes nothing. The replies are never nil; most
// chatter gets none, since the bot speaks only when spoken to.
func (c *GroupChat) HandleGroupMessage(ctx context.Context, m *Merchant, msg GroupMessage) ([]Reply, error) {
	if !m.Groups.Enabled() {
		return nil, Errorf(ENOTFOUND, "merchant %s has no group bridge", m.ID)
	}
	if err := msg.Validate(); err != nil {
		return nil, err
	}
	turn := &groupTurn{m: m, msg: msg, now: c.clock()}
	stored, err := c.turn(ctx, m, msg.DedupeKey(), func(tx *work) (string, error) {
		replies, err := c.groupConverse(ctx, tx, turn)
		if err != nil {
			return "", err
		}
		return encodeGroupReplies(replies)
	})
	if err != nil {
		return nil, err
	}
	return decodeGroupReplies(stored) // fresh replies too, as a repeat will get them
}

// groupTurn is one group message being answered inside its transaction.
type groupTurn struct {
	m   *Merchant
	msg GroupMessage
	now time.Time
}

// nickname is how the sender is called in replies.
func (t *groupTurn) nickname() string {
	return groupName(t.msg.Sender.Nickname, t.msg.Sender.ID, MaxNicknameLen)
}

// groupName is how a group member is called in front of the group: their
// group nickname, at most n runes, or, when the bridge sent none, "群友"
// and a short tag drawn from their sender id. The id itself is the
// bridge's (often the WeChat id) and is never shown; the tag keeps two
// unnamed people on one board apart and stays the same week to week.
func groupName(nickname, senderID string, n int) string {
	if name := strings.TrimSpace(nickname); name != "" {
		return clip(name, n)
	}
	if senderID == "" {
		return "群友"
	}
	sum := sha256.Sum256([]byte("wxclub group name\x00" + senderID))
	const letters, alnum = "ABCDEFGHJKLMNPQRSTUVWXYZ", "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
	return "群友" + string(letters[int(sum[0])%len(letters)]) + string(alnum[int(sum[1])%len(alnum)])
}

// clip shortens s to at most n runes.
func clip(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n])
	}
	return s
}

// groupCommand splits a group message into its command and argument. A
// leading @mention (the bridge reports "@小助手 签到" with at_bot) is not
// part of the command.
func groupCommand(text string) (command, arg string) {
	fields := strings.Fields(text)
	if len(fields) > 0 && strings.HasPrefix(fields[0], "@") {
		fields = fields[1:]
	}
	if len(fields) == 0 {
		return "", ""
	}
	return fields[0], strings.Join(fields[1:], " ")
}

// groupConverse records who spoke and answers the commands of a group:
// 绑定, 签到, 补签, 积分, 排行, 报名 and, for operators, #活动 and #确认.
// Anything else gets no reply unless it was addressed to the bot.
func (c *GroupChat) groupConverse(ctx context.Context, tx *work, t *groupTurn) ([]Reply, error) {
	msg := t.msg
	group := Group{GroupID: msg.GroupID, Name: clip(strings.TrimSpace(msg.GroupName), MaxGroupNameLen)}
	sender := GroupSender{SenderID: msg.Sender.ID, Nickname: clip(strings.TrimSpace(msg.Sender.Nickname), MaxNicknameLen)}
	if err := tx.Groups().Seen(ctx, t.m.ID, group, sender, t.now); err != nil {
		return nil, err
	}
	command, arg := groupCommand(msg.Text)
	var reply Reply
	var err error
	switch command {
	case "绑定":
		reply, err = c.linkInGroup(ctx, tx, t, arg)
	case "签到":
		reply, err = c.signInInGroup(ctx, tx, t, false)
	case "补签":
		reply, err = c.signInInGroup(ctx, tx, t, true)
	case "积分", "我的积分":
		reply, err = c.pointsInGroup(ctx, tx, t)
	case "排行", "排行榜":
		reply, err = c.boardInGroup(ctx, tx, t)
	case "#活动":
		reply, err = c.createActivity(ctx, tx, t, arg)
	case "报名":
		reply, err = c.joinActivity(ctx, tx, t, arg)
	case "#确认":
		reply, err = c.confirmActivity(ctx, tx, t, arg)
	case "帮助":
		reply, err = c.render(t.m, "group.help", nil)
	default:
		if msg.AtBot {
			reply, err = c.render(t.m, "group.help", nil)
		}
	}
	if err != nil || reply.Text == "" {
		return []Reply{}, err
	}
	return []Reply{reply}, nil
}

// who is the data every personal group reply starts with.
func (t *groupTurn) who(extra map[string]any) map[string]any {
	data := map[string]any{"Who": t.nickname()}
	for k, v := range extra {
		data[k] = v
	}
	return data
}

// linkedMember returns the member the sender is linked to, locked, or nil
// when the sender is not linked.
func (c *GroupChat) linkedMember(ctx context.Context, tx *work, t *groupTurn) (*Member, error) {
	link, err := tx.GroupLinks().LinkOfSender(ctx, t.m.ID, t.msg.Sender.ID)
	if ErrorCode(err) == ENOTFOUND {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	return tx.Members().ByID(ctx, link.MemberID)
}

// linkFirst tells an unlinked sender how to link.
func (c *GroupChat) linkFirst(ctx context.Context, tx *work, t *groupTurn) (Reply, error) {
	return c.render(t.m, "group.link_first", t.who(nil))
}

// signInInGroup answers 签到 and 补签 in a group.
func (c *GroupChat) signInInGroup(ctx context.Context, tx *work, t *groupTurn, makeup bool) (Reply, error) {
	member, err := c.linkedMember(ctx, tx, t)
	if err != nil || member == nil {
		if err != nil {
			return Reply{}, err
		}
		return c.linkFirst(ctx, tx, t)
	}
	res, err := c.signIns.signIn(ctx, tx, t.m, member, t.msg.GroupID, makeup)
	if err != nil {
		return Reply{}, err
	}
	data := res.data()
	data["ShowBalance"] = t.m.Groups.ShowBalances // the group is not the member
	return c.render(t.m, res.template(), t.who(data))
}

// pointsInGroup answers 积分 in a group. Unless the merchant shows
// balances in public, the group hears only that a private message is on
// its way, and the balance goes to the member as a customer-service
// message through the outbox.
func (c *GroupChat) pointsInGroup(ctx context.Context, tx *work, t *groupTurn) (Reply, error) {
	member, err := c.linkedMember(ctx, tx, t)
	if err != nil || member == nil {
		if err != nil {
			return Reply{}, err
		}
		return c.linkFirst(ctx, tx, t)
	}
	lv, _ := t.m.Membership.Level(member.LevelKey)
	data := t.who(map[string]any{"Points": member.Points, "Level": lv.Nickname, "Group": t.msg.GroupName})
	if t.m.Groups.ShowBalances {
		return c.render(t.m, "group.points_public", data)
	}
	private, err := c.render(t.m, "private.points", data)
	if err != nil {
		return Reply{}, err
	}
	notice := Notice{Reason: private.Text, Balance: member.Points, At: t.now}
	if err := c.enqueue(ctx, tx, t.m, member, PurposeCustomText, "group:"+t.msg.DedupeKey(), notice, t.now); err != nil {
		return Reply{}, err
	}
	return c.render(t.m, "group.points_private", t.who(nil))
}

// weekStart is Monday 00:00 of now's week in loc.
func weekStart(now time.Time, loc *time.Location) time.Time {
	t := now.In(loc)
	back := (int(t.Weekday()) + 6) % 7 // days since Monday
	return time.Date(t.Year(), t.Month(), t.Day()-back, 0, 0, 0, 0, loc)
}

// boardPlace is one line of 排行.
type boardPlace struct {
	Rank     int
	Nickname string
	Points   int64
}

// boardInGroup answers 排行: this week's points earned by the members
// linked in this group, top ten, by group nickname (never balances or
// openids). Ties keep the earlier member first, and the reply says so.
func (c *GroupChat) boardInGroup(ctx context.Context, tx *work, t *groupTurn) (Reply, error) {
	from := weekStart(t.now, t.m.Location())
	rows, err := tx.Groups().Board(ctx, t.m.ID, t.msg.GroupID, from, from.AddDate(0, 0, 7), boardSize)
	if err != nil {
		return Reply{}, err
	}
	places := make([]boardPlace, len(rows))
	for i, r := range rows {
		places[i] = boardPlace{Rank: i + 1, Nickname: groupName(r.Nickname, r.SenderID, 16), Points: r.Points}
	}
	return c.render(t.m, "group.board", map[string]any{"Week": from.Format("01-02"), "Places": places})
}
