package ritual

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/wxclub/wxclub/templates"
)

// Order is a paid order from one of the merchant's sales channels.
type Order struct {
	ID             int64
	MerchantID     string
	OrderNo        string
	MemberID       int64
	AmountFen      int64
	RefundedFen    int64
	PaidAt         time.Time
	Channel        string
	PointsEarned   int64
	PointsReversed int64
	// RequestHash fingerprints the request that recorded the order, so a
	// resend is recognised and a different order under the same number is
	// refused.
	RequestHash string
	// Answer is what recording the order answered, returned again to a
	// resend.
	Answer    *OrderAnswer
	CreatedAt time.Time
}

// NetFen is what the order still counts for after refunds.
func (o *Order) NetFen() int64 { return o.AmountFen - o.RefundedFen }

// OrderInput is an order as a shop reports it.
type OrderInput struct {
	OrderNo   string     `json:"order_no"`
	OpenID    string     `json:"openid"`
	Phone     string     `json:"phone"`
	AmountFen int64      `json:"amount_fen"`
	PaidAt    *time.Time `json:"paid_at"`
	Channel   string     `json:"channel"`
}

// OrderAnswer is the outcome of recording an order: the order, the points
// it earned and the member as they stood right after.
type OrderAnswer struct {
	OrderNo      string     `json:"order_no"`
	AmountFen    int64      `json:"amount_fen"`
	PaidAt       time.Time  `json:"paid_at"`
	Channel      string     `json:"channel,omitempty"`
	PointsEarned int64      `json:"points_earned"`
	Member       MemberView `json:"member"`
}

// Limits of an order or refund as a shop reports it, in characters: the
// columns that keep them (models: orders.order_no, refunds.refund_no,
// orders.channel; the openid as members.openid, MaxOpenIDLen).
const (
	MaxOrderNoLen = 64
	MaxChannelLen = 32
)

var (
	orderNoPattern = regexp.MustCompile(fmt.Sprintf(`^[A-Za-z0-9_\-]{1,%d}$`, MaxOrderNoLen))
	phonePattern   = regexp.MustCompile(`^1[3-9][0-9]{9}$`)
)

// NormalizePhone returns a mainland mobile number in its 11-digit form
// ("+86 138-0013-8000" → "13800138000"), or "" if s is not one.
func NormalizePhone(s string) string {
	s = strings.NewReplacer(" ", "", "-", "").Replace(s)
	s = strings.TrimPrefix(strings.TrimPrefix(s, "+86"), "0086")
	if !phonePattern.MatchString(s) {
		return ""
	}
	return s
}

// Validate checks the input and normalises the phone; now bounds paid_at.
func (in *OrderInput) Validate(now time.Time) error {
	switch {
	case !orderNoPattern.MatchString(in.OrderNo):
		return FieldErrorf("order_no", "is required: 1-%d letters, digits, '-' or '_'", MaxOrderNoLen)
	case in.OpenID == "" && in.Phone == "":
		return FieldErrorf("openid", "openid or phone is required to know whose order it is")
	case in.AmountFen <= 0:
		return FieldErrorf("amount_fen", "must be a positive number of fen, got %d", in.AmountFen)
	case in.AmountFen > maxOrderFen:
		return FieldErrorf("amount_fen", "%d fen is more than one order can be; amounts are in fen (1 yuan = 100)", in.AmountFen)
	case in.PaidAt != nil && in.PaidAt.After(now.Add(5*time.Minute)):
		return FieldErrorf("paid_at", "is in the future")
	}
	if err := checkLengths(EINVALID, bounded{"openid", in.OpenID, MaxOpenIDLen}, bounded{"channel", in.Channel, MaxChannelLen}); err != nil {
		return err
	}
	if in.Phone != "" {
		phone := NormalizePhone(in.Phone)
		if phone == "" {
			return FieldErrorf("phone", "must be a mainland mobile number, got %q", in.Phone)
		}
		in.Phone = phone
	}
	return nil
}

// hash fingerprints the input as the shop sent it.
func (in OrderInput) hash() string {
	paid := ""
	if in.PaidAt != nil {
		paid = in.PaidAt.UTC().Format(time.RFC3339Nano)
	}
	return fingerprint(in.OrderNo, in.OpenID, in.Phone, fmt.Sprint(in.AmountFen), paid, in.Channel)
}

func fingerprint(parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(sum[:])
}

// Refund is a (partial) refund of an order.
type Refund struct {
	ID             int64
	MerchantID     string
	RefundNo       string
	OrderID        int64
	AmountFen      int64
	PointsReversed int64 // points taken back from the balance
	Shortfall      int64 // points that should have been taken back but were already spent
	RequestHash    string
	Answer         *RefundAnswer
	CreatedAt      time.Time
}

