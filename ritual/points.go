package ritual

import (
	"context"
	"errors"
	"fmt"
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

// pointsBook changes one member's points inside a transaction in which the
// member row is locked. It collects the entries it wrote so the caller can
// tell the member.
type pointsBook struct {
	ctx     context.Context
	tx      Repos
	m       *Merchant
	member  *Member
	now     time.Time
	entries []*PointsEntry
	// levelChange is the level move settle made, if any.
	levelChange *LevelChange
	// also is another member's book changed in the same transaction (the
	// referrer's), reported with this one.
	also *pointsBook
}

func newPointsBook(ctx context.Context, tx Repos, m *Merchant, member *Member, now time.Time) *pointsBook {
	book := &pointsBook{ctx: ctx, tx: tx, m: m, member: member, now: now}
	collect(ctx, book)
	return book
}

// earn books amount points as one lot that expires after the merchant's
// points_expire_days. It returns errAlreadyOnLedger if source/reference was
// booked before.
func (b *pointsBook) earn(amount int64, source, ref, reason string) (*PointsEntry, error) {
	if amount <= 0 {
		return nil, nil
	}
	expires := b.now.AddDate(0, 0, b.m.Membership.PointsExpireDays)
	e, err := b.append(amount, 0, source, ref, reason, &expires)
	if err != nil {
		return nil, err
	}
	lot := &PointsLot{MerchantID: b.m.ID, MemberID: b.member.ID, EntryID: e.ID, Source: source, Reference: ref,
		Amount: amount, Remaining: amount, ExpiresAt: expires, CreatedAt: b.now}
	return e, b.tx.Ledger().AddLot(b.ctx, lot)
}

// takeBack removes up to amount points, never below zero: what cannot be
// taken is recorded as the entry's shortfall. Lots matching prefer (the
// order being refunded) go first, then the oldest.
func (b *pointsBook) takeBack(amount int64, prefer, source, ref, reason string) (*PointsEntry, error) {
	take := min(amount, b.member.Points)
	if err := b.consume(take, prefer); err != nil {
		return nil, err
	}
	return b.append(-take, amount-take, source, ref, reason, nil)
}

// spend removes exactly amount points, oldest first, or fails with EINVALID
// if the balance is short.
func (b *pointsBook) spend(amount int64, source, ref, reason string) (*PointsEntry, error) {
	if amount > b.member.Points {
		return nil, Errorf(EINVALID, "not enough points: %d needed, %d available", amount, b.member.Points)
	}
	if err := b.consume(amount, ""); err != nil {
		return nil, err
	}
	return b.append(-amount, 0, source, ref, reason, nil)
}

// expireDue retires every lot whose time has come, oldest first, each with
// its own ledger entry.
func (b *pointsBook) expireDue() error {
	lots, err := b.tx.Ledger().OpenLots(b.ctx, b.member.ID)
	if err != nil {
		return err
	}
	for _, lot := range lots {
		if lot.ExpiresAt.After(b.now) {
			break // sorted by expiry
		}
		gone := lot.Remaining
		lot.Remaining = 0
		if err := b.tx.Ledger().UpdateLot(b.ctx, lot); err != nil {
			return err
		}
		reason := fmt.Sprintf("积分到期（%s获得）", lot.CreatedAt.In(b.m.Location()).Format("2006-01-02"))
		if _, err := b.append(-gone, 0, SourceExpiry, fmt.Sprintf("lot:%d", lot.ID), reason, nil); err != nil {
			return err
		}
	}
	return nil
}

// consume takes amount from the open lots: those whose reference is prefer
// first, then by expiry.
func (b *pointsBook) consume(amount int64, prefer string) error {
	if amount == 0 {
		return nil
	}
	lots, err := b.tx.Ledger().OpenLots(b.ctx, b.member.ID)
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
		if err := b.tx.Ledger().UpdateLot(b.ctx, lot); err != nil {
			return err
		}
	}
	if amount != 0 {
		return fmt.Errorf("ritual: member %d: lots hold less than the balance (%d short)", b.member.ID, amount)
	}
	return nil
}

// append writes one ledger entry and moves the balance with it.
func (b *pointsBook) append(delta, shortfall int64, source, ref, reason string, expires *time.Time) (*PointsEntry, error) {
	e := &PointsEntry{
		MerchantID: b.m.ID, MemberID: b.member.ID, Delta: delta, BalanceAfter: b.member.Points + delta,
		Shortfall: shortfall, Reason: reason, Source: source, Reference: ref, ExpiresAt: expires, CreatedAt: b.now,
	}
	if err := b.tx.Ledger().Append(b.ctx, e); err != nil {
		if ErrorCode(err) == ECONFLICT {
			return nil, errAlreadyOnLedger
		}
		return nil, err
	}
	b.member.Points = e.BalanceAfter
	b.entries = append(b.entries, e)
	return e, nil
}

// SpendPoints takes amount points from the member, oldest first, as one
// ledger entry under (source, ref); it fails with EINVALID if the balance is
// short and is a no-op returning the first entry if (source, ref) was
// booked before. Redemptions spend through it.
func (c *Club) SpendPoints(ctx context.Context, m *Merchant, openidOrPhone string, amount int64, source, ref, reason string) (*PointsEntry, error) {
	if amount <= 0 {
		return nil, FieldErrorf("points", "must be positive")
	}
	var entry *PointsEntry
	var book *pointsBook
	err := c.store.Atomic(ctx, func(tx Repos) error {
		member, err := c.findMember(ctx, tx, m, openidOrPhone)
		if err != nil {
			return err
		}
		book = newPointsBook(ctx, tx, m, member, c.clock())
		if err := book.expireDue(); err != nil {
			return err
		}
		if entry, err = book.spend(amount, source, ref, reason); err != nil {
			return err
		}
		_, err = c.settle(ctx, tx, m, member, book, source+":"+ref)
		return err
	})
	if errors.Is(err, errAlreadyOnLedger) {
		return nil, &Error{Code: ECONFLICT, Message: fmt.Sprintf("%s %s was booked before", source, ref)}
	}
	if err == nil {
		c.observeBook(m, book)
	}
	return entry, err
}
