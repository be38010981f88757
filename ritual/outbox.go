package ritual

import (
	"context"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/wxclub/wxclub/templates"
)

// OutboxStatus is where a message stands.
type OutboxStatus string

const (
	OutboxPending       OutboxStatus = "pending"        // to send when due
	OutboxSent          OutboxStatus = "sent"           // WeChat accepted it
	OutboxFailed        OutboxStatus = "failed"         // WeChat refused it for good; LastError says why
	OutboxWaitingFollow OutboxStatus = "waiting_follow" // the member does not follow (yet)
	OutboxMerged        OutboxStatus = "merged"         // folded into MergedInto
)

// OutboxMessage is one message to a member, written in the transaction of
// the change it announces. (MerchantID, Purpose, Reference) is unique, so a
// change is announced at most once.
type OutboxMessage struct {
	ID            int64
	MerchantID    string
	MemberID      int64
	Purpose       string
	Reference     string
	Notice        Notice
	Status        OutboxStatus
	Attempts      int
	NextAttemptAt time.Time
	LeaseOwner    string
	LeaseUntil    *time.Time
	LastErrCode   int
	LastError     string
	WeChatMsgID   int64
	MergedInto    int64
	// Campaign names the campaign run that queued the message
	// ("member_day:2026-12-08"); empty for messages about a member's own
	// changes, which always go first and are never held for the quota.
	Campaign  string
	CreatedAt time.Time
	SentAt    *time.Time
}

// Notice is what a message says, kept as data and rendered into the
// merchant's template when it is sent, so merged changes read as one.
type Notice struct {
	Delta   int64  `json:"delta,omitempty"`
	Balance int64  `json:"balance,omitempty"`
	Reason  string `json:"reason,omitempty"`
	Changes int    `json:"changes,omitempty"` // points changes merged into this notice
	// Largest is the merged change that moved the most points, named in
	// the merged message; nil until a second change merges in.
	Largest *MergedChange `json:"largest,omitempty"`
	From    string        `json:"from,omitempty"`  // level key before
	To      string        `json:"to,omitempty"`    // level key after
	Group   string        `json:"group,omitempty"` // the group a group post goes to
	At      time.Time     `json:"at"`
}

// pointsMergeDelay is how long a points message waits for more changes to
// the same member before it goes out as one.
const pointsMergeDelay = 3 * time.Second

// announcePoints queues a points_changed message for entry, or folds it into
// one still waiting out its merge delay: the one the standing found, or the
// one this change queued. A change with nothing waiting looks nothing up.
// Called with the member locked.
func (c *changer) announcePoints(ctx context.Context, ch *memberChange, e *PointsEntry) error {
	if e == nil || e.Delta == 0 {
		return nil
	}
	tx, m, member := ch.tx, ch.m, ch.member
	now := c.clock()
	notice := Notice{Delta: e.Delta, Balance: e.BalanceAfter, Reason: e.Reason, Changes: 1, At: e.CreatedAt}
	if member.Reachable() {
		prev, err := ch.waitingPoints(ctx, now)
		if err != nil {
			return err
		}
		if prev != nil {
			merged, err := c.mergeNotice(ctx, tx, prev, notice, now)
			if err == nil && merged {
				ch.queued = prev
			}
			if err != nil || merged {
				return c.recordMerged(ctx, tx, m, member, e, prev.ID, err)
			}
		}
	}
	msg, err := c.enqueueMessage(ctx, tx, m, member, PurposePointsChanged, fmt.Sprintf("entry:%d", e.ID), notice, now.Add(pointsMergeDelay))
	if msg != nil && msg.Status == OutboxPending {
		ch.queued = msg
	}
	return err
}

// waitingPoints returns the points message a new change of the member can
// still fold into, or nil.
func (ch *memberChange) waitingPoints(ctx context.Context, now time.Time) (*OutboxMessage, error) {
	if ch.queued != nil {
		return ch.queued, nil
	}
	if ch.standing.PendingPoints == 0 {
		return nil, nil
	}
	prev, err := ch.tx.Outbox().MergeCandidate(ctx, ch.member.ID, PurposePointsChanged, now)
	if ErrorCode(err) == ENOTFOUND {
		return nil, nil
	}
	return prev, err
}

