package ritual

import (
	"context"
	"time"
)

// GroupStore stores what wxclub knows of a merchant's groups: the groups,
// who speaks in them, and the boards and audiences drawn from them.
type GroupStore interface {
	// GroupsOfMember returns the groups where the member's linked group
	// identity has spoken, with how they are called there, for
	// announcements; ordered by group id.
	GroupsOfMember(ctx context.Context, merchantID string, memberID int64) ([]MemberInGroup, error)

	// Seen records that sender wrote in group at t: the group is created
	// (first seen at t) or renamed, the sender created or given their
	// current nickname and last_seen t.
	Seen(ctx context.Context, merchantID string, group Group, sender GroupSender, t time.Time) error
	// Group returns ENOTFOUND for an unknown group of the merchant. With
	// lock, inside a transaction, the group's row stays locked until
	// commit: it is the lock under which activities are created.
	Group(ctx context.Context, merchantID, groupID string, lock bool) (*Group, error)
	// ListGroups returns the merchant's groups, first seen first, with
	// their sender and linked-member counts.
	ListGroups(ctx context.Context, merchantID string) ([]GroupSummary, error)
	// Senders returns everyone who wrote in the group, first seen first,
	// with the member each is linked to.
	Senders(ctx context.Context, merchantID, groupID string) ([]LinkedSender, error)

	// Board ranks the members linked to senders of the group by the points
	// they earned (positive ledger deltas) in [from, to): most first, ties
	// by member id. Nickname is the one they have in that group.
	Board(ctx context.Context, merchantID, groupID string, from, to time.Time, limit int) ([]GroupBoardRow, error)
	// LinkedOpenIDs returns the openids of the following members linked to
	// senders of the group, and TagAudienceAtLevel those of the following
	// members at a level (withUnset: also those never evaluated, who are at
	// the lowest level): the audiences a WeChat tag is synced to.
	LinkedOpenIDs(ctx context.Context, merchantID, groupID string) ([]string, error)
	TagAudienceAtLevel(ctx context.Context, merchantID, levelKey string, withUnset bool) ([]string, error)
}

// GroupLinks stores which member each group sender is, and the 绑定 codes
// that link them.
type GroupLinks interface {
	// LinkOfSender and LinkOfMember return ENOTFOUND when there is no link.
	LinkOfSender(ctx context.Context, merchantID, senderID string) (*GroupLink, error)
	LinkOfMember(ctx context.Context, merchantID string, memberID int64) (*GroupLink, error)
	// CreateLink returns ECONFLICT if the sender or the member is linked
	// already: one sender is one member, per merchant, both ways.
	CreateLink(ctx context.Context, l *GroupLink) error

	// CreateLinkCode returns ECONFLICT if the merchant has the code already.
	CreateLinkCode(ctx context.Context, lc *LinkCode) error
	// LinkCode returns the merchant's code, or ENOTFOUND; locked in a
	// transaction, so two senders posting one code are served in turn.
	LinkCode(ctx context.Context, merchantID, code string) (*LinkCode, error)
	// ActiveLinkCode returns the member's newest unused code that is
	// still valid at now, or ENOTFOUND.
	ActiveLinkCode(ctx context.Context, merchantID string, memberID int64, now time.Time) (*LinkCode, error)
	// UseLinkCode records who used the code and when.
	UseLinkCode(ctx context.Context, lc *LinkCode) error
}

// SignInLog stores the daily sign-ins, made in a group or on the official
// account.
type SignInLog interface {
	// SignInOn returns the member's sign-in for a local date (YYYY-MM-DD),
	// or ENOTFOUND.
	SignInOn(ctx context.Context, merchantID string, memberID int64, date string) (*DailySignIn, error)
	// CreateSignIn returns ECONFLICT if the member signed in for that date.
	CreateSignIn(ctx context.Context, s *DailySignIn) error
	// StreaksAtStake returns, after afterMemberID and in member order, up to
	// limit members who signed in on yesterday but not on today, with the
	// streak they would lose.
	StreaksAtStake(ctx context.Context, merchantID, yesterday, today string, afterMemberID int64, limit int) ([]DailySignIn, error)
}

