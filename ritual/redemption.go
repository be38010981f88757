package ritual

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// SourceRedemption books the points a redemption spends; reference: the
// redemption number.
const SourceRedemption = "redemption"

// Redemption is a reward bought with points: the coupon it issued, what it
// cost and the member after paying.
type Redemption struct {
	RedemptionNo string     `json:"redemption_no"`
	Reward       Reward     `json:"reward"`
	Coupon       CouponView `json:"coupon"`
	PointsSpent  int64      `json:"points_spent"`
	Member       MemberView `json:"member"`
}

var redemptionNoPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// Redeem buys a reward (by key or name) with the member's points and issues
// its coupon, in one transaction: points spent, stock taken, coupon issued,
// the member told (points_changed and coupon_issued) — or, when the reward
// is unknown (ENOTFOUND), gift-only, over the member's limit, sold out or too
// dear (EINVALID, naming reward, in the merchant API's English), nothing at all.
// redemptionNo is the caller's idempotency key: a repeat gets the first
// redemption and created=false, with the member as they are now; the same
// number for another reward or member is ECONFLICT naming redemption_no.
func (c *Shop) Redeem(ctx context.Context, m *Merchant, openidOrPhone, reward, redemptionNo string) (*Redemption, bool, error) {
	if !redemptionNoPattern.MatchString(redemptionNo) {
		return nil, false, FieldErrorf("redemption_no", "is required: 1-64 letters, digits, '-' or '_'")
	}
	if strings.TrimSpace(reward) == "" {
		return nil, false, FieldErrorf("reward", "is required: the key or name of a reward")
	}
	var out redeemed
	err := c.atomically(ctx, func(tx *work) error {
		member, err := findMember(ctx, tx, m, openidOrPhone)
		if err != nil {
			return err
		}
		var refused *refusal
		out, refused, err = c.redeem(ctx, tx, m, member, reward, redemptionNo)
		if err == nil && refused != nil {
			err = refused.err()
		}
		return err
	})
	if errors.Is(err, errAlreadyOnLedger) || errors.Is(err, errCouponIssued) {
		// A concurrent request with the same number committed first.
		r, err := c.previousRedemption(ctx, c.store, m, openidOrPhone, reward, redemptionNo)
		return r, false, err
	}
	if err != nil {
		return nil, false, err
	}
	return out.redemption, !out.repeat, nil
}

// redeemed is what the redemption core did.
type redeemed struct {
	redemption *Redemption
	repeat     bool
}

// redeem is the redemption core, run inside tx with member locked. It checks
// everything before it writes anything: a refusal comes back as refused
// with tx untouched, so a caller whose transaction carries other work (the
// chat's delivery record) can still commit it. Stock is taken as the first
// write, so a sold-out race leaves nothing behind either.
func (c *Shop) redeem(ctx context.Context, tx *work, m *Merchant, member *Member, rewardArg, no string) (out redeemed, refused *refusal, err error) {
	prev, err := tx.Coupons().ByReference(ctx, m.ID, CouponFromRedemption, no)
	if err != nil {
		return out, nil, err
	}
	if len(prev) > 0 {
		r, err := c.redemptionAnswer(ctx, tx, m, member, rewardArg, no, prev[0])
		return redeemed{redemption: r, repeat: true}, nil, err
	}
	reward, ok := findReward(m.Rewards, strings.TrimSpace(rewardArg))
	if !ok {
		return out, &refusal{Kind: refusedUnknown, Name: strings.TrimSpace(rewardArg)}, nil
	}
	if reward.PointsPrice <= 0 {
		return out, &refusal{Kind: refusedGiftOnly, Name: reward.Name}, nil
	}
	now := c.clock()
	if refused, err = c.checkRedeemable(ctx, tx, m, member, reward, now); refused != nil || err != nil {
		return out, refused, err
	}
	if took, err := tx.Coupons().TakeStock(ctx, m.ID, reward.Key, reward.Stock); err != nil {
		return out, nil, err
	} else if !took {
		return out, &refusal{Kind: refusedSoldOut, Name: reward.Name}, nil // taken by a concurrent redemption since the check
	}
	var cp *Coupon
	ch, err := c.change(ctx, tx, m, member, "redemption:"+no, func(ch *memberChange) error {
		if _, err := ch.spend(ctx, reward.PointsPrice, SourceRedemption, no, fmt.Sprintf("兑换「%s」", reward.Name)); err != nil {
			return err
		}
		cp, err = c.issueCoupon(ctx, tx, m, member, reward, CouponFromRedemption, no, now)
		return err
	})
	if err != nil {
		return out, nil, err
	}
	if err := c.tellCoupon(ctx, tx, m, member, cp, now); err != nil {
		return out, nil, err
	}
	c.log.InfoContext(ctx, "reward redeemed", "merchant", m.ID, "member", member.ID, "reward", reward.Key, "points", reward.PointsPrice)
	r := &Redemption{RedemptionNo: no, Reward: reward, Coupon: m.CouponView(cp), PointsSpent: reward.PointsPrice, Member: ch.view}
	return redeemed{redemption: r}, nil, nil
}

