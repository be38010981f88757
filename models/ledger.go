package models

import (
	"context"
	"database/sql"
	"fmt"
	"math/big"
	"strconv"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/wxclub/wxclub/ritual"
)

// pointsEntryRow is a line of the append-only ledger: rows are inserted,
// never updated or deleted. (merchant, source, reference) is unique, so a
// change is booked at most once whatever the concurrency.
type pointsEntryRow struct {
	ID           int64      `gorm:"primaryKey;autoIncrement"`
	MerchantID   string     `gorm:"size:64;not null;uniqueIndex:ux_points_ref,priority:1"`
	MemberID     int64      `gorm:"not null;index:ix_points_member,priority:1"`
	Delta        int64      `gorm:"not null"`
	BalanceAfter int64      `gorm:"not null"`
	Shortfall    int64      `gorm:"not null;default:0"`
	Reason       freeText   `gorm:"size:255;not null"`
	Source       string     `gorm:"size:32;not null;uniqueIndex:ux_points_ref,priority:2"`
	Reference    string     `gorm:"size:128;not null;uniqueIndex:ux_points_ref,priority:3"`
	ExpiresAt    *time.Time `gorm:"precision:3"`
	CreatedAt    time.Time  `gorm:"precision:3;not null"`
}

func (pointsEntryRow) TableName() string { return "points_entries" }

// pointsLotRow is what is left of one earning.
type pointsLotRow struct {
	ID         int64     `gorm:"primaryKey;autoIncrement"`
	MerchantID string    `gorm:"size:64;not null"`
	MemberID   int64     `gorm:"not null;index:ix_lots_open,priority:1"`
	EntryID    int64     `gorm:"not null;uniqueIndex"`
	Source     string    `gorm:"size:32;not null"`
	Reference  string    `gorm:"size:128;not null"`
	Amount     int64     `gorm:"not null"`
	Remaining  int64     `gorm:"not null;index:ix_lots_open,priority:2"`
	ExpiresAt  time.Time `gorm:"precision:3;not null;index"`
	CreatedAt  time.Time `gorm:"precision:3;not null"`
	// AnnouncedAt is when the coming expiry was told to the member.
	AnnouncedAt *time.Time `gorm:"precision:3"`
}

func (pointsLotRow) TableName() string { return "points_lots" }

type ledger struct{ db *gorm.DB }

func (s ledger) Append(ctx context.Context, e *ritual.PointsEntry) error {
	row := pointsEntryRow{
		MerchantID: e.MerchantID, MemberID: e.MemberID, Delta: e.Delta, BalanceAfter: e.BalanceAfter,
		Shortfall: e.Shortfall, Reason: freeText(e.Reason), Source: e.Source, Reference: e.Reference,
		ExpiresAt: utcPtr(e.ExpiresAt), CreatedAt: e.CreatedAt.UTC(),
	}
	if err := s.db.WithContext(ctx).Create(&row).Error; err != nil {
		return translate(err, "append to the points ledger")
	}
	e.ID = row.ID
	return nil
}

func (s ledger) AddLot(ctx context.Context, lot *ritual.PointsLot) error {
	row := pointsLotRow{
		MerchantID: lot.MerchantID, MemberID: lot.MemberID, EntryID: lot.EntryID, Source: lot.Source,
		Reference: lot.Reference, Amount: lot.Amount, Remaining: lot.Remaining,
		ExpiresAt: lot.ExpiresAt.UTC(), CreatedAt: lot.CreatedAt.UTC(),
	}
	if err := s.db.WithContext(ctx).Create(&row).Error; err != nil {
		return translate(err, "add points lot")
	}
	lot.ID = row.ID
	return nil
}

func (s ledger) OpenLots(ctx context.Context, memberID int64) ([]*ritual.PointsLot, error) {
	var rows []pointsLotRow
	err := s.db.WithContext(ctx).Clauses(clause.Locking{Strength: "UPDATE"}).
		Where("member_id = ? AND remaining > 0", memberID).Order("expires_at, id").Find(&rows).Error
	if err != nil {
		return nil, translate(err, "find open points lots")
	}
	lots := make([]*ritual.PointsLot, len(rows))
	for i, r := range rows {
		lots[i] = &ritual.PointsLot{
			ID: r.ID, MerchantID: r.MerchantID, MemberID: r.MemberID, EntryID: r.EntryID, Source: r.Source,
			Reference: r.Reference, Amount: r.Amount, Remaining: r.Remaining,
			ExpiresAt: r.ExpiresAt.UTC(), CreatedAt: r.CreatedAt.UTC(),
		}
	}
	return lots, nil
}

func (s ledger) UpdateLot(ctx context.Context, lot *ritual.PointsLot) error {
	err := s.db.WithContext(ctx).Model(&pointsLotRow{}).Where("id = ?", lot.ID).Update("remaining", lot.Remaining).Error
	return translate(err, "update points lot")
}

