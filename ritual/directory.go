package ritual

import (
	"context"
	"sync"
	"time"
)

// Directory finds merchants, by id for the webhooks and the console and by
// API key for the merchant API, through a short-lived cache.
type Directory struct {
	store Store
	clock Clock
	cache *merchantCache
}

// Now returns the club's current time.
func (d *Directory) Now() time.Time { return d.clock() }

// Ready reports whether the store answers.
func (d *Directory) Ready(ctx context.Context) error { return d.store.Ping(ctx) }

// Merchant returns the merchant with id; ENOTFOUND if there is none.
func (d *Directory) Merchant(ctx context.Context, id string) (*Merchant, error) {
	return d.cache.get("id:"+id, d.clock(), func() (*Merchant, error) {
		return d.store.Merchants().ByID(ctx, id)
	})
}

// MerchantByAPIKey returns the merchant whose API key is key; EUNAUTHORIZED
// if none.
func (d *Directory) MerchantByAPIKey(ctx context.Context, key string) (*Merchant, error) {
	hash := HashAPIKey(key)
	m, err := d.cache.get("key:"+hash, d.clock(), func() (*Merchant, error) {
		return d.store.Merchants().ByAPIKeyHash(ctx, hash)
	})
	if ErrorCode(err) == ENOTFOUND {
		return nil, Errorf(EUNAUTHORIZED, "the API key is not valid")
	}
	return m, err
}

// merchantCache keeps merchants for a few seconds, including the answer
// "no such merchant", so a webhook flood for an unknown id does not reach
// the database on every request.
type merchantCache struct {
	ttl     time.Duration
	mu      sync.Mutex
	entries map[string]cachedMerchant
}

type cachedMerchant struct {
	m       *Merchant
	err     error
	expires time.Time
}

// forget drops every cached entry of merchant id (its API key's too), so
// a change made here shows here at once.
func (mc *merchantCache) forget(id string) {
	mc.mu.Lock()
	defer mc.mu.Unlock()
	for key, e := range mc.entries {
		if key == "id:"+id || (e.m != nil && e.m.ID == id) {
			delete(mc.entries, key)
		}
	}
}

func (mc *merchantCache) get(key string, now time.Time, load func() (*Merchant, error)) (*Merchant, error) {
	mc.mu.Lock()
	e, ok := mc.entries[key]
	mc.mu.Unlock()
	if ok && now.Before(e.expires) {
		return e.m, e.err
	}
	m, err := load()
	if err != nil && ErrorCode(err) != ENOTFOUND {
		return nil, err // do not cache outages
	}
	mc.mu.Lock()
	mc.entries[key] = cachedMerchant{m: m, err: err, expires: now.Add(mc.ttl)}
	mc.mu.Unlock()
	return m, err
}

// SeedMerchant stores m with apiKey unless a merchant with its id exists:
// configuration seeds the database once, and the database is the truth
// afterwards. It reports whether m was created.
func (d *Directory) SeedMerchant(ctx context.Context, m *Merchant, apiKey string) (bool, error) {
	if err := m.Validate(); err != nil {
		return false, err
	}
	if len(apiKey) < 8 {
		return false, FieldErrorf("api_key", "must be at least 8 characters")
	}
	if _, err := d.store.Merchants().ByID(ctx, m.ID); err == nil {
		return false, nil
	} else if ErrorCode(err) != ENOTFOUND {
		return false, err
	}
	seeded := *m
	seeded.APIKeyHash = HashAPIKey(apiKey)
	seeded.CreatedAt, seeded.UpdatedAt = d.clock(), d.clock()
	if err := d.store.Merchants().Create(ctx, &seeded); err != nil {
		if ErrorCode(err) == ECONFLICT {
			return false, nil // another replica seeded it first
		}
		return false, err
	}
	return true, nil
}
