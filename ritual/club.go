package ritual

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/wxclub/wxclub/templates"
)

// Club is the membership service of every merchant on this deployment. It
// holds no state of its own beyond a short-lived merchant cache: everything
// that matters is in the Store, so any number of replicas can run it.
type Club struct {
	store     Store
	clock     Clock
	texts     *templates.Set
	log       *slog.Logger
	observer  Observer
	wechat    CardMessenger
	publicURL string

	merchants *merchantCache
}

// ClubOptions configures a Club; zero values pick sensible defaults.
type ClubOptions struct {
	Clock  Clock
	Texts  *templates.Set
	Logger *slog.Logger
	// MerchantTTL is how long a merchant's settings are cached; a change
	// made on another replica shows here within this time.
	MerchantTTL time.Duration
	// Observer is told what happened, for metrics.
	Observer Observer
	// WeChat makes QR codes for cards and invitations on request.
	WeChat CardMessenger
	// PublicURL is where shoppers reach this service (links in chat).
	PublicURL string
}

// NewClub returns a Club on store.
func NewClub(store Store, opts ClubOptions) *Club {
	if opts.Clock == nil {
		opts.Clock = SystemClock
	}
	if opts.Texts == nil {
		opts.Texts = templates.Default()
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MerchantTTL == 0 {
		opts.MerchantTTL = 10 * time.Second
	}
	if opts.Observer == nil {
		opts.Observer = nopObserver{}
	}
	return &Club{
		store:     store,
		clock:     opts.Clock,
		texts:     opts.Texts,
		log:       opts.Logger,
		observer:  opts.Observer,
		wechat:    opts.WeChat,
		publicURL: strings.TrimRight(opts.PublicURL, "/"),
		merchants: &merchantCache{ttl: opts.MerchantTTL, entries: map[string]cachedMerchant{}},
	}
}

// Now returns the club's current time.
func (c *Club) Now() time.Time { return c.clock() }

// Ready reports whether the store answers.
func (c *Club) Ready(ctx context.Context) error { return c.store.Ping(ctx) }

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

// Merchant returns the merchant with id; ENOTFOUND if there is none.
func (c *Club) Merchant(ctx context.Context, id string) (*Merchant, error) {
	return c.merchants.get("id:"+id, c.clock(), func() (*Merchant, error) {
		return c.store.Merchants().ByID(ctx, id)
	})
}

// MerchantByAPIKey returns the merchant whose API key is key; EUNAUTHORIZED
// if none.
func (c *Club) MerchantByAPIKey(ctx context.Context, key string) (*Merchant, error) {
	hash := HashAPIKey(key)
	m, err := c.merchants.get("key:"+hash, c.clock(), func() (*Merchant, error) {
		return c.store.Merchants().ByAPIKeyHash(ctx, hash)
	})
	if ErrorCode(err) == ENOTFOUND {
		return nil, Errorf(EUNAUTHORIZED, "the API key is not valid")
	}
	return m, err
}

// SeedMerchant stores m with apiKey unless a merchant with its id exists:
// configuration seeds the database once, and the database is the truth
// afterwards. It reports whether m was created.
func (c *Club) SeedMerchant(ctx context.Context, m *Merchant, apiKey string) (bool, error) {
	if err := m.Validate(); err != nil {
		return false, err
	}
	if len(apiKey) < 8 {
		return false, FieldErrorf("api_key", "must be at least 8 characters")
	}
	if _, err := c.store.Merchants().ByID(ctx, m.ID); err == nil {
		return false, nil
	} else if ErrorCode(err) != ENOTFOUND {
		return false, err
	}
	seeded := *m
	seeded.APIKeyHash = HashAPIKey(apiKey)
	seeded.CreatedAt, seeded.UpdatedAt = c.clock(), c.clock()
	if err := c.store.Merchants().Create(ctx, &seeded); err != nil {
		if ErrorCode(err) == ECONFLICT {
			return false, nil // another replica seeded it first
		}
		return false, err
	}
	return true, nil
}
