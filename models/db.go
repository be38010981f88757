package models

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/glebarez/sqlite"
	gomysql "github.com/go-sql-driver/mysql"
	"gorm.io/driver/mysql"
	"gorm.io/gorm"

	"github.com/wxclub/wxclub/ritual"
)

// Drivers.
const (
	DriverSQLite = "sqlite"
	DriverMySQL  = "mysql"
)

// Config says which database to open and how.
type Config struct {
	Driver string // sqlite | mysql
	DSN    string // a file path for sqlite; a go-sql-driver DSN for mysql
	// MaxOpenConns bounds the MySQL pool (default 32). SQLite always uses one
	// connection: it has a single writer, and one connection makes every
	// transaction wait its turn instead of failing with SQLITE_BUSY.
	MaxOpenConns int
	Clock        ritual.Clock
	Logger       *slog.Logger
}

// DB is an open database. It implements ritual.Store.
type DB struct {
	repos  // every store, outside a transaction
	gorm   *gorm.DB
	driver string
	clock  ritual.Clock
	// statements counts what is sent to the database (statements.go).
	statements *atomic.Uint64
}

var _ ritual.Store = (*DB)(nil)

// Open connects to the database described by cfg and checks that it answers.
// It does not migrate; call Migrate.
func Open(ctx context.Context, cfg Config) (*DB, error) {
	if cfg.Clock == nil {
		cfg.Clock = ritual.SystemClock
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	statements := new(atomic.Uint64)
	dialector, err := dialectorFor(ctx, cfg, statements)
	if err != nil {
		return nil, err
	}
	g, err := gorm.Open(dialector, &gorm.Config{
		TranslateError: true,
		// Operations that need several statements use Store.Atomic; a lone
		// statement needs no transaction of its own.
		SkipDefaultTransaction: true,
		NowFunc:                func() time.Time { return cfg.Clock().UTC() },
		Logger:                 newGormLogger(cfg.Logger),
	})
	if err != nil {
		return nil, fmt.Errorf("models: open %s: %w", cfg.Driver, err)
	}
	db := &DB{repos: repos{db: g, driver: cfg.Driver}, gorm: g, driver: cfg.Driver, clock: cfg.Clock, statements: statements}
	if err := db.configurePool(cfg); err != nil {
		return nil, err
	}
	if err := db.Ping(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("models: %s does not answer: %w", cfg.Driver, err)
	}
	return db, nil
}

func dialectorFor(ctx context.Context, cfg Config, statements *atomic.Uint64) (gorm.Dialector, error) {
	switch cfg.Driver {
	case DriverSQLite:
		pool, err := openCounting(sqlite.DriverName, sqliteDSN(cfg.DSN), statements)
		if err != nil {
			return nil, err
		}
		return &sqlite.Dialector{Conn: pool}, nil
	case DriverMySQL:
		pool, err := openMySQL(ctx, cfg.DSN, statements)
		if err != nil {
			return nil, err
		}
		// RETURNING (MariaDB 10.5+) would make an insert that hit a duplicate
		// key report a row; without it MySQL and MariaDB agree that
		// RowsAffected is 0, which is how a claim learns it lost.
		return mysql.New(mysql.Config{Conn: pool, DefaultStringSize: 191, DisableWithReturning: true}), nil
	default:
		return nil, fmt.Errorf("models: unknown driver %q (want sqlite or mysql)", cfg.Driver)
	}
}

// sqliteDSN adds the pragmas wxclub relies on unless the DSN sets its own:
// WAL so readers do not block the writer, a busy timeout so a second process
// (wxclub check, wxclub migrate) waits instead of failing, foreign keys on.
func sqliteDSN(dsn string) string {
	if strings.Contains(dsn, "_pragma=") {
		return dsn
	}
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	return dsn + sep + "_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)"
}

// openMySQL opens the MySQL pool with every connection in READ COMMITTED
// (see Atomic). The session variable that sets it is transaction_isolation
// on MySQL 8 and MariaDB 11.1+, tx_isolation on older MariaDB: the first
// is tried, and a server that does not know it gets the second.
func openMySQL(ctx context.Context, dsn string, statements *atomic.Uint64) (countingPool, error) {
	var pool countingPool
	for _, variable := range []string{"transaction_isolation", "tx_isolation"} {
		full, err := mysqlDSN(dsn, variable)
		if err != nil {
			return countingPool{}, err
		}
		if pool, err = openCounting(DriverMySQL, full, statements); err != nil {
			return countingPool{}, err
		}
		err = pool.db.PingContext(ctx)
		var me *gomysql.MySQLError
		if !errors.As(err, &me) || me.Number != errUnknownSystemVariable {
			return pool, nil // connected, or failed for a reason Open reports
		}
		pool.db.Close()
	}
	return pool, nil
}

// errUnknownSystemVariable is MySQL's ER_UNKNOWN_SYSTEM_VARIABLE.
const errUnknownSystemVariable = 1193

// mysqlDSN forces what the schema relies on: utf8mb4 (nicknames carry
// emoji), times parsed as time.Time in UTC, and READ COMMITTED set with
// the session variable isolation (unless the DSN sets either name itself).
// Arguments are interpolated by the driver (safe with utf8mb4), so a query
// is one round trip instead of prepare, execute and close.
func mysqlDSN(dsn, isolation string) (string, error) {
	c, err := gomysql.ParseDSN(dsn)
	if err != nil {
		return "", fmt.Errorf("models: mysql dsn: %w", err)
	}
	c.ParseTime = true
	c.InterpolateParams = true
	c.Loc = time.UTC
	c.Collation = "utf8mb4_unicode_ci"
	if c.Params == nil {
		c.Params = map[string]string{}
	}
	c.Params["time_zone"] = "'+00:00'"
	if c.Params["transaction_isolation"] == "" && c.Params["tx_isolation"] == "" {
		c.Params[isolation] = "'READ-COMMITTED'"
	}
	return c.FormatDSN(), nil
}

func (db *DB) configurePool(cfg Config) error {
	sqlDB, err := db.gorm.DB()
	if err != nil {
		return err
	}
	if db.driver == DriverSQLite {
		sqlDB.SetMaxOpenConns(1)
		return nil
	}
	if cfg.MaxOpenConns <= 0 {
		cfg.MaxOpenConns = 32
	}
	sqlDB.SetMaxOpenConns(cfg.MaxOpenConns)
	sqlDB.SetMaxIdleConns(cfg.MaxOpenConns)
	sqlDB.SetConnMaxLifetime(3 * time.Minute) // below MySQL's and most proxies' idle cut-off
	sqlDB.SetConnMaxIdleTime(time.Minute)
	return nil
}

// Driver returns the driver name.
func (db *DB) Driver() string { return db.driver }

// Ping reports whether the database answers.
func (db *DB) Ping(ctx context.Context) error {
	sqlDB, err := db.gorm.DB()
	if err != nil {
		return err
	}
	return sqlDB.PingContext(ctx)
}

// SQL returns the connection pool, for its statistics.
func (db *DB) SQL() *sql.DB {
	sqlDB, _ := db.gorm.DB()
	return sqlDB
}

// Stats returns the connection pool statistics.
func (db *DB) Stats() sql.DBStats {
	sqlDB, err := db.gorm.DB()
	if err != nil {
		return sql.DBStats{}
	}
	return sqlDB.Stats()
}

// Close closes the database.
func (db *DB) Close() error {
	sqlDB, err := db.gorm.DB()
	if err != nil {
		return err
	}
	return sqlDB.Close()
}

// Atomic runs fn in one transaction. On MySQL it runs in READ COMMITTED,
// so a statement sees what other transactions committed before it (a
// repeated delivery reads the first one's reply) and inserts take fewer gap
// locks. The level is the session's, set when a connection opens (openMySQL),
// so a transaction costs no SET TRANSACTION of its own. A deadlock victim is
// retried from the start, up to three times.
func (db *DB) Atomic(ctx context.Context, fn func(tx ritual.Repos) error) error {
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		err = db.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			return fn(repos{db: tx, driver: db.driver})
		})
		if !isDeadlock(err) {
			break
		}
	}
	return err
}

