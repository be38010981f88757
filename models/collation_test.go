package models_test

import (
	"context"
	"strings"
	"testing"

	"github.com/wxclub/wxclub/models"
	"github.com/wxclub/wxclub/models/modelstest"
	"github.com/wxclub/wxclub/ritual"
	"github.com/wxclub/wxclub/ritual/ritualtest"
)

// freeTextColumns are the only text columns that compare by Unicode rules
// on MySQL; no query looks a row up by one of them.
var freeTextColumns = map[string]bool{
	"merchants.name": true, "chat_groups.name": true, "group_senders.nickname": true,
	"points_entries.reason": true, "send_pauses.reason": true,
}

// checkCollations fails t unless every text column of db's tables is
// byte-exact (binary, NO PAD), free text excepted.
func checkCollations(t *testing.T, db *models.DB) {
	t.Helper()
	ctx := context.Background()
	var version string
	if err := db.SQL().QueryRowContext(ctx, "SELECT VERSION()").Scan(&version); err != nil {
		t.Fatal(err)
	}
	exact := "utf8mb4_0900_bin"
	if strings.Contains(version, "MariaDB") {
		exact = "utf8mb4_nopad_bin"
	}
	rows, err := db.SQL().QueryContext(ctx, `SELECT TABLE_NAME, COLUMN_NAME, COLLATION_NAME FROM information_schema.COLUMNS
		WHERE TABLE_SCHEMA = DATABASE() AND COLLATION_NAME IS NOT NULL`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var table, column, collation string
		if err := rows.Scan(&table, &column, &collation); err != nil {
			t.Fatal(err)
		}
		want := exact
		if freeTextColumns[table+"."+column] {
			want = "utf8mb4_unicode_ci"
		}
		if collation != want {
			t.Errorf("%s.%s has collation %s, want %s", table, column, collation, want)
		}
		n++
	}
	if err := rows.Err(); err != nil || n < 50 {
		t.Fatalf("read %d text columns (%v), want every one of them", n, err)
	}
}

func TestFreshMySQLTablesCompareIdentifiersExactly(t *testing.T) {
	checkCollations(t, modelstest.Open(t, models.DriverMySQL, (&ritualtest.Clock{}).Now))
}

// TestMigrateMakesOldTablesExact: a database made before identifiers
// compared exactly (every column utf8mb4_unicode_ci) is converted by
// Migrate, keeps its rows, and from then on tells openids that differ only
// in case apart. Running Migrate again changes nothing.
func TestMigrateMakesOldTablesExact(t *testing.T) {
	ctx := context.Background()
	clock := &ritualtest.Clock{}
	db, err := models.Open(ctx, models.Config{Driver: models.DriverMySQL, DSN: modelstest.FreshMySQLDSN(t), Clock: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	rows, err := db.SQL().QueryContext(ctx, "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()")
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, name)
	}
	rows.Close()
	for _, table := range tables { // as every table was made before
		if err := db.Exec(ctx, "ALTER TABLE `"+table+"` CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"); err != nil {
			t.Fatal(err)
		}
	}
	const merchant = "m-old"
	first, created, err := db.Members().EnsureByOpenID(ctx, merchant, "oCaseSensitive1", ritual.StateFollowing, clock.Now())
	if err != nil || !created {
		t.Fatalf("first member: %v, %v", created, err)
	}
	if _, created, err := db.Members().EnsureByOpenID(ctx, merchant, "OCASESENSITIVE1", ritual.StateFollowing, clock.Now()); err != nil || created {
		t.Fatalf("before the migration another case is the same member (created %v, %v); the test does not stand on old tables", created, err)
	}

	fresh := columnDefinitions(t, modelstest.Open(t, models.DriverMySQL, clock.Now))
	for range 2 {
		if err := db.Migrate(ctx); err != nil {
			t.Fatalf("migrate old tables: %v", err)
		}
		checkCollations(t, db)
		converted := columnDefinitions(t, db)
		for column, def := range fresh {
			if converted[column] != def {
				t.Errorf("converted %s is %q, a fresh one %q", column, converted[column], def)
			}
		}
	}
	other, created, err := db.Members().EnsureByOpenID(ctx, merchant, "OCASESENSITIVE1", ritual.StateFollowing, clock.Now())
	if err != nil || !created || other.ID == first.ID {
		t.Fatalf("after the migration OCASESENSITIVE1 = member %d (created %v, %v), want a new member apart from %d", other.ID, created, err, first.ID)
	}
	if kept, err := db.Members().ByOpenID(ctx, merchant, "oCaseSensitive1"); err != nil || kept.ID != first.ID {
		t.Fatalf("the member from before the migration: %+v, %v", kept, err)
	}
}

// columnDefinitions returns every column of db's tables: type, nullability,
// default and collation.
func columnDefinitions(t *testing.T, db *models.DB) map[string]string {
	t.Helper()
	rows, err := db.SQL().QueryContext(context.Background(), `SELECT TABLE_NAME, COLUMN_NAME,
		CONCAT_WS(' ', COLUMN_TYPE, IS_NULLABLE, COALESCE(COLUMN_DEFAULT, '-'), COALESCE(COLLATION_NAME, '-'), COLUMN_KEY)
		FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE()`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var table, column, def string
		if err := rows.Scan(&table, &column, &def); err != nil {
			t.Fatal(err)
		}
		out[table+"."+column] = def
	}
	return out
}
