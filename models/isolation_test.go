package models_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/wxclub/wxclub/models"
	"github.com/wxclub/wxclub/models/modelstest"
	"github.com/wxclub/wxclub/ritual"
	"github.com/wxclub/wxclub/ritual/ritualtest"
)

// A transaction on MySQL reads what others committed after it began (READ
// COMMITTED): a delivery that finds its key claimed reads the reply the
// concurrent first copy stored, instead of the empty snapshot REPEATABLE
// READ (the server's default) would keep showing it.
func TestTransactionsReadWhatOthersCommitted(t *testing.T) {
	modelstest.ForEachDB(t, nil, func(t *testing.T, db *models.DB) {
		if db.Driver() != models.DriverMySQL {
			t.Skip("SQLite has one connection: no other transaction can commit meanwhile")
		}
		ctx := context.Background()
		merchant, key := ritualtest.RandomID("m"), ritualtest.RandomID("k")
		var seen string
		err := db.Atomic(ctx, func(tx ritual.Repos) error {
			if _, err := tx.Inbound().Reply(ctx, merchant, key); ritual.ErrorCode(err) != ritual.ENOTFOUND {
				return errors.New("a reply before anyone stored one")
			}
			if fresh, err := db.Inbound().Claim(ctx, merchant, key, "the first reply", time.Now()); err != nil || !fresh {
				t.Fatalf("claim from another connection: %v, %v", fresh, err)
			}
			var err error
			seen, err = tx.Inbound().Reply(ctx, merchant, key)
			return err
		})
		if err != nil || seen != "the first reply" {
			t.Fatalf("inside the transaction the reply committed meanwhile reads %q, %v; want it", seen, err)
		}
	})
}
