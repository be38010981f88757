package ritual

import (
	"context"
	"fmt"
	"time"
)

// Ceremony steps a merchant can ask of a member entering a level.
const (
	StepPledge      = "pledge"       // reply with the pledge phrase
	StepBirthday    = "birthday"     // tell us your birthday
	StepGroupSignIn = "group_signin" // sign in in one of the merchant's groups
	StepConfirm     = "confirm"      // reply 确认 within the deadline
)

// What happens when a ceremony's deadline passes.
const (
	DeadlineGrant = "grant" // grant the level anyway
	DeadlineWait  = "wait"  // keep it open for the member
)

// CeremonyRule is a level's upgrade ceremony.
type CeremonyRule struct {
	Steps        []string       `json:"steps"`
	Pledge       string         `json:"pledge,omitempty"` // the phrase for the pledge step
	DeadlineDays int            `json:"deadline_days"`
	Reward       CeremonyReward `json:"reward"`
	// Announce posts the completion in the member's groups.
	Announce   bool   `json:"announce"`
	OnDeadline string `json:"on_deadline"`
}

// CeremonyReward is paid once per promotion into the level.
type CeremonyReward struct {
	Points int64  `json:"points"`
	Coupon string `json:"coupon,omitempty"` // reward key
}

// Validate checks a ceremony rule.
func (r CeremonyRule) Validate() error {
	if len(r.Steps) == 0 {
		return FieldErrorf("steps", "at least one step is required")
	}
	seen := map[string]bool{}
	for i, s := range r.Steps {
		switch s {
		case StepPledge, StepBirthday, StepGroupSignIn, StepConfirm:
		default:
			return FieldErrorf(fmt.Sprintf("steps[%d]", i), "must be pledge, birthday, group_signin or confirm, got %q", s)
		}
		if seen[s] {
			return FieldErrorf(fmt.Sprintf("steps[%d]", i), "step %q is listed twice", s)
		}
		seen[s] = true
	}
	switch {
	case seen[StepPledge] && (r.Pledge == "" || len([]rune(r.Pledge)) > 30):
		return FieldErrorf("pledge", "the pledge step needs a phrase of at most 30 characters")
	case r.DeadlineDays < 1 || r.DeadlineDays > 90:
		return FieldErrorf("deadline_days", "must be between 1 and 90, got %d", r.DeadlineDays)
	case r.OnDeadline != DeadlineGrant && r.OnDeadline != DeadlineWait:
		return FieldErrorf("on_deadline", "must be grant or wait, got %q", r.OnDeadline)
	case r.Reward.Points < 0:
		return FieldErrorf("reward.points", "must not be negative")
	}
	return nil
}

// Ceremony states.
const (
	CeremonyOpen      = "open"      // the member is performing it
	CeremonyCompleted = "completed" // done (or granted at the deadline or by hand): the level is theirs
	CeremonyClosed    = "closed"    // the member fell below the level, or rose past it
)

// OutcomeLevelRemoved closes a ceremony whose level the merchant removed.
const OutcomeLevelRemoved = "level_removed"

// Ceremony is one member's upgrade ceremony into a level.

type Ceremony struct {
	ID         int64
	MerchantID string
	MemberID   int64
	FromLevel  string
	ToLevel    string
	Steps      []string
	Done       []string
	Status     string
	Deadline   time.Time
	OpenedAt   time.Time
	PromptedAt *time.Time // the step prompt was shown in chat
	RemindedAt *time.Time // the reminder before the deadline went out
	ClosedAt   *time.Time
	Outcome    string // how it ended: completed, deadline, by_hand, fell_below, superseded, level_removed
}

// Pending returns the steps not done yet, in the rule's order.
func (c *Ceremony) Pending() []string {
	var out []string
	for _, s := range c.Steps {
		if !c.did(s) {
			out = append(out, s)
		}
	}
	return out
}

func (c *Ceremony) did(step string) bool {
	for _, d := range c.Done {
		if d == step {
			return true
		}
	}
	return false
}

// Ceremonies stores ceremonies.
type Ceremonies interface {
	Create(ctx context.Context, c *Ceremony) error
	Update(ctx context.Context, c *Ceremony) error
	// OpenFor returns the member's open ceremony or ENOTFOUND; locked in a
	// transaction.
	OpenFor(ctx context.Context, memberID int64) (*Ceremony, error)
	// ByID returns ENOTFOUND for another merchant's or an unknown id;
	// locked in a transaction.
	ByID(ctx context.Context, merchantID string, id int64) (*Ceremony, error)
	// List returns the merchant's ceremonies in status ("" for all), newest
	// first.
	List(ctx context.Context, merchantID, status string, limit int) ([]*Ceremony, error)
	// ForMember returns the member's ceremonies, newest first.
	ForMember(ctx context.Context, memberID int64, limit int) ([]*Ceremony, error)
	// OpenBefore returns ids of open ceremonies whose deadline is before t.
	OpenBefore(ctx context.Context, merchantID string, t time.Time, limit int) ([]int64, error)
}
