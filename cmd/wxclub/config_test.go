package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// shippedConfig is the repository's config.yaml.
const shippedConfig = "../../config.yaml"

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestShippedConfigLoads(t *testing.T) {
	cfg, err := LoadConfig(shippedConfig, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := cfg.Database.Driver, "sqlite"; got != want {
		t.Errorf("driver = %q, want %q", got, want)
	}
	if got, want := cfg.WeChat.APIBase, APIBaseEmulator; got != want {
		t.Errorf("api_base = %q, want %q", got, want)
	}
	if got, want := cfg.WeChat.ReplayWindow, 300*time.Second; got != want {
		t.Errorf("replay_window = %v, want %v", got, want)
	}
	if len(cfg.Merchants) != 1 || cfg.Merchants[0].ID != "demo" {
		t.Fatalf("merchants = %+v, want the demo merchant", cfg.Merchants)
	}
	demo := cfg.Merchants[0]
	if demo.OfficialAccount.Token == "" || demo.OfficialAccount.EncodingAESKey == "" || demo.APIKey == "" {
		t.Errorf("demo merchant lacks plaintext or safe-mode credentials: %+v", demo.OfficialAccount)
	}
	if got := len(demo.Membership.Levels); got != 3 || demo.Membership.Levels[2].Nickname != "茶仙" {
		t.Errorf("levels = %+v, want the three tea levels", demo.Membership.Levels)
	}
}

func TestEnvironmentOverrides(t *testing.T) {
	cfg, err := LoadConfig(shippedConfig, []string{
		"WXCLUB_DATABASE_DSN=/tmp/other.db",
		"WXCLUB_SERVER_ADDR=127.0.0.1:9999",
		"WXCLUB_WECHAT_REPLAY_WINDOW=0",
		"WXCLUB_LOG_FORMAT=json",
		"UNRELATED=1",
	})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Database.DSN != "/tmp/other.db" || cfg.Server.Addr != "127.0.0.1:9999" || cfg.WeChat.ReplayWindow != 0 || cfg.Log.Format != "json" {
		t.Fatalf("overrides not applied: %+v", cfg)
	}
}

func TestSecretsFromEnvironment(t *testing.T) {
	text := strings.Replace(mustReadFile(t, shippedConfig), "app_secret: demo-app-secret-0123456789abcdef", "app_secret: ${DEMO_APP_SECRET}", 1)
	path := writeConfig(t, text)
	cfg, err := LoadConfig(path, []string{"DEMO_APP_SECRET=from-env"})
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Merchants[0].OfficialAccount.AppSecret; got != "from-env" {
		t.Fatalf("app_secret = %q, want from-env", got)
	}
	_, err = LoadConfig(path, nil)
	if err == nil || !strings.Contains(err.Error(), "merchants[0].official_account.app_secret") || !strings.Contains(err.Error(), "DEMO_APP_SECRET") {
		t.Fatalf("err = %v, want it to name the key and the missing variable", err)
	}
}

func TestBadConfigNamesTheKey(t *testing.T) {
	base := mustReadFile(t, shippedConfig)
	cases := []struct {
		name, from, to, wantKey string
	}{
		{"driver", "driver: sqlite", "driver: postgres", "database.driver"},
		{"duration", "replay_window: 300s", "replay_window: soon", "replay_window"},
		{"retention shorter than window", "dedupe_retention: 72h", "dedupe_retention: 1m", "wechat.dedupe_retention"},
		{"unknown key", "server:\n", "server:\n  adress: x\n", "server.adress"},
		{"token", "token: wxclubdemo", "token: a", "merchants[0].official_account.token"},
		{"aes key", "encoding_aes_key: B7pOlyRIvK3oLh2uGxKclaQlSF/dXMg5Xg7B67sNrak", "encoding_aes_key: short", "merchants[0].official_account.encoding_aes_key"},
		{"timezone", "timezone: Asia/Shanghai", "timezone: Mars/Olympus", "merchants[0].timezone"},
		{"threshold below the level beneath", "min_amount_fen: 300000", "min_amount_fen: 100", "merchants[0].membership.levels[2].min_amount_fen"},
		{"missing threshold", "min_amount_fen: 50000\n          min_orders: 2", "min_amount_fen: 50000", "merchants[0].membership.levels[1].min_orders"},
		{"ceremony step", "steps: [pledge, confirm]", "steps: [pledge, dance]", "merchants[0].membership.levels[1].ceremony.steps[1]"},
		{"campaign schedule", `schedule: "0 9 8 * *"`, `schedule: "0 9 32 * *"`, "merchants[0].campaigns.member_day.schedule"},
		{"group secret", "secret: demo-group-secret-change-me", "secret: short", "merchants[0].groups.secret"},
		{"right kind", "kind: discount", "kind: cashback", "merchants[0].membership.levels[1].right.kind"},
		{"template purpose", "level_changed:  { id: TPL_LEVEL }", "levle_changed: { id: TPL_LEVEL }", "merchants[0].templates.levle_changed"},
		{"api key", "api_key: demo-key-change-me", "api_key: x", "merchants[0].api_key"},
		{"template field over 20 characters", "points_changed: { id: TPL_POINTS }", `points_changed: { id: TPL_POINTS, fields: { thing1: "感谢您在本店消费，本次获得积分如下所示请查收" } }`, "merchants[0].templates.points_changed.fields.thing1"},
		{"sign-in points at the int64 limit", "signin: { points: 10,", "signin: { points: 9223372036854775807,", "merchants[0].signin.points"},
		{"points that never expire in a date a database holds", "points_expire_days: 365", "points_expire_days: 1000000000000", "merchants[0].membership.points_expire_days"},
		{"coupon valid for ever", "per_member_limit: 3, valid_days: 30", "per_member_limit: 3, valid_days: 10000000", "merchants[0].rewards[1].valid_days"},
		{"catch-up of a year", "birthday: { schedule: \"0 9 * * *\", points: 88, catch_up: 12h }", "birthday: { schedule: \"0 9 * * *\", points: 88, catch_up: 8760h }", "merchants[0].campaigns.birthday.catch_up"},
		{"template field that does not parse", "points_changed: { id: TPL_POINTS }", `points_changed: { id: TPL_POINTS, fields: { thing1: "{{.Reason" } }`, "merchants[0].templates.points_changed.fields.thing1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if !strings.Contains(base, c.from) {
				t.Fatalf("shipped config no longer contains %q", c.from)
			}
			_, err := LoadConfig(writeConfig(t, strings.Replace(base, c.from, c.to, 1)), nil)
			if err == nil || !strings.Contains(err.Error(), c.wantKey) {
				t.Fatalf("err = %v, want it to name %s", err, c.wantKey)
			}
		})
	}
}

func mustReadFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestConfigErrorsShowTheWholeValue: an operator reads the key, the value
// exactly as written and, for an environment override, the variable that
// set it.
func TestConfigErrorsShowTheWholeValue(t *testing.T) {
	base := mustReadFile(t, shippedConfig)
	cases := []struct {
		name, from, to string
		environ        []string
		want           []string
	}{
		{"duration with a space", "replay_window: 300s", "replay_window: five minutes", nil,
			[]string{`wechat.replay_window: "five minutes" is not a duration`}},
		{"duration from the environment", "", "", []string{"WXCLUB_WECHAT_REPLAY_WINDOW=five minutes"},
			[]string{`wechat.replay_window: "five minutes"`, "WXCLUB_WECHAT_REPLAY_WINDOW"}},
		{"duration without a unit", "replay_window: 300s", "replay_window: 300", nil,
			[]string{"wechat.replay_window: 300 has no unit"}},
		{"campaign catch-up", "catch_up: 1h", "catch_up: an hour", nil,
			[]string{`merchants[0].campaigns.signin_reminder.catch_up: "an hour"`}},
		{"number", "max_open_conns: 32", "max_open_conns: thirty two", nil,
			[]string{`database.max_open_conns: "thirty two"`}},
		{"invalid value from the environment", "", "", []string{"WXCLUB_LOG_FORMAT=xml"},
			[]string{`log.format: must be text or json, got "xml"`, "WXCLUB_LOG_FORMAT"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if !strings.Contains(base, c.from) {
				t.Fatalf("shipped config no longer contains %q", c.from)
			}
			_, err := LoadConfig(writeConfig(t, strings.Replace(base, c.from, c.to, 1)), c.environ)
			for _, want := range c.want {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Fatalf("err = %v, want it to say %s", err, want)
				}
			}
		})
	}
}

// TestYAMLSyntaxErrorNamesItsLine: a key indented one space too far on
// line 3 is reported on line 3, not where its mapping starts.
func TestYAMLSyntaxErrorNamesItsLine(t *testing.T) {
	cases := map[string]struct {
		text string
		line string
	}{
		"mis-indented key": {"server:\n  addr: \":8080\"\n   shutdown_timeout: 10s\n", "line 3"},
		"open quote":       {"server:\n  addr: \":8080\"\nlog:\n  format: \"text\n", "line 4"},
		"tab indentation":  {"server:\n  addr: \":8080\"\nlog:\n\tformat: text\n", "line 4"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := LoadConfig(writeConfig(t, c.text), nil)
			if err == nil || !strings.Contains(err.Error(), c.line+" ") {
				t.Fatalf("err = %v, want it to point at %s", err, c.line)
			}
		})
	}
}