// checkRedeemable refuses a redemption the member's limit, points or the
// stock do not allow, without writing anything. Points due to expire by now
// do not count: the redemption expires them before it spends.
func (c *Shop) checkRedeemable(ctx context.Context, tx *work, m *Merchant, member *Member, reward Reward, now time.Time) (*refusal, error) {
	if reward.PerMemberLimit > 0 {
		n, err := tx.Coupons().CountForMember(ctx, member.ID, reward.Key)
		if err != nil {
			return nil, err
		}
		if n >= reward.PerMemberLimit {
			return &refusal{Kind: refusedLimit, Name: reward.Name, Limit: reward.PerMemberLimit, Held: n}, nil
		}
	}
	points, err := spendablePoints(ctx, tx, member, now)
	if err != nil {
		return nil, err
	}
	if points < reward.PointsPrice {
		return &refusal{Kind: refusedShort, Name: reward.Name, Price: reward.PointsPrice, Points: points, Short: reward.PointsPrice - points}, nil
	}
	left, err := tx.Coupons().Remaining(ctx, m.ID, reward.Key, reward.Stock)
	if err != nil {
		return nil, err
	}
	if left <= 0 {
		return &refusal{Kind: refusedSoldOut, Name: reward.Name}, nil
	}
	return nil, nil
}

// Why a redemption is refused. The kinds are what the chat's
// reply.redeem_refused template switches on.
const (
	refusedUnknown  = "unknown"   // no reward by that key or name
	refusedGiftOnly = "gift_only" // a gift, not for points
	refusedLimit    = "limit"     // the member holds the most allowed
	refusedShort    = "short"     // not enough spendable points
	refusedSoldOut  = "sold_out"  // no stock left
)

// refusal is why a redemption was refused, as facts rather than words:
// two audiences read it. The merchant API gets err, in English like the
// rest of the API; the shopper in chat gets reply.redeem_refused, in
// Chinese, from the templates.
type refusal struct {
	Kind          string
	Name          string // the reward's name, or what was asked for when unknown
	Limit, Held   int    // refusedLimit: the per-member limit and coupons held
	Price, Points int64  // refusedShort: what the reward costs and the member can spend
	Short         int64  // refusedShort: Price - Points
}

// err is the refusal for the merchant API: a stable code, the reward field
// named, and an English message.
func (r *refusal) err() *Error {
	e := &Error{Code: EINVALID, Field: "reward"}
	switch r.Kind {
	case refusedUnknown:
		e.Code, e.Message = ENOTFOUND, fmt.Sprintf("no reward has the key or name %q", r.Name)
	case refusedGiftOnly:
		e.Message = fmt.Sprintf("reward %q is a gift and cannot be redeemed with points", r.Name)
	case refusedLimit:
		e.Message = fmt.Sprintf("reward %q allows %d per member and the member already holds %d", r.Name, r.Limit, r.Held)
	case refusedShort:
		e.Message = fmt.Sprintf("not enough points: reward %q costs %d points, the member can spend %d (%d short)", r.Name, r.Price, r.Points, r.Short)
	case refusedSoldOut:
		e.Message = fmt.Sprintf("reward %q is sold out", r.Name)
	}
	return e
}

// spendablePoints is the member's balance less the points due to expire
// by now, read without expiring them.
func spendablePoints(ctx context.Context, tx *work, member *Member, now time.Time) (int64, error) {
	lots, err := tx.Ledger().OpenLots(ctx, member.ID)
	if err != nil {
		return 0, err
	}
	points := member.Points
	for _, lot := range lots {
		if !lot.ExpiresAt.After(now) {
			points -= lot.Remaining
		}
	}
	return max(points, 0), nil
}

// redemptionAnswer rebuilds the answer of a redemption made before from
// its coupon and ledger entry, or refuses a number reused for another
// reward or member.
func (c *Shop) redemptionAnswer(ctx context.Context, repos Repos, m *Merchant, member *Member, rewardArg, no string, cp *Coupon) (*Redemption, error) {
	rewardArg = strings.TrimSpace(rewardArg)
	reward, known := findReward(m.Rewards, cp.RewardKey)
	switch {
	case cp.MemberID != member.ID:
		return nil, &Error{Code: ECONFLICT, Field: "redemption_no", Message: fmt.Sprintf("redemption %s was made before by another member", no)}
	case rewardArg != cp.RewardKey && (!known || rewardArg != reward.Name):
		return nil, &Error{Code: ECONFLICT, Field: "redemption_no", Message: fmt.Sprintf("redemption %s was made before for another reward (%s)", no, cp.RewardKey)}
	case !known:
		reward = Reward{Key: cp.RewardKey, Name: cp.RewardKey}
	}
	entry, err := repos.Ledger().ByReference(ctx, m.ID, SourceRedemption, no)
	if err != nil {
		return nil, err
	}
	stats, err := periodStats(ctx, repos, m, member.ID, c.clock())
	if err != nil {
		return nil, err
	}
	open, err := openCeremonyOf(ctx, repos, member)
	if err != nil {
		return nil, err
	}
	return &Redemption{RedemptionNo: no, Reward: reward, Coupon: m.CouponView(cp), PointsSpent: -entry.Delta, Member: m.view(member, stats, open)}, nil
}

