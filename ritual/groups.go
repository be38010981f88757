package ritual

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The group bridge protocol (DESIGN.md, "Group bridge"): both directions
// are signed with the merchant's groups.secret.
const (
	GroupTimestampHeader = "X-Wxclub-Timestamp"
	GroupSignatureHeader = "X-Wxclub-Signature"
)

// GroupSignature returns the X-Wxclub-Signature of a bridge request or
// callback: "sha256=" + hex(HMAC-SHA256(secret, timestamp + "." + body)).
func GroupSignature(secret, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(timestamp))
	mac.Write([]byte("."))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// VerifyGroupSignature reports, in constant time, whether signature signs
// timestamp and body with secret.
func VerifyGroupSignature(secret, timestamp string, body []byte, signature string) bool {
	if secret == "" || timestamp == "" || signature == "" {
		return false
	}
	return hmac.Equal([]byte(GroupSignature(secret, timestamp, body)), []byte(signature))
}

// Ledger sources of the group features. References: "<member id>:<local
// date>" for the sign-in ones, "<activity id>:<member id>" for activities.
const (
	SourceSignIn      = "signin"
	SourceSignInBonus = "signin_bonus"
	SourceMakeup      = "makeup" // what 补签 costs; the date is the day made up
	SourceActivity    = "activity"
)

// Limits of the bridge protocol's fields, as stored.
const (
	maxGroupIDLen   = 128
	maxNicknameLen  = 64
	maxGroupNameLen = 128
	// linkCodeLife is how long a 绑定 code can be used.
	linkCodeLife = 10 * time.Minute
	linkCodeLen  = 6
	// linkTriesPerHour limits guessing codes, per sender.
	linkTriesPerHour = 5
	// boardSize is how many places 排行 shows.
	boardSize = 10
)

// Validate checks what the bridge sent before anything is stored.
func (g GroupMessage) Validate() error {
	switch {
	case g.MsgID == "" || len(g.MsgID) > 128:
		return Errorf(EBADREQUEST, "msg_id is required (at most 128 bytes)")
	case g.GroupID == "" || len(g.GroupID) > maxGroupIDLen:
		return Errorf(EBADREQUEST, "group_id is required (at most %d bytes)", maxGroupIDLen)
	case g.Sender.ID == "" || len(g.Sender.ID) > maxGroupIDLen:
		return Errorf(EBADREQUEST, "sender.id is required (at most %d bytes)", maxGroupIDLen)
	case !utf8.ValidString(g.Text) || !utf8.ValidString(g.Sender.Nickname) || !utf8.ValidString(g.GroupName):
		return Errorf(EBADREQUEST, "text, nickname and group_name must be UTF-8")
	}
	return nil
}

// DedupeKey identifies a bridge delivery across its retries. The prefix
// keeps it apart from the official account's keys in the same log.
func (g GroupMessage) DedupeKey() string {
	sum := sha256.Sum256([]byte("group\x00" + g.MsgID))
	return hex.EncodeToString(sum[:])
}

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

// maxStoredReply is the inbound log's reply column, in characters.
const maxStoredReply = 4096

// encodeGroupReplies stores replies as a JSON array ("[]" for none),
// shortening long texts so the array fits the reply column.
func encodeGroupReplies(replies []Reply) (string, error) {
	texts := make([]groupReplyJSON, len(replies))
	for i, r := range replies {
		texts[i] = groupReplyJSON{Text: r.Text}
	}
	for {
		b, err := json.Marshal(texts)
		if err != nil {
			return "", fmt.Errorf("ritual: encode group replies: %w", err)
		}
		if utf8.RuneCount(b) <= maxStoredReply {
			return string(b), nil
		}
		longest := 0
		for i := range texts {
			if len(texts[i].Text) > len(texts[longest].Text) {
				longest = i
			}
		}
		r := []rune(texts[longest].Text)
		if len(r) < 8 {
			return "", fmt.Errorf("ritual: %d group replies do not fit the reply column", len(texts))
		}
		texts[longest].Text = string(r[:len(r)*3/4]) + "…"
	}
}

type groupReplyJSON struct {
	Text string `json:"text"`
}