func (s ledger) Entries(ctx context.Context, memberID, before int64, limit int) ([]*ritual.PointsEntry, error) {
	q := s.db.WithContext(ctx).Where("member_id = ?", memberID)
	if before > 0 {
		q = q.Where("id < ?", before)
	}
	var rows []pointsEntryRow
	if err := q.Order("id DESC").Limit(limit).Find(&rows).Error; err != nil {
		return nil, translate(err, "list ledger entries")
	}
	out := make([]*ritual.PointsEntry, len(rows))
	for i, r := range rows {
		out[i] = toEntry(r)
	}
	return out, nil
}

// Imbalances reads every member's balance and ledger row by row and sums in
// Go, exactly: a sum in SQL fails as a whole on one bad row (SQLite stops
// at integer overflow; MySQL's exact sum does not fit int64), and the
// check must name the member instead. A value or date that cannot be read
// is reported against its member the same way.
func (s ledger) Imbalances(ctx context.Context) ([]ritual.Imbalance, error) {
	_, bad, err := s.audit(ctx)
	return bad, err
}

// AuditLedgers is Imbalances that also says how many members it checked,
// for `wxclub check` to report.
func (db *DB) AuditLedgers(ctx context.Context) (checked int, bad []ritual.Imbalance, err error) {
	return ledger{db.gorm}.audit(ctx)
}

func (s ledger) audit(ctx context.Context) (int, []ritual.Imbalance, error) {
	rows, err := s.db.WithContext(ctx).Raw(`
		SELECT m.id, m.merchant_id, m.openid, CAST(m.points AS CHAR), e.id, e.delta, e.expires_at, e.created_at
		FROM members m LEFT JOIN points_entries e ON e.member_id = m.id
		ORDER BY m.id, e.id`).Rows()
	if err != nil {
		return 0, nil, translate(err, "check ledger balances")
	}
	defer rows.Close()
	var (
		out     []ritual.Imbalance
		cur     *memberAudit
		checked int
	)
	for rows.Next() {
		var r auditRow
		// A scan error leaves the columns before the bad one filled in:
		// the member's id and the entry's come first.
		err := rows.Scan(&r.memberID, &r.merchantID, &r.openID, &r.points, &r.entryID, &r.delta, &r.expiresAt, &r.createdAt)
		if cur == nil || cur.MemberID != r.memberID {
			out = cur.report(out)
			cur = newMemberAudit(r)
			checked++
		}
		cur.take(r, err)
	}
	out = cur.report(out)
	return checked, out, translate(rows.Err(), "check ledger balances")
}

// auditRow is one member's balance beside one of their ledger entries.
type auditRow struct {
	memberID   int64
	merchantID string
	openID     sql.NullString
	points     string // as text: SQLite keeps whatever was written
	entryID    sql.NullInt64
	delta      sql.NullInt64
	// The entry's times are read only to prove that they can be: a date
	// past what the database reads back breaks every page of the ledger.
	expiresAt sql.NullTime
	createdAt sql.NullTime
}

// memberAudit sums one member's ledger while their rows stream by.
type memberAudit struct {
	ritual.Imbalance
	sum, term big.Int
}

func newMemberAudit(r auditRow) *memberAudit {
	a := &memberAudit{Imbalance: ritual.Imbalance{MerchantID: r.merchantID, MemberID: r.memberID, OpenID: r.openID.String}}
	balance, err := strconv.ParseInt(r.points, 10, 64)
	if err != nil {
		a.unreadable(fmt.Sprintf("balance %q is not a whole number of points", r.points))
	}
	a.Balance = balance
	return a
}

// take adds one ledger entry, or notes that it cannot be read.
func (a *memberAudit) take(r auditRow, scanErr error) {
	switch {
	case scanErr != nil && r.entryID.Valid:
		a.unreadable(fmt.Sprintf("ledger entry %d: %v", r.entryID.Int64, scanErr))
	case scanErr != nil:
		a.unreadable(scanErr.Error())
	case r.delta.Valid:
		a.sum.Add(&a.sum, a.term.SetInt64(r.delta.Int64))
	}
}

// unreadable records the first of the member's rows that cannot be read.
func (a *memberAudit) unreadable(why string) {
	if a.Unreadable == "" {
		a.Unreadable = why
	}
}

// report appends the member to out if anything about them is wrong.
func (a *memberAudit) report(out []ritual.Imbalance) []ritual.Imbalance {
	if a == nil {
		return out
	}
	a.LedgerSum = a.sum.String()
	if a.Unreadable != "" || a.LedgerSum != strconv.FormatInt(a.Balance, 10) {
		out = append(out, a.Imbalance)
	}
	return out
}