// Activities stores the activities operators run in groups and who joined
// them.
type Activities interface {
	// CreateActivity sets a.ID; ECONFLICT if the group has an unconfirmed
	// activity with that title.
	CreateActivity(ctx context.Context, a *Activity) error
	// OpenActivity returns the group's unconfirmed activity with title, or
	// ENOTFOUND; locked in a transaction.
	OpenActivity(ctx context.Context, merchantID, groupID, title string) (*Activity, error)
	// LatestActivity returns the group's newest activity with title in any
	// status, or ENOTFOUND.
	LatestActivity(ctx context.Context, merchantID, groupID, title string) (*Activity, error)
	// UpdateActivity saves Joined, Status and ConfirmedAt; a confirmed
	// activity frees its title for a new one.
	UpdateActivity(ctx context.Context, a *Activity) error
	// AddEntry returns ECONFLICT if the member joined the activity before.
	AddEntry(ctx context.Context, e *ActivityEntry) error
	// HasEntry reports whether the member joined the activity.
	HasEntry(ctx context.Context, activityID, memberID int64) (bool, error)
	// Entries returns the activity's participants in member id order.
	Entries(ctx context.Context, activityID int64) ([]*ActivityEntry, error)
}

// Group is one of a merchant's WeChat groups, as the bridge names it.
type Group struct {
	MerchantID string
	GroupID    string
	Name       string
	FirstSeen  time.Time
}

// GroupSender is someone who wrote in a group, by the bridge's sender id.
type GroupSender struct {
	SenderID  string
	Nickname  string
	FirstSeen time.Time
	LastSeen  time.Time
}

// GroupSummary is a group with how many people spoke in it and how many of
// them are linked to a member.
type GroupSummary struct {
	Group
	Members       int
	LinkedMembers int
}

// LinkedSender is a sender of a group and, if linked, their member.
type LinkedSender struct {
	GroupSender
	MemberID int64 // 0: not linked
	OpenID   string
	LevelKey string
}

// GroupLink says which member a bridge sender id is, per merchant.
type GroupLink struct {
	MerchantID string
	SenderID   string
	MemberID   int64
	LinkedAt   time.Time
}

// LinkCode is a short-lived, single-use code the official account gives a
// member (绑定) to post in a group (绑定 <code>), proving the group sender
// and the official-account follower are one person.
type LinkCode struct {
	ID         int64
	MerchantID string
	Code       string
	MemberID   int64
	ExpiresAt  time.Time
	UsedAt     *time.Time
	UsedBy     string // the sender id that used it
	CreatedAt  time.Time
}

// Where a sign-in was made when not in a group.
const SignInOfficialAccount = "oa"

// DailySignIn is a member's sign-in for one local day of the merchant.
type DailySignIn struct {
	MerchantID string
	MemberID   int64
	LocalDate  string // YYYY-MM-DD in the merchant's time zone
	Streak     int    // consecutive local days ending with this one
	Where      string // the group id, or SignInOfficialAccount
	Makeup     bool   // bought afterwards with 补签
	CreatedAt  time.Time
}

// Activity states. An open activity closes to joins at its deadline and is
// confirmed by an operator, which pays its points once.
const (
	ActivityOpen      = "open"
	ActivityConfirmed = "confirmed"
)

// Activity is an event an operator runs in a group: members join (报名)
// until it is full or its deadline passes, and earn its points when the
// operator confirms it (#确认).
type Activity struct {
	ID          int64
	MerchantID  string
	GroupID     string
	Title       string
	Points      int64
	Capacity    int
	Joined      int
	Deadline    time.Time // joins are refused from this instant
	Status      string
	CreatedBy   string // the operator's sender id
	CreatedAt   time.Time
	ConfirmedAt *time.Time
}

// ActivityEntry is one member's place in an activity.
type ActivityEntry struct {
	ActivityID int64
	MemberID   int64
	SenderID   string
	JoinedAt   time.Time
}

// MemberInGroup is a group a member's linked identity speaks in, and the
// nickname the bridge last reported for them there.
type MemberInGroup struct {
	GroupID  string
	SenderID string
	Nickname string
}

// GroupBoardRow is one member's line on a group's weekly leaderboard.
// SenderID is set on a group's board, empty on the store-wide one.
type GroupBoardRow struct {
	MemberID int64
	SenderID string
	Nickname string
	Points   int64
}
