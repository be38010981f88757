package main

import (
	"context"
	"fmt"
	"io"
	"sync/atomic"
	"time"
)

// The commit limit: how many single-row transactions per second the
// database commits at all, measured as autocommit INSERTs with a unique
// key from many clients. A request that must commit once can go no faster
// on this machine, whatever the service does.

// commitClients is how many clients insert at once.
const commitClients = 64

// commitLimit inserts into a scratch table from commitClients clients for
// d and reports the commits like requests.
func commitLimit(ctx context.Context, bdb *benchDatabase, d time.Duration) (loadReport, error) {
	db, err := bdb.scratch(commitClients)
	if err != nil {
		return loadReport{}, err
	}
	defer db.Close()
	create := "CREATE TABLE bench_commits (id BIGINT AUTO_INCREMENT PRIMARY KEY, k VARCHAR(64) NOT NULL, UNIQUE KEY ux_bench_commits_k (k)) ENGINE=InnoDB"
	if bdb.driver == "sqlite" {
		create = "CREATE TABLE bench_commits (id INTEGER PRIMARY KEY AUTOINCREMENT, k TEXT NOT NULL UNIQUE)"
	}
	if _, err := db.ExecContext(ctx, create); err != nil {
		return loadReport{}, fmt.Errorf("bench: commit limit: %w", err)
	}
	var seq atomic.Int64
	run := time.Now().UnixNano()
	insert := func(ctx context.Context) bool {
		_, err := db.ExecContext(ctx, "INSERT INTO bench_commits (k) VALUES (?)", fmt.Sprintf("%x-%d", run, seq.Add(1)))
		return err == nil
	}
	return (&loadRun{}).drive(ctx, commitClients, d, insert, io.Discard), nil
}
