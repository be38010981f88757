package ritual

import "time"

// MemberState is where a member stands with the official account.
type MemberState string

const (
	// StateRecognized: a buyer we know from an order who has not followed
	// the official account yet. They are a member before they know it.
	StateRecognized MemberState = "recognized"
	// StateFollowing: follows the official account.
	StateFollowing MemberState = "following"
	// StateUnfollowed: followed once and left; everything they earned is
	// kept for when they come back.
	StateUnfollowed MemberState = "unfollowed"
)

// Member is one shopper of one merchant.
type Member struct {
	ID         int64
	MerchantID string
	OpenID     string // empty while recognized only by phone
	Phone      string
	State      MemberState
	// Points is the balance; it changes only with a ledger entry, in the
	// same transaction.
	Points int64
	// LevelKey is the member's level ("" until first evaluated: the lowest).
	LevelKey   string
	LevelSince *time.Time
	// SubscribeScene is the QR scene through which they first followed.
	SubscribeScene string
	FollowedAt     *time.Time
	UnfollowedAt   *time.Time
	CreatedAt      time.Time
	UpdatedAt      time.Time

	// ClaimCode is printed on the membership card of a member created from
	// an order; scanning or sending it binds a WeChat user to them.
	ClaimCode string
	// ReferralCode is the member's own invitation code (scene ref:<code>).
	ReferralCode string
	// ReferredBy is the member who brought this one, if any.
	ReferredBy int64
	// Birthday is "MM-DD" or "YYYY-MM-DD", as the member gave it.
	Birthday string
	// CardCode is the code of the member's WeChat member card.
	CardCode string
	Funnel   Funnel
	// TestShopper marks a member the console's phone preview made to chat
	// as; fixed when the member is made. No real shopper is one, and the
	// preview plays no one else.
	TestShopper bool
}

// Funnel is when the member reached each stage of the card-activation
// funnel; nil for a stage not reached.
type Funnel struct {
	RecognizedAt       *time.Time // became a member from an order
	CardScannedAt      *time.Time // scanned the card's code or sent it
	FollowedAt         *time.Time // first followed the official account
	ActivatedAt        *time.Time // did the activation act
	BenefitClaimedAt   *time.Time // used the new-member benefit
	FirstRepeatOrderAt *time.Time // paid a second order
}

// stamp sets *at to t unless the stage was reached before.
func stamp(at **time.Time, t time.Time) {
	if *at == nil {
		*at = &t
	}
}

// Following reports whether the member follows the official account.
func (m *Member) Following() bool { return m.State == StateFollowing && m.OpenID != "" }

// AwaitsProof reports whether the member's WeChat user is bound by the
// card's code alone: a code can be guessed or read off someone else's
// parcel, so until the activation proves the order's phone the binding
// shows nothing of the membership and spends nothing of it, and the buyer
// can take it back.
func (m *Member) AwaitsProof() bool {
	return m.Funnel.CardScannedAt != nil && m.Funnel.ActivatedAt == nil
}

// Reachable reports whether messages about the membership may go to the
// member's WeChat user: they follow, and the membership is proven theirs.
func (m *Member) Reachable() bool { return m.Following() && !m.AwaitsProof() }

// Follow marks the member as following at t and reports whether they had
// left before (a returning follower).
func (m *Member) Follow(t time.Time, scene string) (returning bool) {
	returning = m.State == StateUnfollowed
	if m.FollowedAt == nil && scene != "" {
		m.SubscribeScene = scene
	}
	m.State = StateFollowing
	m.FollowedAt = &t
	m.UnfollowedAt = nil
	stamp(&m.Funnel.FollowedAt, t)
	return returning
}

// Unfollow marks the member as gone at t, keeping everything else.
func (m *Member) Unfollow(t time.Time) {
	m.State = StateUnfollowed
	m.UnfollowedAt = &t
}
