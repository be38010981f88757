package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wxclub/wxclub/models"
	"github.com/wxclub/wxclub/models/modelstest"
)

// minimalConfig is the smallest configuration the README shows: one
// merchant with only an id, a name, an API key and an official account.
const minimalConfig = `server: { addr: "127.0.0.1:0" }
database: { driver: %s, dsn: '%s' }
merchants:
  - id: %s
    name: Plain Shop
    api_key: %s
    official_account: { app_id: wx%s, app_secret: plain-shop-secret-0123, token: plainshop }
`

func put(t *testing.T, url, key, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestMinimalMerchantStarts(t *testing.T) {
	for _, driver := range modelstest.Drivers() {
		t.Run(driver, func(t *testing.T) {
			id, dsn := "plain", filepath.Join(t.TempDir(), "wxclub.db")
			if driver == models.DriverMySQL {
				// Tests share one MySQL database; this run has a merchant of its own.
				id, dsn = "plain"+strings.ToLower(strings.ReplaceAll(t.Name(), "/", "")), modelstest.MySQLDSN(t)
			}
			key := "key-" + id
			path := writeConfig(t, fmt.Sprintf(minimalConfig, driver, dsn, id, key, id))
			cfg, err := LoadConfig(path, nil)
			if err != nil {
				t.Fatalf("the minimal configuration is refused: %v", err)
			}
			m := NewMain(cfg, discardLogger())
			if err := m.Run(context.Background()); err != nil {
				m.Close()
				t.Fatal(err)
			}
			t.Cleanup(func() { m.Close() })

			const openid = "oMinimal000000000000000000001"
			sim(t, m, "follow", "--openid="+openid)
			if got := sim(t, m, "say", "帮助", "--openid="+openid); !strings.Contains(got, "你可以回复") {
				t.Fatalf("say 帮助 printed %q, want the help", got)
			}
			// One point a yuan by default; 520 yuan and two orders make a
			// senior member (50000 fen, 2 orders) of the default ladder.
			for i, amount := range []int{2000, 50000} {
				status, body := post(t, m.URL()+"/api/v1/orders", key, fmt.Sprintf(`{"order_no":"MIN-%d","openid":%q,"amount_fen":%d}`, i, openid, amount))
				if status != http.StatusCreated {
					t.Fatalf("order %d: %d %s", i, status, body)
				}
			}
			member := get(t, m.URL()+"/api/v1/members/"+openid, key)
			for _, want := range []string{`"points":520`, `老朋友`} {
				if !strings.Contains(member, want) {
					t.Errorf("member after 520 yuan in two orders = %s, want %s", member, want)
				}
			}
			settings := get(t, m.URL()+"/api/v1/settings/profile", key)
			if !strings.Contains(settings, `"timezone":"Asia/Shanghai"`) {
				t.Errorf("profile = %s, want the default zone Asia/Shanghai", settings)
			}

			// Defaults fill what the file leaves out when it is seeded; a
			// merchant who clears a required setting later is refused, and
			// nothing changes.
			status, body := put(t, m.URL()+"/api/v1/settings/profile", key, `{"name":"Plain Shop","timezone":""}`)
			if status != http.StatusUnprocessableEntity || !strings.Contains(body, `"field":"timezone"`) {
				t.Fatalf("PUT profile without a timezone: %d %s, want 422 naming timezone", status, body)
			}
			status, body = put(t, m.URL()+"/api/v1/settings/membership", key, `{"period_days":365,"points_per_yuan":1,"points_expire_days":365,"levels":[]}`)
			if status != http.StatusUnprocessableEntity || !strings.Contains(body, `"field":"membership.levels"`) {
				t.Fatalf("PUT membership without levels: %d %s, want 422 naming membership.levels", status, body)
			}
			if got := get(t, m.URL()+"/api/v1/settings/profile", key); got != settings {
				t.Errorf("profile after refused PUT = %s, want unchanged %s", got, settings)
			}

			if driver == models.DriverSQLite {
				var out, errOut bytes.Buffer
				if err := run(context.Background(), []string{"check", "-config", path}, &out, &errOut); err != nil {
					t.Fatalf("wxclub check on the minimal configuration: %v\n%s%s", err, out.String(), errOut.String())
				}
			}
		})
	}
}

// TestDefaultsNeverOverrideWhatIsWritten: a default fills a key left out,
// never a value the merchant wrote, and a list is the merchant's or the
// default, never a mixture.
func TestDefaultsNeverOverrideWhatIsWritten(t *testing.T) {
	base := fmt.Sprintf(minimalConfig, "sqlite", "x.db", "plain", "key-plain", "plain")
	t.Run("zero and partial values stay", func(t *testing.T) {
		cfg, err := LoadConfig(writeConfig(t, base+`    timezone: Europe/Berlin
    membership:
      points_per_yuan: 0
      period_days: 30
      levels: [ { key: only, name: Member, nickname: Friend, right: { kind: free_shipping, title: Free shipping } } ]
`), nil)
		if err != nil {
			t.Fatal(err)
		}
		m := cfg.Merchants[0]
		if m.Timezone != "Europe/Berlin" || m.Membership.PointsPerYuan != 0 || m.Membership.PeriodDays != 30 {
			t.Errorf("written values changed: timezone %q, points_per_yuan %d, period_days %d", m.Timezone, m.Membership.PointsPerYuan, m.Membership.PeriodDays)
		}
		if m.Membership.PointsExpireDays != 365 {
			t.Errorf("points_expire_days = %d, want the default 365", m.Membership.PointsExpireDays)
		}
		if len(m.Membership.Levels) != 1 || m.Membership.Levels[0].Nickname != "Friend" || m.Membership.Levels[0].Right.Kind != "free_shipping" {
			t.Errorf("levels = %+v, want exactly the one written", m.Membership.Levels)
		}
	})
	t.Run("an empty level list is refused", func(t *testing.T) {
		_, err := LoadConfig(writeConfig(t, base+"    membership: { levels: [] }\n"), nil)
		if err == nil || !strings.Contains(err.Error(), "merchants[0].membership.levels") {
			t.Fatalf("err = %v, want membership.levels named", err)
		}
	})
}
