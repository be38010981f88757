package models_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wxclub/wxclub/models"
	"github.com/wxclub/wxclub/models/modelstest"
	"github.com/wxclub/wxclub/ritual/ritualtest"
)

// The database KeyValue is what replicas share the WeChat access token and
// its fetch lock through when there is no Redis: its promises are the ones
// ritual.KeyValue states, on both databases.

func TestKeyValueGetAfterSet(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		kv := db.KeyValue()
		key := ritualtest.RandomID("token-")
		if v, ok, err := kv.Get(ctx, key); err != nil || ok {
			t.Fatalf("Get of a missing key = %q, %v, %v; want nothing", v, ok, err)
		}
		// As long as WeChat's tokens, which are 130-odd characters.
		token := "86_" + strings.Repeat("x", 150)
		if err := kv.Set(ctx, key, "old", time.Hour); err != nil {
			t.Fatal(err)
		}
		if err := kv.Set(ctx, key, token, time.Hour); err != nil {
			t.Fatal(err)
		}
		if v, ok, err := kv.Get(ctx, key); err != nil || !ok || v != token {
			t.Errorf("Get = %.12q, %v, %v; want the value set last", v, ok, err)
		}
		if _, ok, _ := kv.Get(ctx, key+"-other"); ok {
			t.Error("another key sees the value")
		}
	})
}

func TestKeyValueExpiry(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		kv := db.KeyValue()
		key := ritualtest.RandomID("token-")
		if err := kv.Set(ctx, key, "v", time.Minute); err != nil {
			t.Fatal(err)
		}
		clock.Advance(59 * time.Second)
		if _, ok, _ := kv.Get(ctx, key); !ok {
			t.Fatal("value gone before its ttl")
		}
		clock.Advance(time.Second)
		if v, ok, err := kv.Get(ctx, key); err != nil || ok {
			t.Errorf("Get at the ttl = %q, %v, %v; want nothing", v, ok, err)
		}
	})
}

func TestKeyValueSetIfAbsent(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		kv := db.KeyValue()

		t.Run("not over a live value", func(t *testing.T) {
			key := ritualtest.RandomID("lock-")
			if won, err := kv.SetIfAbsent(ctx, key, "first", time.Minute); err != nil || !won {
				t.Fatalf("SetIfAbsent on a missing key: %v, %v", won, err)
			}
			if won, err := kv.SetIfAbsent(ctx, key, "second", time.Minute); err != nil || won {
				t.Fatalf("SetIfAbsent over a live value: %v, %v", won, err)
			}
			if v, _, _ := kv.Get(ctx, key); v != "first" {
				t.Errorf("value %q, want first", v)
			}
		})
		t.Run("over an expired value", func(t *testing.T) {
			key := ritualtest.RandomID("lock-")
			if err := kv.Set(ctx, key, "dead replica", 15*time.Second); err != nil {
				t.Fatal(err)
			}
			clock.Advance(16 * time.Second)
			if won, err := kv.SetIfAbsent(ctx, key, "next", time.Minute); err != nil || !won {
				t.Fatalf("SetIfAbsent over an expired value: %v, %v", won, err)
			}
			if v, ok, _ := kv.Get(ctx, key); !ok || v != "next" {
				t.Errorf("Get = %q, %v; want next", v, ok)
			}
			// The new value has the new ttl, not the old row's.
			clock.Advance(30 * time.Second)
			if _, ok, _ := kv.Get(ctx, key); !ok {
				t.Error("the value taken over expired with the old ttl")
			}
		})
		for _, expired := range []bool{false, true} {
			name := "one winner among 20"
			if expired {
				name += " over an expired value"
			}
			t.Run(name, func(t *testing.T) {
				key := ritualtest.RandomID("lock-")
				if expired {
					if err := kv.Set(ctx, key, "dead replica", time.Second); err != nil {
						t.Fatal(err)
					}
					clock.Advance(2 * time.Second)
				}
				start := make(chan struct{})
				winners := make(chan string, 20)
				var wg sync.WaitGroup
				for i := range 20 {
					wg.Go(func() {
						<-start
						owner := fmt.Sprint("replica-", i)
						won, err := kv.SetIfAbsent(ctx, key, owner, time.Minute)
						if err != nil {
							t.Error(err)
						}
						if won {
							winners <- owner
						}
					})
				}
				close(start)
				wg.Wait()
				close(winners)
				var got []string
				for w := range winners {
					got = append(got, w)
				}
				if len(got) != 1 {
					t.Fatalf("%d winners, want exactly 1: %v", len(got), got)
				}
				if v, _, _ := kv.Get(ctx, key); v != got[0] {
					t.Errorf("value %q, want the winner's %q", v, got[0])
				}
			})
		}
	})
}

func TestKeyValueDeleteIf(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		kv := db.KeyValue()
		key := ritualtest.RandomID("lock-")
		if ok, err := kv.DeleteIf(ctx, key, "mine"); err != nil || ok {
			t.Fatalf("DeleteIf of a missing key: %v, %v", ok, err)
		}
		if err := kv.Set(ctx, key, "mine", time.Minute); err != nil {
			t.Fatal(err)
		}
		// Another replica's lock, taken over after ours expired, is not
		// ours to release.
		if ok, err := kv.DeleteIf(ctx, key, "theirs"); err != nil || ok {
			t.Fatalf("DeleteIf with another value: %v, %v", ok, err)
		}
		if v, ok, _ := kv.Get(ctx, key); !ok || v != "mine" {
			t.Fatalf("DeleteIf with another value deleted it: %q, %v", v, ok)
		}
		if ok, err := kv.DeleteIf(ctx, key, "mine"); err != nil || !ok {
			t.Fatalf("DeleteIf with the value: %v, %v", ok, err)
		}
		if _, ok, _ := kv.Get(ctx, key); ok {
			t.Error("value still there after DeleteIf reported a delete")
		}
		if won, err := kv.SetIfAbsent(ctx, key, "next", time.Minute); err != nil || !won {
			t.Errorf("SetIfAbsent after the delete: %v, %v", won, err)
		}
	})
}
