package ritual

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// errRepeated aborts the transaction of a delivery that was handled before.
var errRepeated = errors.New("ritual: delivery seen before")

// HandleMessage answers one message or event from a shopper. A delivery
// WeChat repeats (same DedupeKey) gets the reply stored the first time and
// changes nothing, also when both arrive at once: the claim, every effect
// and the stored reply commit in one transaction.
func (c *Club) HandleMessage(ctx context.Context, m *Merchant, msg InboundMessage) (Reply, error) {
	key := msg.DedupeKey()
	var reply Reply
	err := c.store.Atomic(ctx, func(tx Repos) error {
		fresh, err := tx.Inbound().Claim(ctx, m.ID, key, c.clock())
		if err != nil {
			return err
		}
		if !fresh {
			return errRepeated
		}
		if reply, err = c.converse(ctx, tx, m, msg); err != nil {
			return err
		}
		return tx.Inbound().SaveReply(ctx, m.ID, key, reply.Text)
	})
	if errors.Is(err, errRepeated) {
		text, err := c.store.Inbound().Reply(ctx, m.ID, key)
		return Reply{Text: text}, err
	}
	return reply, err
}

// converse decides what a delivery means and what to answer.
func (c *Club) converse(ctx context.Context, tx Repos, m *Merchant, msg InboundMessage) (Reply, error) {
	if msg.OpenID == "" {
		return Reply{}, Errorf(EBADREQUEST, "the message has no sender (FromUserName)")
	}
	switch {
	case msg.Kind == KindEvent && msg.Event == EventSubscribe:
		return c.subscribed(ctx, tx, m, msg)
	case msg.Kind == KindEvent && msg.Event == EventUnsubscribe:
		return c.unsubscribed(ctx, tx, m, msg)
	case msg.Kind == KindEvent && msg.Event == EventScan:
		return c.say(ctx, tx, m, msg, "reply.help")
	case msg.Kind == KindEvent:
		return Reply{}, nil // menu clicks, location reports, delivery receipts: nothing to say
	case msg.Kind == KindText:
		return c.say(ctx, tx, m, msg, textReply(msg.Content))
	default:
		return c.say(ctx, tx, m, msg, "reply.default")
	}
}

// textReply picks the reply template for a text message.
func textReply(content string) string {
	switch strings.ToLower(strings.TrimSpace(content)) {
	case "帮助", "help", "?", "？":
		return "reply.help"
	case "积分", "points", "我的积分":
		return "reply.points"
	default:
		return "reply.default"
	}
}

func (c *Club) subscribed(ctx context.Context, tx Repos, m *Merchant, msg InboundMessage) (Reply, error) {
	now := c.clock()
	member, created, err := tx.Members().EnsureByOpenID(ctx, m.ID, msg.OpenID, StateFollowing, now)
	if err != nil {
		return Reply{}, err
	}
	returning := member.Follow(now, msg.QRScene())
	if err := tx.Members().Update(ctx, member); err != nil {
		return Reply{}, err
	}
	if err := c.releaseWaiting(ctx, tx, member); err != nil {
		return Reply{}, err
	}
	c.log.InfoContext(ctx, "member followed", "merchant", m.ID, "member", member.ID, "new", created, "returning", returning)
	if returning {
		return c.render(m, "reply.welcome_back")
	}
	return c.render(m, "reply.welcome")
}

func (c *Club) unsubscribed(ctx context.Context, tx Repos, m *Merchant, msg InboundMessage) (Reply, error) {
	member, err := tx.Members().ByOpenID(ctx, m.ID, msg.OpenID)
	if ErrorCode(err) == ENOTFOUND {
		return Reply{}, nil // never seen them follow: nothing to keep
	} else if err != nil {
		return Reply{}, err
	}
	member.Unfollow(c.clock())
	return Reply{}, tx.Members().Update(ctx, member) // WeChat shows no reply to someone who left
}

// say answers a follower. Anyone who can message the official account
// follows it, so a sender we have not met (they followed before wxclub was
// installed) becomes a member here.
func (c *Club) say(ctx context.Context, tx Repos, m *Merchant, msg InboundMessage, name string) (Reply, error) {
	member, created, err := tx.Members().EnsureByOpenID(ctx, m.ID, msg.OpenID, StateFollowing, c.clock())
	if err != nil {
		return Reply{}, err
	}
	if created || member.State != StateFollowing {
		member.Follow(c.clock(), "")
		if err := tx.Members().Update(ctx, member); err != nil {
			return Reply{}, err
		}
		if err := c.releaseWaiting(ctx, tx, member); err != nil {
			return Reply{}, err
		}
	}
	if name == "reply.points" {
		return c.pointsReply(ctx, tx, m, member)
	}
	return c.render(m, name)
}

// pointsReply tells a member their balance, level and what the next level
// needs, with their last few ledger entries.
func (c *Club) pointsReply(ctx context.Context, tx Repos, m *Merchant, member *Member) (Reply, error) {
	stats, err := c.periodStats(ctx, tx, m, member.ID)
	if err != nil {
		return Reply{}, err
	}
	entries, err := tx.Ledger().Entries(ctx, member.ID, 0, 3)
	if err != nil {
		return Reply{}, err
	}
	view := m.view(member, stats)
	data := pointsData{Merchant: m.Name, View: view}
	for _, e := range entries {
		data.Recent = append(data.Recent, recentEntry{
			Date: e.CreatedAt.In(m.Location()).Format("01-02"), Delta: fmt.Sprintf("%+d", e.Delta), Reason: e.Reason,
		})
	}
	text, err := c.texts.Render("reply.points", data)
	if err != nil {
		return Reply{}, fmt.Errorf("ritual: reply points: %w", err)
	}
	return Reply{Text: text}, nil
}

type pointsData struct {
	Merchant string
	View     MemberView
	Recent   []recentEntry
}

type recentEntry struct {
	Date, Delta, Reason string
}

// replyData is what every reply template can use.
type replyData struct {
	Merchant string
}

func (c *Club) render(m *Merchant, name string) (Reply, error) {
	text, err := c.texts.Render(name, replyData{Merchant: m.Name})
	if err != nil {
		return Reply{}, fmt.Errorf("ritual: reply %s: %w", name, err)
	}
	return Reply{Text: text}, nil
}

// ForgetDeliveries deletes the record of deliveries received more than
// retention ago, in batches, and returns how many it deleted. retention must
// exceed the webhook's replay window, or a replay inside the window would be
// handled again.
func (c *Club) ForgetDeliveries(ctx context.Context, retention time.Duration) (int64, error) {
	before := c.clock().Add(-retention)
	var total int64
	for {
		n, err := c.store.Inbound().Prune(ctx, before, 1000)
		total += n
		if err != nil || n < 1000 {
			return total, err
		}
	}
}

// waitForFollow is how long a message waits for a member who does not
// follow: long enough for a buyer to scan the card in the parcel, short
// enough that someone who comes back months later is not flooded with news
// that is no longer news.
const waitForFollow = 7 * 24 * time.Hour

// releaseWaiting sends the messages that waited for the member to follow.
func (c *Club) releaseWaiting(ctx context.Context, tx Repos, member *Member) error {
	now := c.clock()
	_, err := tx.Outbox().ReleaseWaiting(ctx, member.ID, now.Add(-waitForFollow), now)
	return err
}
