package models

import (
	"context"
	"database/sql"
	"fmt"
	"sync/atomic"

	"gorm.io/gorm"
)

// The statement count: every round trip the service makes to the database —
// a query, an exec, BEGIN, COMMIT, ROLLBACK and the SET TRANSACTION that
// goes before a BEGIN with an isolation level — counted where gorm hands
// statements to database/sql. Cost per request is counted in statements
// because, unlike time, the count does not vary from run to run.

// countingPool is the connection pool gorm talks to, counting statements.
type countingPool struct {
	db *sql.DB
	n  *atomic.Uint64
	// isolationCosts is true where a BEGIN with an isolation level costs a
	// statement of its own (MySQL's driver sends SET TRANSACTION first).
	isolationCosts bool
}

var (
	_ gorm.ConnPool         = countingPool{}
	_ gorm.ConnPoolBeginner = countingPool{}
	_ gorm.GetDBConnector   = countingPool{}
)

func (p countingPool) PrepareContext(ctx context.Context, query string) (*sql.Stmt, error) {
	return p.db.PrepareContext(ctx, query)
}

func (p countingPool) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	p.n.Add(1)
	return p.db.ExecContext(ctx, query, args...)
}

func (p countingPool) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	p.n.Add(1)
	return p.db.QueryContext(ctx, query, args...)
}

func (p countingPool) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	p.n.Add(1)
	return p.db.QueryRowContext(ctx, query, args...)
}

// BeginTx counts BEGIN, and SET TRANSACTION where it is a statement of its own.
func (p countingPool) BeginTx(ctx context.Context, opts *sql.TxOptions) (gorm.ConnPool, error) {
	p.n.Add(1)
	if p.isolationCosts && opts != nil && opts.Isolation != sql.LevelDefault {
		p.n.Add(1)
	}
	tx, err := p.db.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	return &countingTx{tx: tx, n: p.n}, nil
}

// GetDBConn gives gorm the pool itself, for its statistics and Close.
func (p countingPool) GetDBConn() (*sql.DB, error) { return p.db, nil }

// countingTx is a transaction, counting statements.
type countingTx struct {
	tx *sql.Tx
	n  *atomic.Uint64
}

func (t *countingTx) PrepareContext(ctx context.Context, query string) (*sql.Stmt, error) {
	return t.tx.PrepareContext(ctx, query)
}

func (t *countingTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	t.n.Add(1)
	return t.tx.ExecContext(ctx, query, args...)
}

func (t *countingTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	t.n.Add(1)
	return t.tx.QueryContext(ctx, query, args...)
}

func (t *countingTx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	t.n.Add(1)
	return t.tx.QueryRowContext(ctx, query, args...)
}

func (t *countingTx) StmtContext(ctx context.Context, stmt *sql.Stmt) *sql.Stmt {
	return t.tx.StmtContext(ctx, stmt)
}

func (t *countingTx) Commit() error {
	t.n.Add(1)
	return t.tx.Commit()
}

func (t *countingTx) Rollback() error {
	err := t.tx.Rollback()
	if err != sql.ErrTxDone { // a rollback after COMMIT sends nothing
		t.n.Add(1)
	}
	return err
}

// Statements returns how many statements this DB has sent since it opened.
func (db *DB) Statements() uint64 { return db.statements.Load() }

// openCounting opens the pool for driverName and wraps it to count statements.
func openCounting(driverName, dsn string, n *atomic.Uint64) (countingPool, error) {
	sqlDB, err := sql.Open(driverName, dsn)
	if err != nil {
		return countingPool{}, fmt.Errorf("models: open %s: %w", driverName, err)
	}
	return countingPool{db: sqlDB, n: n, isolationCosts: driverName == DriverMySQL}, nil
}
