package ritual

import (
	"context"
	"time"
)

// Store is the storage the domain runs on; package models implements it on
// SQLite and MySQL.
type Store interface {
	Repos
	// Atomic runs fn in one transaction: everything fn does through tx is
	// committed together or not at all. fn's error is returned unchanged
	// after rollback. tx must not be used after fn returns.
	Atomic(ctx context.Context, fn func(tx Repos) error) error
	// Ping reports whether the database answers.
	Ping(ctx context.Context) error
}

// Repos gives access to each kind of record, inside or outside a
// transaction.
type Repos interface {
	Merchants() Merchants
	Members() Members
	Inbound() InboundLog
	Orders() Orders
	Ledger() Ledger
	Levels() LevelHistory
	Outbox() Outbox
	Pauses() SendPauses
	JobRuns() JobRuns
	Coupons() Coupons
	Limits() RateLimits
	QRCodes() QRCodes
	Groups() GroupStore
	GroupLinks() GroupLinks
	SignIns() SignInLog
	Activities() Activities
	Ceremonies() Ceremonies
	Settings() SettingsLog
	Accounts() ConsoleAccounts
}

// Merchants stores merchants and their settings.
type Merchants interface {
	// ByID returns ENOTFOUND if there is no such merchant.
	ByID(ctx context.Context, id string) (*Merchant, error)
	// ByAPIKeyHash returns ENOTFOUND if no merchant has that key.
	ByAPIKeyHash(ctx context.Context, hash string) (*Merchant, error)
	// Create returns ECONFLICT if the id or API key is taken.
	Create(ctx context.Context, m *Merchant) error
	// Lock reads the merchant, locking the row in a transaction.
	Lock(ctx context.Context, id string) (*Merchant, error)
	// Update saves the settings, name and version.
	Update(ctx context.Context, m *Merchant) error
	List(ctx context.Context) ([]*Merchant, error)
}

// Members stores members.
type Members interface {
	// ByOpenID returns ENOTFOUND if the merchant has no member with openid.
	ByOpenID(ctx context.Context, merchantID, openid string) (*Member, error)
	// ByPhone returns ENOTFOUND if the merchant has no member with phone.
	ByPhone(ctx context.Context, merchantID, phone string) (*Member, error)
	// ByID returns ENOTFOUND if there is no such member.
	ByID(ctx context.Context, id int64) (*Member, error)
	// ByIDs returns the members with those ids that exist, without
	// locking them: one read for a relay batch.
	ByIDs(ctx context.Context, ids []int64) ([]*Member, error)
	// Glance returns the member with openid and whether they have a
	// ceremony open, in one statement: all a reply that changes nothing
	// needs to decide, and what a text's turn needs before it reads the
	// ceremony itself. Outside a transaction it reads what is committed,
	// locking nothing; inside one it locks the member like every read.
	// ENOTFOUND if the merchant has no member with openid.
	Glance(ctx context.Context, merchantID, openid string) (m *Member, ceremonyOpen bool, err error)
	// EnsureByOpenID returns the member with openid, creating it in state
	// (FollowedAt still unset: the caller records a follow) if there is
	// none; created tells which. Inside a transaction every read of a
	// member row locks it until commit, so concurrent changes to one member
	// queue up instead of overwriting each other.
	EnsureByOpenID(ctx context.Context, merchantID, openid string, state MemberState, now time.Time) (m *Member, created bool, err error)
	// EnsureByPhone is EnsureByOpenID for a buyer known by phone only; a
	// created member is recognized.
	EnsureByPhone(ctx context.Context, merchantID, phone string, now time.Time) (m *Member, created bool, err error)
	// Update saves every field of m but TestShopper, which is fixed when
	// the member is made.
	Update(ctx context.Context, m *Member) error
	// UpdateFrom saves the fields of m that differ from was, the member as
	// read: a change rewrites only what it moved.
	UpdateFrom(ctx context.Context, was, m *Member) error
	// Standing reads the standing of the member with id at the moment at,
	// in one statement (see Standing).
	Standing(ctx context.Context, id int64, at StandingAt) (Standing, error)
	// ByOpenIDWithStanding is ByOpenID and Standing in one statement.
	ByOpenIDWithStanding(ctx context.Context, merchantID, openid string, at StandingAt) (*Member, Standing, error)
	// CreateTestShopper makes a member marked as a test shopper, not yet
	// following; ECONFLICT if the merchant has a member with openid.
	CreateTestShopper(ctx context.Context, merchantID, openid string, now time.Time) (*Member, error)
	// TestShoppers returns the openids of the merchant's test shoppers,
	// newest first, up to limit.
	TestShoppers(ctx context.Context, merchantID string, limit int) ([]string, error)
	// IDsAboveLevel returns, in id order after afterID, up to limit ids of
	// members whose level is set and is not lowest.
	IDsAboveLevel(ctx context.Context, merchantID, lowest string, afterID int64, limit int) ([]int64, error)
	// ByClaimCode and ByReferralCode return ENOTFOUND for an unknown code;
	// locked in a transaction.
	ByClaimCode(ctx context.Context, merchantID, code string) (*Member, error)
	ByReferralCode(ctx context.Context, merchantID, code string) (*Member, error)
	// Delete removes a member that has no history (a follower record merged
	// into the member their claim code names).
	Delete(ctx context.Context, id int64) error
	// Funnel returns the funnel stages of the members recognized in
	// [from, to).
	Funnel(ctx context.Context, merchantID string, from, to time.Time) ([]Funnel, error)
	// Page returns up to limit members with id above afterID, in id order,
	// with only what a campaign needs: id, openid, state.
	Page(ctx context.Context, merchantID string, afterID int64, limit int) ([]*Member, error)
	// WithBirthday returns the members whose birthday falls on month-day.
	WithBirthday(ctx context.Context, merchantID string, monthDay string) ([]int64, error)
}

