package ritual

import (
	"context"
	"time"
)

// KeyValue is state shared by every replica that is not a record of the
// business: the WeChat access token and the locks that serialise fetching
// it. It is Redis when configured, else the database (models).
type KeyValue interface {
	// Get returns the unexpired value under key.
	Get(ctx context.Context, key string) (value string, ok bool, err error)
	// Set stores value under key for ttl.
	Set(ctx context.Context, key, value string, ttl time.Duration) error
	// SetIfAbsent stores value under key for ttl unless an unexpired value
	// is there, and reports whether it stored it. It is the lock primitive.
	SetIfAbsent(ctx context.Context, key, value string, ttl time.Duration) (bool, error)
	// DeleteIf deletes key if it holds value, and reports whether it did.
	DeleteIf(ctx context.Context, key, value string) (bool, error)
}

// RateLimits counts attempts per key in fixed windows, in the database, so
// a limit holds across replicas.
type RateLimits interface {
	// Hit counts one attempt for key in the window containing now and
	// returns the count so far, this one included.
	Hit(ctx context.Context, key string, window time.Duration, now time.Time) (int, error)
	// Reserve counts one attempt for key in the window containing now
	// unless limit are counted there already, and reports whether it
	// counted it. The check and the count are one step: however many
	// callers race, on however many replicas, at most limit are granted.
	Reserve(ctx context.Context, key string, limit int, window time.Duration, now time.Time) (bool, error)
	// Release takes back one attempt Reserve counted for key in the window
	// containing now (the same now), for an attempt that turned out not to
	// be one the limit is about. It never takes the count below zero.
	Release(ctx context.Context, key string, window time.Duration, now time.Time) error
	// Bump counts n under key, whose name carries its own period (a China
	// date for a daily quota), and returns the count so far, n included.
	Bump(ctx context.Context, key string, n int) (int, error)
}

// QRCodes remembers the QR codes WeChat made for a merchant's scenes, so a
// card asked for twice gets the same code instead of spending WeChat's.
type QRCodes interface {
	// Find returns the code for (scene, permanent) still valid at now
	// (with a margin the caller adds), or ENOTFOUND.
	Find(ctx context.Context, merchantID, scene string, permanent bool, validAt time.Time) (*QRCode, error)
	Save(ctx context.Context, merchantID, scene string, permanent bool, qr QRCode, now time.Time) error
}

// overLimit counts one attempt under key in limits and reports whether it
// is past max in the window.
func overLimit(ctx context.Context, limits RateLimits, key string, window time.Duration, max int, now time.Time) (bool, error) {
	n, err := limits.Hit(ctx, key, window, now)
	return n > max, err
}
