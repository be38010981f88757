package ritual

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
	"time"
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

var (
	orderNoPattern = regexp.MustCompile(`^[A-Za-z0-9_\-]{1,64}$`)
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

// maxOrderFen bounds one order (10 million yuan): anything bigger is a
// unit mistake (yuan sent as fen times 100), not a sale.
const maxOrderFen = 1_000_000_000

// Validate checks the input and normalises the phone; now bounds paid_at.
func (in *OrderInput) Validate(now time.Time) error {
	switch {
	case !orderNoPattern.MatchString(in.OrderNo):
		return FieldErrorf("order_no", "is required: 1-64 letters, digits, '-' or '_'")
	case in.OpenID == "" && in.Phone == "":
		return FieldErrorf("openid", "openid or phone is required to know whose order it is")
	case len(in.OpenID) > 64:
		return FieldErrorf("openid", "is longer than 64 characters")
	case in.AmountFen <= 0:
		return FieldErrorf("amount_fen", "must be a positive number of fen, got %d", in.AmountFen)
	case in.AmountFen > maxOrderFen:
		return FieldErrorf("amount_fen", "%d fen is more than one order can be; amounts are in fen (1 yuan = 100)", in.AmountFen)
	case in.PaidAt != nil && in.PaidAt.After(now.Add(5*time.Minute)):
		return FieldErrorf("paid_at", "is in the future")
	case len(in.Channel) > 32:
		return FieldErrorf("channel", "is longer than 32 characters")
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
		return FieldErrorf("refund_no", "is required: 1-64 letters, digits, '-' or '_'")
	case in.AmountFen <= 0:
		return FieldErrorf("amount_fen", "must be a positive number of fen, got %d", in.AmountFen)
	}
	return nil
}

func (in RefundInput) hash() string {
	return fingerprint(in.OrderNo, in.RefundNo, fmt.Sprint(in.AmountFen))
}
