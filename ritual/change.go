package ritual

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// The member change: the one way a member's points, level and ceremony
// move. Every feature that changes a member — orders, refunds, sign-in,
// redemption, gifts, rewards, campaigns, expiry, re-evaluation — runs its
// part as the body of Club.change, inside a work (one transaction).

// changer makes member changes: every part of the club that changes a
// member holds the one changer.
type changer struct {
	store    Store
	clock    Clock
	log      *slog.Logger
	observer Observer
}

// Now returns the club's current time.
func (c *changer) Now() time.Time { return c.clock() }

// work is one transaction: the stores inside it, and the member changes
// made in it, which Club.atomically reports to the observer once it
// commits (never before: a rolled-back change did not happen).
type work struct {
	Repos
	changes []*memberChange
}

// atomically runs fn in one transaction and, after it commits, tells the
// observer what every member change in it did. A transaction the store
// retries starts over with a fresh work.
func (c *changer) atomically(ctx context.Context, fn func(tx *work) error) error {
	var w *work
	err := c.store.Atomic(ctx, func(tx Repos) error {
		w = &work{Repos: tx}
		return fn(w)
	})
	if err == nil {
		for _, ch := range w.changes {
			c.observeChange(ch)
		}
	}
	return err
}

// changeMember runs one member change in a transaction of its own, with the
// member find returns (locked by reading it in the transaction).
func (c *changer) changeMember(ctx context.Context, m *Merchant, find func(tx *work) (*Member, error), cause string, fn func(ch *memberChange) error) (*memberChange, error) {
	var ch *memberChange
	err := c.atomically(ctx, func(tx *work) error {
		member, err := find(tx)
		if err != nil {
			return err
		}
		ch, err = c.change(ctx, tx, m, member, cause, fn)
		return err
	})
	return ch, err
}

// byID finds a member by id, for changeMember.
func byID(ctx context.Context, id int64) func(tx *work) (*Member, error) {
	return func(tx *work) (*Member, error) { return tx.Members().ByID(ctx, id) }
}

// change changes member, whose row tx holds locked. It settles the points
// that are due to expire, lets fn book points (earn, spend, takeBack) and
// change the member, then settles the level and any ceremony, saves the
// member, queues a message for every points entry and level change, and
// syncs the WeChat member card. cause names the change in the level
// history. The change is reported to the observer once tx commits.
//
// When fn returns errAlreadyOnLedger (what it books was booked before), the
// change still settles what was booked — the expiry at least — and returns
// that error with the change, so a caller that takes the repeat as done can
// commit a consistent member. Any other error from fn is returned at once,
// for the transaction to roll back.
//
// This is the only code that books points, and it checks what it booked:
// the balance moves by exactly the sum of the ledger entries written.
func (c *changer) change(ctx context.Context, tx *work, m *Merchant, member *Member, cause string, fn func(ch *memberChange) error) (*memberChange, error) {
	st, err := standingOf(ctx, tx, m, member, c.clock())
	if err != nil {
		return nil, err
	}
	return c.changeFrom(ctx, tx, m, member, nil, st, cause, fn)
}

// changeStanding is change for a member read with their standing (by
// Members().ByOpenIDWithStanding in this transaction) and not changed
// since, which saves the statement that reads the standing and lets
// settle write only the columns the change moved.
func (c *changer) changeStanding(ctx context.Context, tx *work, m *Merchant, member *Member, st Standing, cause string, fn func(ch *memberChange) error) (*memberChange, error) {
	was := *member
	return c.changeFrom(ctx, tx, m, member, &was, st, cause, fn)
}

// changeFrom is the change; was is the member as stored, or nil when the
// caller may have changed the member without saving.
func (c *changer) changeFrom(ctx context.Context, tx *work, m *Merchant, member, was *Member, st Standing, cause string, fn func(ch *memberChange) error) (*memberChange, error) {
	ch := &memberChange{tx: tx, m: m, member: member, was: was, standing: st, now: c.clock(), before: member.Points}
	if err := ch.expireDue(ctx); err != nil {
		return nil, err
	}
	booked := fn(ch)
	if booked != nil && !errors.Is(booked, errAlreadyOnLedger) {
		return nil, booked // the transaction rolls back: nothing to settle
	}
	view, err := c.settle(ctx, tx, ch, cause)
	if err != nil {
		return nil, err
	}
	ch.view = view
	tx.changes = append(tx.changes, ch)
	return ch, booked
}

