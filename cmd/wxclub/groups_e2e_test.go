package main

import (
	"bytes"
	"context"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/wxclub/wxclub/models"
	"github.com/wxclub/wxclub/models/modelstest"
	"github.com/wxclub/wxclub/ritual"
	"github.com/wxclub/wxclub/wechat"
)

// demoGroups is the groups section the demo merchant gets in these tests
// (config.yaml has none yet): a bridge secret, one operator, 10 points a
// sign-in.
var demoGroups = ritual.Groups{Secret: "demo-group-secret-change-me", Operators: []string{"wx_demo_operator"}}

// startGroupMain is startMain with the demo merchant's groups and sign-in
// configured, and the emulator's bridge holding the merchant's secret.
func startGroupMain(t *testing.T, driver string) *Main {
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
		cfg.Merchants[0].ID = "demo" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", ""))
		cfg.Merchants[0].APIKey = "key-" + cfg.Merchants[0].ID
		cfg.Merchants[0].OfficialAccount.AppID = "wx" + cfg.Merchants[0].ID
	}
	cfg.Merchants[0].Groups = demoGroups
	cfg.Merchants[0].SignIn = ritual.SignIn{Points: 10, Streaks: []ritual.StreakBonus{{Days: 7, Points: 70}}, MakeupCost: 20}
	m := NewMain(cfg, discardLogger())
	if err := m.Run(context.Background()); err != nil {
		m.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	if status, body := post(t, m.URL()+"/emu/groups/bridges", "", `{"merchant":"`+cfg.Merchants[0].ID+`","secret":"`+demoGroups.Secret+`"}`); status != http.StatusNoContent {
		t.Fatalf("register the bridge secret: %d %s", status, body)
	}
	return m
}

// simGroup runs `wxclub sim group ...` against m and returns what it
// printed.
func simGroup(t *testing.T, m *Main, args ...string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	args = append(append([]string{"sim", "group"}, args...), "--server", m.URL(), "--merchant", m.Config.Merchants[0].ID)
	if err := run(context.Background(), args, &out, &errOut); err != nil {
		t.Fatalf("wxclub %s: %v (%s)", strings.Join(args, " "), err, errOut.String())
	}
	return out.String()
}

var e2eLinkCode = regexp.MustCompile(`绑定码：([A-Z0-9]{6})`)

func TestGroupBridgeEndToEnd(t *testing.T) {
	for _, driver := range modelstest.Drivers() {
		t.Run(driver, func(t *testing.T) {
			m := startGroupMain(t, driver)
			const openid = "oGroupE2E00000000000000000001"
			group := []string{"--group", "tea-circle-1", "--group-name", "茶友一群", "--sender", "wx_anna", "--nickname", "安娜"}
			sim(t, m, "follow", "--openid="+openid)

			if got := simGroup(t, m, append([]string{"say", "签到"}, group...)...); !strings.Contains(got, "绑定") {
				t.Fatalf("签到 before linking printed %q, want how to link", got)
			}
			// The official account gives the code.
			reply := sim(t, m, "say", "绑定", "--openid="+openid)
			code := e2eLinkCode.FindStringSubmatch(reply)
			if code == nil {
				t.Fatalf("link code: %q", reply)
			}
			if got := simGroup(t, m, append([]string{"say", "绑定", code[1]}, group...)...); !strings.Contains(got, "绑定成功") {
				t.Fatalf("绑定 printed %q", got)
			}

			first := simGroup(t, m, append([]string{"say", "签到", "--msg-id", "e2e-signin-1"}, group...)...)
			if !strings.Contains(first, "@安娜 签到成功") || !strings.Contains(first, "+10积分") {
				t.Fatalf("签到 printed %q", first)
			}
			if again := simGroup(t, m, append([]string{"say", "签到", "--msg-id", "e2e-signin-1"}, group...)...); again != first {
				t.Fatalf("the bridge's retry printed %q, want the first reply %q", again, first)
			}
			if got := simGroup(t, m, append([]string{"say", "签到"}, group...)...); !strings.Contains(got, "已经签过到") {
				t.Fatalf("a second 签到 printed %q", got)
			}
			if got := simGroup(t, m, append([]string{"say", "积分"}, group...)...); !strings.Contains(got, "私信") || strings.ContainsAny(got, "0123456789") {
				t.Fatalf("积分 printed %q, want the balance kept out of the group", got)
			}
			if got := simGroup(t, m, append([]string{"say", "排行"}, group...)...); !strings.Contains(got, "1. 安娜 +10") {
				t.Fatalf("排行 printed %q", got)
			}
			if got := simGroup(t, m, append([]string{"say", "大家好"}, group...)...); !strings.Contains(got, "no reply") {
				t.Fatalf("chatter printed %q, want no reply", got)
			}

			// The service's side: posts to the group arrive at the
			// emulator's callback and are listed.
			if got := simGroup(t, m, "messages", "--group", "tea-circle-1"); !strings.Contains(got, "no posts") {
				t.Fatalf("messages before any post printed %q", got)
			}
			merchant, err := m.Club.Merchant(context.Background(), m.Config.Merchants[0].ID)
			if err != nil {
				t.Fatal(err)
			}
			withCallback := *merchant
			withCallback.Groups.CallbackURL = m.URL() + "/emu/groups/callback"
			if err := wechat.NewBridge(nil).Post(context.Background(), &withCallback, "tea-circle-1", "🎉 本周签到之星：安娜", "e2e:post:1"); err != nil {
				t.Fatal(err)
			}
			if got := simGroup(t, m, "messages", "--group", "tea-circle-1"); !strings.Contains(got, "🎉 本周签到之星：安娜") {
				t.Fatalf("messages printed %q, want the post", got)
			}

			var groups struct {
				Groups []struct {
					ID            string `json:"id"`
					Name          string `json:"name"`
					LinkedMembers int    `json:"linked_members"`
				} `json:"groups"`
			}
			getJSON(t, m.URL()+"/api/v1/groups", m.Config.Merchants[0].APIKey, &groups)
			if len(groups.Groups) != 1 || groups.Groups[0].ID != "tea-circle-1" || groups.Groups[0].Name != "茶友一群" || groups.Groups[0].LinkedMembers != 1 {
				t.Fatalf("groups = %+v", groups)
			}

			// Anyone else posting to the webhook is refused.
			resp, err := http.Post(m.URL()+"/group/"+merchant.ID, "application/json", strings.NewReader(`{"msg_id":"x","group_id":"g","sender":{"id":"s"},"text":"签到"}`))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("an unsigned post: %d, want 401", resp.StatusCode)
			}
		})
	}
}
