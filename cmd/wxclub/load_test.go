package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/wxclub/wxclub/models/modelstest"
)

// TestLoadLeavesConfiguredMerchantsAlone runs `wxclub load` as a user
// would against a fresh service on the shipped configuration: the load
// lands on the load merchant, the demo merchant's members, ceremonies and
// outbox are as they were, and the run says which merchant it drove, how
// it went each second and how many requests the deadline cut off.
func TestLoadLeavesConfiguredMerchantsAlone(t *testing.T) {
	for _, driver := range modelstest.Drivers() {
		t.Run(driver, func(t *testing.T) {
			m := startMain(t, driver)
			demo := m.Config.Merchants[0].ID
			before := merchantRows(t, m, demo)
			loadBefore := merchantRows(t, m, loadMerchantID)
			for _, action := range loadActions {
				var out, progress bytes.Buffer
				args := []string{"load", action, "-config", shippedConfig, "-server", m.URL(), "-d", "2500ms", "-c", "4"}
				if err := run(context.Background(), args, &out, &progress); err != nil {
					t.Fatalf("wxclub %s: %v", strings.Join(args, " "), err)
				}
				if !strings.Contains(out.String(), "against merchant load") {
					t.Errorf("%s: the run does not say it drives the load merchant:\n%s", action, out.String())
				}
				if got := len(regexp.MustCompile(`(?m)^\s*\ds  requests \d+  rate \d+/s  errors 0$`).FindAllString(progress.String(), -1)); got < 2 {
					t.Errorf("%s: %d progress lines without errors in 2.5 s, want 2:\n%s", action, got, progress.String())
				}
				if !regexp.MustCompile(`requests [1-9]\d*  failures 0  cancelled at deadline \d+ `).MatchString(out.String()) {
					t.Errorf("%s: report without requests, with failures or without cancelled ones apart:\n%s", action, out.String())
				}
			}
			if after := merchantRows(t, m, demo); after != before {
				t.Errorf("demo merchant's rows (members, ceremonies, outbox) went from %v to %v", before, after)
			}
			if after := merchantRows(t, m, loadMerchantID); after.members <= loadBefore.members || after.outbox <= loadBefore.outbox {
				t.Errorf("load merchant's rows went from %v to %v: the load went elsewhere", loadBefore, after)
			}
		})
	}
}

func TestLoadRefusesAConfiguredMerchantUnlessTold(t *testing.T) {
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"load", "orders", "-config", shippedConfig, "-merchant", "demo", "-server", "http://127.0.0.1:1"}, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "--i-know") {
		t.Fatalf("load -merchant demo: err = %v, want a refusal naming --i-know", err)
	}
}

type rowCounts struct{ members, ceremonies, outbox int }

func merchantRows(t *testing.T, m *Main, merchant string) rowCounts {
	t.Helper()
	var c rowCounts
	for table, n := range map[string]*int{"members": &c.members, "ceremonies": &c.ceremonies, "outbox": &c.outbox} {
		if err := m.DB.SQL().QueryRow("SELECT COUNT(*) FROM "+table+" WHERE merchant_id = ?", merchant).Scan(n); err != nil {
			t.Fatal(err)
		}
	}
	return c
}
