package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wxclub/wxclub/ritual"
)

// TestMemberCardActivationAndSync uses WeChat's own member card: receiving
// the card, submitting its form (the activation), then every points change
// pushed to the card through the outbox.
func TestMemberCardActivationAndSync(t *testing.T) {
	cfg, err := LoadConfig(shippedConfig, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Server.Addr = "127.0.0.1:0"
	cfg.Database.DSN = filepath.Join(t.TempDir(), "card.db")
	cfg.Merchants[0].Activation = ritual.Activation{Method: ritual.ActivateMemberCard, CardID: "pCARD0001", Gift: ritual.Gift{Points: 100}}
	m := NewMain(cfg, slog.New(slog.DiscardHandler))
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	const openid = "oCardHolder0000000000000001"
	sim(t, m, "follow", "--openid="+openid)
	event := func(fields map[string]string) string {
		body, _ := json.Marshal(map[string]any{"account": "demo", "openid": openid, "action": "event", "fields": fields})
		resp, err := http.Post(m.URL()+"/emu/shopper", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("event %v: %d %s", fields, resp.StatusCode, out)
		}
		return string(out)
	}
	event(map[string]string{"Event": "user_get_card", "CardId": "pCARD0001", "UserCardCode": "CODE0001"})
	if got := event(map[string]string{"Event": "submit_membercard_user_info", "CardId": "pCARD0001", "UserCardCode": "CODE0001"}); !strings.Contains(got, "激活成功") {
		t.Fatalf("submitting the card form answered %s, want the activation", got)
	}
	post(t, m.URL()+"/api/v1/orders", cfg.Merchants[0].APIKey, `{"order_no":"CARD-1","openid":"`+openid+`","amount_fen":12300}`)
	waitFor(t, "the card to show the new balance", func() bool {
		return strings.Contains(sim(t, m, "inbox", "--json", "--openid="+openid), `"bonus":223`)
	})
	inbox := sim(t, m, "inbox", "--json", "--openid="+openid)
	if !strings.Contains(inbox, `"membership_number"`) || !strings.Contains(inbox, `"custom_field_value1":"茶苗"`) {
		t.Fatalf("inbox lacks the card activation or the nickname on the card:\n%s", inbox)
	}
	event(map[string]string{"Event": "user_del_card", "CardId": "pCARD0001", "UserCardCode": "CODE0001"})
	member, err := m.DB.Members().ByOpenID(context.Background(), "demo", openid)
	if err != nil || member.CardCode != "" {
		t.Fatalf("after the card was deleted: %+v %v, want no card code", member, err)
	}
}
