package ritual

import (
	"context"
	"errors"
	"fmt"

	"github.com/wxclub/wxclub/templates"
)

// RecordRefund records a (partial) refund of an order: the points earned by
// the refunded part are taken back — down to a zero balance, the rest noted
// on the ledger as a shortfall — and the level is re-evaluated. Idempotent
// by refund number; refunding more than is left of the order is EINVALID.
func (c *Shop) RecordRefund(ctx context.Context, m *Merchant, in RefundInput) (answer *RefundAnswer, created bool, err error) {
	if err := in.Validate(); err != nil {
		return nil, false, err
	}
	err = c.atomically(ctx, func(tx *work) error {
		answer, err = c.recordRefund(ctx, tx, m, in)
		return err
	})
	if errors.Is(err, errResend) || (ErrorCode(err) == ECONFLICT && ErrorField(err) == "") {
		answer, err = c.previousRefund(ctx, m, in)
		return answer, false, err
	}
	return answer, err == nil, err
}

func (c *Shop) previousRefund(ctx context.Context, m *Merchant, in RefundInput) (*RefundAnswer, error) {
	prev, err := c.store.Orders().RefundByNo(ctx, m.ID, in.RefundNo)
	if err != nil {
		return nil, err
	}
	if prev.RequestHash != in.hash() || prev.Answer == nil {
		return nil, &Error{Code: ECONFLICT, Field: "refund_no", Message: fmt.Sprintf("refund %s was recorded before with different content", in.RefundNo)}
	}
	return prev.Answer, nil
}

func (c *Shop) recordRefund(ctx context.Context, tx *work, m *Merchant, in RefundInput) (*RefundAnswer, error) {
	order, err := tx.Orders().ByNo(ctx, m.ID, in.OrderNo)
	if err != nil {
		return nil, err
	}
	if _, err := tx.Orders().RefundByNo(ctx, m.ID, in.RefundNo); err == nil {
		return nil, errResend
	} else if ErrorCode(err) != ENOTFOUND {
		return nil, err
	}
	if in.AmountFen > order.NetFen() {
		return nil, FieldErrorf("amount_fen", "refunding %d fen, but only %d of order %s's %d are left to refund", in.AmountFen, order.NetFen(), order.OrderNo, order.AmountFen)
	}
	member, err := tx.Members().ByID(ctx, order.MemberID)
	if err != nil {
		return nil, err
	}
	now := c.clock()
	// Take back in proportion to everything refunded so far, so a series of
	// partial refunds reverses exactly what a full one would. Points earned
	// times fen refunded can pass int64 (10^11 × 10^9): mulDiv takes it in
	// 128 bits.
	due := mulDiv(order.PointsEarned, order.RefundedFen+in.AmountFen, order.AmountFen) - order.PointsReversed
	refund := &Refund{MerchantID: m.ID, RefundNo: in.RefundNo, OrderID: order.ID, AmountFen: in.AmountFen, RequestHash: in.hash(), CreatedAt: now}
	ch, err := c.change(ctx, tx, m, member, "refund:"+in.RefundNo, func(ch *memberChange) error {
		if due > 0 {
			reason := fmt.Sprintf("退款¥%s扣回积分（订单%s）", templates.Yuan(in.AmountFen), shortRef(order.OrderNo))
			e, err := ch.takeBack(ctx, due, order.OrderNo, SourceRefund, in.RefundNo, reason)
			if err != nil {
				return err
			}
			refund.PointsReversed, refund.Shortfall = -e.Delta, e.Shortfall
		}
		order.RefundedFen += in.AmountFen
		order.PointsReversed += due
		ch.ordersMoved = true
		return tx.Orders().Update(ctx, order)
	})
	if err != nil {
		return nil, err
	}
	if err := c.reverseReferral(ctx, tx, m, order); err != nil {
		return nil, err
	}
	refund.Answer = &RefundAnswer{
		OrderNo: order.OrderNo, RefundNo: in.RefundNo, AmountFen: in.AmountFen, RefundedFen: order.RefundedFen,
		PointsReversed: refund.PointsReversed, Shortfall: refund.Shortfall, Member: ch.view,
	}
	// Written last: the order row, locked since ByNo, keeps a concurrent copy
	// of this refund waiting until this one commits and it finds it.
	return refund.Answer, tx.Orders().CreateRefund(ctx, refund)
}
