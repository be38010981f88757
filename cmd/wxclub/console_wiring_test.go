package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wxclub/wxclub/models"
	"github.com/wxclub/wxclub/ritual"
)

func TestConsoleUsersInTheConfiguration(t *testing.T) {
	cfg, err := LoadConfig(shippedConfig, nil)
	if err != nil {
		t.Fatal(err)
	}
	if users := cfg.Merchants[0].Console; len(users) != 2 || users[0].Username != "demo" || users[0].Role != ritual.RoleOwner || users[1].Role != ritual.RoleOperator {
		t.Fatalf("demo console users = %+v, want the owner demo and an operator", users)
	}

	text := strings.Replace(mustReadFile(t, shippedConfig), "password: demo-console-password", "password: ${DEMO_CONSOLE_PASSWORD}", 1)
	path := writeConfig(t, text)
	cfg, err = LoadConfig(path, []string{"DEMO_CONSOLE_PASSWORD=from-the-environment"})
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Merchants[0].Console[0].Password; got != "from-the-environment" {
		t.Fatalf("console password = %q, want the environment's", got)
	}
	if _, err := LoadConfig(path, nil); err == nil || !strings.Contains(err.Error(), "merchants[0].console[0].password") {
		t.Fatalf("unset variable: %v, want an error naming the key", err)
	}

	for _, c := range []struct{ from, to, key string }{
		{"role: operator", "role: admin", "merchants[0].console[1].role"},
		{"password: demo-operator-password", "password: short", "merchants[0].console[1].password"},
		{"username: operator", "username: demo", "merchants[0].console[1].username"},
		{"username: operator", "username: Operator!", "merchants[0].console[1].username"},
	} {
		_, err := LoadConfig(writeConfig(t, strings.Replace(mustReadFile(t, shippedConfig), c.from, c.to, 1)), nil)
		if err == nil || !strings.Contains(err.Error(), c.key) {
			t.Errorf("%s → %s: %v, want an error naming %s", c.from, c.to, err, c.key)
		}
	}
}

func TestConsoleUsersAreSeededOnceAndNeverOverwritten(t *testing.T) {
	cfg, err := LoadConfig(shippedConfig, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Server.Addr = "127.0.0.1:0"
	cfg.Database.DSN = filepath.Join(t.TempDir(), "wxclub.db")
	ctx := context.Background()
	signIn := func(m *Main, password string) error {
		_, err := m.Club.SignIn(ctx, "demo", "demo", password, "127.0.0.1")
		return err
	}

	first := NewMain(cfg, discardLogger())
	if err := first.Run(ctx); err != nil {
		first.Close()
		t.Fatal(err)
	}
	if err := signIn(first, "demo-console-password"); err != nil {
		t.Fatalf("the configured password: %v", err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}

	// The next start has another password in the file: the database is the
	// truth, and keeps the first.
	cfg.Merchants[0].Console[0].Password = "a-password-changed-in-the-file"
	second := NewMain(cfg, discardLogger())
	if err := second.Run(ctx); err != nil {
		second.Close()
		t.Fatal(err)
	}
	defer second.Close()
	if err := signIn(second, "a-password-changed-in-the-file"); ritual.ErrorCode(err) != ritual.EUNAUTHORIZED {
		t.Fatalf("the file's new password: %v, want it refused", err)
	}
	if err := signIn(second, "demo-console-password"); err != nil {
		t.Fatalf("the stored password after a restart: %v", err)
	}
}

func TestPreviewShopperIsTheEmulator(t *testing.T) {
	m := startMain(t, models.DriverSQLite)
	ctx := context.Background()
	s := emulatorShopper{m.Emulator}
	const openid = "oPreviewWiring00000000000001"
	merchant := m.Config.Merchants[0].ID

	if _, err := s.Say(ctx, merchant, openid, "积分"); err == nil || !strings.Contains(err.Error(), "没有关注") {
		t.Fatalf("a shopper who does not follow says something: %v", err)
	}
	if reply, err := s.Follow(ctx, merchant, openid); err != nil || !strings.Contains(reply, "欢迎关注Demo Tea House") {
		t.Fatalf("follow: %q %v", reply, err)
	}
	if reply, err := s.Say(ctx, merchant, openid, "积分"); err != nil || !strings.Contains(reply, "茶苗，你现在有 0 积分") {
		t.Fatalf("积分: %q %v", reply, err)
	}
	if status, body := post(t, m.URL()+"/api/v1/orders", m.Config.Merchants[0].APIKey, `{"order_no":"PW-1","openid":"`+openid+`","amount_fen":32000}`); status != 201 {
		t.Fatalf("order: %d %s", status, body)
	}
	var points []string
	waitFor(t, "the points message in the preview's inbox", func() bool {
		inbox, err := s.Inbox(ctx, merchant, openid)
		if err != nil {
			t.Fatal(err)
		}
		for _, msg := range inbox {
			if msg.Kind == "template" && msg.TemplateID == "TPL_POINTS" {
				points = points[:0]
				for _, kw := range msg.Data {
					points = append(points, kw.Key+"="+kw.Value)
				}
				return true
			}
		}
		return false
	})
	if len(points) < 2 || !strings.HasPrefix(points[0], "thing1=消费¥320.00得积分") || !strings.HasPrefix(points[1], "character_string2=+320") {
		t.Fatalf("the points message reads %q, want its keywords in the template's order", points)
	}
	if inbox, err := s.Inbox(ctx, "another-merchant", openid); err == nil || len(inbox) != 0 {
		t.Fatalf("another merchant's preview reads this shopper's inbox: %v %v", inbox, err)
	}
}
