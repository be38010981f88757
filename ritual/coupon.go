package ritual

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Coupon sources.
const (
	CouponFromRedemption = "redemption" // bought with points; reference: the redemption number
	CouponFromGift       = "gift"       // part of the new-member gift pack; reference: "activation:<member id>"
	CouponFromCeremony   = "ceremony"   // a level's entry reward; reference: "<level change id>:<level key>"
	CouponFromCampaign   = "campaign"   // member day, birthday; reference: "<campaign>:<member id>"
)

// Coupon is a coupon issued to a member: what it buys and when it can be
// used, stated plainly.
type Coupon struct {
	ID         int64
	MerchantID string
	MemberID   int64
	Code       string // what the shop scans or types at checkout
	RewardKey  string
	Source     string
	Reference  string
	IssuedAt   time.Time
	ValidFrom  time.Time
	ValidUntil time.Time
	UsedAt     *time.Time
}

// Coupons stores coupons and what is left of each reward's stock.
type Coupons interface {
	// TakeStock takes one from the reward's remaining stock, starting it at
	// initial the first time, and reports false when none is left. Atomic:
	// concurrent takers never take more than there is.
	TakeStock(ctx context.Context, merchantID, rewardKey string, initial int64) (bool, error)
	// Remaining returns the reward's remaining stock (initial if untouched).
	Remaining(ctx context.Context, merchantID, rewardKey string, initial int64) (int64, error)
	// Issue stores c and sets its ID; ECONFLICT if the merchant issued a
	// coupon for (source, reference, reward) before.
	Issue(ctx context.Context, c *Coupon) error
	// CountForMember counts the member's coupons of a reward.
	CountForMember(ctx context.Context, memberID int64, rewardKey string) (int, error)
	// ByCode returns ENOTFOUND for an unknown code; locked in a transaction.
	ByCode(ctx context.Context, merchantID, code string) (*Coupon, error)
	// ByReference returns the coupons issued for (source, reference).
	ByReference(ctx context.Context, merchantID, source, reference string) ([]*Coupon, error)
	// MarkUsed records c.UsedAt.
	MarkUsed(ctx context.Context, c *Coupon) error
	// ForMember returns the member's coupons, newest first.
	ForMember(ctx context.Context, memberID int64) ([]*Coupon, error)
	// IssueMany stores coupons in one statement, skipping those whose
	// (source, reference, reward) exists, and returns how many it added.
	IssueMany(ctx context.Context, cs []*Coupon) (int64, error)
}

// CouponView is a coupon as a shop or a member sees it: what it buys and the
// exact window in which it can be used.
type CouponView struct {
	Code       string     `json:"code"`
	Reward     string     `json:"reward"` // the reward's key
	Name       string     `json:"name"`
	Product    string     `json:"product"`
	ValueFen   int64      `json:"value_fen"`
	Source     string     `json:"source"`
	IssuedAt   time.Time  `json:"issued_at"`
	ValidFrom  time.Time  `json:"valid_from"`
	ValidUntil time.Time  `json:"valid_until"` // the first instant it can no longer be used
	UsedAt     *time.Time `json:"used_at"`
}

// CouponView describes cp with the merchant's reward; a reward the merchant
// has since removed is shown by its key.
func (m *Merchant) CouponView(cp *Coupon) CouponView {
	r, ok := findReward(m.Rewards, cp.RewardKey)
	if !ok {
		r = Reward{Key: cp.RewardKey, Name: cp.RewardKey}
	}
	return CouponView{
		Code: cp.Code, Reward: cp.RewardKey, Name: r.Name, Product: r.Product, ValueFen: r.ValueFen,
		Source: cp.Source, IssuedAt: cp.IssuedAt, ValidFrom: cp.ValidFrom, ValidUntil: cp.ValidUntil, UsedAt: cp.UsedAt,
	}
}

// errCouponIssued says the coupon of a (source, reference, reward) exists.
var errCouponIssued = errors.New("ritual: coupon issued before")

