// Package models is wxclub's storage: gorm tables, queries and migrations on
// SQLite (embedded, pure Go) and MySQL/MariaDB. It implements the store
// interfaces that package ritual declares and translates storage errors into
// ritual error codes, so nothing above this package knows about SQL.
//
// Times are stored in UTC. Money is integer fen. Every record that a retry
// could create twice has a unique key, and concurrent writers rely on that
// key (and on row locks inside Store.Atomic) rather than on checks in Go.
package models
