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