// maxMergedChanges caps how many changes one points message carries, so
// 积分 (which lists at least that many recent changes) shows them all.
const maxMergedChanges = pointsListed

// MergedChange is one points change inside a merged message.
type MergedChange struct {
	Delta  int64  `json:"delta"`
	Reason string `json:"reason"`
}

// mergeNotice folds n into prev. The merged message names its largest
// change and how many there are ("兑换10元券 -300等3笔"), since a bare
// total hides a redemption behind a gift; the member sees the rest with
// 积分.
func (c *changer) mergeNotice(ctx context.Context, tx *work, prev *OutboxMessage, n Notice, now time.Time) (bool, error) {
	merged := prev.Notice
	if merged.Changes >= maxMergedChanges {
		return false, nil
	}
	if merged.Largest == nil {
		merged.Largest = &MergedChange{Delta: merged.Delta, Reason: merged.Reason}
	}
	if abs(n.Delta) > abs(merged.Largest.Delta) {
		merged.Largest = &MergedChange{Delta: n.Delta, Reason: n.Reason}
	}
	merged.Delta += n.Delta
	merged.Balance = n.Balance
	merged.Changes += n.Changes
	merged.At = n.At
	merged.Reason = mergedReason(*merged.Largest, merged.Changes)
	ok, err := tx.Outbox().MergeInto(ctx, prev.ID, merged, now)
	if ok {
		prev.Notice = merged // the next change of this transaction folds into what is stored
	}
	return ok, err
}

// mergedReason says a merged message's largest change and the count in one
// template keyword: the reason gives way (never mid identifier) to the
// points and the count.
func mergedReason(largest MergedChange, changes int) string {
	tail := fmt.Sprintf(" %+d等%d笔", largest.Delta, changes)
	room := templates.MaxFieldRunes - utf8.RuneCountInString(tail)
	if room < 2 { // a huge change: its points say more than a cut reason
		return fmt.Sprintf("%+d等%d笔", largest.Delta, changes)
	}
	return templates.Shorten(largest.Reason, room) + tail
}

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}

// recordMerged keeps the merged change's own key in the outbox, so it is
// still announced at most once, pointing at the message that carries it.
func (c *changer) recordMerged(ctx context.Context, tx *work, m *Merchant, member *Member, e *PointsEntry, into int64, err error) error {
	if err != nil {
		return err
	}
	_, err = tx.Outbox().Enqueue(ctx, &OutboxMessage{
		MerchantID: m.ID, MemberID: member.ID, Purpose: PurposePointsChanged, Reference: fmt.Sprintf("entry:%d", e.ID),
		Notice: Notice{Delta: e.Delta, Balance: e.BalanceAfter, Reason: e.Reason, Changes: 1, At: e.CreatedAt},
		Status: OutboxMerged, MergedInto: into, NextAttemptAt: c.clock(), CreatedAt: c.clock(),
	})
	return err
}

// enqueue writes a message, waiting for a follow (or for the proof of a
// membership bound by code) if the member cannot be reached yet.
func (c *changer) enqueue(ctx context.Context, tx *work, m *Merchant, member *Member, purpose, ref string, n Notice, due time.Time) error {
	_, err := c.enqueueMessage(ctx, tx, m, member, purpose, ref, n, due)
	return err
}

// enqueueMessage is enqueue returning the message it wrote; nil if the
// reference was queued before.
func (c *changer) enqueueMessage(ctx context.Context, tx *work, m *Merchant, member *Member, purpose, ref string, n Notice, due time.Time) (*OutboxMessage, error) {
	status := OutboxPending
	if !member.Reachable() {
		status = OutboxWaitingFollow
	}
	msg := &OutboxMessage{
		MerchantID: m.ID, MemberID: member.ID, Purpose: purpose, Reference: ref, Notice: n,
		Status: status, NextAttemptAt: due, CreatedAt: c.clock(),
	}
	created, err := tx.Outbox().Enqueue(ctx, msg)
	if err != nil || !created {
		return nil, err
	}
	return msg, nil
}
