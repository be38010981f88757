package ritual

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Campaign message purposes (template messages; optional per merchant).
const (
	PurposeMemberDay      = "member_day"
	PurposeBirthday       = "birthday"
	PurposePointsExpiring = "points_expiring"
	PurposeSignInReminder = "signin_reminder"
	PurposeLeaderboard    = "leaderboard"
)

// campaignBatch is how many members a campaign reads and queues at once:
// memory stays bounded whatever the membership, and each batch is one
// insert.
const campaignBatch = 5000

// isMemberDay reports whether t falls on the merchant's member day: a day
// on which the member-day schedule fires.
func isMemberDay(m *Merchant, t time.Time) bool {
	j := m.Campaigns.MemberDay
	if j == nil {
		return false
	}
	sched, err := j.Schedule.parse(m.Timezone)
	if err != nil {
		return false
	}
	day := dayStart(t, m.Location())
	return sched.Next(day.Add(-time.Second)).Before(day.AddDate(0, 0, 1))
}

// dayStart is the first moment of t's day in loc.
func dayStart(t time.Time, loc *time.Location) time.Time {
	l := t.In(loc)
	return time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, loc)
}

// memberDay announces the member day to every follower and gives every
// member the day's coupon, streaming the membership in batches.
func (c *Calendar) memberDay(ctx context.Context, m *Merchant, slot time.Time) (string, error) {
	day := dayStart(slot, m.Location()).Format("2006-01-02")
	j := m.Campaigns.MemberDay
	return c.broadcast(ctx, m, "member_day:"+day, PurposeMemberDay, memberDayText(m), slot, j.Coupon)
}

// memberDayEve announces tomorrow's member day.
func (c *Calendar) memberDayEve(ctx context.Context, m *Merchant, slot time.Time) (string, error) {
	day := dayStart(slot, m.Location()).AddDate(0, 0, 1).Format("2006-01-02")
	return c.broadcast(ctx, m, "member_day_eve:"+day, PurposeMemberDay, memberDayEveText(m), slot, "")
}

// memberDayText is the member day's message; memberDayEveText the eve's.
// (A dry run shows them too.)
func memberDayText(m *Merchant) string {
	return fmt.Sprintf("今天是会员日：%s", memberDayPerk(m))
}

func memberDayEveText(m *Merchant) string {
	return fmt.Sprintf("明天是会员日：%s", memberDayPerk(m))
}

// memberDayPerk says what the member day gives, for every level alike.
func memberDayPerk(m *Merchant) string {
	j := m.Campaigns.MemberDay
	perk := ""
	if j.Multiplier > 1 {
		perk = fmt.Sprintf("下单%d倍积分", j.Multiplier)
	}
	if r, ok := findReward(m.Rewards, j.Coupon); ok {
		if perk != "" {
			perk += "，"
		}
		perk += "送" + r.Name
	}
	return perk
}

// broadcast queues a campaign message to every follower and, with a coupon,
// issues it to every member: in batches of campaignBatch members, each
// batch one statement copying the message in the database and one insert
// of coupons, idempotent by (campaign, member), so a run cut short can
// simply run again.
func (c *Calendar) broadcast(ctx context.Context, m *Merchant, campaign, purpose, reason string, slot time.Time, coupon string) (string, error) {
	reward, withCoupon := findReward(m.Rewards, coupon)
	now := c.clock()
	msg := campaignMessage(m, campaign, purpose, reason, now)
	var after int64
	var queued, issued, seen int64
	for {
		members, err := c.store.Members().Page(ctx, m.ID, after, campaignBatch)
		if err != nil || len(members) == 0 {
			c.log.InfoContext(ctx, "campaign queued", "merchant", m.ID, "campaign", campaign, "members", seen, "messages", queued, "coupons", issued)
			detail, _ := json.Marshal(map[string]any{"campaign": campaign, "members": seen, "messages": queued, "coupons": issued})
			return string(detail), err
		}
		var coupons []*Coupon
		if withCoupon {
			coupons = campaignCoupons(m, members, reward, campaign, now)
		}
		through := members[len(members)-1].ID
		n, k, err := c.queueBatch(ctx, msg, after, through, coupons)
		if err != nil {
			return "", err
		}
		after, seen, queued, issued = through, seen+int64(len(members)), queued+n, issued+k
		jobProgress(ctx).add(int64(len(members)), n)
		c.observer.CampaignQueued(m.ID, campaign, n)
		if seen%(campaignBatch*20) == 0 {
			c.log.InfoContext(ctx, "campaign progress", "merchant", m.ID, "campaign", campaign, "members", seen)
		}
	}
}

