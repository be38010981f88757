package ritual

import "context"

// GroupStore stores what wxclub knows of a merchant's groups: the groups,
// who speaks in them, and which member each sender is.
type GroupStore interface {
	// GroupsOfMember returns the ids of the groups where the member's linked
	// group identity has spoken, for announcements.
	GroupsOfMember(ctx context.Context, merchantID string, memberID int64) ([]string, error)
}