// InboundLog remembers every message and event received, so a delivery
// WeChat repeats gets the first reply and no second effect.
type InboundLog interface {
	// Claim records the delivery with key and the reply it got, in one
	// statement. It returns false, storing nothing, if the key was claimed
	// before. A concurrent claim of the same key waits until the first
	// transaction ends and then returns false (if it committed).
	Claim(ctx context.Context, merchantID, key, reply string, at time.Time) (bool, error)
	// Reply returns the reply stored for key; ENOTFOUND if none.
	Reply(ctx context.Context, merchantID, key string) (string, error)
	// Prune deletes up to limit records received before t and returns how
	// many it deleted.
	Prune(ctx context.Context, before time.Time, limit int) (int64, error)
}

// Orders stores orders and refunds.
type Orders interface {
	// Create returns ECONFLICT if the merchant has an order with that number.
	Create(ctx context.Context, o *Order) error
	// ByNo returns ENOTFOUND if there is no such order; locked in a transaction.
	ByNo(ctx context.Context, merchantID, orderNo string) (*Order, error)
	// Update saves the order's refund totals and answer.
	Update(ctx context.Context, o *Order) error
	// PeriodStats sums the member's orders paid at or after since.
	PeriodStats(ctx context.Context, merchantID string, memberID int64, since time.Time) (PeriodStats, error)
	// CreateRefund returns ECONFLICT if the refund number is taken.
	CreateRefund(ctx context.Context, r *Refund) error
	// RefundByNo returns ENOTFOUND if there is no such refund.
	RefundByNo(ctx context.Context, merchantID, refundNo string) (*Refund, error)
	// CountForMember counts all the member's orders, refunded or not.
	CountForMember(ctx context.Context, memberID int64) (int, error)
	// MembersSince returns, in id order after afterID, up to limit ids of
	// members with an order paid at or after since.
	MembersSince(ctx context.Context, merchantID string, since time.Time, afterID int64, limit int) ([]int64, error)
	// DaySummary adds up the merchant's orders paid in [from, to).
	DaySummary(ctx context.Context, merchantID string, from, to time.Time) (DaySummary, error)
}

// Ledger stores the append-only points ledger and the lots it is spent from.
type Ledger interface {
	// Append adds e and sets its ID; ECONFLICT if (source, reference) is
	// on the merchant's ledger already.
	Append(ctx context.Context, e *PointsEntry) error
	AddLot(ctx context.Context, lot *PointsLot) error
	// OpenLots returns the member's lots with points left, soonest expiry
	// first; locked in a transaction.
	OpenLots(ctx context.Context, memberID int64) ([]*PointsLot, error)
	UpdateLot(ctx context.Context, lot *PointsLot) error
	// Entries returns up to limit entries with id below before (0: any),
	// newest first.
	Entries(ctx context.Context, memberID, before int64, limit int) ([]*PointsEntry, error)
	// Imbalances returns every member whose balance differs from the sum
	// of their ledger, or whose balance or ledger rows cannot be read. A
	// bad row is reported against its member, never an error of the whole.
	Imbalances(ctx context.Context) ([]Imbalance, error)
	// ByReference returns the entry booked under (source, reference), or
	// ENOTFOUND.
	ByReference(ctx context.Context, merchantID, source, reference string) (*PointsEntry, error)
	// CountSince counts the member's entries from source booked at or after since.
	CountSince(ctx context.Context, memberID int64, source string, since time.Time) (int, error)
	// DueMembers returns up to limit members of the merchant with points in
	// lots expiring at or before t.
	DueMembers(ctx context.Context, merchantID string, t time.Time, limit int) ([]int64, error)
	// Expiring returns up to limit unannounced lots with points left that
	// expire before t, soonest first.
	Expiring(ctx context.Context, merchantID string, t time.Time, limit int) ([]*PointsLot, error)
	// MarkAnnounced records that a lot's coming expiry was announced.
	MarkAnnounced(ctx context.Context, lotID int64, at time.Time) error
	// TopEarners ranks every member of the merchant by the points they
	// earned in [from, to) (leaderboard rewards excluded), ties by member id.
	TopEarners(ctx context.Context, merchantID string, from, to time.Time, limit int) ([]GroupBoardRow, error)
	// Board ranks members by the entries from sources booked in [from, to):
	// Count is the entries from counted minus the others, Points the sum of
	// deltas; members with a positive Count, highest Count then Points
	// first, ties by member id (the earlier member first).
	Board(ctx context.Context, merchantID string, counted string, sources []string, from, to time.Time, limit int) ([]BoardRow, error)
}

