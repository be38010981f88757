package models

import (
	"context"
	"fmt"

	"gorm.io/gorm"
)

// tables lists every table, in an order that satisfies references.
func tables() []any {
	return []any{
		&merchantRow{}, &memberRow{}, &inboundRow{}, &orderRow{}, &refundRow{},
		&pointsEntryRow{}, &pointsLotRow{}, &levelChangeRow{}, &outboxRow{}, &sendPauseRow{},
		&kvRow{}, &jobRunRow{}, &couponRow{}, &rewardStockRow{}, &rateCounterRow{}, &qrCodeRow{},
		&ceremonyRow{}, &settingsVersionRow{},
		&groupRow{}, &groupSenderRow{}, &groupLinkRow{}, &linkCodeRow{}, &signInRow{}, &activityRow{}, &activityEntryRow{},
		&consoleUserRow{}, &consoleSessionRow{},
	}
}

// Migrate creates missing tables, columns and indexes, on SQLite and MySQL.
// On MySQL it first converts tables made before identifiers compared
// exactly (convertCollations). It never drops anything, so it is safe to run on every start and from
// several replicas at once (the loser of a race sees the table exist).
func (db *DB) Migrate(ctx context.Context) error {
	g := db.gorm.WithContext(ctx)
	if db.driver == DriverMySQL {
		exact, err := exactCollation(ctx, g)
		if err != nil {
			return err
		}
		if err := convertCollations(ctx, g, exact); err != nil {
			return err
		}
		g = g.Set("gorm:table_options", "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE="+exact)
	}
	for _, t := range tables() {
		if err := g.AutoMigrate(t); err != nil {
			return fmt.Errorf("models: migrate %T: %w", t, err)
		}
	}
	return nil
}

// MissingTables names the tables Migrate would create: on an empty
// database, all of them. `wxclub migrate` reports them so an operator
// sees what the first run did.
func (db *DB) MissingTables(ctx context.Context) ([]string, error) {
	g := db.gorm.WithContext(ctx)
	var missing []string
	for _, t := range tables() {
		stmt := &gorm.Statement{DB: g}
		if err := stmt.Parse(t); err != nil {
			return nil, fmt.Errorf("models: table of %T: %w", t, err)
		}
		if !g.Migrator().HasTable(stmt.Schema.Table) {
			missing = append(missing, stmt.Schema.Table)
		}
	}
	return missing, nil
}
