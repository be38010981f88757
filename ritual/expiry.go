package ritual

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// pointsExpiry retires the points whose time has come — each lot with its
// own ledger entry, on the day it expires — and announces, once per lot,
// points that expire within the notice period.
func (c *Calendar) pointsExpiry(ctx context.Context, m *Merchant, slot time.Time) (string, error) {
	now := c.clock()
	retired, err := c.retireDuePoints(ctx, m, now)
	if err != nil {
		return "", err
	}
	announced, err := c.announceExpiring(ctx, m, now)
	if err != nil {
		return "", err
	}
	detail, _ := json.Marshal(map[string]any{"members_retired": retired, "lots_announced": announced})
	return string(detail), nil
}

// retireDuePoints settles expiry for every member with due lots, each in
// a transaction of its own.
func (c *Calendar) retireDuePoints(ctx context.Context, m *Merchant, now time.Time) (int, error) {
	total := 0
	for {
		ids, err := c.store.Ledger().DueMembers(ctx, m.ID, now, campaignBatch)
		if err != nil || len(ids) == 0 {
			return total, err
		}
		for _, id := range ids {
			if err := c.retire(ctx, m, id); err != nil {
				return total, err
			}
		}
		total += len(ids)
	}
}

func (c *Calendar) retire(ctx context.Context, m *Merchant, memberID int64) error {
	_, err := c.changeMember(ctx, m, byID(ctx, memberID), "expiry", func(*memberChange) error { return nil })
	return err
}

// announceExpiring queues one message per lot expiring within the notice
// period that was not announced before.
func (c *Calendar) announceExpiring(ctx context.Context, m *Merchant, now time.Time) (int, error) {
	days := m.Campaigns.PointsExpiry.NoticeDays
	if days == 0 {
		return 0, nil
	}
	total := 0
	for {
		lots, err := c.store.Ledger().Expiring(ctx, m.ID, now.AddDate(0, 0, days), campaignBatch)
		if err != nil || len(lots) == 0 {
			return total, err
		}
		for _, lot := range lots {
			if err := c.announceLot(ctx, m, lot, now); err != nil {
				return total, err
			}
		}
		total += len(lots)
	}
}

func (c *Calendar) announceLot(ctx context.Context, m *Merchant, lot *PointsLot, now time.Time) error {
	return c.atomically(ctx, func(tx *work) error {
		member, err := tx.Members().ByID(ctx, lot.MemberID)
		if err != nil {
			return err
		}
		if err := tx.Ledger().MarkAnnounced(ctx, lot.ID, now); err != nil {
			return err
		}
		day := lot.ExpiresAt.In(m.Location()).Format("01月02日")
		notice := Notice{Reason: fmt.Sprintf("%d积分将于%s到期", lot.Remaining, day), Delta: -lot.Remaining, Balance: member.Points, At: lot.ExpiresAt}
		return c.enqueue(ctx, tx, m, member, PurposePointsExpiring, fmt.Sprintf("lot:%d", lot.ID), notice, now)
	})
}
