package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startLogged runs the service on SQLite with JSON logs into the returned
// buffer.
func startLogged(t *testing.T, openids bool) (*Main, *syncBuffer) {
	t.Helper()
	cfg, err := LoadConfig(shippedConfig, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Server.Addr = "127.0.0.1:0"
	cfg.Database.DSN = filepath.Join(t.TempDir(), "wxclub.db")
	cfg.Log = LogConfig{Format: "json", Level: "debug", OpenIDs: openids}
	logs := &syncBuffer{}
	m := NewMain(cfg, newLogger(cfg.Log, logs))
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m, logs
}

func TestLogsNeverShowSecretsPhonesOrBodies(t *testing.T) {
	m, logs := startLogged(t, false)
	const openid = "oLogCheck000000000000000001"
	sim(t, m, "follow", "--openid="+openid)
	sim(t, m, "say", "我的手机号是13912340000请回电", "--openid="+openid)
	post(t, m.URL()+"/api/v1/orders", m.Config.Merchants[0].APIKey, `{"order_no":"LOG-1","phone":"13912345678","openid":"`+openid+`","amount_fen":100}`)
	post(t, m.URL()+"/api/v1/orders", m.Config.Merchants[0].APIKey, `{"order_no":"LOG-2","phone":"1391234","amount_fen":100}`)
	m.Close()

	out := logs.String()
	demo := m.Config.Merchants[0]
	for _, secret := range []string{
		openid, "13912345678", "13912340000", "1391234", "请回电", demo.APIKey,
		demo.OfficialAccount.AppSecret, demo.OfficialAccount.EncodingAESKey, "access_token=",
	} {
		if strings.Contains(out, secret) {
			t.Errorf("the log shows %q", secret)
		}
	}
	if !strings.Contains(out, `"request_id"`) || !strings.Contains(out, `"route":"/wechat/:merchant"`) || !strings.Contains(out, `"route":"/api/v1/orders"`) {
		t.Fatalf("no per-request lines with a request id:\n%s", out)
	}
}

func TestOpenIDsInLogsOnlyWhenTurnedOn(t *testing.T) {
	m, logs := startLogged(t, true)
	const openid = "oLogCheck000000000000000002"
	sim(t, m, "follow", "--openid="+openid)
	if !strings.Contains(logs.String(), `"openid":"`+openid+`"`) {
		t.Fatalf("log.openids is on but the webhook line has no openid:\n%s", logs.String())
	}
}

func TestMetrics(t *testing.T) {
	m := startMain(t, "sqlite")
	const openid = "--openid=oMetrics00000000000000000001"
	sim(t, m, "follow", openid)
	sim(t, m, "say", "帮助", openid)
	post(t, m.URL()+"/api/v1/orders", m.Config.Merchants[0].APIKey, `{"order_no":"MET-1","openid":"oMetrics00000000000000000001","amount_fen":52000}`)
	post(t, m.URL()+"/api/v1/orders", m.Config.Merchants[0].APIKey, `{"order_no":"MET-2","openid":"oMetrics00000000000000000001","amount_fen":100}`)
	// Senior has a ceremony: the level changes when the member performs it.
	sim(t, m, "say", "我是茶友，以茶会友", openid)
	sim(t, m, "say", "确认", openid)
	if r, _ := http.Get(m.URL() + "/wechat/nobody?signature=x"); r != nil {
		r.Body.Close()
	}
	resp, err := http.Get(m.URL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	text := string(body)
	for _, want := range []string{
		`wxclub_webhook_requests_total{kind="event:subscribe",merchant="demo",outcome="replied"} 1`,
		`wxclub_webhook_requests_total{kind="text",merchant="demo",outcome="replied"} 3`,
		`wxclub_webhook_request_duration_seconds_bucket{kind="text",merchant="demo",le="5"} 3`,
		`wxclub_orders_total{merchant="demo",outcome="created"} 2`,
		`wxclub_points_total{direction="issued",merchant="demo",source="order"} 521`,
		`wxclub_points_total{direction="issued",merchant="demo",source="level_reward"} 100`,
		`wxclub_level_changes_total{direction="up",merchant="demo"} 1`,
		`wxclub_outbox_messages{status="pending"}`,
		`go_sql_max_open_connections{db_name="sqlite"} 1`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(text, `merchant="nobody"`) {
		t.Error("an unknown merchant id became a label")
	}
}
