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

// Glance reads the member and the open-ceremony flag in one statement and
// without a lock: a plain read sees the last committed row, and outside a
// transaction there is nothing a lock could keep consistent.
func (s members) Glance(ctx context.Context, merchantID, openid string) (*ritual.Member, bool, error) {
	var row glanceRow
	res := s.db.WithContext(ctx).Raw(`SELECT m.*, EXISTS (SELECT 1 FROM ceremonies c WHERE c.member_id = m.id AND c.status = ?) AS ceremony_open
		FROM members m WHERE m.merchant_id = ? AND m.openid = ? LIMIT 1`, ritual.CeremonyOpen, merchantID, openid).Scan(&row)
	if res.Error != nil {
		return nil, false, translate(res.Error, "glance at member")
	}
	if res.RowsAffected == 0 {
		return nil, false, translate(gorm.ErrRecordNotFound, "glance at member")
	}
	return row.Member.toMember(), row.CeremonyOpen, nil
}
