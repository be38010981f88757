package models

import (
	"context"
	"fmt"
	"reflect"
	"strings"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/schema"
)

// Collations on MySQL and MariaDB. Identifiers (openids, order and refund
// numbers, codes, dedupe keys, group and sender ids, key hashes, tokens)
// must compare byte for byte, as SQLite compares them: WeChat openids are
// case-sensitive, and a case-insensitive column would credit one shopper's
// order to another whose openid differs only in case. So every table's
// default collation is binary and NO PAD (utf8mb4_bin would still treat
// "a" and "a " as equal), and free text that people write and read opts
// out with freeText.
//
// Neither server has a NO PAD binary collation the other knows: MariaDB
// calls it utf8mb4_nopad_bin, MySQL 8 utf8mb4_0900_bin.
const (
	exactCollationMariaDB = "utf8mb4_nopad_bin"
	exactCollationMySQL   = "utf8mb4_0900_bin"
	textCollation         = "utf8mb4_unicode_ci"
)

// freeText is a column of text people write and read (names, nicknames,
// reasons), sorted and compared by Unicode rules on MySQL. No query looks a
// row up by one, so the two databases still answer the same.
type freeText string

// GormDBDataType declares the Unicode collation on MySQL; SQLite keeps its
// default type.
func (freeText) GormDBDataType(db *gorm.DB, field *schema.Field) string {
	if db.Dialector.Name() != DriverMySQL {
		return ""
	}
	size := field.Size
	if size <= 0 {
		size = 191
	}
	return fmt.Sprintf("varchar(%d) CHARACTER SET utf8mb4 COLLATE %s", size, textCollation)
}

// exactCollation returns the server's binary NO PAD collation.
func exactCollation(ctx context.Context, g *gorm.DB) (string, error) {
	var version string
	if err := g.WithContext(ctx).Raw("SELECT VERSION()").Scan(&version).Error; err != nil {
		return "", fmt.Errorf("models: server version: %w", err)
	}
	if strings.Contains(version, "MariaDB") {
		return exactCollationMariaDB, nil
	}
	return exactCollationMySQL, nil
}

// convertCollations brings tables made before identifiers compared exactly
// to the collations the models declare: the table's default becomes exact
// (so a column gorm adds or alters later is exact too), then every text
// column whose collation differs from what its field wants is redefined,
// all of a table's columns in one ALTER so the table is rebuilt once. A
// table already right is not touched, so running it again does nothing.
//
// Going from case-insensitive to exact can only split values apart, never
// merge them, so no unique index can fail on the way.
func convertCollations(ctx context.Context, g *gorm.DB, exact string) error {
	for _, t := range tables() {
		if err := convertTable(ctx, g, t, exact); err != nil {
			return err
		}
	}
	return nil
}

func convertTable(ctx context.Context, g *gorm.DB, model any, exact string) error {
	stmt := &gorm.Statement{DB: g}
	if err := stmt.Parse(model); err != nil {
		return fmt.Errorf("models: parse %T: %w", model, err)
	}
	table := stmt.Schema.Table
	var tableCollation string
	err := g.Raw("SELECT TABLE_COLLATION FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?", table).
		Scan(&tableCollation).Error
	if err != nil {
		return fmt.Errorf("models: read the collation of %s: %w", table, err)
	}
	if tableCollation == "" {
		return nil // not created yet: AutoMigrate creates it with the right collations
	}
	var columns []struct {
		ColumnName    string
		CollationName *string
	}
	err = g.Raw("SELECT COLUMN_NAME AS column_name, COLLATION_NAME AS collation_name FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?", table).
		Scan(&columns).Error
	if err != nil {
		return fmt.Errorf("models: read the columns of %s: %w", table, err)
	}
	var redefine []string
	var vars []any
	for _, c := range columns {
		field := stmt.Schema.LookUpField(c.ColumnName)
		if field == nil || c.CollationName == nil {
			continue // not ours, or not text
		}
		if *c.CollationName == wantCollation(field, exact) {
			continue
		}
		def := g.Migrator().FullDataTypeOf(field)
		redefine = append(redefine, "MODIFY COLUMN ? "+def.SQL)
		vars = append(vars, clause.Column{Name: c.ColumnName})
		vars = append(vars, def.Vars...)
	}
	if tableCollation != exact {
		// Only the default: instant, and it makes the plain definitions
		// below (and any gorm writes later) exact.
		if err := g.Exec("ALTER TABLE ? DEFAULT CHARACTER SET utf8mb4 COLLATE "+exact, clause.Table{Name: table}).Error; err != nil {
			return fmt.Errorf("models: make %s exact: %w", table, err)
		}
	}
	if len(redefine) == 0 {
		return nil
	}
	err = g.Exec("ALTER TABLE ? "+strings.Join(redefine, ", "), append([]any{clause.Table{Name: table}}, vars...)...).Error
	if err != nil {
		return fmt.Errorf("models: convert the collations of %s: %w", table, err)
	}
	return nil
}

// wantCollation is the collation field's column should have.
func wantCollation(field *schema.Field, exact string) string {
	if _, ok := reflect.New(field.IndirectFieldType).Elem().Interface().(freeText); ok {
		return textCollation
	}
	return exact
}
