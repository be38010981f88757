package models_test

import (
	"context"
	"testing"

	"github.com/wxclub/wxclub/models"
	"github.com/wxclub/wxclub/models/modelstest"
	"github.com/wxclub/wxclub/ritual"
)

// The statement count is what the cost figures are read off: BEGIN and
// COMMIT count like any statement, and a read outside a transaction is one.
func TestStatementsCountEveryRoundTrip(t *testing.T) {
	modelstest.ForEachDB(t, nil, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		before := db.Statements()
		if _, err := db.Members().ByID(ctx, 424242); err == nil {
			t.Fatal("found a member that does not exist")
		}
		if got := db.Statements() - before; got != 1 {
			t.Errorf("one read sent %d statements, want 1", got)
		}
		before = db.Statements()
		if err := db.Atomic(ctx, func(tx ritual.Repos) error {
			_, err := tx.Members().ByID(ctx, 424242)
			_ = err
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		// BEGIN, SELECT, COMMIT; on MySQL too: the isolation level is the
		// session's, so no SET TRANSACTION goes before BEGIN.
		want := uint64(3)
		if got := db.Statements() - before; got != want {
			t.Errorf("a transaction with one read sent %d statements, want %d", got, want)
		}
	})
}
