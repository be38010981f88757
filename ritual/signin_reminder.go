package ritual

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// signInReminder reminds, in the evening, members who signed in yesterday
// and not yet today: their streak is at stake. It uses a template message
// (followers only, counted as a campaign against the day's quota), never a
// customer-service message outside WeChat's 48-hour window.
func (c *Calendar) signInReminder(ctx context.Context, m *Merchant, slot time.Time) (string, error) {
	today := dayStart(slot, m.Location())
	campaign := "signin_reminder:" + today.Format("2006-01-02")
	var after int64
	var queued int64
	for {
		rows, err := c.store.SignIns().StreaksAtStake(ctx, m.ID, today.AddDate(0, 0, -1).Format("2006-01-02"), today.Format("2006-01-02"), after, campaignBatch)
		if err != nil || len(rows) == 0 {
			detail, _ := json.Marshal(map[string]any{"campaign": campaign, "reminders": queued})
			return string(detail), err
		}
		after = rows[len(rows)-1].MemberID
		msgs := make([]*OutboxMessage, 0, len(rows))
		now := c.clock()
		for _, r := range rows {
			msgs = append(msgs, &OutboxMessage{
				MerchantID: m.ID, MemberID: r.MemberID, Purpose: PurposeSignInReminder, Reference: fmt.Sprintf("%s:%d", campaign, r.MemberID),
				Notice: Notice{Reason: fmt.Sprintf("已连续签到%d天，今天还没签到", r.Streak), At: now}, Status: OutboxPending,
				NextAttemptAt: now, Campaign: campaign, CreatedAt: now,
			})
		}
		n, err := c.store.Outbox().EnqueueMany(ctx, msgs)
		if err != nil {
			return "", err
		}
		queued += n
		c.observer.CampaignQueued(m.ID, campaign, n)
	}
}
