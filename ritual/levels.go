package ritual

import "context"

// ReevaluateLevels re-evaluates every member of m above the lowest level,
// so levels fall when old orders slide out of the statistical period. It is
// the daily job's work; orders and refunds re-evaluate on their own. It
// returns how many members changed level.
func (c *Club) ReevaluateLevels(ctx context.Context, m *Merchant) (int, error) {
	lowest := m.Membership.Levels[0].Key
	changed := 0
	var after int64
	for {
		ids, err := c.store.Members().IDsAboveLevel(ctx, m.ID, lowest, after, 500)
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
func (c *Club) reevaluate(ctx context.Context, m *Merchant, memberID int64) (bool, error) {
	moved := false
	var book *pointsBook
	err := c.store.Atomic(ctx, func(tx Repos) error {
		member, err := tx.Members().ByID(ctx, memberID)
		if err != nil {
			return err
		}
		before := member.LevelKey
		book = newPointsBook(ctx, tx, m, member, c.clock())
		if err := book.expireDue(); err != nil {
			return err
		}
		if _, err := c.settle(ctx, tx, m, member, book, "period"); err != nil {
			return err
		}
		moved = member.LevelKey != before
		return nil
	})
	if err == nil {
		c.observeBook(m, book)
	}
	return moved, err
}

// ReevaluateAllLevels runs ReevaluateLevels for every merchant.
func (c *Club) ReevaluateAllLevels(ctx context.Context) (int, error) {
	merchants, err := c.store.Merchants().List(ctx)
	if err != nil {
		return 0, err
	}
	total := 0
	for _, m := range merchants {
		n, err := c.ReevaluateLevels(ctx, m)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}
