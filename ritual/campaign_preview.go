package ritual

import (
	"context"
	"time"
)

// CampaignPreview is what one slot of a campaign job would do — who would
// get what — found without doing it: nothing is stored, queued or sent.
type CampaignPreview struct {
	Job      string
	Slot     time.Time
	Members  int64  // members the job would go through
	Messages int64  // messages it would queue (followers only)
	Coupons  int64  // coupons it would issue
	Points   int64  // points it would give, in all
	Text     string // the message each would get
	Coupon   string // the coupon each would get, by name; "" for none
	Sample   []PreviewRecipient
}

// PreviewRecipient is one member a dry run would reach.
type PreviewRecipient struct {
	MemberID int64
	Who      string // the phone, masked (139****2222), or else the openid
	Message  bool   // follows, so the message would be queued
	Coupon   string
	Points   int64
}

// PreviewCampaign tells what job's slot would do, with up to sample
// members as examples. The member day, its eve and birthdays have a dry
// run; other jobs are EINVALID. A member who already got this slot's
// message or gift is still counted: the run itself would skip them.
func (c *Calendar) PreviewCampaign(ctx context.Context, job CampaignJob, slot time.Time, sample int) (*CampaignPreview, error) {
	m, err := c.store.Merchants().ByID(ctx, job.Merchant)
	if err != nil {
		return nil, err
	}
	slot = slot.UTC().Truncate(time.Minute)
	p := &CampaignPreview{Job: job.ID(), Slot: slot}
	switch {
	case job.Name == "member_day" && m.Campaigns.MemberDay != nil:
		p.Text = memberDayText(m)
		return p, c.previewBroadcast(ctx, m, p, m.Campaigns.MemberDay.Coupon, sample)
	case job.Name == "member_day_eve" && m.Campaigns.MemberDay != nil:
		p.Text = memberDayEveText(m)
		return p, c.previewBroadcast(ctx, m, p, "", sample)
	case job.Name == "birthday" && m.Campaigns.Birthday != nil:
		p.Text = birthdayGiftText
		return p, c.previewBirthdays(ctx, m, p, slot, sample)
	}
	return nil, Errorf(EINVALID, "%s has no dry run (the member day, its eve and birthdays have one)", job.ID())
}

// previewBroadcast counts what broadcast would queue and issue.
func (c *Calendar) previewBroadcast(ctx context.Context, m *Merchant, p *CampaignPreview, coupon string, sample int) error {
	reward, withCoupon := findReward(m.Rewards, coupon)
	if withCoupon {
		p.Coupon = reward.Name
	}
	var after int64
	for {
		members, err := c.store.Members().Page(ctx, m.ID, after, campaignBatch)
		if err != nil || len(members) == 0 {
			return err
		}
		after = members[len(members)-1].ID
		for _, member := range members {
			r := PreviewRecipient{MemberID: member.ID, Message: member.State == StateFollowing, Coupon: p.Coupon}
			if err := c.addPreviewed(ctx, p, r, sample); err != nil {
				return err
			}
		}
	}
}

// previewBirthdays counts the members whose birthday the slot's day is.
func (c *Calendar) previewBirthdays(ctx context.Context, m *Merchant, p *CampaignPreview, slot time.Time, sample int) error {
	j := m.Campaigns.Birthday
	if r, ok := findReward(m.Rewards, j.Coupon); ok {
		p.Coupon = r.Name
	}
	for _, md := range birthdaysOn(slot.In(m.Location())) {
		ids, err := c.store.Members().WithBirthday(ctx, m.ID, md)
		if err != nil {
			return err
		}
		for _, id := range ids {
			member, err := c.store.Members().ByID(ctx, id)
			if err != nil {
				return err
			}
			r := PreviewRecipient{MemberID: id, Message: member.State == StateFollowing, Coupon: p.Coupon, Points: j.Points}
			if err := c.addPreviewed(ctx, p, r, sample); err != nil {
				return err
			}
		}
	}
	return nil
}

// addPreviewed counts one recipient and keeps them, named, as an example
// while there is room.
func (c *Calendar) addPreviewed(ctx context.Context, p *CampaignPreview, r PreviewRecipient, sample int) error {
	p.Members++
	p.Points += r.Points
	if r.Message {
		p.Messages++
	}
	if r.Coupon != "" {
		p.Coupons++
	}
	if len(p.Sample) >= sample {
		return nil
	}
	member, err := c.store.Members().ByID(ctx, r.MemberID)
	if err != nil {
		return err
	}
	r.Who = member.OpenID
	if member.Phone != "" {
		r.Who = maskPhone(member.Phone)
	}
	p.Sample = append(p.Sample, r)
	return nil
}

// maskPhone keeps a phone's first three and last four digits.
func maskPhone(phone string) string {
	if len(phone) < 8 {
		return phone
	}
	return phone[:3] + "****" + phone[len(phone)-4:]
}
