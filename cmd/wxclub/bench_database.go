package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"path/filepath"

	_ "github.com/glebarez/go-sqlite" // the commit limit's SQLite, the driver the service uses
	gomysql "github.com/go-sql-driver/mysql"
)

// benchDatabase is the database a bench run owns: on MySQL a fresh
// database wxclub_bench_<random> on the server -dsn names, dropped after;
// on SQLite files in the run's temporary directory.
type benchDatabase struct {
	driver string
	dsn    string  // what the service is configured with
	admin  *sql.DB // MySQL: the server without a database, for status and the drop
	name   string  // MySQL: the database created for the run
	dir    string
}

func openBenchDatabase(ctx context.Context, driver, dsn, dir string) (*benchDatabase, error) {
	d := &benchDatabase{driver: driver, dir: dir}
	if driver == "sqlite" {
		d.dsn = filepath.Join(dir, "wxclub.db")
		return d, nil
	}
	cfg, err := gomysql.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("bench: -dsn: %w", err)
	}
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	d.name = "wxclub_bench_" + hex.EncodeToString(suffix)
	server := cfg.Clone()
	server.DBName = ""
	if d.admin, err = sql.Open("mysql", server.FormatDSN()); err != nil {
		return nil, err
	}
	d.admin.SetMaxOpenConns(2)
	if _, err := d.admin.ExecContext(ctx, "CREATE DATABASE `"+d.name+"` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"); err != nil {
		d.admin.Close()
		return nil, fmt.Errorf("bench: create database %s: %w", d.name, err)
	}
	cfg.DBName = d.name
	d.dsn = cfg.FormatDSN()
	return d, nil
}

// describe names the database for the report.
func (d *benchDatabase) describe() string {
	if d.driver == "sqlite" {
		return "sqlite " + d.dsn
	}
	return "mysql database " + d.name + " (dropped after)"
}

// close drops the MySQL database; the SQLite files go with the directory.
func (d *benchDatabase) close() {
	if d.admin == nil {
		return
	}
	if _, err := d.admin.Exec("DROP DATABASE IF EXISTS `" + d.name + "`"); err != nil {
		fmt.Printf("bench: drop database %s: %v\n", d.name, err)
	}
	d.admin.Close()
}

// questions returns MariaDB's Questions status counter: statements the
// server ran for every client, this run's and anyone else's.
func (d *benchDatabase) questions(ctx context.Context) (int64, bool) {
	if d.admin == nil {
		return 0, false
	}
	var name string
	var n int64
	if err := d.admin.QueryRowContext(ctx, "SHOW GLOBAL STATUS LIKE 'Questions'").Scan(&name, &n); err != nil {
		return 0, false
	}
	return n, true
}

// serverPID is the database server's process on this machine, 0 when it
// has none (SQLite runs inside the service) or runs elsewhere.
func (d *benchDatabase) serverPID() int {
	if d.driver == "sqlite" {
		return 0
	}
	return findProcess("mariadbd", "mysqld")
}

// scratch opens the database the commit limit writes into, pooled as the
// service pools it: one connection on SQLite, clients on MySQL.
func (d *benchDatabase) scratch(clients int) (*sql.DB, error) {
	if d.driver == "sqlite" {
		db, err := sql.Open("sqlite", filepath.Join(d.dir, "commits.db")+
			"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=synchronous(NORMAL)")
		if err != nil {
			return nil, err
		}
		db.SetMaxOpenConns(1)
		return db, nil
	}
	db, err := sql.Open("mysql", d.dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(clients)
	db.SetMaxIdleConns(clients)
	return db, nil
}
