package models

import (
	"context"
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

func (s ledger) Imbalances(ctx context.Context) ([]ritual.Imbalance, error) {
	var rows []struct {
		MerchantID string
		MemberID   int64
		OpenID     *string
		Balance    int64
		LedgerSum  int64
	}
	err := s.db.WithContext(ctx).Raw(`
		SELECT m.merchant_id, m.id AS member_id, m.openid AS open_id, m.points AS balance, COALESCE(SUM(e.delta), 0) AS ledger_sum
		FROM members m LEFT JOIN points_entries e ON e.member_id = m.id
		GROUP BY m.merchant_id, m.id, m.openid, m.points
		HAVING m.points <> COALESCE(SUM(e.delta), 0)
		ORDER BY m.merchant_id, m.id`).Scan(&rows).Error
	if err != nil {
		return nil, translate(err, "check ledger balances")
	}
	out := make([]ritual.Imbalance, len(rows))
	for i, r := range rows {
		out[i] = ritual.Imbalance{MerchantID: r.MerchantID, MemberID: r.MemberID, OpenID: deref(r.OpenID), Balance: r.Balance, LedgerSum: r.LedgerSum}
	}
	return out, nil
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
