package models_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/wxclub/wxclub/models"
	"github.com/wxclub/wxclub/models/modelstest"
	"github.com/wxclub/wxclub/ritual"
	"github.com/wxclub/wxclub/ritual/ritualtest"
)

// A database whose members table predates test shoppers gains the column
// on the next start, and every member already there is a real one: the
// phone preview can play none of them.
func TestMigrateMarksExistingMembersReal(t *testing.T) {
	clock := &ritualtest.Clock{}
	for _, driver := range modelstest.Drivers() {
		t.Run(driver, func(t *testing.T) {
			ctx := context.Background()
			cfg := models.Config{Driver: driver, Clock: clock.Now}
			dropIndex := "DROP INDEX ix_members_test_shopper"
			if driver == models.DriverSQLite {
				cfg.DSN = filepath.Join(t.TempDir(), "wxclub.db")
			} else {
				cfg.DSN = modelstest.FreshMySQLDSN(t) // its own: the table is altered
				dropIndex += " ON members"
			}
			db, err := models.Open(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			// The table as it was before test shoppers, with a member in it.
			for _, stmt := range []string{dropIndex, "ALTER TABLE members DROP COLUMN test_shopper"} {
				if err := db.Exec(ctx, stmt); err != nil {
					t.Fatalf("%s: %v", stmt, err)
				}
			}
			now := time.Date(2026, 11, 24, 2, 0, 0, 0, time.UTC)
			if err := db.Exec(ctx, "INSERT INTO members (merchant_id, openid, state, points, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
				"m1", "oOldMember000001", "following", 1000, now, now); err != nil {
				t.Fatal(err)
			}

			if err := db.Migrate(ctx); err != nil {
				t.Fatalf("migrating the old table: %v", err)
			}
			old, err := db.Members().ByOpenID(ctx, "m1", "oOldMember000001")
			if err != nil || old.TestShopper || old.Points != 1000 {
				t.Fatalf("the member from before: %+v %v, want a real member with 1000 points", old, err)
			}
			if _, err := db.Members().CreateTestShopper(ctx, "m1", "oPreview000001", now); err != nil {
				t.Fatal(err)
			}
			if _, err := db.Members().CreateTestShopper(ctx, "m1", "oOldMember000001", now); ritual.ErrorCode(err) != ritual.ECONFLICT {
				t.Fatalf("making a real member's openid a test shopper: %v, want conflict", err)
			}
			if got, err := db.Members().TestShoppers(ctx, "m1", 20); err != nil || len(got) != 1 || got[0] != "oPreview000001" {
				t.Fatalf("test shoppers = %q %v, want only the one made", got, err)
			}
			// Saving the member, as every change does, never flips the mark.
			tester, _ := db.Members().ByOpenID(ctx, "m1", "oPreview000001")
			old.TestShopper, tester.TestShopper = true, false
			for _, m := range []*ritual.Member{old, tester} {
				if err := db.Members().Update(ctx, m); err != nil {
					t.Fatal(err)
				}
			}
			if got, _ := db.Members().ByOpenID(ctx, "m1", "oOldMember000001"); got.TestShopper {
				t.Fatal("Update made a real member a test shopper")
			}
			if got, _ := db.Members().ByOpenID(ctx, "m1", "oPreview000001"); !got.TestShopper {
				t.Fatal("Update made a test shopper real")
			}
		})
	}
}