func decodeGroupReplies(stored string) ([]Reply, error) {
	var texts []groupReplyJSON
	if err := json.Unmarshal([]byte(stored), &texts); err != nil {
		return nil, fmt.Errorf("ritual: decode stored group replies: %w", err)
	}
	out := make([]Reply, len(texts))
	for i, t := range texts {
		out[i] = Reply{Text: t.Text}
	}
	return out, nil
}

// groupTurn is one group message being answered inside its transaction.
type groupTurn struct {
	m   *Merchant
	msg GroupMessage
	now time.Time
}

// nickname is how the sender is called in replies.
func (t *groupTurn) nickname() string {
	if n := strings.TrimSpace(t.msg.Sender.Nickname); n != "" {
		return clip(n, maxNicknameLen)
	}
	return "群友"
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
	group := Group{GroupID: msg.GroupID, Name: clip(strings.TrimSpace(msg.GroupName), maxGroupNameLen)}
	sender := GroupSender{SenderID: msg.Sender.ID, Nickname: clip(strings.TrimSpace(msg.Sender.Nickname), maxNicknameLen)}
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
	link, err := tx.Groups().LinkOfSender(ctx, t.m.ID, t.msg.Sender.ID)
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

// linkCodeChat answers 绑定 on the official account: a code, valid for ten
// minutes and once, for the member to post in a group as "绑定 <code>".
// An unused code still valid is given again rather than a new one. member
// is locked by the caller's transaction.
func (c *Chat) linkCodeChat(ctx context.Context, tx *work, m *Merchant, member *Member) (Reply, error) {
	if !m.Groups.Enabled() {
		return c.render(m, "reply.link_no_groups", nil)
	}
	if _, err := tx.Groups().LinkOfMember(ctx, m.ID, member.ID); err == nil {
		return c.render(m, "reply.link_already", nil)
	} else if ErrorCode(err) != ENOTFOUND {
		return Reply{}, err
	}
	now := c.clock()
	lc, err := tx.Groups().ActiveLinkCode(ctx, m.ID, member.ID, now)
	if ErrorCode(err) == ENOTFOUND {
		lc, err = c.newLinkCode(ctx, tx, m, member, now)
	}
	if err != nil {
		return Reply{}, err
	}
	minutes := int(lc.ExpiresAt.Sub(now).Round(time.Minute) / time.Minute)
	return c.render(m, "reply.link_code", map[string]any{"Code": lc.Code, "Minutes": max(minutes, 1)})
}

// newLinkCode stores a fresh code for member, retrying on the rare
// collision with a code the merchant gave before.
func (c *Chat) newLinkCode(ctx context.Context, tx *work, m *Merchant, member *Member, now time.Time) (*LinkCode, error) {
	var err error
	for range 5 {
		lc := &LinkCode{MerchantID: m.ID, Code: newCode(linkCodeLen), MemberID: member.ID, ExpiresAt: now.Add(linkCodeLife), CreatedAt: now}
		if err = tx.Groups().CreateLinkCode(ctx, lc); err == nil {
			return lc, nil
		} else if ErrorCode(err) != ECONFLICT {
			return nil, err
		}
	}
	return nil, err
}

// linkInGroup answers "绑定 <code>": the sender becomes the member who was
// given the code. A code works once, for ten minutes, for this merchant;
// a sender is one member and a member one sender.
func (c *GroupChat) linkInGroup(ctx context.Context, tx *work, t *groupTurn, code string) (Reply, error) {
	code = strings.ToUpper(strings.TrimSpace(code))
	if code == "" {
		return c.render(t.m, "group.link_how", t.who(nil))
	}
	g := tx.Groups()
	if _, err := g.LinkOfSender(ctx, t.m.ID, t.msg.Sender.ID); err == nil {
		return c.render(t.m, "group.link_already", t.who(nil))
	} else if ErrorCode(err) != ENOTFOUND {
		return Reply{}, err
	}
	if n, err := tx.Limits().Hit(ctx, "grouplink:"+t.m.ID+":"+t.msg.Sender.ID, time.Hour, t.now); err != nil {
		return Reply{}, err
	} else if n > linkTriesPerHour {
		return c.render(t.m, "group.link_slow_down", t.who(nil))
	}
	lc, err := g.LinkCode(ctx, t.m.ID, code)
	switch {
	case ErrorCode(err) == ENOTFOUND:
		return c.render(t.m, "group.link_unknown", t.who(map[string]any{"Code": code}))
	case err != nil:
		return Reply{}, err
	case lc.UsedAt != nil:
		return c.render(t.m, "group.link_used", t.who(nil))
	case !t.now.Before(lc.ExpiresAt):
		return c.render(t.m, "group.link_expired", t.who(nil))
	}
	if _, err := g.LinkOfMember(ctx, t.m.ID, lc.MemberID); err == nil {
		return c.render(t.m, "group.link_member_taken", t.who(nil))
	} else if ErrorCode(err) != ENOTFOUND {
		return Reply{}, err
	}
	err = g.CreateLink(ctx, &GroupLink{MerchantID: t.m.ID, SenderID: t.msg.Sender.ID, MemberID: lc.MemberID, LinkedAt: t.now})
	if ErrorCode(err) == ECONFLICT {
		return Reply{}, errRaced // the same sender or member linked at this moment
	} else if err != nil {
		return Reply{}, err
	}
	lc.UsedAt, lc.UsedBy = &t.now, t.msg.Sender.ID
	if err := g.UseLinkCode(ctx, lc); err != nil {
		return Reply{}, err
	}
	c.log.InfoContext(ctx, "group sender linked", "merchant", t.m.ID, "member", lc.MemberID, "group", t.msg.GroupID)
	return c.render(t.m, "group.linked", t.who(nil))
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
		name := clip(strings.TrimSpace(r.Nickname), 16)
		if name == "" {
			name = "群友"
		}
		places[i] = boardPlace{Rank: i + 1, Nickname: name, Points: r.Points}
	}
	return c.render(t.m, "group.board", map[string]any{"Week": from.Format("01-02"), "Places": places})
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

// Activity limits.
const (
	maxActivityTitle    = 20 // runes: the title goes into template-message reasons
	maxActivityPoints   = 100000
	maxActivityCapacity = 10000
)

// activitySpec is what an operator's #活动 asks for.
type activitySpec struct {
	title    string
	points   int64
	capacity int
	deadline time.Time
}

var clockTime = regexp.MustCompile(`^\d{1,2}:\d{2}$`)

// parseActivity reads "<title> 积分=<n> 名额=<n> 截止=<date>", the
// parameters in any order. 截止 is "2026-12-01", "12-01" (this year, or
// next year if that day has passed) or either with a time ("2026-12-01
// 20:00"), in the merchant's zone; a date alone means the end of that day.
// It returns what is wrong, in words for the operator, or "".
func parseActivity(arg string, now time.Time, loc *time.Location) (activitySpec, string) {
	var spec activitySpec
	var title []string
	var haveDeadline bool
	fields := strings.Fields(arg)
	for i := 0; i < len(fields); i++ {
		key, value, ok := cutParam(fields[i])
		if !ok {
			title = append(title, fields[i])
			continue
		}
		switch key {
		case "积分":
			n, err := strconv.ParseInt(value, 10, 64)
			if err != nil || n < 0 || n > maxActivityPoints {
				return spec, fmt.Sprintf("积分要写成0到%d的整数，例如 积分=50", maxActivityPoints)
			}
			spec.points = n
		case "名额":
			n, err := strconv.Atoi(value)
			if err != nil || n < 1 || n > maxActivityCapacity {
				return spec, fmt.Sprintf("名额要写成1到%d的整数，例如 名额=20", maxActivityCapacity)
			}
			spec.capacity = n
		case "截止":
			if i+1 < len(fields) && clockTime.MatchString(fields[i+1]) {
				value += " " + fields[i+1]
				i++
			}
			t, ok := parseDeadline(value, now, loc)
			if !ok {
				return spec, "截止时间要写成 2026-12-01、12-01 或 2026-12-01 20:00"
			}
			spec.deadline, haveDeadline = t, true
		}
	}
	spec.title = strings.Join(title, " ")
	switch {
	case spec.title == "":
		return spec, "请写上活动名称"
	case utf8.RuneCountInString(spec.title) > maxActivityTitle:
		return spec, fmt.Sprintf("活动名称最多%d个字", maxActivityTitle)
	case spec.capacity == 0:
		return spec, "请写上名额，例如 名额=20"
	case !haveDeadline:
		return spec, "请写上截止时间，例如 截止=12-01"
	case !spec.deadline.After(now):
		return spec, "截止时间已经过了"
	}
	return spec, ""
}

// cutParam splits "积分=50" (also with a full-width ＝ or a colon).
func cutParam(field string) (key, value string, ok bool) {
	for _, key := range []string{"积分", "名额", "截止"} {
		if rest, found := strings.CutPrefix(field, key); found {
			for _, sep := range []string{"=", "＝", ":", "："} {
				if value, found := strings.CutPrefix(rest, sep); found {
					return key, value, true
				}
			}
		}
	}
	return "", "", false
}

// parseDeadline reads an activity's 截止 in loc.
func parseDeadline(s string, now time.Time, loc *time.Location) (time.Time, bool) {
	s = strings.ReplaceAll(s, "/", "-")
	for _, layout := range []string{"2006-01-02 15:04", "2006-1-2 15:04"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, true
		}
	}
	for _, layout := range []string{"2006-01-02", "2006-1-2"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t.AddDate(0, 0, 1), true // the whole day counts
		}
	}
	year := now.In(loc).Year()
	for _, layout := range []string{"2006-01-02 15:04", "2006-1-2 15:04", "2006-01-02", "2006-1-2"} {
		t, err := time.ParseInLocation(layout, strconv.Itoa(year)+"-"+s, loc)
		if err != nil {
			continue
		}
		if !strings.Contains(layout, ":") {
			t = t.AddDate(0, 0, 1)
		}
		if !t.After(now) {
			t = t.AddDate(1, 0, 0)
		}
		return t, true
	}
	return time.Time{}, false
}