// BoardRow is one member's line on a leaderboard.
type BoardRow struct {
	MemberID int64
	OpenID   string
	Count    int
	Points   int64
}

// Imbalance is a member whose points cannot be trusted: the balance and
// the ledger disagree, or a row of theirs cannot be read.
type Imbalance struct {
	MerchantID string
	MemberID   int64
	OpenID     string
	Balance    int64
	// LedgerSum is the exact sum of the member's ledger, in decimal: the
	// entries of a corrupt ledger can add up past int64.
	LedgerSum string
	// Unreadable says which of the member's rows could not be read, and
	// why; empty when only the sums disagree.
	Unreadable string
}

// LevelHistory keeps every level change.
type LevelHistory interface {
	Append(ctx context.Context, c *LevelChange) error
	// ForMember returns the member's changes, newest first.
	ForMember(ctx context.Context, memberID int64) ([]*LevelChange, error)
}

// Outbox holds messages to send, written in the transaction of the change
// they announce and sent by the relay.
type Outbox interface {
	// Enqueue adds msg; it returns false (and changes nothing) if the
	// merchant's (purpose, reference) was enqueued before.
	Enqueue(ctx context.Context, msg *OutboxMessage) (bool, error)
	// MergeInto folds notice into the pending message id if it is still
	// waiting out its merge delay and unclaimed; it reports whether it did.
	MergeInto(ctx context.Context, id int64, notice Notice, now time.Time) (bool, error)
	// MergeCandidate returns the member's newest pending message for
	// purpose not yet due at now, or ENOTFOUND.
	MergeCandidate(ctx context.Context, memberID int64, purpose string, now time.Time) (*OutboxMessage, error)
	// ClaimDue leases up to limit pending messages due at now to owner
	// until now+lease, skipping merchants whose sending is paused, and
	// counts an attempt on each.
	ClaimDue(ctx context.Context, now time.Time, owner string, lease time.Duration, limit int) ([]*OutboxMessage, error)
	// Finish saves the outcome of msg if owner still holds its lease and
	// reports whether it did.
	Finish(ctx context.Context, msg *OutboxMessage, owner string) (bool, error)
	// FinishSent records msgs as sent at `at` with their WeChat msgid, in
	// one step, those whose lease owner still holds, and returns the ids
	// it recorded.
	FinishSent(ctx context.Context, msgs []*OutboxMessage, owner string, at time.Time) ([]int64, error)
	// ReleaseWaiting makes the member's messages that wait for a follow and
	// were created at or after since due at now, marks older ones failed
	// (too stale to send), and returns how many it released.
	ReleaseWaiting(ctx context.Context, memberID int64, since, now time.Time) (int64, error)
	// ForMember returns the member's messages, newest first.
	ForMember(ctx context.Context, memberID int64, limit int) ([]*OutboxMessage, error)
	// Depth counts messages by status.
	Depth(ctx context.Context) (map[OutboxStatus]int64, error)
	// EnqueueMany adds messages in one statement, skipping those whose
	// (purpose, reference) was enqueued before, and returns how many it added.
	EnqueueMany(ctx context.Context, msgs []*OutboxMessage) (int64, error)
	// EnqueueFollowers adds a copy of msg for every following member of
	// msg's merchant whose id is in (afterID, throughID], referenced
	// msg.Reference followed by the member's id, skipping references
	// enqueued before, and returns how many it added. The copies are made
	// by the database: a campaign's messages never pass through the service.
	EnqueueFollowers(ctx context.Context, msg *OutboxMessage, afterID, throughID int64) (int64, error)
	// CampaignReport counts a campaign's messages by status and, for those
	// not sent, by the last error.
	CampaignReport(ctx context.Context, merchantID, campaign string) ([]ReportLine, error)
	// Failures returns the merchant's failed messages, newest first.
	Failures(ctx context.Context, merchantID string, limit int) ([]*OutboxMessage, error)
}

// ReportLine is one line of a campaign report.
type ReportLine struct {
	Status    OutboxStatus `json:"status"`
	LastError string       `json:"last_error,omitempty"`
	Messages  int64        `json:"messages"`
}

// SendPauses remembers merchants whose sending is paused (daily quota spent).
type SendPauses interface {
	Pause(ctx context.Context, merchantID string, until time.Time, reason string) error
	// PausedUntil returns the end of the merchant's pause in force at now,
	// or the zero time.
	PausedUntil(ctx context.Context, merchantID string, now time.Time) (time.Time, error)
}