// queueBatch writes one batch's messages, for the followers with ids in
// (afterID, throughID], and its coupons side by side: they go to different
// tables, so on two connections the database works on both at once.
func (c *Calendar) queueBatch(ctx context.Context, msg *OutboxMessage, afterID, throughID int64, coupons []*Coupon) (queued, issued int64, err error) {
	done := make(chan error, 1)
	go func() {
		var err error
		issued, err = c.store.Coupons().IssueMany(ctx, coupons)
		done <- err
	}()
	queued, err = c.store.Outbox().EnqueueFollowers(ctx, msg, afterID, throughID)
	return queued, issued, errors.Join(err, <-done)
}

// campaignMessage is the message every following member gets, referenced
// (campaign, member) like the coupon.
func campaignMessage(m *Merchant, campaign, purpose, reason string, now time.Time) *OutboxMessage {
	return &OutboxMessage{
		MerchantID: m.ID, Purpose: purpose, Reference: campaign + ":",
		Notice: Notice{Reason: reason, At: now}, Status: OutboxPending, NextAttemptAt: now, Campaign: campaign, CreatedAt: now,
	}
}

// campaignCoupons builds one coupon per member.
func campaignCoupons(m *Merchant, members []*Member, reward Reward, campaign string, now time.Time) []*Coupon {
	from := now.Truncate(time.Minute)
	until := validUntil(m, reward, from)
	cs := make([]*Coupon, 0, len(members))
	for _, member := range members {
		cs = append(cs, &Coupon{
			MerchantID: m.ID, MemberID: member.ID, Code: newCouponCode(), RewardKey: reward.Key,
			Source: CouponFromCampaign, Reference: fmt.Sprintf("%s:%d", campaign, member.ID),
			IssuedAt: now, ValidFrom: from, ValidUntil: until,
		})
	}
	return cs
}

// memberDaySummary tells the merchant how the last member day went:
// participants, orders and points from the day's orders.
func (c *Calendar) memberDaySummary(ctx context.Context, m *Merchant, slot time.Time) (string, error) {
	day := dayStart(slot, m.Location())
	for i := 0; i < 62 && !isMemberDay(m, day); i++ {
		day = day.AddDate(0, 0, -1)
	}
	s, err := c.store.Orders().DaySummary(ctx, m.ID, day, day.AddDate(0, 0, 1))
	if err != nil {
		return "", err
	}
	detail, _ := json.Marshal(map[string]any{
		"member_day": day.Format("2006-01-02"), "participants": s.Members, "orders": s.Orders,
		"amount_fen": s.AmountFen, "points": s.Points,
	})
	c.log.InfoContext(ctx, "member day summary", "merchant", m.ID, "detail", string(detail))
	return string(detail), nil
}

// DaySummary is what orders paid in a span add up to.
type DaySummary struct {
	Members   int   `json:"members"`
	Orders    int   `json:"orders"`
	AmountFen int64 `json:"amount_fen"`
	Points    int64 `json:"points"`
}

// CampaignReport tells what became of a campaign's messages: how many were
// sent, are waiting, failed, and why.
func (c *Calendar) CampaignReport(ctx context.Context, m *Merchant, campaign string) ([]ReportLine, error) {
	if campaign == "" {
		return nil, FieldErrorf("campaign", "is required, such as member_day:2026-12-08")
	}
	return c.store.Outbox().CampaignReport(ctx, m.ID, campaign)
}