// RefundInput is a refund as a shop reports it.
type RefundInput struct {
	OrderNo   string `json:"-"`
	RefundNo  string `json:"refund_no"`
	AmountFen int64  `json:"amount_fen"`
}

// RefundAnswer is the outcome of recording a refund.
type RefundAnswer struct {
	OrderNo        string     `json:"order_no"`
	RefundNo       string     `json:"refund_no"`
	AmountFen      int64      `json:"amount_fen"`
	RefundedFen    int64      `json:"order_refunded_fen"`
	PointsReversed int64      `json:"points_reversed"`
	Shortfall      int64      `json:"points_shortfall"`
	Member         MemberView `json:"member"`
}

// Validate checks the input.
func (in RefundInput) Validate() error {
	switch {
	case !orderNoPattern.MatchString(in.RefundNo):
		return FieldErrorf("refund_no", "is required: 1-%d letters, digits, '-' or '_'", MaxOrderNoLen)
	case in.AmountFen <= 0:
		return FieldErrorf("amount_fen", "must be a positive number of fen, got %d", in.AmountFen)
	}
	return nil
}

func (in RefundInput) hash() string {
	return fingerprint(in.OrderNo, in.RefundNo, fmt.Sprint(in.AmountFen))
}

// errResend aborts the transaction of an order or refund recorded before.
var errResend = errors.New("ritual: recorded before")

// RecordOrder records a paid order: the buyer (found by openid or phone,
// created as a recognized member if new) earns points, their level is
// re-evaluated, and every change is queued for the member in the same
// transaction. A resend of the same order gets the first answer and
// created=false; another order under the same number is ECONFLICT.
func (c *Shop) RecordOrder(ctx context.Context, m *Merchant, in OrderInput) (answer *OrderAnswer, created bool, err error) {
	if err := in.Validate(c.clock()); err != nil {
		return nil, false, err
	}
	err = c.atomically(ctx, func(tx *work) error {
		answer, err = c.recordOrder(ctx, tx, m, in)
		return err
	})
	if errors.Is(err, errResend) || (ErrorCode(err) == ECONFLICT && ErrorField(err) == "") {
		answer, err = c.previousOrder(ctx, m, in)
		c.observer.OrderRecorded(m.ID, outcome(err, "resent"))
		return answer, false, err
	}
	c.observer.OrderRecorded(m.ID, outcome(err, "created"))
	return answer, err == nil, err
}

// outcome names how a request ended, for metrics.
func outcome(err error, ok string) string {
	switch ErrorCode(err) {
	case "":
		return ok
	case ECONFLICT:
		return "conflict"
	case EINVALID, EBADREQUEST, ENOTFOUND:
		return "invalid"
	default:
		return "error"
	}
}

// previousOrder answers a resend from what the first recording stored.
func (c *Shop) previousOrder(ctx context.Context, m *Merchant, in OrderInput) (*OrderAnswer, error) {
	prev, err := c.store.Orders().ByNo(ctx, m.ID, in.OrderNo)
	if err != nil {
		return nil, err
	}
	if prev.RequestHash != in.hash() || prev.Answer == nil {
		return nil, &Error{Code: ECONFLICT, Field: "order_no", Message: fmt.Sprintf("order %s was recorded before with different content", in.OrderNo)}
	}
	return prev.Answer, nil
}

func (c *Shop) recordOrder(ctx context.Context, tx *work, m *Merchant, in OrderInput) (*OrderAnswer, error) {
	member, st, err := c.resolveBuyer(ctx, tx, m, in)
	if err != nil {
		return nil, err
	}
	now := c.clock()
	order := &Order{
		MerchantID: m.ID, OrderNo: in.OrderNo, MemberID: member.ID, AmountFen: in.AmountFen,
		PaidAt: now, Channel: in.Channel, RequestHash: in.hash(), CreatedAt: now,
		PointsEarned: in.AmountFen * int64(m.Membership.PointsPerYuan) / 100,
	}
	if in.PaidAt != nil {
		order.PaidAt = in.PaidAt.UTC()
	}
	book := func(ch *memberChange) error { return c.bookOrder(ctx, ch, order) }
	var ch *memberChange
	if st != nil {
		ch, err = c.changeStanding(ctx, tx, m, member, *st, "order:"+order.OrderNo, book)
	} else {
		ch, err = c.change(ctx, tx, m, member, "order:"+order.OrderNo, book)
	}
	if errors.Is(err, errAlreadyOnLedger) {
		return nil, errResend
	} else if err != nil {
		return nil, err
	}
	order.Answer = &OrderAnswer{
		OrderNo: order.OrderNo, AmountFen: order.AmountFen, PaidAt: order.PaidAt, Channel: order.Channel,
		PointsEarned: order.PointsEarned, Member: ch.view,
	}
	if err := c.rewardReferrer(ctx, tx, m, member, order, ch.standing.Orders == 0); err != nil {
		return nil, err
	}
	// Stored last, with its answer: an order number recorded before (or
	// concurrently) is ECONFLICT here, the transaction rolls back, and
	// RecordOrder answers from the first recording.
	return order.Answer, tx.Orders().Create(ctx, order)
}

