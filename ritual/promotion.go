package ritual

import (
	"context"
	"fmt"
)

// moveLevel puts the member where the stats place them. A rise into a level
// with a ceremony opens the ceremony instead: the right stays at the old
// level until it is done. A fall happens at once, and closes a ceremony for
// a level the member no longer reaches. It returns the ceremony the member
// has open after the move, or nil.
func (c *changer) moveLevel(ctx context.Context, tx *work, ch *memberChange, stats PeriodStats, cause string) (*Ceremony, error) {
	m, member := ch.m, ch.member
	current, _ := m.Membership.Level(member.LevelKey)
	if member.LevelKey == "" {
		member.LevelKey = current.Key // first evaluation: the lowest level is where everyone starts
	}
	cur := m.Membership.rankOf(member.LevelKey)
	target := m.Membership.LevelFor(stats)
	_, tgt := m.Membership.Level(target.Key)
	open, err := ch.openCeremony(ctx)
	if err != nil {
		return nil, err
	}
	if open != nil {
		if outcome := ceremonyMoot(m.Membership, open, tgt); outcome != "" {
			if err := c.closeCeremony(ctx, tx, m, member, open, outcome); err != nil {
				return nil, err
			}
			open = nil
		}
	}
	switch {
	case tgt > cur && target.Ceremony != nil && open == nil:
		return c.startCeremony(ctx, tx, ch, current, target)
	case tgt > cur && target.Ceremony != nil:
		return open, nil
	case tgt != cur:
		_, err := c.changeLevel(ctx, tx, ch, target.Key, cause)
		return open, err
	}
	return open, nil
}

// ceremonyMoot says why an open ceremony no longer applies to a member
// whose stats reach the level ranked tgt, or "" when it still does.
func ceremonyMoot(ms Membership, open *Ceremony, tgt int) string {
	want := ms.rankOf(open.ToLevel)
	switch {
	case want == len(ms.Levels):
		return OutcomeLevelRemoved
	case tgt < want:
		return "fell_below"
	case tgt > want:
		return "superseded"
	}
	return ""
}

// changeLevel moves the member to the level with key to, records the
// change with its cause, pays the entry reward of every level a rise
// enters (each skipped level's too) and announces it.
func (c *changer) changeLevel(ctx context.Context, tx *work, ch *memberChange, to, cause string) (*LevelChange, error) {
	m, member, now := ch.m, ch.member, ch.now
	change := &LevelChange{MerchantID: m.ID, MemberID: member.ID, From: member.LevelKey, To: to, Cause: cause, At: now}
	if err := tx.Levels().Append(ctx, change); err != nil {
		return nil, err
	}
	from, rank := m.Membership.rankOf(change.From), m.Membership.rankOf(to)
	member.LevelKey, member.LevelSince = to, &now
	var paid int64
	for i := from + 1; i <= rank; i++ {
		n, err := c.payEntryReward(ctx, tx, ch, m.Membership.Levels[i], change.ID)
		if err != nil {
			return nil, err
		}
		paid += n
	}
	ch.levelChange = change
	notice := Notice{From: change.From, To: change.To, Delta: paid, Balance: member.Points, At: now}
	return change, c.enqueue(ctx, tx, m, member, PurposeLevelChanged, fmt.Sprintf("level:%d", change.ID), notice, now)
}

// payEntryReward pays a level's ceremony reward for one promotion (the
// level change's id keys it, so winning a level back pays again), and
// tells the member of the coupon in it.
func (c *changer) payEntryReward(ctx context.Context, tx *work, ch *memberChange, lv Level, changeID int64) (int64, error) {
	if lv.Ceremony == nil {
		return 0, nil
	}
	ref := fmt.Sprintf("%d:%s", changeID, lv.Key)
	reward := lv.Ceremony.Reward
	if _, err := ch.earn(ctx, reward.Points, SourceLevelReward, ref, fmt.Sprintf("成为%s的入会礼", lv.Nickname)); err != nil {
		return 0, err
	}
	if r, ok := findReward(ch.m.Rewards, reward.Coupon); ok {
		cp, err := c.issueCoupon(ctx, tx, ch.m, ch.member, r, CouponFromCeremony, ref, ch.now)
		if err == errCouponIssued {
			return reward.Points, nil // issued and told before
		} else if err != nil {
			return 0, err
		}
		// The level message tells the points; the coupon gets its own,
		// naming the product and when it stops being valid.
		if err := c.tellCoupon(ctx, tx, ch.m, ch.member, cp, ch.now); err != nil {
			return 0, err
		}
	}
	return reward.Points, nil
}
