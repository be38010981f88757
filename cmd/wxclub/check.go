package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/wxclub/wxclub/models"
	"github.com/wxclub/wxclub/ritual"
)

const checkAbout = `usage: wxclub check [-config FILE]

Verify that every member's points ledger sums to their balance and that
every merchant's stored settings still validate; name each that does not
and exit 1.`

// runCheck verifies for every member that the points ledger sums to the
// balance and that their rows can be read, and that every merchant's stored
// settings still pass validation (bounds added since may refuse settings
// stored before). It names every member and merchant that fails, never
// stops at the first bad row, and exits non-zero if any did.
func runCheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseConfigOnly(checkAbout, args, stdout)
	if err != nil {
		return err
	}
	if cfg.Database.Driver == models.DriverSQLite {
		file, _, _ := strings.Cut(cfg.Database.DSN, "?")
		if _, err := os.Stat(file); err != nil {
			return fmt.Errorf("check: no database at %s (database.dsn)", cfg.Database.DSN)
		}
	}
	db, err := models.Open(ctx, models.Config{Driver: cfg.Database.Driver, DSN: cfg.Database.DSN})
	if err != nil {
		return err
	}
	defer db.Close()
	merchants, problems := checkSettings(ctx, db, stdout)
	checked, bad, err := db.AuditLedgers(ctx)
	if err != nil {
		return err
	}
	for _, b := range bad {
		who := b.OpenID
		if who == "" {
			who = "(no openid)"
		}
		if b.Unreadable != "" {
			fmt.Fprintf(stdout, "UNREADABLE merchant=%s member=%d openid=%s: %s\n", b.MerchantID, b.MemberID, who, b.Unreadable)
			continue
		}
		fmt.Fprintf(stdout, "MISMATCH merchant=%s member=%d openid=%s balance=%d ledger_sum=%s\n", b.MerchantID, b.MemberID, who, b.Balance, b.LedgerSum)
	}
	if len(bad) > 0 || problems > 0 {
		return fmt.Errorf("check: checked %d member(s) and %d merchant(s): %d member(s) whose balance differs from their ledger or cannot be read, %d merchant settings problem(s)", checked, merchants, len(bad), problems)
	}
	fmt.Fprintf(stdout, "checked %d member(s) of %d merchant(s)\n", checked, merchants)
	fmt.Fprintln(stdout, "ledger ok: every balance equals the sum of its ledger; settings ok")
	return nil
}

// checkSettings prints every merchant whose stored settings fail
// validation and returns how many merchants it checked and how many
// problems it found.
func checkSettings(ctx context.Context, db *models.DB, stdout io.Writer) (checked, problems int) {
	merchants, err := db.Merchants().List(ctx)
	if err != nil {
		fmt.Fprintf(stdout, "SETTINGS cannot be read: %v\n", err)
		return 0, 1
	}
	for _, m := range merchants {
		if err := m.Validate(); err != nil {
			fmt.Fprintf(stdout, "SETTINGS merchant=%s %s: %s\n", m.ID, ritual.ErrorField(err), ritual.ErrorMessage(err))
			problems++
		}
	}
	return len(merchants), problems
}
