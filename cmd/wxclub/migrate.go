package main

import (
	"context"
	"fmt"
	"io"
	"strings"

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
	missing, err := db.MissingTables(ctx)
	if err != nil {
		return err
	}
	if err := db.Migrate(ctx); err != nil {
		return err
	}
	if len(missing) == 0 {
		fmt.Fprintf(stdout, "schema up to date (%s): every table was already there, none created\n", cfg.Database.Driver)
		return nil
	}
	fmt.Fprintf(stdout, "created %d tables: %s\nschema up to date (%s)\n", len(missing), strings.Join(missing, ", "), cfg.Database.Driver)
	return nil
}
