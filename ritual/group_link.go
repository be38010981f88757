package ritual

import (
	"context"
	"strings"
	"time"
)

// linkCodeChat answers 绑定 on the official account: a code, valid for ten
// minutes and once, for the member to post in a group as "绑定 <code>".
// An unused code still valid is given again rather than a new one. member
// is locked by the caller's transaction.
func (c *Chat) linkCodeChat(ctx context.Context, tx *work, m *Merchant, member *Member) (Reply, error) {
	if !m.Groups.Enabled() {
		return c.render(m, "reply.link_no_groups", nil)
	}
	if _, err := tx.GroupLinks().LinkOfMember(ctx, m.ID, member.ID); err == nil {
		return c.render(m, "reply.link_already", nil)
	} else if ErrorCode(err) != ENOTFOUND {
		return Reply{}, err
	}
	now := c.clock()
	lc, err := tx.GroupLinks().ActiveLinkCode(ctx, m.ID, member.ID, now)
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
		if err = tx.GroupLinks().CreateLinkCode(ctx, lc); err == nil {
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
	g := tx.GroupLinks()
	if _, err := g.LinkOfSender(ctx, t.m.ID, t.msg.Sender.ID); err == nil {
		return c.render(t.m, "group.link_already", t.who(nil))
	} else if ErrorCode(err) != ENOTFOUND {
		return Reply{}, err
	}
	if over, err := overLimit(ctx, tx.Limits(), "grouplink:"+t.m.ID+":"+keyPart(t.msg.Sender.ID), time.Hour, linkTriesPerHour, t.now); err != nil {
		return Reply{}, err
	} else if over {
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
