package main

import (
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/wxclub/wxclub/models"
)

// TestFirstContact: a first-time user reads in the start-up log where the
// console is and how to sign in to the demo, never the password itself;
// the service's root leads to the console; stopping says what it drained.
func TestFirstContact(t *testing.T) {
	var log syncBuffer
	m := startMainWith(t, models.DriverSQLite, slog.New(slog.NewTextHandler(&log, nil)), nil)
	console := m.URL() + "/console/"

	started := log.String()
	for _, want := range []string{
		"console=" + console,
		`msg="console demo sign-in: the password is the one in config.yaml; change it before real shoppers arrive" url=` + console + " merchant=demo user=demo",
	} {
		if !strings.Contains(started, want) {
			t.Errorf("start-up log lacks %q:\n%s", want, started)
		}
	}
	if !strings.Contains(started, "user=operator") {
		t.Errorf("start-up log does not name the demo operator sign-in:\n%s", started)
	}
	if strings.Contains(started, shippedConsolePassword) || strings.Contains(started, "demo-operator-password") {
		t.Fatalf("start-up log prints a console password:\n%s", started)
	}

	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(m.URL() + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/console/" {
		t.Fatalf("GET / answered %d Location %q, want 302 to /console/", resp.StatusCode, resp.Header.Get("Location"))
	}

	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	stopped := strings.TrimPrefix(log.String(), started)
	for _, want := range []string{"in-flight requests finished", "cron stopped", "relay stopped"} {
		if !strings.Contains(stopped, want) {
			t.Errorf("shutdown log lacks %q:\n%s", want, stopped)
		}
	}
}

// TestNoDemoSignInOnceThePasswordIsChanged: a merchant who set their own
// console password is not told to sign in with config.yaml's.
func TestNoDemoSignInOnceThePasswordIsChanged(t *testing.T) {
	var log syncBuffer
	m := startMainWith(t, models.DriverSQLite, slog.New(slog.NewTextHandler(&log, nil)), func(cfg *Config) {
		for i := range cfg.Merchants[0].Console {
			cfg.Merchants[0].Console[i].Password = "a-password-of-their-own-" + cfg.Merchants[0].Console[i].Username
		}
	})
	defer m.Close()
	if got := log.String(); strings.Contains(got, "demo sign-in") || strings.Contains(got, "a-password-of-their-own") {
		t.Fatalf("start-up log with changed passwords:\n%s", got)
	}
	if got := log.String(); !strings.Contains(got, "console="+m.URL()+"/console/") {
		t.Fatalf("start-up log does not name the console:\n%s", got)
	}
}