func toEntry(r pointsEntryRow) *ritual.PointsEntry {
	return &ritual.PointsEntry{
		ID: r.ID, MerchantID: r.MerchantID, MemberID: r.MemberID, Delta: r.Delta, BalanceAfter: r.BalanceAfter,
		Shortfall: r.Shortfall, Reason: string(r.Reason), Source: r.Source, Reference: r.Reference,
		ExpiresAt: utcPtr(r.ExpiresAt), CreatedAt: r.CreatedAt.UTC(),
	}
}

func (s ledger) ByReference(ctx context.Context, merchantID, source, reference string) (*ritual.PointsEntry, error) {
	var row pointsEntryRow
	err := s.db.WithContext(ctx).Take(&row, "merchant_id = ? AND source = ? AND reference = ?", merchantID, source, reference).Error
	if err != nil {
		return nil, translate(err, "find ledger entry")
	}
	return toEntry(row), nil
}

func (s ledger) CountSince(ctx context.Context, memberID int64, source string, since time.Time) (int, error) {
	var n int64
	err := s.db.WithContext(ctx).Model(&pointsEntryRow{}).
		Where("member_id = ? AND source = ? AND created_at >= ?", memberID, source, since.UTC()).Count(&n).Error
	return int(n), translate(err, "count ledger entries")
}

func (s ledger) Board(ctx context.Context, merchantID, counted string, sources []string, from, to time.Time, limit int) ([]ritual.BoardRow, error) {
	var rows []struct {
		MemberID int64
		OpenID   *string
		N        int
		Points   int64
	}
	err := s.db.WithContext(ctx).Table("points_entries AS e").
		Select("e.member_id, m.openid AS open_id, SUM(CASE WHEN e.source = ? THEN 1 ELSE -1 END) AS n, SUM(e.delta) AS points", counted).
		Joins("JOIN members m ON m.id = e.member_id").
		Where("e.merchant_id = ? AND e.source IN ? AND e.created_at >= ? AND e.created_at < ?", merchantID, sources, from.UTC(), to.UTC()).
		Group("e.member_id, m.openid").Having("SUM(CASE WHEN e.source = ? THEN 1 ELSE -1 END) > 0", counted).
		Order("n DESC, points DESC, e.member_id").Limit(limit).Scan(&rows).Error
	out := make([]ritual.BoardRow, len(rows))
	for i, r := range rows {
		out[i] = ritual.BoardRow{MemberID: r.MemberID, OpenID: deref(r.OpenID), Count: r.N, Points: r.Points}
	}
	return out, translate(err, "rank members")
}

func (s ledger) DueMembers(ctx context.Context, merchantID string, t time.Time, limit int) ([]int64, error) {
	var ids []int64
	err := s.db.WithContext(ctx).Model(&pointsLotRow{}).Distinct("member_id").
		Where("merchant_id = ? AND remaining > 0 AND expires_at <= ?", merchantID, t.UTC()).
		Order("member_id").Limit(limit).Pluck("member_id", &ids).Error
	return ids, translate(err, "find members with points due to expire")
}

func (s ledger) Expiring(ctx context.Context, merchantID string, t time.Time, limit int) ([]*ritual.PointsLot, error) {
	var rows []pointsLotRow
	err := s.db.WithContext(ctx).
		Where("merchant_id = ? AND remaining > 0 AND announced_at IS NULL AND expires_at < ?", merchantID, t.UTC()).
		Order("expires_at, id").Limit(limit).Find(&rows).Error
	lots := make([]*ritual.PointsLot, len(rows))
	for i, r := range rows {
		lots[i] = &ritual.PointsLot{ID: r.ID, MerchantID: r.MerchantID, MemberID: r.MemberID, EntryID: r.EntryID,
			Source: r.Source, Reference: r.Reference, Amount: r.Amount, Remaining: r.Remaining,
			ExpiresAt: r.ExpiresAt.UTC(), CreatedAt: r.CreatedAt.UTC()}
	}
	return lots, translate(err, "find points expiring")
}

func (s ledger) MarkAnnounced(ctx context.Context, lotID int64, at time.Time) error {
	err := s.db.WithContext(ctx).Model(&pointsLotRow{}).Where("id = ?", lotID).Update("announced_at", at.UTC()).Error
	return translate(err, "mark expiry announced")
}

func (s ledger) TopEarners(ctx context.Context, merchantID string, from, to time.Time, limit int) ([]ritual.GroupBoardRow, error) {
	var rows []struct {
		MemberID int64
		Points   int64
	}
	err := s.db.WithContext(ctx).Table("points_entries").Select("member_id, SUM(delta) AS points").
		Where("merchant_id = ? AND delta > 0 AND source <> ? AND created_at >= ? AND created_at < ?", merchantID, ritual.SourceLeaderboard, from.UTC(), to.UTC()).
		Group("member_id").Order("points DESC, member_id").Limit(limit).Scan(&rows).Error
	out := make([]ritual.GroupBoardRow, len(rows))
	for i, r := range rows {
		out[i] = ritual.GroupBoardRow{MemberID: r.MemberID, Points: r.Points}
	}
	return out, translate(err, "rank the merchant")
}
