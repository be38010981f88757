package main

import (
	"context"
	"fmt"
	"io"

	"github.com/wxclub/wxclub/models"
)

const migrateAbout = `usage: wxclub migrate [-config FILE]

Create or upgrade the database schema and exit (serve does the same on start).`

// runMigrate creates or upgrades the schema and exits. serve does the same
// on start; this is for deployments that migrate before rolling replicas.
func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseConfigOnly(migrateAbout, args, stdout)
	if err != nil {
		return err
	}
	db, err := models.Open(ctx, models.Config{Driver: cfg.Database.Driver, DSN: cfg.Database.DSN})
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "schema up to date (%s)\n", cfg.Database.Driver)
	return nil
}
