package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/wxclub/wxclub/models"
)

// runCheck verifies for every member that the points ledger sums to the
// balance. It names every member that does not and exits non-zero.
func runCheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseConfigOnly("check", args, stderr)
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
	bad, err := db.Ledger().Imbalances(ctx)
	if err != nil {
		return err
	}
	for _, b := range bad {
		who := b.OpenID
		if who == "" {
			who = "(no openid)"
		}
		fmt.Fprintf(stdout, "MISMATCH merchant=%s member=%d openid=%s balance=%d ledger_sum=%d\n", b.MerchantID, b.MemberID, who, b.Balance, b.LedgerSum)
	}
	if len(bad) > 0 {
		return fmt.Errorf("check: %d member(s) whose balance differs from their ledger", len(bad))
	}
	fmt.Fprintln(stdout, "ledger ok: every balance equals the sum of its ledger")
	return nil
}
