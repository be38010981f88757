package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wxclub/wxclub/models"
	"github.com/wxclub/wxclub/models/modelstest"
)

func post(t *testing.T, url, key, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
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

// waitFor polls until cond holds or five seconds pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestOrderReachesTheShopperAsATemplateMessage(t *testing.T) {
	for _, driver := range modelstest.Drivers() {
		t.Run(driver, func(t *testing.T) {
			m := startMain(t, driver)
			const shopper = "--openid=oOrderE2E00000000000000000001"
			sim(t, m, "follow", shopper)
			key := m.Config.Merchants[0].APIKey
			status, body := post(t, m.URL()+"/api/v1/orders", key, `{"order_no":"E2E-1","openid":"oOrderE2E00000000000000000001","amount_fen":52000,"channel":"youzan"}`)
			if status != 201 || !strings.Contains(body, `"points_earned":520`) {
				t.Fatalf("order: %d %s", status, body)
			}
			// The relay delivers after the few seconds points changes wait to merge.
			waitFor(t, "the points message", func() bool {
				return strings.Contains(sim(t, m, "inbox", "--json", shopper), `"template_id":"TPL_POINTS"`)
			})
			if raw := sim(t, m, "inbox", "--json", shopper); !strings.Contains(raw, `"+520"`) {
				t.Fatalf("inbox --json lacks the +520 points message:\n%s", raw)
			}
			// Without --json: one readable line a message, the template's
			// keywords in its order, no JSON to pick through.
			inbox := sim(t, m, "inbox", shopper)
			points := regexp.MustCompile(`(?m)^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d  template  TPL_POINTS  \S+=\S.*\S+=\+520`)
			if !points.MatchString(inbox) || strings.Contains(inbox, "{") {
				t.Fatalf("inbox printed:\n%s\nwant a line: time, template, TPL_POINTS, its keywords with +520", inbox)
			}
			if got := sim(t, m, "say", "积分", shopper); !strings.Contains(got, "520 积分") {
				t.Fatalf("积分 printed %q", got)
			}
		})
	}
}

func TestCheckCommand(t *testing.T) {
	dir := t.TempDir()
	dsn := filepath.Join(dir, "check.db")
	cfgPath := writeConfig(t, strings.Replace(mustReadFile(t, shippedConfig), "dsn: wxclub.db", "dsn: '"+dsn+"'", 1))
	cfg, err := LoadConfig(cfgPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Server.Addr = "127.0.0.1:0"
	m := NewMain(cfg, nil)
	m.Logger = discardLogger()
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	status, body := post(t, m.URL()+"/api/v1/orders", cfg.Merchants[0].APIKey, `{"order_no":"CHK-1","phone":"13800138000","amount_fen":10000}`)
	if status != 201 {
		t.Fatalf("order: %d %s", status, body)
	}
	m.Close()

	var out bytes.Buffer
	if err := run(context.Background(), []string{"check", "-config", cfgPath}, &out, io.Discard); err != nil {
		t.Fatalf("check on a sound ledger: %v\n%s", err, out.String())
	}
	// Someone edits a balance behind the ledger's back.
	db, err := models.Open(context.Background(), models.Config{Driver: "sqlite", DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Exec(context.Background(), "UPDATE members SET points = points + 7"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	out.Reset()
	err = run(context.Background(), []string{"check", "-config", cfgPath}, &out, io.Discard)
	if err == nil || !strings.Contains(out.String(), "balance=107 ledger_sum=100") || !strings.Contains(out.String(), "merchant=demo") {
		t.Fatalf("check after tampering: err %v, printed %q; want a failure naming the member", err, out.String())
	}
}
