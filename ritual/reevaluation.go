package ritual

import (
	"context"
	"fmt"
	"time"
)

// reevaluateLevels re-evaluates every member of m above the lowest level,
// so levels fall when old orders slide out of the statistical period. It is
// the daily job's work; orders and refunds re-evaluate on their own. It
// returns how many members changed level.
func (c *Calendar) reevaluateLevels(ctx context.Context, m *Merchant) (int, error) {
	lowest := m.Membership.Levels[0].Key
	return c.reevaluatePages(ctx, m, func(after int64) ([]int64, error) {
		return c.store.Members().IDsAboveLevel(ctx, m.ID, lowest, after, 500)
	})
}

// reevaluatePages re-evaluates the members page lists, page by page (each
// page the ids after the last one's), and returns how many changed level.
func (c *changer) reevaluatePages(ctx context.Context, m *Merchant, page func(after int64) ([]int64, error)) (int, error) {
	changed := 0
	var after int64
	for {
		ids, err := page(after)
		if err != nil || len(ids) == 0 {
			return changed, err
		}
		for _, id := range ids {
			moved, err := c.reevaluate(ctx, m, id)
			if err != nil {
				return changed, err
			}
			if moved {
				changed++
			}
		}
		after = ids[len(ids)-1]
	}
}

// reevaluate settles one member's level in its own transaction.
func (c *changer) reevaluate(ctx context.Context, m *Merchant, memberID int64) (bool, error) {
	var before string
	ch, err := c.changeMember(ctx, m, byID(ctx, memberID), "period", func(ch *memberChange) error {
		before = ch.member.LevelKey
		return nil
	})
	return err == nil && ch.member.LevelKey != before, err
}

// ReevaluateAllLevels runs reevaluateLevels for every merchant.
func (c *Calendar) ReevaluateAllLevels(ctx context.Context) (int, error) {
	merchants, err := c.store.Merchants().List(ctx)
	if err != nil {
		return 0, err
	}
	total := 0
	for _, m := range merchants {
		n, err := c.reevaluateLevels(ctx, m)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// ReevaluateAfterChanges re-evaluates every member of each merchant whose
// level thresholds changed: those who now rise get their ceremony (or the
// level), those who fall move down. Each change is done once, whichever
// replica gets to it (the slot is claimed); it is the minute job's work.
func (c *Calendar) ReevaluateAfterChanges(ctx context.Context, owner string) (int, error) {
	pending, err := c.store.Settings().PendingReevaluation(ctx, 20)
	if err != nil {
		return 0, err
	}
	done := 0
	for _, v := range pending {
		job := fmt.Sprintf("reevaluate:%s:v%d", v.MerchantID, v.Version)
		_, err := c.RunJob(ctx, job, v.ChangedAt.Truncate(time.Minute), owner, func(ctx context.Context) (string, error) {
			m, err := c.store.Merchants().ByID(ctx, v.MerchantID)
			if err != nil {
				return "", err
			}
			n, err := c.reevaluateEveryone(ctx, m)
			return fmt.Sprintf(`{"changed":%d}`, n), err
		})
		if err != nil {
			return done, err
		}
		if err := c.store.Settings().MarkReevaluated(ctx, v.MerchantID, v.Version, c.clock()); err != nil {
			return done, err
		}
		done++
	}
	return done, nil
}

// reevaluateEveryone settles the level of every member who may hold or
// reach one: those above the lowest level and those with orders in the
// period.
func (c *Calendar) reevaluateEveryone(ctx context.Context, m *Merchant) (int, error) {
	changed, err := c.reevaluateLevels(ctx, m)
	if err != nil {
		return changed, err
	}
	since := m.Membership.PeriodStart(c.clock())
	more, err := c.reevaluatePages(ctx, m, func(after int64) ([]int64, error) {
		return c.store.Orders().MembersSince(ctx, m.ID, since, after, 500)
	})
	return changed + more, err
}
