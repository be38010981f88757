package ritual

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Chat is the official account's side of the conversation: a shopper's
// follow, scans, card events and text commands (帮助, 积分, 激活, 邀请, 签到,
// 补签, 绑定, 兑换), a claim code or an activation attempt.
type Chat struct {
	*changer
	replies
	signIns  *signIns
	upgrades *Upgrades
	shop     *Shop
	cards    *Cards
}

// HandleMessage answers one message or event from a shopper on the
// official account. A delivery WeChat repeats (same DedupeKey) gets the
// reply given the first time and changes nothing, also when both arrive at
// once.
func (c *Chat) HandleMessage(ctx context.Context, m *Merchant, msg InboundMessage) (Reply, error) {
	if err := msg.Validate(); err != nil {
		return Reply{}, err
	}
	key := msg.DedupeKey()
	if reply, ok, err := c.glance(ctx, m, msg); err != nil || ok {
		if err != nil {
			return Reply{}, err
		}
		text, err := c.answered(ctx, m, key, reply.Text)
		return Reply{Text: text}, err
	}
	text, err := c.turn(ctx, m, key, func(tx *work) (string, error) {
		reply, err := c.converse(ctx, tx, m, msg)
		return reply.Text, err
	})
	return Reply{Text: text}, err
}

// converse decides what a delivery means and what to answer.
func (c *Chat) converse(ctx context.Context, tx *work, m *Merchant, msg InboundMessage) (Reply, error) {
	switch {
	case msg.Kind == KindEvent && msg.Event == EventSubscribe:
		return c.subscribed(ctx, tx, m, msg)
	case msg.Kind == KindEvent && msg.Event == EventUnsubscribe:
		return c.unsubscribed(ctx, tx, m, msg)
	case msg.Kind == KindEvent && msg.Event == EventScan:
		return c.scanned(ctx, tx, m, msg)
	case msg.Kind == KindEvent && (msg.Event == EventUserGetCard || msg.Event == EventSubmitCardInfo || msg.Event == EventUserDelCard):
		return c.cardEvent(ctx, tx, m, msg)
	case msg.Kind == KindEvent:
		return Reply{}, nil // menu clicks, location reports, delivery receipts: nothing to say
	case msg.Kind == KindText:
		return c.text(ctx, tx, m, msg)
	default:
		if _, err := c.follower(ctx, tx, m, msg.OpenID); err != nil {
			return Reply{}, err
		}
		return c.render(m, "reply.default", nil)
	}
}

// Scenes of the QR codes wxclub makes: a membership card's claim code and a
// member's invitation.
const (
	sceneClaim    = "claim:"
	sceneReferral = "ref:"
)

func (c *Chat) subscribed(ctx context.Context, tx *work, m *Merchant, msg InboundMessage) (Reply, error) {
	now := c.clock()
	member, created, err := tx.Members().EnsureByOpenID(ctx, m.ID, msg.OpenID, StateFollowing, now)
	if err != nil {
		return Reply{}, err
	}
	scene := msg.QRScene()
	code, byCard := strings.CutPrefix(scene, sceneClaim)
	first, kept := member.FollowedAt == nil, scene
	if byCard {
		kept = "" // a card's scene is kept once the card binds (followedByCard)
	}
	returning := member.Follow(now, kept)
	if err := tx.Members().Update(ctx, member); err != nil {
		return Reply{}, err
	}
	if err := c.releaseWaiting(ctx, tx, member); err != nil {
		return Reply{}, err
	}
	c.log.InfoContext(ctx, "member followed", "merchant", m.ID, "member", member.ID, "new", created, "returning", returning)
	welcome := "reply.welcome"
	if returning {
		welcome = "reply.welcome_back"
	}
	switch {
	case byCard:
		return c.followedByCard(ctx, tx, m, member, code, first, welcome)
	case strings.HasPrefix(scene, sceneReferral) && created:
		if err := c.referredBy(ctx, tx, m, member, strings.TrimPrefix(scene, sceneReferral)); err != nil {
			return Reply{}, err
		}
	}
	return c.render(m, welcome, nil)
}

// followedByCard binds the card whose QR code the shopper followed through.
// The follow counts whatever the card: when it does not bind (no card has
// the code, it is someone else's, too many tries) the shopper is welcomed as
// any follower and told what to do about the card, and the scene is not
// kept as how they came, since it names a card that is not theirs. On a
// first follow that binds, the card's scene is the member's.
func (c *Chat) followedByCard(ctx context.Context, tx *work, m *Merchant, follower *Member, code string, first bool, welcome string) (Reply, error) {
	reply, err := c.bindClaim(ctx, tx, m, follower, code, false)
	if err != nil {
		return Reply{}, err
	}
	member, err := tx.Members().ByOpenID(ctx, m.ID, follower.OpenID)
	if err != nil {
		return Reply{}, err
	}
	if member.ClaimCode != "" && member.ClaimCode == strings.ToUpper(strings.TrimSpace(code)) {
		if first {
			member.SubscribeScene = sceneClaim + code
			err = tx.Members().Update(ctx, member)
		}
		return reply, err
	}
	hello, err := c.render(m, welcome, nil)
	return Reply{Text: hello.Text + "\n\n" + reply.Text}, err
}