// settle finishes a change to a member's points or orders: re-evaluate the
// level (opening or closing an upgrade ceremony where the level has one),
// save the member, queue a message for every points entry and level
// change, and return the member's view.
func (c *changer) settle(ctx context.Context, tx *work, ch *memberChange, cause string) (MemberView, error) {
	m, member := ch.m, ch.member
	stats, err := ch.period(ctx)
	if err != nil {
		return MemberView{}, err
	}
	open, err := c.moveLevel(ctx, tx, ch, stats, cause)
	if err != nil {
		return MemberView{}, err
	}
	if err := ch.balanced(); err != nil {
		return MemberView{}, err
	}
	if err := ch.save(ctx); err != nil {
		return MemberView{}, err
	}
	for _, e := range ch.entries {
		if err := c.announcePoints(ctx, ch, e); err != nil {
			return MemberView{}, err
		}
	}
	if len(ch.entries) > 0 || ch.levelChange != nil {
		if err := c.syncCard(ctx, tx, m, member, cause); err != nil {
			return MemberView{}, err
		}
	}
	return m.view(member, stats, open), nil
}

// memberChange is one member being changed inside the transaction that
// holds their row locked: the points booked and the level moved so far.
// It lives only as long as the body of Club.change.
type memberChange struct {
	tx     *work
	m      *Merchant
	member *Member
	// was is the member as stored, so settle saves only what moved; nil
	// when unknown, and settle saves every column.
	was *Member
	// standing is the member's standing when the change began.
	standing Standing
	// newOrder is the order this change books, not stored until the
	// change is settled (its answer is stored with it): the period
	// counts it on top of the standing.
	newOrder *Order
	// queued is the points message this change queued or folded into, so
	// its next entry folds into it without looking it up.
	queued *OutboxMessage
	// ordersMoved says the change altered an order the standing counted
	// (a refund), so the period is read again.
	ordersMoved bool
	now         time.Time
	// before is the balance when the change began; what the entries add
	// up to must account for every point of the difference.
	before  int64
	entries []*PointsEntry
	// levelChange is the level move settle made, if any.
	levelChange *LevelChange
	// view is the member as settle left them.
	view MemberView
}

// balanced reports an error if the member's balance moved by anything but
// the ledger entries this change wrote: nothing but the ledger moves points.
func (ch *memberChange) balanced() error {
	sum := ch.before
	for _, e := range ch.entries {
		sum += e.Delta
	}
	if sum != ch.member.Points {
		return fmt.Errorf("ritual: member %d: balance %d, but the ledger says %d", ch.member.ID, ch.member.Points, sum)
	}
	return nil
}

// observeChange reports what a committed member change did.
func (c *changer) observeChange(ch *memberChange) {
	for _, e := range ch.entries {
		if e.Delta != 0 {
			c.observer.PointsChanged(ch.m.ID, e.Source, e.Delta)
		}
	}
	if lc := ch.levelChange; lc != nil {
		_, from := ch.m.Membership.Level(lc.From)
		_, to := ch.m.Membership.Level(lc.To)
		c.observer.LevelChanged(ch.m.ID, to > from)
	}
}

// period is what counts towards the member's level after the change: the
// standing's period and the order the change books, or, where the change
// moved an order already stored, the period read again.
func (ch *memberChange) period(ctx context.Context) (PeriodStats, error) {
	if ch.ordersMoved {
		return periodStats(ctx, ch.tx, ch.m, ch.member.ID, ch.now)
	}
	stats := ch.standing.Period
	stats.Days = ch.m.Membership.PeriodDays
	if o := ch.newOrder; o != nil && !o.PaidAt.Before(ch.m.Membership.PeriodStart(ch.now)) {
		stats.AmountFen += o.AmountFen
		stats.Orders++
	}
	return stats, nil
}

// save writes the member: only what moved when the change knows what is
// stored, else every column.
func (ch *memberChange) save(ctx context.Context) error {
	if ch.was == nil {
		return ch.tx.Members().Update(ctx, ch.member)
	}
	return ch.tx.Members().UpdateFrom(ctx, ch.was, ch.member)
}
