package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wxclub/wxclub/models"
	"github.com/wxclub/wxclub/models/modelstest"
	"github.com/wxclub/wxclub/ritual"
	"github.com/wxclub/wxclub/ritual/ritualtest"
)

// checkFixture is a migrated database of its own with one merchant, and a
// config that points `wxclub check` at it.
type checkFixture struct {
	t      *testing.T
	db     *models.DB
	club   *ritual.Club
	m      *ritual.Merchant
	config string
}

func newCheckFixture(t *testing.T, driver string) *checkFixture {
	t.Helper()
	ctx := context.Background()
	dsn := filepath.Join(t.TempDir(), "check.db")
	if driver == models.DriverMySQL {
		dsn = modelstest.FreshMySQLDSN(t)
	}
	db, err := models.Open(ctx, models.Config{Driver: driver, DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	club := ritual.NewClub(db, ritual.ClubOptions{})
	m := ritualtest.Merchant(ritual.ModeCompatible)
	if _, err := club.SeedMerchant(ctx, m, "key-"+m.ID); err != nil {
		t.Fatal(err)
	}
	text := mustReadFile(t, shippedConfig)
	text = strings.Replace(text, "driver: sqlite", "driver: "+driver, 1)
	text = strings.Replace(text, "dsn: wxclub.db", "dsn: '"+dsn+"'", 1)
	return &checkFixture{t: t, db: db, club: club, m: m, config: writeConfig(t, text)}
}

// buyer returns the id of a member who paid one yuan (one point).
func (f *checkFixture) buyer(openid string) int64 {
	f.t.Helper()
	answer, _, err := f.club.RecordOrder(context.Background(), f.m, ritual.OrderInput{OrderNo: "O-" + openid, OpenID: openid, AmountFen: 100})
	if err != nil || answer.Member.Points != 1 {
		f.t.Fatalf("order of %s: %+v, %v", openid, answer, err)
	}
	member, err := f.db.Members().ByOpenID(context.Background(), f.m.ID, openid)
	if err != nil {
		f.t.Fatal(err)
	}
	return member.ID
}

// exec breaks the data on purpose, as a bad migration or a hand edit would.
func (f *checkFixture) exec(sql string, args ...any) {
	f.t.Helper()
	if err := f.db.Exec(context.Background(), sql, args...); err != nil {
		f.t.Fatalf("%s: %v", sql, err)
	}
}

// entry writes a ledger line behind the ledger's back.
func (f *checkFixture) entry(memberID, delta int64, ref, expiresAt string) {
	f.t.Helper()
	f.exec(`INSERT INTO points_entries (merchant_id, member_id, delta, balance_after, shortfall, reason, source, reference, expires_at, created_at)
		VALUES (?, ?, ?, 0, 0, 'hand edit', 'manual', ?, `+expiresAt+`, ?)`, f.m.ID, memberID, delta, ref, time.Now().UTC())
}

// check runs `wxclub check` and returns what it printed and its error.
func (f *checkFixture) check() (string, error) {
	var out bytes.Buffer
	err := run(context.Background(), []string{"check", "-config", f.config}, &out, io.Discard)
	return out.String(), err
}

func TestCheckNamesCorruptMembersAndCarriesOn(t *testing.T) {
	for _, driver := range modelstest.Drivers() {
		t.Run(driver, func(t *testing.T) {
			f := newCheckFixture(t, driver)
			f.buyer("o-sound")
			if out, err := f.check(); err != nil || !strings.Contains(out, "checked 1 member(s) of 1 merchant(s)") {
				t.Fatalf("check on a sound database: %v\n%s\nwant it to say how many members it checked", err, out)
			}

			// Two entries of MaxInt64: the ledger sums past int64 (18446744073709551615
			// with the order's point), which no SQL sum reads back.
			extreme := f.buyer("o-extreme")
			f.entry(extreme, math.MaxInt64, "x1", "NULL")
			f.entry(extreme, math.MaxInt64, "x2", "NULL")
			// Settings stored before their bounds existed.
			f.exec(`UPDATE merchants SET settings = REPLACE(settings, '"points_expire_days":365', '"points_expire_days":1000000000000')`)
			wants := []string{
				fmt.Sprintf("MISMATCH merchant=%s member=%d openid=o-extreme balance=1 ledger_sum=18446744073709551615", f.m.ID, extreme),
				fmt.Sprintf("SETTINGS merchant=%s membership.points_expire_days: must be between 1 and 36500", f.m.ID),
			}
			members := 2 // o-sound, o-extreme
			if driver == models.DriverSQLite {
				members += 2
				// SQLite keeps whatever is written: a balance that is not a
				// number, a date no reader parses.
				text := f.buyer("o-text")
				f.exec(`UPDATE members SET points = 'lots' WHERE id = ?`, text)
				farDate := f.buyer("o-far-date")
				f.entry(farDate, 0, "far", "'2737909033-01-01 00:00:00+00:00'")
				wants = append(wants,
					fmt.Sprintf(`UNREADABLE merchant=%s member=%d openid=o-text: balance "lots" is not a whole number of points`, f.m.ID, text),
					fmt.Sprintf(`UNREADABLE merchant=%s member=%d openid=o-far-date: ledger entry`, f.m.ID, farDate),
				)
			}

			out, err := f.check()
			if err == nil {
				t.Fatalf("check on a corrupt database passed:\n%s", out)
			}
			if !strings.Contains(err.Error(), fmt.Sprintf("checked %d member(s) and 1 merchant(s)", members)) {
				t.Errorf("check failed with %q, want how many members it checked", err)
			}
			for _, want := range wants {
				if !strings.Contains(out, want) {
					t.Errorf("check printed:\n%s\nwant a line with %q", out, want)
				}
			}
			if strings.Contains(out, "o-sound") {
				t.Errorf("check named the sound member:\n%s", out)
			}
		})
	}
}
