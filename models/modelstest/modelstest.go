// Package modelstest opens real databases for tests: a fresh SQLite file per
// test, and the MariaDB/MySQL server named by WXCLUB_TEST_MYSQL_DSN.
//
// Without that variable the MySQL half of every test is skipped, and says
// so; .ci/run always sets it. With it set, a server that does not answer
// fails the test rather than skipping it.
package modelstest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/wxclub/wxclub/models"
	"github.com/wxclub/wxclub/ritual"
)

// EnvMySQLDSN names the variable holding the test server's DSN, e.g.
// root@tcp(127.0.0.1:3306)/wxclub_test.
const EnvMySQLDSN = "WXCLUB_TEST_MYSQL_DSN"

// Drivers returns the drivers every storage test runs on.
func Drivers() []string { return []string{models.DriverSQLite, models.DriverMySQL} }

// ForEachDB runs fn as a subtest on a migrated SQLite database and on the
// MySQL test database.
func ForEachDB(t *testing.T, clock ritual.Clock, fn func(t *testing.T, db *models.DB)) {
	t.Helper()
	for _, driver := range Drivers() {
		t.Run(driver, func(t *testing.T) {
			fn(t, Open(t, driver, clock))
		})
	}
}

// Open returns a migrated database of driver, closed when t ends. SQLite
// databases are fresh files; the MySQL database is shared by the tests of
// one package run (keep them apart with ritualtest.RandomID).
func Open(t testing.TB, driver string, clock ritual.Clock) *models.DB {
	t.Helper()
	cfg := models.Config{Driver: driver, Clock: clock}
	switch driver {
	case models.DriverSQLite:
		cfg.DSN = filepath.Join(t.TempDir(), "wxclub.db")
	case models.DriverMySQL:
		cfg.DSN = MySQLDSN(t)
	}
	db, err := models.Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("open %s: %v", driver, err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(context.Background()); err != nil {
		t.Fatalf("migrate %s: %v", driver, err)
	}
	return db
}

var shared struct {
	once sync.Once
	dsn  string
	drop func()
	err  error
}

// MySQLDSN returns the DSN of a database created for this test process,
// skipping t when no server is configured.
func MySQLDSN(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvMySQLDSN)
	if base == "" {
		t.Skipf("MySQL half skipped: %s is not set (.ci/run sets it)", EnvMySQLDSN)
	}
	shared.once.Do(func() { shared.dsn, shared.drop, shared.err = createDatabase(base) })
	if shared.err != nil {
		t.Fatalf("%s is set but the server cannot be used: %v", EnvMySQLDSN, shared.err)
	}
	return shared.dsn
}

// FreshMySQLDSN returns the DSN of a database of t's own, dropped when t
// ends, for tests that run processes which seed the same merchant.
func FreshMySQLDSN(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvMySQLDSN)
	if base == "" {
		t.Skipf("MySQL half skipped: %s is not set (.ci/run sets it)", EnvMySQLDSN)
	}
	dsn, drop, err := createDatabase(base)
	if err != nil {
		t.Fatalf("%s is set but the server cannot be used: %v", EnvMySQLDSN, err)
	}
	t.Cleanup(drop)
	return dsn
}

// createDatabase makes a database of its own for this process, so packages
// tested in parallel never migrate or read each other's tables.
func createDatabase(base string) (string, func(), error) {
	cfg, err := gomysql.ParseDSN(base)
	if err != nil {
		return "", nil, err
	}
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	name := fmt.Sprintf("%s_%s", cfg.DBName, hex.EncodeToString(suffix))
	if cfg.DBName == "" {
		name = "wxclub_test_" + hex.EncodeToString(suffix)
	}
	admin := cfg.Clone()
	admin.DBName = ""
	conn, err := sql.Open("mysql", admin.FormatDSN())
	if err != nil {
		return "", nil, err
	}
	if _, err := conn.Exec("CREATE DATABASE `" + name + "` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"); err != nil {
		conn.Close()
		return "", nil, err
	}
	drop := func() {
		conn.Exec("DROP DATABASE IF EXISTS `" + name + "`")
		conn.Close()
	}
	cfg.DBName = name
	return cfg.FormatDSN(), drop, nil
}

// Main runs a package's tests and drops the MySQL database they used. Call
// it from TestMain: func TestMain(m *testing.M) { modelstest.Main(m) }.
func Main(m *testing.M) { os.Exit(Run(m)) }

// Run is Main for a TestMain with more to tear down: it returns the exit
// code instead of exiting.
func Run(m *testing.M) int {
	code := m.Run()
	if shared.drop != nil {
		shared.drop()
	}
	return code
}