// previousRedemption answers a repeat that lost the race to the first
// request, from what the first committed.
func (c *Shop) previousRedemption(ctx context.Context, repos Repos, m *Merchant, openidOrPhone, rewardArg, no string) (*Redemption, error) {
	prev, err := repos.Coupons().ByReference(ctx, m.ID, CouponFromRedemption, no)
	if err != nil {
		return nil, err
	}
	if len(prev) == 0 {
		return nil, &Error{Code: ECONFLICT, Field: "redemption_no", Message: fmt.Sprintf("%s was used before for another points change", no)}
	}
	member, err := findMember(ctx, repos, m, openidOrPhone)
	if err != nil {
		return nil, err
	}
	return c.redemptionAnswer(ctx, repos, m, member, rewardArg, no, prev[0])
}

// redeemInChat answers 兑换 (arg empty: what can I redeem?) and 兑换 <name>
// (redeem it) inside the delivery's transaction, with member locked. A
// refusal is a reply, not an error, and writes nothing, so the delivery's
// record still commits and a repeat delivery gets the same reply.
func (c *Chat) redeemInChat(ctx context.Context, tx *work, m *Merchant, member *Member, msg InboundMessage, arg string) (Reply, error) {
	arg = strings.TrimSpace(arg)
	if arg == "" {
		return c.rewardsReply(ctx, tx, m, member)
	}
	no := "chat-" + msg.DedupeKey()[:24]
	out, refused, err := c.shop.redeem(ctx, tx, m, member, arg, no)
	if err != nil {
		return Reply{}, err
	}
	if refused != nil {
		return c.couponReply("reply.redeem_refused", redeemRefusedData{Merchant: m.Name, Reward: arg, refusal: *refused})
	}
	r := out.redemption
	return c.couponReply("reply.redeemed", redeemedData{
		Merchant: m.Name, Name: r.Reward.Name, Product: r.Reward.Product, Code: r.Coupon.Code,
		From: m.couponTime(r.Coupon.ValidFrom), Until: m.couponTime(r.Coupon.ValidUntil),
		PointsSpent: r.PointsSpent, Points: r.Member.Points,
	})
}

// rewardLine is one reward in the 兑换 list.
type rewardLine struct {
	Name, Product string
	PointsPrice   int64
	Left          int64
	Short         int64 // points still missing; 0 when affordable
	SoldOut       bool
	LimitReached  bool
}

type rewardsData struct {
	Merchant string
	Points   int64
	Rewards  []rewardLine
}

type redeemedData struct {
	Merchant, Name, Product, Code, From, Until string
	PointsSpent, Points                        int64
}

type redeemRefusedData struct {
	Merchant, Reward string
	refusal
}

// rewardsReply lists the rewards that can be bought with points: price,
// stock left, and whether this member can have one now.
func (c *Chat) rewardsReply(ctx context.Context, tx *work, m *Merchant, member *Member) (Reply, error) {
	points, err := spendablePoints(ctx, tx, member, c.clock())
	if err != nil {
		return Reply{}, err
	}
	data := rewardsData{Merchant: m.Name, Points: points}
	for _, r := range m.Rewards {
		if r.PointsPrice <= 0 {
			continue
		}
		left, err := tx.Coupons().Remaining(ctx, m.ID, r.Key, r.Stock)
		if err != nil {
			return Reply{}, err
		}
		line := rewardLine{Name: r.Name, Product: r.Product, PointsPrice: r.PointsPrice, Left: max(left, 0),
			Short: max(r.PointsPrice-points, 0), SoldOut: left <= 0}
		if r.PerMemberLimit > 0 {
			n, err := tx.Coupons().CountForMember(ctx, member.ID, r.Key)
			if err != nil {
				return Reply{}, err
			}
			line.LimitReached = n >= r.PerMemberLimit
		}
		data.Rewards = append(data.Rewards, line)
	}
	return c.couponReply("reply.rewards", data)
}

func (c *replies) couponReply(name string, data any) (Reply, error) {
	text, err := c.texts.Render(name, data)
	if err != nil {
		return Reply{}, fmt.Errorf("ritual: reply %s: %w", name, err)
	}
	return Reply{Text: text}, nil
}
