package ritual

import (
	"context"
	"time"
)

// Standing is what a member change needs to know about a member besides
// their row, read in one statement with every part bounded by an index, so
// a member's change costs the same after ten orders or ten thousand: what
// counts towards their level, whether they have ordered before, whether
// points are due to expire, and which ceremony and points message are open.
// Inside a change it stands for the moment the change began; the change
// itself keeps track of what it moves (memberChange).
type Standing struct {
	// Period sums the orders paid since the period start, not wholly
	// refunded (Days unset).
	Period PeriodStats
	// Orders counts the member's orders ever, refunded or not, up to 2:
	// enough to tell a first order and a first repeat.
	Orders int
	// ExpiryDue says some of the member's points are due to expire.
	ExpiryDue bool
	// OpenCeremony is the id of the member's open ceremony; 0 if none.
	OpenCeremony int64
	// PendingPoints is the id of the member's newest points message still
	// waiting out its merge delay (pending, unleased, not yet due); 0 if
	// none.
	PendingPoints int64
}

// StandingAt says at which moment a standing is read: Since starts the
// statistical period, Now decides which points are due to expire and which
// points message still waits.
type StandingAt struct {
	Since time.Time
	Now   time.Time
}

// standingAt is the moment of a change of m's member at now.
func standingAt(m *Merchant, now time.Time) StandingAt {
	return StandingAt{Since: m.Membership.PeriodStart(now), Now: now}
}

// standingOf reads the standing of a member whose row tx holds locked.
func standingOf(ctx context.Context, tx Repos, m *Merchant, member *Member, now time.Time) (Standing, error) {
	return tx.Members().Standing(ctx, member.ID, standingAt(m, now))
}
