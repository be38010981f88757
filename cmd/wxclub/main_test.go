package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/wxclub/wxclub/models"
	"github.com/wxclub/wxclub/models/modelstest"
)

// TestMain sets gin's process-global mode as main does.
func TestMain(m *testing.M) {
	gin.SetMode(gin.ReleaseMode)
	modelstest.Main(m)
}

// startMain runs the whole program on port 0 with the shipped
// configuration, on a fresh SQLite file or the MySQL test database.
func startMain(t *testing.T, driver string) *Main {
	t.Helper()
	m := startMainWith(t, driver, discardLogger(), nil)
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return m
}

// startMainWith is startMain logging to logger, with edit applied to the
// configuration first; the caller closes it.
func startMainWith(t *testing.T, driver string, logger *slog.Logger, edit func(*Config)) *Main {
	t.Helper()
	cfg, err := LoadConfig(shippedConfig, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Server.Addr = "127.0.0.1:0"
	cfg.Database.Driver = driver
	cfg.Database.DSN = filepath.Join(t.TempDir(), "wxclub.db")
	if driver == models.DriverMySQL {
		cfg.Database.DSN = modelstest.MySQLDSN(t)
		// Tests share one MySQL database; give this run its own merchant.
		cfg.Merchants[0].ID = "demo" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", ""))
		cfg.Merchants[0].APIKey = "key-" + cfg.Merchants[0].ID
		cfg.Merchants[0].OfficialAccount.AppID = "wx" + cfg.Merchants[0].ID
	}
	if edit != nil {
		edit(&cfg)
	}
	m := NewMain(cfg, logger)
	if err := m.Run(context.Background()); err != nil {
		m.Close()
		t.Fatal(err)
	}
	return m
}

// sim runs `wxclub sim ...` against m and returns what it printed.
func sim(t *testing.T, m *Main, args ...string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	args = append([]string{"sim", "--server", m.URL(), "--merchant", m.Config.Merchants[0].ID}, args...)
	if err := run(context.Background(), args, &out, &errOut); err != nil {
		t.Fatalf("wxclub %s: %v (%s)", strings.Join(args, " "), err, errOut.String())
	}
	return out.String()
}

func TestDemoWalkThrough(t *testing.T) {
	for _, driver := range modelstest.Drivers() {
		t.Run(driver, func(t *testing.T) {
			m := startMain(t, driver)
			const shopper = "--openid=oWalkThrough0000000000000001"

			if got := sim(t, m, "follow", "--scene", "poster", shopper); !strings.Contains(got, "欢迎关注Demo Tea House") {
				t.Fatalf("follow printed %q, want the welcome", got)
			}
			if got := sim(t, m, "say", "帮助", shopper); !strings.Contains(got, "你可以回复") {
				t.Fatalf("say 帮助 printed %q, want the help", got)
			}
			if got := sim(t, m, "scan", "shelf-2", shopper); !strings.Contains(got, "你可以回复") {
				t.Fatalf("scan by a follower printed %q, want the help", got)
			}
			if got := sim(t, m, "say", "在吗", shopper); !strings.Contains(got, "帮助") {
				t.Fatalf("say 在吗 printed %q, want the default reply", got)
			}
			if got := sim(t, m, "redeliver", shopper); !strings.Contains(got, "帮助") {
				t.Fatalf("redeliver printed %q, want the first reply again", got)
			}
			if got := sim(t, m, "unfollow", shopper); !strings.Contains(got, "no reply") {
				t.Fatalf("unfollow printed %q, want no reply", got)
			}
			if got := sim(t, m, "follow", shopper); !strings.Contains(got, "欢迎回来") {
				t.Fatalf("second follow printed %q, want welcome back", got)
			}
			if got := sim(t, m, "inbox", shopper); !strings.Contains(got, "inbox empty") {
				t.Fatalf("inbox printed %q, want empty (nothing sent yet)", got)
			}

			body := get(t, m.URL()+"/api/v1/members/oWalkThrough0000000000000001", m.Config.Merchants[0].APIKey)
			if !strings.Contains(body, `"state":"following"`) || !strings.Contains(body, `"subscribe_scene":"poster"`) {
				t.Fatalf("member API = %s", body)
			}
		})
	}
}

func TestSafeModeMerchant(t *testing.T) {
	m := startMain(t, models.DriverSQLite)
	// The demo merchant is in compatible mode; the emulator delivers
	// encrypted and the service answers encrypted. A reply that did not
	// decrypt would show up as a problem in sim's output.
	sim(t, m, "follow", "--openid=oSafeMode00000000000000000001")
	if got := sim(t, m, "say", "help", "--openid=oSafeMode00000000000000000001"); !strings.Contains(got, "你可以回复") {
		t.Fatalf("safe-mode say printed %q", got)
	}
}

func TestSimRefusesWhatWeChatRefuses(t *testing.T) {
	m := startMain(t, models.DriverSQLite)
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"sim", "--server", m.URL(), "say", "hi", "--openid", "oNeverFollowed000000000000001"}, &out, &errOut)
	if err == nil {
		t.Fatalf("a non-follower could message the account: %s", out.String())
	}
}

