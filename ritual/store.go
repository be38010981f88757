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
}

// Merchants stores merchants and their settings.
type Merchants interface {
	// ByID returns ENOTFOUND if there is no such merchant.
	ByID(ctx context.Context, id string) (*Merchant, error)
	// ByAPIKeyHash returns ENOTFOUND if no merchant has that key.
	ByAPIKeyHash(ctx context.Context, hash string) (*Merchant, error)
	// Create returns ECONFLICT if the id or API key is taken.
	Create(ctx context.Context, m *Merchant) error
	List(ctx context.Context) ([]*Merchant, error)
}

// Members stores members.
type Members interface {
	// ByOpenID returns ENOTFOUND if the merchant has no member with openid.
	ByOpenID(ctx context.Context, merchantID, openid string) (*Member, error)
	// EnsureByOpenID returns the member with openid, creating it in state
	// following (FollowedAt still unset: the caller records the follow) if
	// there is none; created tells which. Inside a transaction
	// the row stays locked until commit, so concurrent changes to one member
	// queue up instead of overwriting each other.
	EnsureByOpenID(ctx context.Context, merchantID, openid string, now time.Time) (m *Member, created bool, err error)
	// Update saves every field of m.
	Update(ctx context.Context, m *Member) error
}

// InboundLog remembers every message and event received, so a delivery
// WeChat repeats gets the first reply and no second effect.
type InboundLog interface {
	// Claim records the delivery with key. It returns false if the key was
	// claimed before. A concurrent claim of the same key waits until the
	// first transaction ends and then returns false (if it committed).
	Claim(ctx context.Context, merchantID, key string, at time.Time) (bool, error)
	// SaveReply stores the reply given to the claimed delivery.
	SaveReply(ctx context.Context, merchantID, key, reply string) error
	// Reply returns the reply stored for key; ENOTFOUND if none.
	Reply(ctx context.Context, merchantID, key string) (string, error)
	// Prune deletes up to limit records received before t and returns how
	// many it deleted.
	Prune(ctx context.Context, before time.Time, limit int) (int64, error)
}
