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
}

// Following reports whether messages can reach the member.
func (m *Member) Following() bool { return m.State == StateFollowing && m.OpenID != "" }

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
	return returning
}

// Unfollow marks the member as gone at t, keeping everything else.
func (m *Member) Unfollow(t time.Time) {
	m.State = StateUnfollowed
	m.UnfollowedAt = &t
}