// isDeadlock reports MySQL's deadlock (1213) and lock wait timeout (1205).
func isDeadlock(err error) bool {
	var me *gomysql.MySQLError
	return errors.As(err, &me) && (me.Number == 1213 || me.Number == 1205)
}

// repos is ritual.Repos over a *gorm.DB that is either the pool or a
// transaction.
type repos struct {
	db     *gorm.DB
	driver string
}

func (r repos) Merchants() ritual.Merchants   { return merchants{r.db} }
func (r repos) Members() ritual.Members       { return members{r.db} }
func (r repos) Inbound() ritual.InboundLog    { return inboundLog{r.db} }
func (r repos) Orders() ritual.Orders         { return orders{r.db} }
func (r repos) Ledger() ritual.Ledger         { return ledger{r.db} }
func (r repos) Levels() ritual.LevelHistory   { return levelHistory{r.db} }
func (r repos) Outbox() ritual.Outbox         { return outbox{r.db, r.driver} }
func (r repos) Pauses() ritual.SendPauses     { return sendPauses{r.db} }
func (r repos) JobRuns() ritual.JobRuns       { return jobRuns{r.db} }
func (r repos) Coupons() ritual.Coupons       { return coupons{r.db} }
func (r repos) Limits() ritual.RateLimits     { return rateLimits{r.db} }
func (r repos) QRCodes() ritual.QRCodes       { return qrCodes{r.db} }
func (r repos) Groups() ritual.GroupStore     { return groupStore{r.db} }
func (r repos) GroupLinks() ritual.GroupLinks { return groupLinks{r.db} }
func (r repos) SignIns() ritual.SignInLog     { return signIns{r.db} }
func (r repos) Activities() ritual.Activities { return activities{r.db} }
func (r repos) Ceremonies() ritual.Ceremonies { return ceremonies{r.db} }
func (r repos) Settings() ritual.SettingsLog  { return settingsLog{r.db} }

// Exec runs a statement outside any store; for tools and tests that repair
// or break data on purpose.
func (db *DB) Exec(ctx context.Context, sql string, args ...any) error {
	return db.gorm.WithContext(ctx).Exec(sql, args...).Error
}