// bookOrder earns the order's points (multiplied on member day) and hands
// the order to the change, so it counts towards the level the change is
// about to settle.
func (c *Shop) bookOrder(ctx context.Context, ch *memberChange, order *Order) error {
	m := ch.m
	reason := fmt.Sprintf("消费¥%s得积分（订单%s）", templates.Yuan(order.AmountFen), shortRef(order.OrderNo))
	// At most 10^7 yuan × 1,000 points × 10 = 10^11 points: amount_fen,
	// points_per_yuan and the multiplier are bounded (bounds.go), so the
	// product cannot overflow; the balance it lands on is checked by the
	// ledger.
	if isMemberDay(m, order.PaidAt) && m.Campaigns.MemberDay.Multiplier > 1 {
		order.PointsEarned *= int64(m.Campaigns.MemberDay.Multiplier)
		reason = fmt.Sprintf("会员日%d倍积分（订单%s）", m.Campaigns.MemberDay.Multiplier, shortRef(order.OrderNo))
	}
	if _, err := ch.earn(ctx, order.PointsEarned, SourceOrder, order.OrderNo, reason); err != nil {
		return err
	}
	ch.newOrder = order
	if ch.standing.Orders == 1 { // this is their second order
		stamp(&ch.member.Funnel.FirstRepeatOrderAt, ch.now)
	}
	return nil
}

// resolveBuyer finds the member an order belongs to, attaching a newly
// learned openid or phone, or creates a recognized member. A member found
// by openid comes with their standing, read in the same statement, and a
// member created here with the empty standing; others with nil. Either
// way the member is returned as stored.
func (c *Shop) resolveBuyer(ctx context.Context, tx *work, m *Merchant, in OrderInput) (*Member, *Standing, error) {
	now := c.clock()
	if in.OpenID == "" {
		member, created, err := tx.Members().EnsureByPhone(ctx, m.ID, in.Phone, now)
		if err != nil || !created {
			return member, nil, err
		}
		return member, &Standing{}, c.recognize(ctx, tx, member)
	}
	var found *Standing
	member, st, err := tx.Members().ByOpenIDWithStanding(ctx, m.ID, in.OpenID, standingAt(m, now))
	if err == nil {
		found = &st
	}
	if ErrorCode(err) == ENOTFOUND && in.Phone != "" {
		member, err = tx.Members().ByPhone(ctx, m.ID, in.Phone)
		if err == nil && member.OpenID != "" {
			err = &Error{Code: ECONFLICT, Field: "phone", Message: "this phone belongs to a member with another openid"}
		} else if err == nil {
			member.OpenID = in.OpenID
			return member, nil, tx.Members().Update(ctx, member)
		}
	}
	if ErrorCode(err) == ENOTFOUND {
		var created bool
		member, created, err = tx.Members().EnsureByOpenID(ctx, m.ID, in.OpenID, StateRecognized, now)
		if err == nil && created {
			found = &Standing{} // nothing yet: no orders, points, ceremony or message
			err = c.recognize(ctx, tx, member)
		}
	}
	if err != nil {
		return nil, nil, err
	}
	if member.Phone == "" && in.Phone != "" {
		member.Phone = in.Phone
		err = tx.Members().Update(ctx, member)
	}
	return member, found, err
}

// recognize marks a member created from an order: the funnel starts here,
// and their card gets a claim code.
func (c *Shop) recognize(ctx context.Context, tx *work, member *Member) error {
	stamp(&member.Funnel.RecognizedAt, c.clock())
	return c.giveClaimCode(ctx, tx, member)
}

// shortRef keeps the end of a long order number, which is what people
// recognise, so a reason fits a template field.
func shortRef(ref string) string {
	if r := []rune(ref); len(r) > 8 {
		return "…" + string(r[len(r)-6:])
	}
	return ref
}
