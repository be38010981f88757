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
	Points int64  `json:"points"`           // 0 to 1,000,000
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
	}
	return between("reward.points", r.Reward.Points, 0, maxPointsPerAction)
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

// openCeremonyOf returns the member's open ceremony, or nil.
func openCeremonyOf(ctx context.Context, tx Repos, member *Member) (*Ceremony, error) {
	open, err := tx.Ceremonies().OpenFor(ctx, member.ID)
	if ErrorCode(err) == ENOTFOUND {
		return nil, nil
	}
	return open, err
}

// openCeremony returns the ceremony the member had open when the change
// began, if it still is (the change's body may have completed it), or nil;
// a member with none costs no read.
func (ch *memberChange) openCeremony(ctx context.Context) (*Ceremony, error) {
	if ch.standing.OpenCeremony == 0 {
		return nil, nil
	}
	cer, err := ch.tx.Ceremonies().ByID(ctx, ch.m.ID, ch.standing.OpenCeremony)
	if err != nil || cer.Status != CeremonyOpen {
		return nil, err
	}
	return cer, nil
}

// startCeremony opens the ceremony into target for a member who qualifies
// for it, and invites them. Steps the member has already met (a birthday
// we know) count as done.
func (c *changer) startCeremony(ctx context.Context, tx *work, ch *memberChange, from, target Level) (*Ceremony, error) {
	m, member, now := ch.m, ch.member, ch.now
	rule := target.Ceremony
	cer := &Ceremony{
		MerchantID: m.ID, MemberID: member.ID, FromLevel: from.Key, ToLevel: target.Key,
		Steps: append([]string(nil), rule.Steps...), Status: CeremonyOpen, OpenedAt: now,
		Deadline: now.AddDate(0, 0, rule.DeadlineDays),
	}
	if member.Birthday != "" && cer.contains(StepBirthday) {
		cer.Done = append(cer.Done, StepBirthday)
	}
	if err := tx.Ceremonies().Create(ctx, cer); err != nil {
		return nil, err
	}
	if len(cer.Pending()) == 0 {
		return nil, c.completeCeremony(ctx, tx, ch, cer, "completed")
	}
	c.log.InfoContext(ctx, "ceremony opened", "merchant", m.ID, "member", member.ID, "level", target.Key)
	notice := Notice{Reason: fmt.Sprintf("%s升级仪式已开启", target.Nickname), To: target.Key, At: cer.Deadline}
	return cer, c.enqueue(ctx, tx, m, member, PurposeCeremony, fmt.Sprintf("ceremony:%d:open", cer.ID), notice, now)
}

func (cer *Ceremony) contains(step string) bool {
	for _, s := range cer.Steps {
		if s == step {
			return true
		}
	}
	return false
}

// closeCeremony ends an open ceremony that no longer applies. A member who
// fell below the level is told, kindly; one who rose past it gets the new
// ceremony's invitation instead.
func (c *changer) closeCeremony(ctx context.Context, tx *work, m *Merchant, member *Member, cer *Ceremony, outcome string) error {
	now := c.clock()
	cer.Status, cer.Outcome, cer.ClosedAt = CeremonyClosed, outcome, &now
	if err := tx.Ceremonies().Update(ctx, cer); err != nil {
		return err
	}
	if outcome != "fell_below" {
		return nil
	}
	lv, _ := m.Membership.Level(cer.ToLevel)
	notice := Notice{Reason: fmt.Sprintf("%s仪式先收起，下次再见", lv.Nickname), To: cer.ToLevel, At: now}
	return c.enqueue(ctx, tx, m, member, PurposeCeremony, fmt.Sprintf("ceremony:%d:closed", cer.ID), notice, now)
}

// completeCeremony grants the ceremony's level: the level change, every
// entry reward, the level message with old and new nickname and the
// points, and the announcement in the member's groups.
func (c *changer) completeCeremony(ctx context.Context, tx *work, ch *memberChange, cer *Ceremony, outcome string) error {
	m, member := ch.m, ch.member
	if !m.Membership.Has(cer.ToLevel) {
		return c.closeCeremony(ctx, tx, m, member, cer, OutcomeLevelRemoved)
	}
	now := c.clock()
	cer.Status, cer.Outcome, cer.ClosedAt = CeremonyCompleted, outcome, &now
	if err := tx.Ceremonies().Update(ctx, cer); err != nil {
		return err
	}
	if _, err := c.changeLevel(ctx, tx, ch, cer.ToLevel, fmt.Sprintf("ceremony:%d", cer.ID)); err != nil {
		return err
	}
	c.log.InfoContext(ctx, "ceremony completed", "merchant", m.ID, "member", member.ID, "level", cer.ToLevel, "outcome", outcome)
	lv, _ := m.Membership.Level(cer.ToLevel)
	if lv.Ceremony == nil || !lv.Ceremony.Announce {
		return nil
	}
	return c.announceInGroups(ctx, tx, m, member, fmt.Sprintf("ceremony:%d", cer.ID), func(who string) string {
		return fmt.Sprintf("🎉 恭喜%s完成升级仪式，成为「%s」！专属权益：%s", who, lv.Nickname, lv.Right.Title)
	})
}

// announceInGroups posts text(who) to every group the member speaks in,
// through the outbox and the merchant's group bridge. who is how the group
// knows the member there, or "一位群友" when the merchant keeps
// announcements anonymous.
func (c *changer) announceInGroups(ctx context.Context, tx *work, m *Merchant, member *Member, ref string, text func(who string) string) error {
	if !m.Groups.Enabled() || m.Groups.CallbackURL == "" {
		return nil
	}
	groups, err := tx.Groups().GroupsOfMember(ctx, m.ID, member.ID)
	if err != nil {
		return err
	}
	now := c.clock()
	for _, g := range groups {
		who := "一位群友"
		if !m.Groups.AnonymousAnnouncements {
			who = groupName(g.Nickname, g.SenderID, MaxNicknameLen)
		}
		_, err := tx.Outbox().Enqueue(ctx, &OutboxMessage{
			MerchantID: m.ID, MemberID: member.ID, Purpose: PurposeGroupPost, Reference: ref + ":" + keyPart(g.GroupID),
			Notice: Notice{Reason: text(who), Group: g.GroupID, At: now}, Status: OutboxPending, NextAttemptAt: now, CreatedAt: now,
		})
		if err != nil {
			return err
		}
	}
	return nil
}
