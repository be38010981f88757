package ritual

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"time"
)

// Where points come from and go to. With its reference, a source names one
// change, and each (source, reference) is on the ledger at most once.
const (
	SourceOrder  = "order"  // reference: order_no
	SourceRefund = "refund" // reference: refund_no
	SourceExpiry = "expiry" // reference: lot:<id>
	// SourceLevelReward pays a level's entry reward; reference
	// "<level change id>:<level key>".
	SourceLevelReward = "level_reward"
)

// PointsEntry is one line of the append-only points ledger. The sum of a
// member's deltas is their balance, always.
type PointsEntry struct {
	ID           int64
	MerchantID   string
	MemberID     int64
	Delta        int64
	BalanceAfter int64
	// Shortfall is what should have been taken back but could not be,
	// because the member had already spent it: recorded, not hidden.
	Shortfall int64
	Reason    string // in words a member understands
	Source    string
	Reference string
	ExpiresAt *time.Time // for points earned: when they expire
	CreatedAt time.Time
}

// PointsLot is what is left of one earning. Spending and expiry take from
// lots oldest-expiry first; the remaining amounts sum to the balance.
type PointsLot struct {
	ID         int64
	MerchantID string
	MemberID   int64
	EntryID    int64
	Source     string
	Reference  string
	Amount     int64
	Remaining  int64
	ExpiresAt  time.Time
	CreatedAt  time.Time
}

// errAlreadyOnLedger says a (source, reference) was booked before.
var errAlreadyOnLedger = errors.New("ritual: already on the ledger")

// earn books amount points as one lot that expires after the merchant's
// points_expire_days. It returns errAlreadyOnLedger if source/reference was
// booked before.
func (ch *memberChange) earn(ctx context.Context, amount int64, source, ref, reason string) (*PointsEntry, error) {
	if amount <= 0 {
		return nil, nil
	}
	// Validate bounds the days; settings stored before it did are held to
	// the bound here, so the date stays one both databases store.
	expires := ch.now.AddDate(0, 0, min(ch.m.Membership.PointsExpireDays, maxDays))
	e, err := ch.append(ctx, amount, 0, source, ref, reason, &expires)
	if err != nil {
		return nil, err
	}
	lot := &PointsLot{MerchantID: ch.m.ID, MemberID: ch.member.ID, EntryID: e.ID, Source: source, Reference: ref,
		Amount: amount, Remaining: amount, ExpiresAt: expires, CreatedAt: ch.now}
	return e, ch.tx.Ledger().AddLot(ctx, lot)
}

// takeBack removes up to amount points, never below zero: what cannot be
// taken is recorded as the entry's shortfall. Lots matching prefer (the
// order being refunded) go first, then the oldest.
func (ch *memberChange) takeBack(ctx context.Context, amount int64, prefer, source, ref, reason string) (*PointsEntry, error) {
	take := min(amount, ch.member.Points)
	if err := ch.consume(ctx, take, prefer); err != nil {
		return nil, err
	}
	return ch.append(ctx, -take, amount-take, source, ref, reason, nil)
}

// spend removes exactly amount points, oldest first, or fails with EINVALID
// if the balance is short.
func (ch *memberChange) spend(ctx context.Context, amount int64, source, ref, reason string) (*PointsEntry, error) {
	if amount > ch.member.Points {
		return nil, Errorf(EINVALID, "not enough points: %d needed, %d available", amount, ch.member.Points)
	}
	if err := ch.consume(ctx, amount, ""); err != nil {
		return nil, err
	}
	return ch.append(ctx, -amount, 0, source, ref, reason, nil)
}

// expireDue retires every lot whose time has come, oldest first, each with
// its own ledger entry. The standing says whether any has: most changes
// read no lots.
func (ch *memberChange) expireDue(ctx context.Context) error {
	if !ch.standing.ExpiryDue {
		return nil
	}
	lots, err := ch.tx.Ledger().OpenLots(ctx, ch.member.ID)
	if err != nil {
		return err
	}
	for _, lot := range lots {
		if lot.ExpiresAt.After(ch.now) {
			break // sorted by expiry
		}
		gone := lot.Remaining
		lot.Remaining = 0
		if err := ch.tx.Ledger().UpdateLot(ctx, lot); err != nil {
			return err
		}
		reason := fmt.Sprintf("积分到期（%s获得）", lot.CreatedAt.In(ch.m.Location()).Format("2006-01-02"))
		if _, err := ch.append(ctx, -gone, 0, SourceExpiry, fmt.Sprintf("lot:%d", lot.ID), reason, nil); err != nil {
			return err
		}
	}
	return nil
}

// consume takes amount from the open lots: those whose reference is prefer
// first, then by expiry.
func (ch *memberChange) consume(ctx context.Context, amount int64, prefer string) error {
	if amount == 0 {
		return nil
	}
	lots, err := ch.tx.Ledger().OpenLots(ctx, ch.member.ID)
	if err != nil {
		return err
	}
	sort.SliceStable(lots, func(i, j int) bool {
		return prefer != "" && lots[i].Reference == prefer && lots[j].Reference != prefer
	})
	for _, lot := range lots {
		if amount == 0 {
			break
		}
		take := min(amount, lot.Remaining)
		lot.Remaining -= take
		amount -= take
		if err := ch.tx.Ledger().UpdateLot(ctx, lot); err != nil {
			return err
		}
	}
	if amount != 0 {
		return fmt.Errorf("ritual: member %d: lots hold less than the balance (%d short)", ch.member.ID, amount)
	}
	return nil
}

// append writes one ledger entry and moves the balance with it. A booking
// that would take the balance past MaxBalance (or past int64 either way)
// is EINVALID and writes nothing; the caller's transaction rolls back, so
// nothing of the change is kept.
func (ch *memberChange) append(ctx context.Context, delta, shortfall int64, source, ref, reason string, expires *time.Time) (*PointsEntry, error) {
	if b := ch.member.Points; (delta > 0 && b > MaxBalance-delta) || (delta < 0 && b < math.MinInt64-delta) {
		return nil, &Error{Code: EINVALID, Field: "points", Message: fmt.Sprintf(
			"member %d holds %d points; %+d more (%s) would take the balance past the most a member can hold, %d",
			ch.member.ID, b, delta, source, MaxBalance)}
	}
	e := &PointsEntry{
		MerchantID: ch.m.ID, MemberID: ch.member.ID, Delta: delta, BalanceAfter: ch.member.Points + delta,
		Shortfall: shortfall, Reason: reason, Source: source, Reference: ref, ExpiresAt: expires, CreatedAt: ch.now,
	}
	if err := ch.tx.Ledger().Append(ctx, e); err != nil {
		if ErrorCode(err) == ECONFLICT {
			return nil, errAlreadyOnLedger
		}
		return nil, err
	}
	ch.member.Points = e.BalanceAfter
	ch.entries = append(ch.entries, e)
	return e, nil
}

// Ledger sources of the group features. References: "<member id>:<local
// date>" for the sign-in ones, "<activity id>:<member id>" for activities.
const (
	SourceSignIn      = "signin"
	SourceSignInBonus = "signin_bonus"
	SourceMakeup      = "makeup" // what 补签 costs; the date is the day made up
	SourceActivity    = "activity"
)