// TestSimCard: `sim card --phone P` fetches the card the shop prints for the
// buyer whose order gave P, shows its code, and scans it as the shopper; a
// phone no order gave, or a wrong key, is said plainly.
func TestSimCard(t *testing.T) {
	m := startMain(t, models.DriverSQLite)
	key := m.Config.Merchants[0].APIKey
	if status, body := post(t, m.URL()+"/api/v1/orders", key, `{"order_no":"SC-1","phone":"13955550009","amount_fen":100}`); status != 201 {
		t.Fatalf("order: %d %s", status, body)
	}
	got := sim(t, m, "card", "--phone", "13955550009", "--key", key, "--openid", "oSimCard0000000000000000000001")
	code := regexp.MustCompile(`card: code ([A-Z0-9]{6}), QR scene claim:([A-Z0-9]{6})`).FindStringSubmatch(got)
	if code == nil || code[1] != code[2] || !strings.Contains(got, "会员码 "+code[1]) || !strings.Contains(got, "你已经是") {
		t.Fatalf("sim card printed %q, want the card's code and lines, then the scan's reply", got)
	}
	member := get(t, m.URL()+"/api/v1/members/oSimCard0000000000000000000001", key)
	if !strings.Contains(member, `"phone":"13955550009"`) {
		t.Fatalf("after sim card the shopper is %s, want the buyer's membership", member)
	}
	for _, tc := range []struct{ phone, key, want string }{
		{"13955550000", key, "an order with that phone"},
		{"13955550009", "not-the-key", "--key"},
	} {
		var out bytes.Buffer
		err := run(context.Background(), []string{"sim", "--server", m.URL(), "card", "--phone", tc.phone, "--key", tc.key}, &out, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("sim card --phone %s --key %s: %v, want an error saying %q", tc.phone, tc.key, err, tc.want)
		}
	}
}

func TestVersionAndUnknownCommand(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"version"}, &out, io.Discard); err != nil || !strings.HasPrefix(out.String(), "wxclub ") {
		t.Fatalf("version: %v %q", err, out.String())
	}
	if err := run(context.Background(), []string{"frobnicate"}, io.Discard, io.Discard); err == nil {
		t.Fatal("unknown command accepted")
	}
}

// TestMigrateCommand: the first run on an empty database names the tables
// it created; a second run says there was nothing to create.
func TestMigrateCommand(t *testing.T) {
	for _, driver := range modelstest.Drivers() {
		t.Run(driver, func(t *testing.T) {
			dsn := filepath.Join(t.TempDir(), "m.db")
			if driver == models.DriverMySQL {
				dsn = modelstest.FreshMySQLDSN(t)
			}
			text := strings.Replace(mustReadFile(t, shippedConfig), "driver: sqlite", "driver: "+driver, 1)
			path := writeConfig(t, strings.Replace(text, "dsn: wxclub.db", "dsn: '"+dsn+"'", 1))
			migrate := func() string {
				var out bytes.Buffer
				if err := run(context.Background(), []string{"migrate", "-config", path}, &out, io.Discard); err != nil {
					t.Fatal(err)
				}
				return out.String()
			}
			first := migrate()
			if !strings.Contains(first, "created 27 tables: merchants, members,") || !strings.Contains(first, "console_sessions") ||
				!strings.Contains(first, "schema up to date ("+driver+")") {
				t.Fatalf("migrate on an empty database printed %q, want the tables it created", first)
			}
			if again := migrate(); !strings.Contains(again, "schema up to date ("+driver+"): every table was already there, none created") {
				t.Fatalf("migrate on a migrated database printed %q, want nothing created", again)
			}
		})
	}
}