// scanned handles a follower scanning one of the merchant's QR codes.
func (c *Chat) scanned(ctx context.Context, tx *work, m *Merchant, msg InboundMessage) (Reply, error) {
	member, err := c.follower(ctx, tx, m, msg.OpenID)
	if err != nil {
		return Reply{}, err
	}
	if scene := msg.QRScene(); strings.HasPrefix(scene, sceneClaim) {
		return c.bindClaim(ctx, tx, m, member, strings.TrimPrefix(scene, sceneClaim), false)
	}
	return c.render(m, "reply.help", nil)
}

func (c *Chat) unsubscribed(ctx context.Context, tx *work, m *Merchant, msg InboundMessage) (Reply, error) {
	member, err := tx.Members().ByOpenID(ctx, m.ID, msg.OpenID)
	if ErrorCode(err) == ENOTFOUND {
		return Reply{}, nil // never seen them follow: nothing to keep
	} else if err != nil {
		return Reply{}, err
	}
	member.Unfollow(c.clock())
	return Reply{}, tx.Members().Update(ctx, member) // WeChat shows no reply to someone who left
}

// follower returns the member who sent a message, locked. Anyone who can
// message the official account follows it, so a sender we have not met
// (they followed before wxclub was installed) becomes a member here. A
// member who follows, as nearly every sender does, costs one read.
func (c *Chat) follower(ctx context.Context, tx *work, m *Merchant, openid string) (*Member, error) {
	member, err := tx.Members().ByOpenID(ctx, m.ID, openid)
	if err == nil && member.State == StateFollowing {
		return member, nil
	}
	created := false
	if ErrorCode(err) == ENOTFOUND {
		member, created, err = tx.Members().EnsureByOpenID(ctx, m.ID, openid, StateFollowing, c.clock())
	}
	if err != nil || (!created && member.State == StateFollowing) {
		return member, err
	}
	member.Follow(c.clock(), "")
	if err := tx.Members().Update(ctx, member); err != nil {
		return nil, err
	}
	return member, c.releaseWaiting(ctx, tx, member)
}

// text answers a text message. A member with an open upgrade ceremony may
// be performing a step of it; the first time they chat after it opened,
// whatever they said is answered with the ceremony's prompt added.
func (c *Chat) text(ctx context.Context, tx *work, m *Merchant, msg InboundMessage) (Reply, error) {
	member, ceremonyOpen, err := c.texter(ctx, tx, m, msg.OpenID)
	if err != nil {
		return Reply{}, err
	}
	content := strings.TrimSpace(msg.Content)
	if member.AwaitsProof() { // a ceremony's reward is for the proven buyer, and so is 积分
		return c.textReply(ctx, tx, m, member, nil, msg, content)
	}
	var cer *Ceremony
	if ceremonyOpen {
		cer, err = openCeremonyOf(ctx, tx, member)
	}
	if err != nil || cer == nil {
		if err != nil {
			return Reply{}, err
		}
		return c.textReply(ctx, tx, m, member, nil, msg, content)
	}
	if reply, ok, err := c.upgrades.ceremonyText(ctx, tx, m, member, cer, content); ok || err != nil {
		return reply, err
	}
	if content == "仪式" || cer.PromptedAt == nil {
		return c.withCeremonyPrompt(ctx, tx, m, member, msg, cer, content)
	}
	return c.textReply(ctx, tx, m, member, cer, msg, content)
}

// texter returns the sender of a text, locked, as follower does, and
// whether a ceremony of theirs may be open. A follower costs one read,
// which also tells whether the ceremony needs reading.
func (c *Chat) texter(ctx context.Context, tx *work, m *Merchant, openid string) (*Member, bool, error) {
	member, ceremonyOpen, err := tx.Members().Glance(ctx, m.ID, openid)
	if err == nil && member.State == StateFollowing {
		return member, ceremonyOpen, nil
	}
	if err != nil && ErrorCode(err) != ENOTFOUND {
		return nil, false, err
	}
	member, err = c.follower(ctx, tx, m, openid)
	return member, true, err // the follow may have settled something: read the ceremony
}

// withCeremonyPrompt answers the message and adds the ceremony's prompt.
func (c *Chat) withCeremonyPrompt(ctx context.Context, tx *work, m *Merchant, member *Member, msg InboundMessage, cer *Ceremony, content string) (Reply, error) {
	prompt, err := c.upgrades.ceremonyPrompt(m, cer)
	if err != nil {
		return Reply{}, err
	}
	now := c.clock()
	cer.PromptedAt = &now
	if err := tx.Ceremonies().Update(ctx, cer); err != nil {
		return Reply{}, err
	}
	if content == "仪式" {
		return Reply{Text: prompt}, nil
	}
	reply, err := c.textReply(ctx, tx, m, member, cer, msg, content)
	if err != nil || strings.Contains(reply.Text, prompt) { // 积分 shows the ceremony itself: say it once
		return reply, err
	}
	return Reply{Text: reply.Text + "\n\n" + prompt}, nil
}

