package models

import (
	"context"

	"gorm.io/gorm"

	"github.com/wxclub/wxclub/ritual"
)

// glanceRow is a member row and whether a ceremony of theirs is open.
type glanceRow struct {
	Member       memberRow `gorm:"embedded"` // named: gorm skips an unexported embedded type
	CeremonyOpen bool
}

// Glance reads the member and the open-ceremony flag in one statement.
// Inside a transaction on MySQL it locks the member row (not the
// ceremonies: a locking read does not lock what its subquery reads), as
// every read of a member in a transaction does; SQLite's one connection
// serializes transactions already.
func (s members) Glance(ctx context.Context, merchantID, openid string) (*ritual.Member, bool, error) {
	query := `SELECT m.*, EXISTS (SELECT 1 FROM ceremonies c WHERE c.member_id = m.id AND c.status = ?) AS ceremony_open
		FROM members m WHERE m.merchant_id = ? AND m.openid = ? LIMIT 1`
	if _, inTx := s.db.Statement.ConnPool.(gorm.TxCommitter); inTx && s.db.Dialector.Name() == DriverMySQL {
		query += " FOR UPDATE"
	}
	var row glanceRow
	res := s.db.WithContext(ctx).Raw(query, ritual.CeremonyOpen, merchantID, openid).Scan(&row)
	if res.Error != nil {
		return nil, false, translate(res.Error, "glance at member")
	}
	if res.RowsAffected == 0 {
		return nil, false, translate(gorm.ErrRecordNotFound, "glance at member")
	}
	return row.Member.toMember(), row.CeremonyOpen, nil
}