// activityData is what activity replies show.
func (t *groupTurn) activityData(a *Activity) map[string]any {
	return t.who(map[string]any{
		"Title": a.Title, "Points": a.Points, "Capacity": a.Capacity, "Joined": a.Joined,
		"Deadline": a.Deadline.In(t.m.Location()).Format("01-02 15:04"),
	})
}

// createActivity answers an operator's "#活动 <title> 积分=<n> 名额=<n>
// 截止=<date>". The group's row is locked while the title is checked and
// the activity stored, so two operators cannot open the same title at
// once; a unique index on the open title backs the lock up.
func (c *GroupChat) createActivity(ctx context.Context, tx *work, t *groupTurn, arg string) (Reply, error) {
	if !t.m.Groups.IsOperator(t.msg.Sender.ID) {
		return c.render(t.m, "group.operators_only", t.who(nil))
	}
	spec, problem := parseActivity(arg, t.now, t.m.Location())
	if problem != "" {
		return c.render(t.m, "group.activity_format", t.who(map[string]any{"Problem": problem}))
	}
	g := tx.Groups()
	if _, err := g.Group(ctx, t.m.ID, t.msg.GroupID, true); err != nil {
		return Reply{}, err
	}
	existing, err := g.OpenActivity(ctx, t.m.ID, t.msg.GroupID, spec.title)
	if err == nil {
		return c.render(t.m, "group.activity_exists", t.activityData(existing))
	} else if ErrorCode(err) != ENOTFOUND {
		return Reply{}, err
	}
	a := &Activity{
		MerchantID: t.m.ID, GroupID: t.msg.GroupID, Title: spec.title, Points: spec.points, Capacity: spec.capacity,
		Deadline: spec.deadline.UTC(), Status: ActivityOpen, CreatedBy: t.msg.Sender.ID, CreatedAt: t.now,
	}
	if err := g.CreateActivity(ctx, a); ErrorCode(err) == ECONFLICT {
		return Reply{}, errRaced
	} else if err != nil {
		return Reply{}, err
	}
	c.log.InfoContext(ctx, "activity created", "merchant", t.m.ID, "group", t.msg.GroupID, "activity", a.ID)
	return c.render(t.m, "group.activity_created", t.activityData(a))
}

