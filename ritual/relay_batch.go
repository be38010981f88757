package ritual

import "context"

// relayBatch is what the sends of one claimed batch need, read once for
// all of them: their merchants, their members, and which campaign messages
// today's template quota no longer covers.
type relayBatch struct {
	merchants  map[string]*Merchant
	members    map[int64]*Member
	overBudget map[int64]bool // by message id
}

// prepare reads what the claimed messages need and counts their template
// sends against the quota.
func (r *Relay) prepare(ctx context.Context, claimed []*OutboxMessage) (*relayBatch, error) {
	b := &relayBatch{merchants: map[string]*Merchant{}, members: make(map[int64]*Member, len(claimed)), overBudget: map[int64]bool{}}
	ids := make([]int64, 0, len(claimed))
	for _, msg := range claimed {
		ids = append(ids, msg.MemberID)
		if b.merchants[msg.MerchantID] != nil {
			continue
		}
		m, err := r.directory.Merchant(ctx, msg.MerchantID)
		if err != nil {
			return nil, err
		}
		b.merchants[msg.MerchantID] = m
	}
	members, err := r.store.Members().ByIDs(ctx, ids)
	if err != nil {
		return nil, err
	}
	for _, member := range members {
		b.members[member.ID] = member
	}
	return b, r.budget(ctx, b, claimed)
}

// campaignShare is the part of the daily template quota campaigns may use.
const campaignShare = 0.9

// budget counts the batch's template sends against each merchant's daily
// quota (in China days, as WeChat counts), one step per merchant, and marks
// the campaign messages that go over the campaigns' share: in claim order,
// each as if it had been counted on its own.
func (r *Relay) budget(ctx context.Context, b *relayBatch, claimed []*OutboxMessage) error {
	templates := map[string][]*OutboxMessage{}
	for _, msg := range claimed {
		if member := b.members[msg.MemberID]; member != nil && routeOf(msg, member) == viaTemplate {
			templates[msg.MerchantID] = append(templates[msg.MerchantID], msg)
		}
	}
	day := r.clock().In(chinaTime).Format("2006-01-02")
	for id, msgs := range templates {
		quota := b.merchants[id].TemplateQuota
		if quota == 0 {
			quota = 100000
		}
		after, err := r.store.Limits().Bump(ctx, "tpl:"+id+":"+day, len(msgs))
		if err != nil {
			return err
		}
		for i, msg := range msgs {
			count := after - len(msgs) + i + 1
			if msg.Campaign != "" && float64(count) > float64(quota)*campaignShare {
				b.overBudget[msg.ID] = true
			}
		}
	}
	return nil
}

// route is how a message goes out.
type route int

const (
	viaTemplate route = iota
	viaNone           // not yet: it waits for a follow, or for the proof of a membership bound by code
	viaGroup
	viaCardSync
	viaCardActivate
	viaText
)

// routeOf says how msg reaches member: member-card updates go to the card
// (no follow needed), group posts to the group, a custom text as a
// customer-service message, everything else as a template message.
func routeOf(msg *OutboxMessage, member *Member) route {
	switch {
	case msg.Purpose == PurposeGroupPost:
		return viaGroup
	case member.AwaitsProof():
		return viaNone // bound by the card's code alone: the balance waits for the proof
	case msg.Purpose == PurposeCardSync:
		return viaCardSync
	case msg.Purpose == PurposeCardActivate:
		return viaCardActivate
	case !member.Following():
		return viaNone
	case msg.Purpose == PurposeCustomText:
		return viaText
	}
	return viaTemplate
}
