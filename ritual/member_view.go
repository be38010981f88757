package ritual

import (
	"context"
	"time"
)

// Reports reads what the merchant API and the console show: members, their
// ledger and rights, the funnel, boards, groups, failed messages.
type Reports struct {
	store Store
	clock Clock
}

// MemberView is a member as the merchant API shows them, and as an order's
// answer records them.
type MemberView struct {
	OpenID    string      `json:"openid,omitempty"`
	Phone     string      `json:"phone,omitempty"`
	State     MemberState `json:"state"`
	Level     LevelView   `json:"level"`
	Points    int64       `json:"points"`
	Period    PeriodStats `json:"period"`
	NextLevel *NextLevel  `json:"next_level"`
	// Ceremony is the upgrade ceremony the member is performing, if any:
	// their right stays at Level until it is done.
	Ceremony       *PendingCeremony `json:"ceremony"`
	SubscribeScene string           `json:"subscribe_scene,omitempty"`
	FollowedAt     *time.Time       `json:"followed_at"`
	UnfollowedAt   *time.Time       `json:"unfollowed_at"`
	CreatedAt      time.Time        `json:"created_at"`
	UpdatedAt      time.Time        `json:"updated_at"`
}

// LevelView is a level with its one core right.
type LevelView struct {
	Key      string `json:"key"`
	Name     string `json:"name"`
	Nickname string `json:"nickname"`
	Right    Right  `json:"right"`
}

func viewLevel(lv Level) LevelView {
	return LevelView{Key: lv.Key, Name: lv.Name, Nickname: lv.Nickname, Right: lv.Right}
}

// PendingCeremony is an open ceremony as the member view shows it.
type PendingCeremony struct {
	Level    string    `json:"level"`
	Nickname string    `json:"nickname"`
	Steps    []string  `json:"steps"`
	Pending  []string  `json:"pending"`
	Deadline time.Time `json:"deadline"`
}

// view builds the member's view from its stored level, current stats and
// open ceremony (nil if none).
func (m *Merchant) view(member *Member, stats PeriodStats, open *Ceremony) MemberView {
	lv, _ := m.Membership.Level(member.LevelKey)
	var pending *PendingCeremony
	if open != nil {
		to, _ := m.Membership.Level(open.ToLevel)
		pending = &PendingCeremony{Level: to.Key, Nickname: to.Nickname, Steps: open.Steps, Pending: open.Pending(), Deadline: open.Deadline}
	}
	return MemberView{
		Ceremony: pending,
		OpenID:   member.OpenID, Phone: member.Phone, State: member.State,
		Level: viewLevel(lv), Points: member.Points, Period: stats,
		NextLevel:      m.Membership.Next(lv.Key, stats),
		SubscribeScene: member.SubscribeScene, FollowedAt: member.FollowedAt, UnfollowedAt: member.UnfollowedAt,
		CreatedAt: member.CreatedAt, UpdatedAt: member.UpdatedAt,
	}
}

// periodStats reads what counts towards the member's level now.
func periodStats(ctx context.Context, tx Repos, m *Merchant, memberID int64, now time.Time) (PeriodStats, error) {
	s, err := tx.Orders().PeriodStats(ctx, m.ID, memberID, m.Membership.PeriodStart(now))
	s.Days = m.Membership.PeriodDays
	return s, err
}

// MemberView returns the member found by openid or phone, as the merchant
// API shows them.
func (c *Reports) MemberView(ctx context.Context, m *Merchant, openidOrPhone string) (MemberView, error) {
	member, err := findMember(ctx, c.store, m, openidOrPhone)
	if err != nil {
		return MemberView{}, err
	}
	stats, err := periodStats(ctx, c.store, m, member.ID, c.clock())
	if err != nil {
		return MemberView{}, err
	}
	open, err := openCeremonyOf(ctx, c.store, member)
	if err != nil {
		return MemberView{}, err
	}
	return m.view(member, stats, open), nil
}

// findMember resolves an openid, or a mobile number, to the member. An
// unknown one is ENOTFOUND naming openid (the path's name for either) in
// the merchant API's words, not the storage's "find member: not found".
func findMember(ctx context.Context, tx Repos, m *Merchant, openidOrPhone string) (*Member, error) {
	if openidOrPhone == "" {
		return nil, FieldErrorf("openid", "is required")
	}
	var member *Member
	var err error
	if phone := NormalizePhone(openidOrPhone); phone != "" {
		member, err = tx.Members().ByPhone(ctx, m.ID, phone)
	} else {
		member, err = tx.Members().ByOpenID(ctx, m.ID, openidOrPhone)
	}
	if ErrorCode(err) == ENOTFOUND {
		return nil, &Error{Code: ENOTFOUND, Field: "openid", Message: "no member has this openid or mobile number"}
	}
	return member, err
}

// RightView is what a shop applies at checkout for a member.
type RightView struct {
	Level LevelView `json:"level"`
	Right Right     `json:"right"`
}

// Rights returns the core right of the member's level.
func (c *Reports) Rights(ctx context.Context, m *Merchant, openidOrPhone string) (RightView, error) {
	member, err := findMember(ctx, c.store, m, openidOrPhone)
	if err != nil {
		return RightView{}, err
	}
	lv, _ := m.Membership.Level(member.LevelKey)
	return RightView{Level: viewLevel(lv), Right: lv.Right}, nil
}

// LedgerPage is a page of a member's ledger, newest first.
type LedgerPage struct {
	Entries []*PointsEntry
	// Before is the cursor for the next (older) page; 0 when there is none.
	Before int64
}

// Ledger returns up to limit entries older than before (0: the newest).
func (c *Reports) Ledger(ctx context.Context, m *Merchant, openidOrPhone string, before int64, limit int) (LedgerPage, error) {
	if limit < 1 || limit > 200 {
		return LedgerPage{}, FieldErrorf("limit", "must be between 1 and 200")
	}
	member, err := findMember(ctx, c.store, m, openidOrPhone)
	if err != nil {
		return LedgerPage{}, err
	}
	entries, err := c.store.Ledger().Entries(ctx, member.ID, before, limit+1)
	if err != nil {
		return LedgerPage{}, err
	}
	page := LedgerPage{Entries: entries}
	if len(entries) > limit {
		page.Entries = entries[:limit]
		page.Before = entries[limit-1].ID
	}
	return page, nil
}

// OutboxDepth counts outbox messages by status.
func (c *Reports) OutboxDepth(ctx context.Context) (map[OutboxStatus]int64, error) {
	return c.store.Outbox().Depth(ctx)
}