// findActivity finds the activity a 报名 or #确认 names: the open one with
// that title, locked, or else says whether one was there and is closed.
func (c *GroupChat) findActivity(ctx context.Context, tx *work, t *groupTurn, title string) (a *Activity, closed *Activity, err error) {
	g := tx.Groups()
	a, err = g.OpenActivity(ctx, t.m.ID, t.msg.GroupID, title)
	if ErrorCode(err) != ENOTFOUND {
		return a, nil, err
	}
	closed, err = g.LatestActivity(ctx, t.m.ID, t.msg.GroupID, title)
	if ErrorCode(err) == ENOTFOUND {
		return nil, nil, nil
	}
	return nil, closed, err
}

// joinActivity answers "报名 <title>". The activity's row is locked while
// the seat is counted and taken, so the last seat goes to one member. The
// member's own row is not locked: confirming locks the activity, then its
// participants, and joining must not take them in the other order.
func (c *GroupChat) joinActivity(ctx context.Context, tx *work, t *groupTurn, arg string) (Reply, error) {
	title := strings.TrimSpace(arg)
	if title == "" {
		return c.render(t.m, "group.join_how", t.who(nil))
	}
	link, err := tx.Groups().LinkOfSender(ctx, t.m.ID, t.msg.Sender.ID)
	if ErrorCode(err) == ENOTFOUND {
		return c.linkFirst(ctx, tx, t)
	} else if err != nil {
		return Reply{}, err
	}
	a, closed, err := c.findActivity(ctx, tx, t, title)
	switch {
	case err != nil:
		return Reply{}, err
	case closed != nil:
		return c.render(t.m, "group.activity_closed", t.activityData(closed))
	case a == nil:
		return c.render(t.m, "group.activity_unknown", t.who(map[string]any{"Title": title}))
	case !t.now.Before(a.Deadline):
		return c.render(t.m, "group.activity_closed", t.activityData(a))
	}
	joined, err := tx.Groups().HasEntry(ctx, a.ID, link.MemberID)
	switch {
	case err != nil:
		return Reply{}, err
	case joined:
		return c.render(t.m, "group.activity_joined_before", t.activityData(a))
	case a.Joined >= a.Capacity:
		return c.render(t.m, "group.activity_full", t.activityData(a))
	}
	err = tx.Groups().AddEntry(ctx, &ActivityEntry{ActivityID: a.ID, MemberID: link.MemberID, SenderID: t.msg.Sender.ID, JoinedAt: t.now})
	if ErrorCode(err) == ECONFLICT {
		return Reply{}, errRaced
	} else if err != nil {
		return Reply{}, err
	}
	a.Joined++
	if err := tx.Groups().UpdateActivity(ctx, a); err != nil {
		return Reply{}, err
	}
	return c.render(t.m, "group.activity_joined", t.activityData(a))
}

