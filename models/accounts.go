package models

import (
	"context"
	"time"

	"gorm.io/gorm"

	"github.com/wxclub/wxclub/ritual"
)

// consoleUserRow is a merchant's web-console account; the password is a
// bcrypt hash.
type consoleUserRow struct {
	ID           int64     `gorm:"primaryKey;autoIncrement"`
	MerchantID   string    `gorm:"size:64;not null;uniqueIndex:ux_console_users,priority:1"`
	Username     string    `gorm:"size:64;not null;uniqueIndex:ux_console_users,priority:2"`
	PasswordHash string    `gorm:"size:100;not null"`
	Role         string    `gorm:"size:16;not null"`
	CreatedAt    time.Time `gorm:"precision:3;not null"`
}

func (consoleUserRow) TableName() string { return "console_users" }

// consoleSessionRow is a signed-in console user. ID is the SHA-256 of the
// cookie's token, never the token.
type consoleSessionRow struct {
	ID         string    `gorm:"primaryKey;size:64"`
	MerchantID string    `gorm:"size:64;not null;index"`
	UserID     int64     `gorm:"not null;index"`
	CSRFToken  string    `gorm:"column:csrf_token;size:64;not null"`
	CreatedAt  time.Time `gorm:"precision:3;not null;index"`
	LastSeenAt time.Time `gorm:"precision:3;not null;index"`
}

func (consoleSessionRow) TableName() string { return "console_sessions" }

func (r repos) Accounts() ritual.ConsoleAccounts { return consoleAccounts{r.db} }

type consoleAccounts struct{ db *gorm.DB }

func (s consoleAccounts) CreateUser(ctx context.Context, u *ritual.ConsoleUser) error {
	row := consoleUserRow{MerchantID: u.MerchantID, Username: u.Username, PasswordHash: u.PasswordHash, Role: u.Role, CreatedAt: u.CreatedAt.UTC()}
	if err := s.db.WithContext(ctx).Create(&row).Error; err != nil {
		return translate(err, "create console user "+u.Username)
	}
	u.ID = row.ID
	return nil
}

func (s consoleAccounts) user(ctx context.Context, what string, query string, args ...any) (*ritual.ConsoleUser, error) {
	var row consoleUserRow
	if err := s.db.WithContext(ctx).Where(query, args...).Take(&row).Error; err != nil {
		return nil, translate(err, what)
	}
	return &ritual.ConsoleUser{
		ID: row.ID, MerchantID: row.MerchantID, Username: row.Username, PasswordHash: row.PasswordHash,
		Role: row.Role, CreatedAt: row.CreatedAt.UTC(),
	}, nil
}

func (s consoleAccounts) User(ctx context.Context, merchantID, username string) (*ritual.ConsoleUser, error) {
	return s.user(ctx, "find console user", "merchant_id = ? AND username = ?", merchantID, username)
}

func (s consoleAccounts) UserByID(ctx context.Context, id int64) (*ritual.ConsoleUser, error) {
	return s.user(ctx, "find console user", "id = ?", id)
}

func (s consoleAccounts) CreateSession(ctx context.Context, cs *ritual.ConsoleSession) error {
	row := consoleSessionRow{
		ID: cs.ID, MerchantID: cs.MerchantID, UserID: cs.UserID, CSRFToken: cs.CSRFToken,
		CreatedAt: cs.CreatedAt.UTC(), LastSeenAt: cs.LastSeenAt.UTC(),
	}
	return translate(s.db.WithContext(ctx).Create(&row).Error, "create console session")
}

func (s consoleAccounts) Session(ctx context.Context, id string) (*ritual.ConsoleSession, error) {
	var row consoleSessionRow
	if err := s.db.WithContext(ctx).Take(&row, "id = ?", id).Error; err != nil {
		return nil, translate(err, "find console session")
	}
	return &ritual.ConsoleSession{
		ID: row.ID, MerchantID: row.MerchantID, UserID: row.UserID, CSRFToken: row.CSRFToken,
		CreatedAt: row.CreatedAt.UTC(), LastSeenAt: row.LastSeenAt.UTC(),
	}, nil
}

func (s consoleAccounts) TouchSession(ctx context.Context, id string, at time.Time) error {
	err := s.db.WithContext(ctx).Model(&consoleSessionRow{}).Where("id = ?", id).Update("last_seen_at", at.UTC()).Error
	return translate(err, "touch console session")
}

func (s consoleAccounts) DeleteSession(ctx context.Context, id string) error {
	return translate(s.db.WithContext(ctx).Delete(&consoleSessionRow{}, "id = ?", id).Error, "delete console session")
}

func (s consoleAccounts) DeleteExpiredSessions(ctx context.Context, idleBefore, createdBefore time.Time) (int64, error) {
	res := s.db.WithContext(ctx).Where("last_seen_at < ? OR created_at < ?", idleBefore.UTC(), createdBefore.UTC()).Delete(&consoleSessionRow{})
	return res.RowsAffected, translate(res.Error, "delete expired console sessions")
}
