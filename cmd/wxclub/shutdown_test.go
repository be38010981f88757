package main

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "github.com/glebarez/go-sqlite"
)

// holdWriteLock takes SQLite's write lock from another process's point of
// view, so the service's next write waits; release lets it go on.
func holdWriteLock(t *testing.T, path string) (release func()) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(context.Background(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	return func() {
		conn.ExecContext(context.Background(), "COMMIT")
		conn.Close()
		db.Close()
	}
}

// inFlightOrder posts an order that will wait for the database, and
// returns where its answer will arrive.
func inFlightOrder(t *testing.T, p *proc) chan int {
	status := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, p.url+"/api/v1/orders", strings.NewReader(`{"order_no":"SIG-1","phone":"13912345678","amount_fen":100}`))
		req.Header.Set("Authorization", "Bearer demo-key-change-me")
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			status <- 0 // cut off: what the second signal does
			return
		}
		resp.Body.Close()
		status <- resp.StatusCode
	}()
	time.Sleep(500 * time.Millisecond) // the order is now waiting for the lock
	return status
}

func TestSIGTERMFinishesInFlightRequests(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "wxclub.db")
	cfg := configFile(t, "dsn: wxclub.db", "dsn: '"+dbPath+"'", `addr: ":8080"`, `addr: "127.0.0.1:0"`)
	p := startProc(t, nil, "serve", "-config", cfg)
	release := holdWriteLock(t, dbPath)
	answer := inFlightOrder(t, p)

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if resp, err := http.Get(p.url + "/healthz"); err == nil {
		resp.Body.Close()
		t.Fatal("still taking new requests after SIGTERM")
	}
	release()
	select {
	case code := <-answer:
		if code != http.StatusCreated {
			t.Fatalf("the in-flight order answered %d, want 201", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the in-flight order never answered")
	}
	if err := p.wait(t, 10*time.Second); err != nil {
		t.Fatalf("exit after SIGTERM: %v, want a clean exit", err)
	}
}

func TestSecondSignalExitsAtOnce(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "wxclub.db")
	cfg := configFile(t, "dsn: wxclub.db", "dsn: '"+dbPath+"'", `addr: ":8080"`, `addr: "127.0.0.1:0"`)
	p := startProc(t, nil, "serve", "-config", cfg)
	release := holdWriteLock(t, dbPath)
	defer release()
	inFlightOrder(t, p)

	p.cmd.Process.Signal(syscall.SIGTERM)
	time.Sleep(300 * time.Millisecond)
	start := time.Now()
	p.cmd.Process.Signal(syscall.SIGTERM)
	err := p.wait(t, 3*time.Second)
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Success() {
		t.Fatalf("exit after the second signal: %v, want killed by it", err)
	}
	if took := time.Since(start); took > time.Second {
		t.Fatalf("the second signal took %s to end the process", took)
	}
}
