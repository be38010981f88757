package ritual

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// SourceGift books the new-member gift pack's points; reference
// "activation:<member id>".
const SourceGift = "gift"

func activationRef(member *Member) string { return fmt.Sprintf("activation:%d", member.ID) }

// activationReply renders the reply called name, which says how member
// activates (the templates' .Method, see activationMethod).
func (c *Chat) activationReply(ctx context.Context, tx *work, m *Merchant, member *Member, name string) (Reply, error) {
	method, err := c.activationMethod(ctx, tx, m, member)
	if err != nil {
		return Reply{}, err
	}
	return c.render(m, name, map[string]any{
		"Method": method, "Gift": giftSummary(m), "HasPhone": member.Phone != "",
		"Preview": member.TestShopper && method == activateByCommand, // the preview can neither order nor fill in a WeChat card
	})
}

// The acts a member may be given instead of the merchant's method (see
// activationMethod).
const (
	activateByCommand  = "command"     // send 激活: the membership is theirs already
	activateAfterOrder = "after_order" // order first, then send 激活
)

// activationMethod is how member activates: the merchant's method, except
// where the member could not perform it or it would prove nothing.
//
// A membership bound by the card's code alone (AwaitsProof) activates by
// the order phone's last four digits whatever the merchant chose: a
// birthday or WeChat's card form can be given by anyone who found the
// code, the order's phone only by the buyer.
//
// Any other member's WeChat user is the membership's already: an order
// carried their openid, or the record is their follow. Under phone_last4,
// which activates buyers, the digits are still asked of one whose order
// gave a phone (the act the merchant chose, and they know it); a buyer
// with no phone on record has no digits that could match, and their order
// proves them, so they send 激活; a follower who never bought orders
// first. Until then their record stays free to take the card of a first
// order placed by phone. A test shopper, who can neither order nor fill in
// a WeChat member card in the console's preview, sends 激活 where those
// would be asked.
func (c *Chat) activationMethod(ctx context.Context, tx *work, m *Merchant, member *Member) (string, error) {
	switch method := m.Activation.Method; {
	case member.AwaitsProof():
		return ActivatePhoneLast4, nil
	case method == ActivateMemberCard && member.TestShopper:
		return activateByCommand, nil
	case method != ActivatePhoneLast4 || member.Phone != "":
		return method, nil
	case member.TestShopper:
		return activateByCommand, nil
	}
	orders, err := tx.Orders().CountForMember(ctx, member.ID)
	if err != nil || orders > 0 {
		return activateByCommand, err
	}
	return activateAfterOrder, nil
}

// activateChat answers 激活: the activation itself for a member whose act
// it is, else how to activate.
func (c *Chat) activateChat(ctx context.Context, tx *work, m *Merchant, member *Member) (Reply, error) {
	if member.Funnel.ActivatedAt != nil {
		return c.render(m, "reply.already_activated", nil)
	}
	method, err := c.activationMethod(ctx, tx, m, member)
	if err != nil || method == activateByCommand {
		if err != nil {
			return Reply{}, err
		}
		return c.activate(ctx, tx, m, member)
	}
	return c.activationReply(ctx, tx, m, member, "reply.how_to_activate")
}

// giftSummary says what the gift pack holds: "100积分 + 新人茶包（明前龙井试饮装一份）".
func giftSummary(m *Merchant) string {
	var parts []string
	if p := m.Activation.Gift.Points; p > 0 {
		parts = append(parts, fmt.Sprintf("%d积分", p))
	}
	for _, key := range m.Activation.Gift.Coupons {
		if r, ok := findReward(m.Rewards, key); ok {
			parts = append(parts, fmt.Sprintf("%s（%s）", r.Name, r.Product))
		}
	}
	return strings.Join(parts, " + ")
}

var (
	fourDigits   = regexp.MustCompile(`^\d{4}$`)
	birthdayText = regexp.MustCompile(`^(?:(\d{4})[-/.年])?(\d{1,2})[-/.月](\d{1,2})日?$`)
)

// tryActivate handles a text from a member who has not activated yet. It
// reports false when the text is not an activation attempt, so the
// conversation goes on as usual.
func (c *Chat) tryActivate(ctx context.Context, tx *work, m *Merchant, member *Member, text string) (Reply, bool, error) {
	text = strings.TrimSpace(text)
	method, err := c.activationMethod(ctx, tx, m, member)
	if err != nil {
		return Reply{}, false, err
	}
	switch method {
	case ActivatePhoneLast4:
		if !fourDigits.MatchString(text) {
			return Reply{}, false, nil
		}
		reply, err := c.checkPhoneLast4(ctx, tx, m, member, member.OpenID, text)
		return reply, true, err
	case activateByCommand, activateAfterOrder:
		if !fourDigits.MatchString(text) {
			return Reply{}, false, nil
		}
		// Digits meant as a proof, from a member who has none to give.
		reply, err := c.activationReply(ctx, tx, m, member, "reply.activate_no_phone")
		return reply, true, err
	case ActivateBirthday:
		birthday, ok := parseBirthday(text)
		if !ok {
			return Reply{}, false, nil
		}
		member.Birthday = birthday
		reply, err := c.activate(ctx, tx, m, member)
		return reply, true, err
	}
	return Reply{}, false, nil
}

