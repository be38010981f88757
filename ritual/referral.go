package ritual

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Referral ledger sources; reference: "order:<the referee's first order>".
const (
	SourceReferral         = "referral"
	SourceReferralReversal = "referral_reversal"
)

const referralCodeLen = 8

// invite answers 邀请: an activated member gets their personal QR code
// (scene ref:<code>) and the rule in plain words.
func (c *Chat) invite(ctx context.Context, tx *work, m *Merchant, member *Member) (Reply, error) {
	if member.Funnel.ActivatedAt == nil {
		return c.activationReply(ctx, tx, m, member, "reply.invite_activate_first")
	}
	if member.ReferralCode == "" {
		var err error
		for range 5 {
			member.ReferralCode = newCode(referralCodeLen)
			if err = tx.Members().Update(ctx, member); ErrorCode(err) != ECONFLICT {
				break
			}
		}
		if err != nil {
			return Reply{}, err
		}
	}
	return c.render(m, "reply.invite", map[string]any{
		"Link": c.cards.qrLink(m, "ref:"+member.ReferralCode), "Points": m.Referral.Points, "Cap": m.Referral.MonthlyCap,
	})
}

// referredBy binds a brand-new follower to the member whose invitation QR
// they followed through. Only a new member counts (someone who followed or
// bought before was not brought by anyone), nobody refers themselves, and
// the first referrer wins.
func (c *Chat) referredBy(ctx context.Context, tx *work, m *Merchant, member *Member, code string) error {
	if member.ReferredBy != 0 {
		return nil
	}
	referrer, err := tx.Members().ByReferralCode(ctx, m.ID, code)
	if ErrorCode(err) == ENOTFOUND || (err == nil && referrer.ID == member.ID) {
		return nil
	} else if err != nil {
		return err
	}
	member.ReferredBy = referrer.ID
	return tx.Members().Update(ctx, member)
}

// rewardReferrer pays the referrer when their referee's first paid order
// (first) lands, within the monthly cap. Called with the referee locked; the
// referrer is locked after (referrals form a tree, so locks never cycle).
func (c *Shop) rewardReferrer(ctx context.Context, tx *work, m *Merchant, referee *Member, order *Order, first bool) error {
	if referee.ReferredBy == 0 || m.Referral.Points <= 0 || !first {
		return nil // only the first order counts
	}
	referrer, err := tx.Members().ByID(ctx, referee.ReferredBy)
	if err != nil {
		return err
	}
	if m.Referral.MonthlyCap > 0 {
		n, err := tx.Ledger().CountSince(ctx, referrer.ID, SourceReferral, monthStart(c.clock(), m.Location()))
		if err != nil || n >= m.Referral.MonthlyCap {
			return err
		}
	}
	reason := fmt.Sprintf("邀请好友首单奖励（订单%s）", shortRef(order.OrderNo))
	_, err = c.change(ctx, tx, m, referrer, "referral:"+order.OrderNo, func(ch *memberChange) error {
		_, err := ch.earn(ctx, m.Referral.Points, SourceReferral, "order:"+order.OrderNo, reason)
		return err
	})
	if errors.Is(err, errAlreadyOnLedger) {
		return nil
	}
	return err
}

// reverseReferral takes the referral reward back when the order that earned
// it is refunded in full.
func (c *Shop) reverseReferral(ctx context.Context, tx *work, m *Merchant, order *Order) error {
	if order.RefundedFen < order.AmountFen {
		return nil
	}
	reward, err := tx.Ledger().ByReference(ctx, m.ID, SourceReferral, "order:"+order.OrderNo)
	if ErrorCode(err) == ENOTFOUND {
		return nil
	} else if err != nil {
		return err
	}
	referrer, err := tx.Members().ByID(ctx, reward.MemberID)
	if err != nil {
		return err
	}
	reason := fmt.Sprintf("好友订单%s全额退款，收回邀请奖励", shortRef(order.OrderNo))
	_, err = c.change(ctx, tx, m, referrer, "referral_reversal:"+order.OrderNo, func(ch *memberChange) error {
		_, err := ch.takeBack(ctx, reward.Delta, "order:"+order.OrderNo, SourceReferralReversal, "order:"+order.OrderNo, reason)
		return err
	})
	if errors.Is(err, errAlreadyOnLedger) {
		return nil
	}
	return err
}

// monthStart is the first moment of now's month in loc.
func monthStart(now time.Time, loc *time.Location) time.Time {
	t := now.In(loc)
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, loc)
}

// ReferralBoard ranks the merchant's referrers in a month.
type ReferralBoard struct {
	Month string          `json:"month"`
	Rows  []ReferralPlace `json:"referrers"`
}

// ReferralPlace is one referrer's place: rewarded referrals net of
// reversals, and the points they earned. Ties keep the earlier member first.
type ReferralPlace struct {
	Rank      int    `json:"rank"`
	OpenID    string `json:"openid"`
	Referrals int    `json:"referrals"`
	Points    int64  `json:"points"`
}

// Referrals ranks referrers for month ("2006-01", in the merchant's time
// zone; "" for the current month).
func (c *Reports) Referrals(ctx context.Context, m *Merchant, month string, limit int) (ReferralBoard, error) {
	loc := m.Location()
	start := monthStart(c.clock(), loc)
	if month != "" {
		t, err := time.ParseInLocation("2006-01", month, loc)
		if err != nil {
			return ReferralBoard{}, FieldErrorf("month", "must look like 2026-11, got %q", month)
		}
		start = t
	}
	if limit < 1 || limit > 100 {
		return ReferralBoard{}, FieldErrorf("limit", "must be between 1 and 100")
	}
	rows, err := c.store.Ledger().Board(ctx, m.ID, SourceReferral, []string{SourceReferral, SourceReferralReversal}, start, start.AddDate(0, 1, 0), limit)
	if err != nil {
		return ReferralBoard{}, err
	}
	board := ReferralBoard{Month: start.Format("2006-01"), Rows: []ReferralPlace{}}
	for i, r := range rows {
		board.Rows = append(board.Rows, ReferralPlace{Rank: i + 1, OpenID: r.OpenID, Referrals: r.Count, Points: r.Points})
	}
	return board, nil
}