// textReply answers a text message: a card's claim code, an activation
// attempt, or one of the commands 帮助, 积分, 激活, 邀请, 兑换, 生日. open is
// the member's open ceremony, nil if none.
func (c *Chat) textReply(ctx context.Context, tx *work, m *Merchant, member *Member, open *Ceremony, msg InboundMessage, content string) (Reply, error) {
	if member.Funnel.ActivatedAt == nil {
		if code, digits, ok := takeBackText(content); ok {
			return c.takeBack(ctx, tx, m, member, code, digits)
		}
		if looksLikeClaimCode(content) {
			return c.bindClaim(ctx, tx, m, member, content, true)
		}
		if reply, ok, err := c.tryActivate(ctx, tx, m, member, content); ok || err != nil {
			return reply, err
		}
	}
	if arg, ok := birthdayCommand(content); ok {
		return c.birthdayChat(ctx, tx, m, member, arg)
	}
	command, arg, _ := strings.Cut(content, " ")
	command = strings.ToLower(command)
	if member.AwaitsProof() && provenOnly(command) {
		return c.activationReply(ctx, tx, m, member, "reply.prove_first")
	}
	switch command {
	case "帮助", "help", "?", "？":
		return c.render(m, "reply.help", nil)
	case "积分", "points", "我的积分":
		return c.pointsReplyWith(ctx, tx, m, member, open)
	case "激活":
		return c.activateChat(ctx, tx, m, member)
	case "邀请":
		return c.invite(ctx, tx, m, member)
	case "签到":
		return c.signInChat(ctx, tx, m, member, false)
	case "补签":
		return c.signInChat(ctx, tx, m, member, true)
	case "绑定":
		return c.linkCodeChat(ctx, tx, m, member)
	case "兑换":
		return c.redeemInChat(ctx, tx, m, member, msg, strings.TrimSpace(arg))
	case "仪式": // an open ceremony answers it before here
		return c.render(m, "reply.no_ceremony", nil)
	}
	if member.Funnel.ActivatedAt != nil && fourDigits.MatchString(content) {
		return c.render(m, "reply.already_activated", nil) // an activation attempt from someone already activated
	}
	return c.render(m, "reply.default", nil)
}

// provenOnly reports whether command shows or moves the membership's
// points: refused to a WeChat user bound by the card's code alone.
func provenOnly(command string) bool {
	switch command {
	case "积分", "points", "我的积分", "兑换", "邀请", "签到", "补签", "绑定", "仪式":
		return true
	}
	return false
}

// pointsReply tells a member their balance, level, the ceremony they are
// performing, what the level after the one they qualify for needs, and
// their last few ledger entries.
func (c *Chat) pointsReply(ctx context.Context, tx Repos, m *Merchant, member *Member) (Reply, error) {
	open, err := openCeremonyOf(ctx, tx, member)
	if err != nil {
		return Reply{}, err
	}
	return c.pointsReplyWith(ctx, tx, m, member, open)
}

// pointsReplyWith is pointsReply for a caller who read the open ceremony
// (nil if none) already.
func (c *Chat) pointsReplyWith(ctx context.Context, tx Repos, m *Merchant, member *Member, open *Ceremony) (Reply, error) {
	stats, err := periodStats(ctx, tx, m, member.ID, c.clock())
	if err != nil {
		return Reply{}, err
	}
	entries, err := tx.Ledger().Entries(ctx, member.ID, 0, pointsListed)
	if err != nil {
		return Reply{}, err
	}
	if len(entries) > 0 && entries[0].BalanceAfter != member.Points {
		return Reply{}, errRaced // read unlocked (a glance) while the points moved: balance and list disagree
	}
	data := pointsData{Merchant: m.Name, View: m.view(member, stats, open)}
	if open != nil {
		if data.Ceremony, err = c.upgrades.ceremonyPrompt(m, open); err != nil {
			return Reply{}, err
		}
	}
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

// pointsListed is how many recent changes 积分 lists: as many as one
// merged points message can carry, so every change it counts can be seen.
const pointsListed = 5

type pointsData struct {
	Merchant string
	View     MemberView
	Recent   []recentEntry
	Ceremony string // the open ceremony's prompt: its level, steps left and deadline
}

type recentEntry struct {
	Date, Delta, Reason string
}

// ForgetDeliveries deletes the record of deliveries received more than
// retention ago, in batches, and returns how many it deleted. retention must
// exceed the webhook's replay window, or a replay inside the window would be
// handled again.
func (c *Chat) ForgetDeliveries(ctx context.Context, retention time.Duration) (int64, error) {
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
func (c *changer) releaseWaiting(ctx context.Context, tx *work, member *Member) error {
	now := c.clock()
	_, err := tx.Outbox().ReleaseWaiting(ctx, member.ID, now.Add(-waitForFollow), now)
	return err
}