// checkPhoneLast4 activates member if sender proves the order's phone.
func (c *Chat) checkPhoneLast4(ctx context.Context, tx *work, m *Merchant, member *Member, sender, digits string) (Reply, error) {
	if reply, proven, err := c.proveOrderPhone(ctx, tx, m, member, sender, digits); !proven || err != nil {
		return reply, err
	}
	return c.activate(ctx, tx, m, member)
}

// proveOrderPhone checks digits against the last four of member's order
// phone. Guesses are limited per sender an hour and per membership a
// month, so ten thousand possibilities hold against many WeChat accounts.
// When the proof fails it returns the reply that says why.
func (c *Chat) proveOrderPhone(ctx context.Context, tx *work, m *Merchant, member *Member, sender, digits string) (Reply, bool, error) {
	if member.Phone == "" {
		reply, err := c.render(m, "reply.proof_no_phone", nil) // every order by phone leaves one: not seen
		return reply, false, err
	}
	now := c.clock()
	if over, err := overLimit(ctx, tx.Limits(), "activate:"+m.ID+":"+sender, time.Hour, activationTriesPerHour, now); err != nil || over {
		reply, err := c.slowDown(m, err)
		return reply, false, err
	}
	if over, err := overLimit(ctx, tx.Limits(), fmt.Sprintf("proof:%s:%d", m.ID, member.ID), proofWindow, proofTriesPerWindow, now); err != nil || over {
		if err != nil {
			return Reply{}, false, err
		}
		reply, err := c.render(m, "reply.proof_locked", nil)
		return reply, false, err
	}
	if !strings.HasSuffix(member.Phone, digits) {
		reply, err := c.render(m, "reply.activate_mismatch", nil)
		return reply, false, err
	}
	return Reply{}, true, nil
}

// parseBirthday reads "1990-05-20", "5月20日", "05/20" into "YYYY-MM-DD"
// or "MM-DD".
func parseBirthday(s string) (string, bool) {
	parts := birthdayText.FindStringSubmatch(s)
	if parts == nil {
		return "", false
	}
	month, _ := strconv.Atoi(parts[2])
	day, _ := strconv.Atoi(parts[3])
	year := 2000 // a leap year, so 02-29 is a birthday
	if parts[1] != "" {
		year, _ = strconv.Atoi(parts[1])
	}
	t := time.Date(year, time.Month(month), day, 0, 0, 0, 0, time.UTC)
	if t.Month() != time.Month(month) || t.Day() != day || year < 1900 || year > 2100 {
		return "", false
	}
	if parts[1] == "" {
		return t.Format("01-02"), true
	}
	return t.Format("2006-01-02"), true
}

// activate turns the member into an activated one and grants the new-member
// gift pack, once: its points, its coupons and a template message saying so.
func (c *Chat) activate(ctx context.Context, tx *work, m *Merchant, member *Member) (Reply, error) {
	if member.Funnel.ActivatedAt != nil {
		return c.render(m, "reply.already_activated", nil)
	}
	now := c.clock()
	stamp(&member.Funnel.ActivatedAt, now)
	var coupons []*Coupon
	_, err := c.change(ctx, tx, m, member, "activation", func(ch *memberChange) error {
		if _, err := ch.earn(ctx, m.Activation.Gift.Points, SourceGift, activationRef(member), "新会员礼包"); err != nil && !errors.Is(err, errAlreadyOnLedger) {
			return err
		}
		if len(m.Activation.Gift.Coupons) == 0 {
			stamp(&member.Funnel.BenefitClaimedAt, now) // the gift was points only: claimed on arrival
		}
		var err error
		coupons, err = c.grantGiftCoupons(ctx, tx, m, member)
		return err
	})
	if err != nil {
		return Reply{}, err
	}
	if m.Activation.Method == ActivateMemberCard && member.CardCode != "" {
		if err := c.enqueue(ctx, tx, m, member, PurposeCardActivate, fmt.Sprintf("card:%d", member.ID), Notice{At: now}, now); err != nil {
			return Reply{}, err
		}
	}
	notice := Notice{Reason: giftSummary(m), Balance: member.Points, At: now}
	if err := c.enqueue(ctx, tx, m, member, PurposeGiftGranted, "gift:"+activationRef(member), notice, now); err != nil {
		return Reply{}, err
	}
	if err := c.releaseWaiting(ctx, tx, member); err != nil { // what waited for the proof of a card bound by code
		return Reply{}, err
	}
	c.log.InfoContext(ctx, "member activated", "merchant", m.ID, "member", member.ID, "coupons", len(coupons))
	return c.render(m, "reply.activated", map[string]any{
		"Gift": giftSummary(m), "Points": member.Points, "Coupons": couponLines(m, coupons),
		"AskBirthday": m.Campaigns.Birthday != nil && member.Birthday == "", // asked once, here; 生日 in 帮助 after
	})
}

// couponLines describes issued coupons for a reply: name, code and window.
func couponLines(m *Merchant, coupons []*Coupon) []string {
	var lines []string
	for _, cp := range coupons {
		name := cp.RewardKey
		if r, ok := findReward(m.Rewards, cp.RewardKey); ok {
			name = r.Name
		}
		lines = append(lines, fmt.Sprintf("%s 券码%s，%s至%s可用", name, cp.Code,
			cp.ValidFrom.In(m.Location()).Format("2006-01-02"), cp.ValidUntil.In(m.Location()).Format("2006-01-02")))
	}
	return lines
}
