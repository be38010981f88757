package ritual

import (
	"context"
	"errors"
	"fmt"

	"github.com/wxclub/wxclub/templates"
)

// errResend aborts the transaction of an order or refund recorded before.
var errResend = errors.New("ritual: recorded before")

// Shop is what the merchant's shop tells wxclub and asks of it: orders,
// refunds, redemptions of points for coupons, and coupons used.
type Shop struct {
	*changer
	replies
}

// RecordOrder records a paid order: the buyer (found by openid or phone,
// created as a recognized member if new) earns points, their level is
// re-evaluated, and every change is queued for the member in the same
// transaction. A resend of the same order gets the first answer and
// created=false; another order under the same number is ECONFLICT.
func (c *Shop) RecordOrder(ctx context.Context, m *Merchant, in OrderInput) (answer *OrderAnswer, created bool, err error) {
	if err := in.Validate(c.clock()); err != nil {
		return nil, false, err
	}
	err = c.atomically(ctx, func(tx *work) error {
		answer, err = c.recordOrder(ctx, tx, m, in)
		return err
	})
	if errors.Is(err, errResend) || (ErrorCode(err) == ECONFLICT && ErrorField(err) == "") {
		answer, err = c.previousOrder(ctx, m, in)
		c.observer.OrderRecorded(m.ID, outcome(err, "resent"))
		return answer, false, err
	}
	c.observer.OrderRecorded(m.ID, outcome(err, "created"))
	return answer, err == nil, err
}

// outcome names how a request ended, for metrics.
func outcome(err error, ok string) string {
	switch ErrorCode(err) {
	case "":
		return ok
	case ECONFLICT:
		return "conflict"
	case EINVALID, EBADREQUEST, ENOTFOUND:
		return "invalid"
	default:
		return "error"
	}
}

// previousOrder answers a resend from what the first recording stored.
func (c *Shop) previousOrder(ctx context.Context, m *Merchant, in OrderInput) (*OrderAnswer, error) {
	prev, err := c.store.Orders().ByNo(ctx, m.ID, in.OrderNo)
	if err != nil {
		return nil, err
	}
	if prev.RequestHash != in.hash() || prev.Answer == nil {
		return nil, &Error{Code: ECONFLICT, Field: "order_no", Message: fmt.Sprintf("order %s was recorded before with different content", in.OrderNo)}
	}
	return prev.Answer, nil
}

func (c *Shop) recordOrder(ctx context.Context, tx *work, m *Merchant, in OrderInput) (*OrderAnswer, error) {
	member, err := c.resolveBuyer(ctx, tx, m, in)
	if err != nil {
		return nil, err
	}
	now := c.clock()
	order := &Order{
		MerchantID: m.ID, OrderNo: in.OrderNo, MemberID: member.ID, AmountFen: in.AmountFen,
		PaidAt: now, Channel: in.Channel, RequestHash: in.hash(), CreatedAt: now,
		PointsEarned: in.AmountFen * int64(m.Membership.PointsPerYuan) / 100,
	}
	if in.PaidAt != nil {
		order.PaidAt = in.PaidAt.UTC()
	}
	ch, err := c.change(ctx, tx, m, member, "order:"+order.OrderNo, func(ch *memberChange) error {
		return c.bookOrder(ctx, tx, ch, order)
	})
	if errors.Is(err, errAlreadyOnLedger) {
		return nil, errResend
	} else if err != nil {
		return nil, err
	}
	order.Answer = &OrderAnswer{
		OrderNo: order.OrderNo, AmountFen: order.AmountFen, PaidAt: order.PaidAt, Channel: order.Channel,
		PointsEarned: order.PointsEarned, Member: ch.view,
	}
	if err := c.rewardReferrer(ctx, tx, m, member, order); err != nil {
		return nil, err
	}
	return order.Answer, tx.Orders().Update(ctx, order)
}

// bookOrder earns the order's points (multiplied on member day) and stores
// the order, so it counts towards the level the change is about to settle.
func (c *Shop) bookOrder(ctx context.Context, tx *work, ch *memberChange, order *Order) error {
	m := ch.m
	reason := fmt.Sprintf("消费¥%s得积分（订单%s）", templates.Yuan(order.AmountFen), shortRef(order.OrderNo))
	if isMemberDay(m, order.PaidAt) && m.Campaigns.MemberDay.Multiplier > 1 {
		order.PointsEarned *= int64(m.Campaigns.MemberDay.Multiplier)
		reason = fmt.Sprintf("会员日%d倍积分（订单%s）", m.Campaigns.MemberDay.Multiplier, shortRef(order.OrderNo))
	}
	if _, err := ch.earn(ctx, order.PointsEarned, SourceOrder, order.OrderNo, reason); err != nil {
		return err
	}
	if err := tx.Orders().Create(ctx, order); err != nil {
		return err // ECONFLICT: recorded before or concurrently; RecordOrder answers from that one
	}
	if n, err := tx.Orders().CountForMember(ctx, ch.member.ID); err != nil {
		return err
	} else if n == 2 {
		stamp(&ch.member.Funnel.FirstRepeatOrderAt, ch.now)
	}
	return nil
}

// resolveBuyer finds the member an order belongs to, attaching a newly
// learned openid or phone, or creates a recognized member.
func (c *Shop) resolveBuyer(ctx context.Context, tx *work, m *Merchant, in OrderInput) (*Member, error) {
	now := c.clock()
	if in.OpenID == "" {
		member, created, err := tx.Members().EnsureByPhone(ctx, m.ID, in.Phone, now)
		if err != nil || !created {
			return member, err
		}
		return member, c.recognize(ctx, tx, member)
	}
	member, err := tx.Members().ByOpenID(ctx, m.ID, in.OpenID)
	if ErrorCode(err) == ENOTFOUND && in.Phone != "" {
		member, err = tx.Members().ByPhone(ctx, m.ID, in.Phone)
		if err == nil && member.OpenID != "" {
			err = &Error{Code: ECONFLICT, Field: "phone", Message: "this phone belongs to a member with another openid"}
		} else if err == nil {
			member.OpenID = in.OpenID
			return member, tx.Members().Update(ctx, member)
		}
	}
	if ErrorCode(err) == ENOTFOUND {
		var created bool
		member, created, err = tx.Members().EnsureByOpenID(ctx, m.ID, in.OpenID, StateRecognized, now)
		if err == nil && created {
			err = c.recognize(ctx, tx, member)
		}
	}
	if err != nil {
		return nil, err
	}
	if member.Phone == "" && in.Phone != "" {
		member.Phone = in.Phone
		err = tx.Members().Update(ctx, member)
	}
	return member, err
}

// recognize marks a member created from an order: the funnel starts here,
// and their card gets a claim code.
func (c *Shop) recognize(ctx context.Context, tx *work, member *Member) error {
	stamp(&member.Funnel.RecognizedAt, c.clock())
	return c.giveClaimCode(ctx, tx, member)
}

// shortRef keeps the end of a long order number, which is what people
// recognise, so a reason fits a template field.
func shortRef(ref string) string {
	if r := []rune(ref); len(r) > 8 {
		return "…" + string(r[len(r)-6:])
	}
	return ref
}