func get(t *testing.T, url, key string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	return string(b)
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func TestProbe(t *testing.T) {
	m := startMain(t, models.DriverSQLite)
	var out bytes.Buffer
	if err := run(context.Background(), []string{"probe", m.URL() + "/readyz"}, &out, io.Discard); err != nil {
		t.Fatalf("probe of a ready service: %v", err)
	}
	if err := run(context.Background(), []string{"probe", m.URL() + "/nothing-here"}, &out, io.Discard); err == nil {
		t.Fatal("probe of a 404 succeeded")
	}
}

func TestJobsCommand(t *testing.T) {
	path := writeConfig(t, strings.Replace(mustReadFile(t, shippedConfig), "dsn: wxclub.db", "dsn: '"+filepath.Join(t.TempDir(), "jobs.db")+"'", 1))
	var out bytes.Buffer
	if err := run(context.Background(), []string{"jobs", "list", "-config", path}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "demo:member_day ") || !strings.Contains(out.String(), "never run") {
		t.Fatalf("jobs list printed:\n%s", out.String())
	}
	args := []string{"jobs", "run", "birthday", "--merchant", "demo", "--at", "2026-05-20T09:00:00+08:00", "-config", path}
	out.Reset()
	if err := run(context.Background(), args, &out, io.Discard); err != nil || !strings.Contains(out.String(), "ran: ok") {
		t.Fatalf("first run: %v %q", err, out.String())
	}
	out.Reset()
	if err := run(context.Background(), args, &out, io.Discard); err != nil || !strings.Contains(out.String(), "already ran; nothing done") {
		t.Fatalf("second run of the slot: %v %q, want it refused", err, out.String())
	}
	if err := run(context.Background(), []string{"jobs", "run", "nope", "--merchant", "demo", "-config", path}, io.Discard, io.Discard); err == nil {
		t.Fatal("an unknown job ran")
	}
}

// TestHelpOnEveryCommand: -h and --help print the command's own usage, its
// actions and flags, on stdout, and exit 0; touch nothing (probe fetches no
// "--help", serve starts nothing).
func TestHelpOnEveryCommand(t *testing.T) {
	cases := []struct {
		args []string
		want []string
	}{
		{[]string{"--help"}, []string{"wxclub migrate", "wxclub jobs", "wxclub sim", "load webhook|orders", "wxclub probe"}},
		{[]string{"-h"}, []string{"wxclub migrate", "wxclub probe"}},
		{[]string{"serve", "--help"}, []string{"usage: wxclub [serve]", "-config"}},
		{[]string{"migrate", "-h"}, []string{"usage: wxclub migrate", "-config"}},
		{[]string{"check", "--help"}, []string{"usage: wxclub check", "-config"}},
		{[]string{"jobs", "--help"}, []string{"usage: wxclub jobs", "list ", "run JOB", "-merchant", "-at", "-config"}},
		{[]string{"sim", "--help"}, []string{"usage: wxclub sim", "follow", "unfollow", "scan SCENE", "card --phone P", "say TEXT", "inbox", "redeliver", "group", "-openid", "-server", "-scene", "-phone", "-key"}},
		{[]string{"sim", "group", "--help"}, []string{"usage: wxclub sim group", "say TEXT", "messages", "-group", "-sender", "-at"}},
		{[]string{"emulator", "-h"}, []string{"usage: wxclub emulator", "-addr", "-service"}},
		{[]string{"load", "--help"}, []string{"usage: wxclub load", "webhook", "orders", "-server", "-c int", "-d duration", "-shoppers"}},
		{[]string{"probe", "--help"}, []string{"usage: wxclub probe URL"}},
		{[]string{"version", "--help"}, []string{"usage: wxclub version"}},
		{[]string{"help", "load"}, []string{"usage: wxclub load", "orders"}},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := run(context.Background(), c.args, &out, &errOut)
			if code := exitCode(err, &errOut); code != 0 {
				t.Fatalf("exit %d, want 0: %s", code, errOut.String())
			}
			for _, want := range c.want {
				if !strings.Contains(out.String(), want) {
					t.Errorf("help does not mention %q:\n%s", want, out.String())
				}
			}
			if strings.Contains(out.String(), "Usage of") || errOut.Len() > 0 {
				t.Errorf("stdout %q stderr %q, want only the command's own usage", out.String(), errOut.String())
			}
		})
	}
}

// TestUsageErrorsExit2: a command line that cannot run says why, shows the
// command's usage and exits 2, as flag does; a failure exits 1.
func TestUsageErrorsExit2(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"frobnicate"}, "usage:"},
		{[]string{"sim"}, "usage: wxclub sim"},
		{[]string{"sim", "dance"}, "usage: wxclub sim"},
		{[]string{"sim", "group"}, "usage: wxclub sim group"},
		{[]string{"jobs"}, "usage: wxclub jobs"},
		{[]string{"jobs", "run", "birthday"}, "--merchant"},
		{[]string{"load"}, "usage: wxclub load"},
		{[]string{"load", "--nope", "webhook"}, "flag provided but not defined: -nope"},
		{[]string{"probe"}, "usage: wxclub probe"},
		{[]string{"serve", "config.yaml"}, `unexpected argument "config.yaml"`},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := run(context.Background(), c.args, &out, &errOut)
			if code := exitCode(err, &errOut); code != 2 {
				t.Fatalf("exit %d, want 2 (err %v)", code, err)
			}
			if !strings.Contains(errOut.String(), c.want) {
				t.Errorf("stderr does not say %q:\n%s", c.want, errOut.String())
			}
		})
	}
	var errOut bytes.Buffer
	if code := exitCode(run(context.Background(), []string{"check", "-config", "/nonexistent/config.yaml"}, io.Discard, io.Discard), &errOut); code != 1 {
		t.Errorf("a missing config file exits %d, want 1 (%s)", code, errOut.String())
	}
}
