package models_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wxclub/wxclub/models"
	"github.com/wxclub/wxclub/models/modelstest"
	"github.com/wxclub/wxclub/ritual"
	"github.com/wxclub/wxclub/ritual/ritualtest"
)

// Console accounts keep the promises ritual.ConsoleAccounts states, on
// both databases.

func TestConsoleUsersAreUniquePerMerchant(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		a, b := ritualtest.RandomID("m"), ritualtest.RandomID("m")
		u := &ritual.ConsoleUser{MerchantID: a, Username: "boss", PasswordHash: "$2a$10$hash", Role: ritual.RoleOwner, CreatedAt: clock.Now()}
		if err := db.Accounts().CreateUser(ctx, u); err != nil || u.ID == 0 {
			t.Fatalf("create: id %d, %v", u.ID, err)
		}
		again := *u
		if err := db.Accounts().CreateUser(ctx, &again); ritual.ErrorCode(err) != ritual.ECONFLICT {
			t.Fatalf("the same name twice: %v, want conflict", err)
		}
		if err := db.Accounts().CreateUser(ctx, &ritual.ConsoleUser{MerchantID: b, Username: "boss", PasswordHash: "x", Role: ritual.RoleOperator, CreatedAt: clock.Now()}); err != nil {
			t.Fatalf("the same name at another merchant: %v", err)
		}
		got, err := db.Accounts().User(ctx, a, "boss")
		if err != nil || got.ID != u.ID || got.Role != ritual.RoleOwner || got.PasswordHash != u.PasswordHash {
			t.Fatalf("User = %+v, %v", got, err)
		}
		if byID, err := db.Accounts().UserByID(ctx, u.ID); err != nil || byID.MerchantID != a {
			t.Fatalf("UserByID = %+v, %v", byID, err)
		}
		if _, err := db.Accounts().User(ctx, a, "nobody"); ritual.ErrorCode(err) != ritual.ENOTFOUND {
			t.Fatalf("unknown user: %v", err)
		}
	})
}

func TestConsoleSessionsStoreTouchAndPrune(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		store := db.Accounts()
		now := clock.Now()
		merchant := ritualtest.RandomID("m")
		fresh := &ritual.ConsoleSession{ID: ritualtest.RandomID("fresh"), MerchantID: merchant, UserID: 7, CSRFToken: "csrf-1", CreatedAt: now, LastSeenAt: now}
		idle := &ritual.ConsoleSession{ID: ritualtest.RandomID("idle"), MerchantID: merchant, UserID: 7, CSRFToken: "csrf-2", CreatedAt: now.Add(-time.Hour), LastSeenAt: now.Add(-time.Hour)}
		old := &ritual.ConsoleSession{ID: ritualtest.RandomID("old"), MerchantID: merchant, UserID: 7, CSRFToken: "csrf-3", CreatedAt: now.Add(-13 * time.Hour), LastSeenAt: now}
		for _, s := range []*ritual.ConsoleSession{fresh, idle, old} {
			if err := store.CreateSession(ctx, s); err != nil {
				t.Fatal(err)
			}
		}
		got, err := store.Session(ctx, fresh.ID)
		if err != nil || got.MerchantID != merchant || got.UserID != 7 || got.CSRFToken != "csrf-1" || !got.CreatedAt.Equal(now) {
			t.Fatalf("Session = %+v, %v", got, err)
		}
		later := now.Add(5 * time.Minute)
		if err := store.TouchSession(ctx, fresh.ID, later); err != nil {
			t.Fatal(err)
		}
		if got, _ := store.Session(ctx, fresh.ID); !got.LastSeenAt.Equal(later) {
			t.Fatalf("last seen %s after a touch at %s", got.LastSeenAt, later)
		}
		n, err := store.DeleteExpiredSessions(ctx, now.Add(-30*time.Minute), now.Add(-12*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if n < 2 {
			t.Fatalf("pruned %d sessions, want the idle and the old one at least", n)
		}
		for _, gone := range []string{idle.ID, old.ID} {
			if _, err := store.Session(ctx, gone); ritual.ErrorCode(err) != ritual.ENOTFOUND {
				t.Errorf("expired session %s is still there: %v", gone, err)
			}
		}
		if _, err := store.Session(ctx, fresh.ID); err != nil {
			t.Fatalf("the live session was pruned: %v", err)
		}
		if err := store.DeleteSession(ctx, fresh.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := store.Session(ctx, fresh.ID); ritual.ErrorCode(err) != ritual.ENOTFOUND {
			t.Fatalf("deleted session: %v", err)
		}
	})
}

// Reserve grants at most the limit however many callers race for it,
// and Release gives one back within the same window only.
func TestRateLimitReserveHoldsUnderConcurrency(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		key := ritualtest.RandomID("signin:")
		now := time.Date(2026, 11, 24, 2, 1, 0, 0, time.UTC)
		var granted atomic.Int32
		var wg sync.WaitGroup
		for range 30 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ok, err := db.Limits().Reserve(ctx, key, 5, 15*time.Minute, now)
				if err != nil {
					t.Error(err)
				}
				if ok {
					granted.Add(1)
				}
			}()
		}
		wg.Wait()
		if got := granted.Load(); got != 5 {
			t.Fatalf("30 concurrent reservations under a limit of 5 granted %d", got)
		}
		if err := db.Limits().Release(ctx, key, 15*time.Minute, now.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if ok, err := db.Limits().Reserve(ctx, key, 5, 15*time.Minute, now.Add(2*time.Minute)); err != nil || !ok {
			t.Fatalf("a place given back is not granted again: %v %v", ok, err)
		}
		if ok, _ := db.Limits().Reserve(ctx, key, 5, 15*time.Minute, now.Add(2*time.Minute)); ok {
			t.Fatal("a sixth place granted in the window")
		}
		if ok, err := db.Limits().Reserve(ctx, key, 5, 15*time.Minute, now.Add(15*time.Minute)); err != nil || !ok {
			t.Fatalf("the next window is not fresh: %v %v", ok, err)
		}
		// Releasing more than was reserved never banks places for later.
		other := ritualtest.RandomID("signin:")
		for range 3 {
			if err := db.Limits().Release(ctx, other, 15*time.Minute, now); err != nil {
				t.Fatal(err)
			}
		}
		n := 0
		for range 8 {
			if ok, _ := db.Limits().Reserve(ctx, other, 5, 15*time.Minute, now); ok {
				n++
			}
		}
		if n != 5 {
			t.Fatalf("after releases of nothing, %d places granted under a limit of 5", n)
		}
	})
}
