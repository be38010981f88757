package wechat

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wxclub/wxclub/ritual"
)

// deleteIfScript deletes KEYS[1] only if it holds ARGV[1], atomically: a
// GET then DEL from the client could delete a value another replica set in
// between (a lock that expired and was taken over, a freshly cached token).
const deleteIfScript = `if redis.call("GET", KEYS[1]) == ARGV[1] then
	return redis.call("DEL", KEYS[1])
end
return 0`

// RedisKV is a ritual.KeyValue in Redis, shared by every replica pointed at
// the same server. Expiry is Redis's own (PX), so replicas need no agreement
// on the time.
type RedisKV struct {
	client   redis.UniversalClient
	prefix   string
	deleteIf *redis.Script
}

var _ ritual.KeyValue = (*RedisKV)(nil)

// NewRedisKV returns a RedisKV whose keys all start with prefix (e.g.
// "wxclub:"), so wxclub can share a Redis with other programs, or with
// another wxclub deployment under another prefix.
func NewRedisKV(client redis.UniversalClient, prefix string) *RedisKV {
	return &RedisKV{client: client, prefix: prefix, deleteIf: redis.NewScript(deleteIfScript)}
}

func (kv *RedisKV) Get(ctx context.Context, key string) (string, bool, error) {
	v, err := kv.client.Get(ctx, kv.prefix+key).Result()
	if errors.Is(err, redis.Nil) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("wechat: redis get %s: %w", key, err)
	}
	return v, true, nil
}

func (kv *RedisKV) Set(ctx context.Context, key, value string, ttl time.Duration) error {
	if ttl <= 0 {
		return errNoTTL
	}
	if err := kv.client.Set(ctx, kv.prefix+key, value, ttl).Err(); err != nil {
		return fmt.Errorf("wechat: redis set %s: %w", key, err)
	}
	return nil
}

// SetIfAbsent is SET key value NX with PX (or EX for whole seconds): Redis
// decides the one winner, and the value expires on Redis's clock.
func (kv *RedisKV) SetIfAbsent(ctx context.Context, key, value string, ttl time.Duration) (bool, error) {
	if ttl <= 0 {
		return false, errNoTTL
	}
	stored, err := kv.client.SetNX(ctx, kv.prefix+key, value, ttl).Result()
	if err != nil {
		return false, fmt.Errorf("wechat: redis set %s if absent: %w", key, err)
	}
	return stored, nil
}

func (kv *RedisKV) DeleteIf(ctx context.Context, key, value string) (bool, error) {
	n, err := kv.deleteIf.Run(ctx, kv.client, []string{kv.prefix + key}, value).Int()
	if err != nil {
		return false, fmt.Errorf("wechat: redis delete %s if it holds a value: %w", key, err)
	}
	return n == 1, nil
}