// confirmActivity answers an operator's "#确认 <title>": the activity
// closes and each participant earns its points, once (ledger source
// activity, reference "<activity id>:<member id>"); confirming again says
// it was done.
func (c *GroupChat) confirmActivity(ctx context.Context, tx *work, t *groupTurn, arg string) (Reply, error) {
	if !t.m.Groups.IsOperator(t.msg.Sender.ID) {
		return c.render(t.m, "group.operators_only", t.who(nil))
	}
	title := strings.TrimSpace(arg)
	if title == "" {
		return c.render(t.m, "group.confirm_how", t.who(nil))
	}
	a, closed, err := c.findActivity(ctx, tx, t, title)
	switch {
	case err != nil:
		return Reply{}, err
	case closed != nil:
		return c.render(t.m, "group.activity_confirmed_before", t.activityData(closed))
	case a == nil:
		return c.render(t.m, "group.activity_unknown", t.who(map[string]any{"Title": title}))
	}
	entries, err := tx.Groups().Entries(ctx, a.ID)
	if err != nil {
		return Reply{}, err
	}
	reason := fmt.Sprintf("参加活动「%s」", a.Title)
	for _, e := range entries {
		member, err := tx.Members().ByID(ctx, e.MemberID)
		if err != nil {
			return Reply{}, err
		}
		ref := fmt.Sprintf("%d:%d", a.ID, e.MemberID)
		_, err = c.change(ctx, tx, t.m, member, "activity:"+ref, func(ch *memberChange) error {
			_, err := ch.earn(ctx, a.Points, SourceActivity, ref, reason)
			return err
		})
		if err != nil && !errors.Is(err, errAlreadyOnLedger) {
			return Reply{}, err
		}
	}
	a.Status, a.ConfirmedAt = ActivityConfirmed, &t.now
	if err := tx.Groups().UpdateActivity(ctx, a); err != nil {
		return Reply{}, err
	}
	c.log.InfoContext(ctx, "activity confirmed", "merchant", t.m.ID, "activity", a.ID, "participants", len(entries))
	return c.render(t.m, "group.activity_confirmed", t.activityData(a))
}