// issueCoupon issues reward's coupon to member under (source, ref), valid
// for the reward's valid_days from now. The window starts on the minute, so
// the window a member is told ("2026-11-24 10:00 至 2026-12-24 10:00") is
// exactly the one the till applies. It returns errCouponIssued if the
// coupon of (source, ref, reward) exists.
// validUntil is when a coupon of reward issued at from stops being valid.
// Validate bounds valid_days; rewards stored before it did are held to the
// bound here, so the date stays one both databases store.
func validUntil(m *Merchant, reward Reward, from time.Time) time.Time {
	return from.In(m.Location()).AddDate(0, 0, min(reward.ValidDays, maxDays)).UTC()
}

func (c *changer) issueCoupon(ctx context.Context, tx *work, m *Merchant, member *Member, reward Reward, source, ref string, now time.Time) (*Coupon, error) {
	from := now.Truncate(time.Minute)
	cp := &Coupon{
		MerchantID: m.ID, MemberID: member.ID, RewardKey: reward.Key, Source: source, Reference: ref,
		IssuedAt: now, ValidFrom: from, ValidUntil: validUntil(m, reward, from),
	}
	for attempt := 1; ; attempt++ {
		cp.Code = newCouponCode()
		err := tx.Coupons().Issue(ctx, cp)
		if ErrorCode(err) != ECONFLICT {
			if err != nil {
				return nil, err
			}
			return cp, nil
		}
		// Either this reference has its coupon, or (once in 10^14) the
		// code was taken: tell which.
		issued, lookErr := tx.Coupons().ByReference(ctx, m.ID, source, ref)
		if lookErr != nil {
			return nil, lookErr
		}
		for _, prev := range issued {
			if prev.RewardKey == reward.Key {
				return nil, errCouponIssued
			}
		}
		if attempt == 3 {
			return nil, err
		}
	}
}

// couponCodeAlphabet leaves out 0/O and 1/I/L: codes are read aloud at the
// till and typed from a phone screen.
const couponCodeAlphabet = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"

const couponCodeLen = 10

// newCouponCode returns couponCodeLen characters drawn uniformly from
// couponCodeAlphabet: 31^10 ≈ 8×10^14 codes, too many to guess one.
func newCouponCode() string {
	const limit = 256 - 256%len(couponCodeAlphabet) // reject bytes that would bias the draw
	code := make([]byte, 0, couponCodeLen)
	buf := make([]byte, 2*couponCodeLen)
	for len(code) < couponCodeLen {
		_, _ = rand.Read(buf)
		for _, b := range buf {
			if int(b) < limit && len(code) < couponCodeLen {
				code = append(code, couponCodeAlphabet[int(b)%len(couponCodeAlphabet)])
			}
		}
	}
	return string(code)
}

// grantGiftCoupons issues the member one coupon of each reward in the
// merchant's new-member gift pack, under reference activation:<member id>.
// It is idempotent: a reward granted before is not granted again. A reward
// out of stock is skipped and logged; activation does not fail for it. It
// returns every coupon the member holds from the gift pack, in the pack's
// order. Call it with member locked, inside the activation's transaction.
func (c *changer) grantGiftCoupons(ctx context.Context, tx *work, m *Merchant, member *Member) ([]*Coupon, error) {
	ref := activationRef(member)
	held, err := tx.Coupons().ByReference(ctx, m.ID, CouponFromGift, ref)
	if err != nil {
		return nil, err
	}
	byKey := map[string]*Coupon{}
	for _, cp := range held {
		byKey[cp.RewardKey] = cp
	}
	now := c.clock()
	var out []*Coupon
	for _, key := range m.Activation.Gift.Coupons {
		if cp, ok := byKey[key]; ok {
			out = append(out, cp)
			continue
		}
		reward, ok := findReward(m.Rewards, key)
		if !ok {
			c.log.WarnContext(ctx, "gift coupon skipped: no such reward", "merchant", m.ID, "member", member.ID, "reward", key)
			continue
		}
		if took, err := tx.Coupons().TakeStock(ctx, m.ID, key, reward.Stock); err != nil {
			return nil, err
		} else if !took {
			c.log.WarnContext(ctx, "gift coupon skipped: out of stock", "merchant", m.ID, "member", member.ID, "reward", key)
			continue
		}
		cp, err := c.issueCoupon(ctx, tx, m, member, reward, CouponFromGift, ref, now)
		if errors.Is(err, errCouponIssued) {
			// Granted by a transaction that did not hold the member's lock:
			// fail, so this one's stock comes back with the rollback.
			return nil, Errorf(ECONFLICT, "the gift coupon %s was granted concurrently", key)
		} else if err != nil {
			return nil, err
		}
		byKey[key] = cp
		out = append(out, cp)
	}
	return out, nil
}

