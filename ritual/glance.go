package ritual

import (
	"context"
	"errors"
	"strings"
)

// A glance is a text answered without a transaction: 帮助 or 积分 from a
// member who follows and performs no ceremony changes nothing, so the
// reply is read from what is committed and stored with the delivery's
// claim, in one statement. Everything else takes the turn.

// glance answers msg if it is such a text; ok is false if it is not, or
// the member is not in the state the glance needs.
func (c *Chat) glance(ctx context.Context, m *Merchant, msg InboundMessage) (reply Reply, ok bool, err error) {
	if msg.Kind != KindText {
		return Reply{}, false, nil
	}
	command := glanceCommand(msg.Content)
	if command == "" {
		return Reply{}, false, nil
	}
	member, ceremonyOpen, err := c.store.Members().Glance(ctx, m.ID, msg.OpenID)
	switch {
	case ErrorCode(err) == ENOTFOUND:
		return Reply{}, false, nil // a sender we have not met becomes a member in the turn
	case err != nil:
		return Reply{}, false, err
	case member.State != StateFollowing || ceremonyOpen:
		return Reply{}, false, nil // the follow is recorded, or the ceremony prompted, in the turn
	case command == "积分" && member.AwaitsProof():
		return Reply{}, false, nil
	}
	if command == "帮助" {
		reply, err = c.render(m, "reply.help", nil)
		return reply, err == nil, err
	}
	reply, err = c.pointsReplyWith(ctx, c.store, m, member, nil)
	if errors.Is(err, errRaced) {
		return Reply{}, false, nil // the points moved while read: the turn reads them locked
	}
	return reply, err == nil, err
}

// glanceCommand returns 帮助 or 积分 if text is exactly one of their
// spellings, else "". A command with anything after it, or any other text,
// may be a claim code, an activation attempt or a ceremony's step, which
// the turn tells apart.
func glanceCommand(text string) string {
	switch strings.ToLower(strings.TrimSpace(text)) {
	case "帮助", "help", "?", "？":
		return "帮助"
	case "积分", "points", "我的积分":
		return "积分"
	}
	return ""
}