// tellCoupon queues the coupon_issued message for cp in the transaction
// that issued it: a member hears of every coupon they receive, whatever
// gave it. The template message has two lines to say it all: the product,
// and (as its time) the end of the window, which opens as it arrives.
func (c *changer) tellCoupon(ctx context.Context, tx *work, m *Merchant, member *Member, cp *Coupon, now time.Time) error {
	r, ok := findReward(m.Rewards, cp.RewardKey)
	if !ok {
		r = Reward{Product: cp.RewardKey}
	}
	notice := Notice{Reason: r.Product, Balance: member.Points, At: cp.ValidUntil}
	return c.enqueue(ctx, tx, m, member, PurposeCouponIssued, "coupon:"+cp.Code, notice, now)
}

// Coupons returns the member's coupons, newest first.
func (c *Shop) Coupons(ctx context.Context, m *Merchant, openidOrPhone string) ([]*Coupon, error) {
	member, err := findMember(ctx, c.store, m, openidOrPhone)
	if err != nil {
		return nil, err
	}
	return c.store.Coupons().ForMember(ctx, member.ID)
}

// UseCoupon marks the coupon with code used, once: ENOTFOUND for a code the
// merchant never issued, ECONFLICT (saying when) if it was used before,
// EINVALID (saying the window) outside its window. Using the new-member
// gift is the funnel's "benefit claimed" stage.
func (c *Shop) UseCoupon(ctx context.Context, m *Merchant, code string) (*Coupon, error) {
	code = strings.ToUpper(strings.TrimSpace(code))
	if code == "" {
		return nil, FieldErrorf("code", "is required")
	}
	var cp *Coupon
	err := c.atomically(ctx, func(tx *work) error {
		var err error
		cp, err = tx.Coupons().ByCode(ctx, m.ID, code)
		if ErrorCode(err) == ENOTFOUND {
			return &Error{Code: ENOTFOUND, Field: "code", Message: fmt.Sprintf("no coupon has the code %s", code)}
		} else if err != nil {
			return err
		}
		now := c.clock()
		window := fmt.Sprintf("from %s until %s", m.couponTime(cp.ValidFrom), m.couponTime(cp.ValidUntil))
		switch {
		case cp.UsedAt != nil:
			return &Error{Code: ECONFLICT, Field: "code", Message: fmt.Sprintf("coupon %s was used at %s", code, m.couponTime(*cp.UsedAt))}
		case now.Before(cp.ValidFrom):
			return &Error{Code: EINVALID, Field: "code", Message: fmt.Sprintf("coupon %s cannot be used yet: it can be used %s", code, window)}
		case !now.Before(cp.ValidUntil):
			return &Error{Code: EINVALID, Field: "code", Message: fmt.Sprintf("coupon %s has expired: it could be used %s", code, window)}
		}
		cp.UsedAt = &now
		if err := tx.Coupons().MarkUsed(ctx, cp); err != nil {
			return err
		}
		if cp.Source != CouponFromGift {
			return nil
		}
		member, err := tx.Members().ByID(ctx, cp.MemberID)
		if err != nil {
			return err
		}
		if member.Funnel.BenefitClaimedAt != nil {
			return nil
		}
		stamp(&member.Funnel.BenefitClaimedAt, now)
		return tx.Members().Update(ctx, member)
	})
	if err != nil {
		return nil, err
	}
	return cp, nil
}

// couponTime shows a coupon's time in the merchant's zone, to the minute.
func (m *Merchant) couponTime(t time.Time) string {
	return t.In(m.Location()).Format("2006-01-02 15:04")
}
