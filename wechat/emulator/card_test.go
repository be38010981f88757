package emulator_test

import (
	"context"
	"testing"

	"github.com/wxclub/wxclub/wechat/emulator"
)

func TestMemberCard(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, emulator.Options{})
	a := h.register(uniqueAccount(emulator.ModePlaintext))
	tok := h.token(a)
	h.follow(a, "holder")
	if _, err := h.emu.Event(ctx, a.Name, "holder", map[string]string{
		"Event": "user_get_card", "CardId": "pCARD", "UserCardCode": "0001", "IsGiveByFriend": "0",
	}); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name        string
		path        string
		body        map[string]any
		want        int
		wantBonus   int64
		wantBalance int64
	}{
		{"activate", "/card/membercard/activate", map[string]any{"membership_number": "M1", "code": "0001", "card_id": "pCARD", "init_bonus": 100, "init_balance": 5}, 0, -1, -1},
		{"activate without membership_number", "/card/membercard/activate", map[string]any{"code": "0001"}, 41011, -1, -1},
		{"unknown code", "/card/membercard/updateuser", map[string]any{"code": "9999", "card_id": "pCARD", "bonus": 1}, 40056, -1, -1},
		{"another card's id", "/card/membercard/updateuser", map[string]any{"code": "0001", "card_id": "pOTHER", "bonus": 1}, 40073, -1, -1},
		{"no code", "/card/membercard/updateuser", map[string]any{"card_id": "pCARD", "bonus": 1}, 41011, -1, -1},
		{"add bonus", "/card/membercard/updateuser", map[string]any{"code": "0001", "card_id": "pCARD", "add_bonus": 20, "record_bonus": "消费"}, 0, 120, 5},
		{"set bonus", "/card/membercard/updateuser", map[string]any{"code": "0001", "bonus": 50, "add_balance": -2}, 0, 50, 3},
		{"custom field only", "/card/membercard/updateuser", map[string]any{"code": "0001", "custom_field_value1": "Gold"}, 0, 50, 3},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			m := h.post(s.path, tok, s.body)
			if got := m.code(); got != s.want {
				t.Fatalf("errcode = %d, want %d (%v)", got, s.want, m)
			}
			if s.wantBonus < 0 {
				return
			}
			if m.num("result_bonus") != s.wantBonus || m.num("result_balance") != s.wantBalance || m.str("openid") != "holder" {
				t.Errorf("answer = %v, want bonus %d balance %d for holder", m, s.wantBonus, s.wantBalance)
			}
		})
	}
	inbox := h.emu.Inbox("holder")
	if got, want := len(inbox), 4; got != want {
		t.Fatalf("inbox has %d card updates, want %d", got, want)
	}
	if got := inbox[1].Card["record_bonus"]; inbox[1].Kind != "card_update" || got != "消费" {
		t.Errorf("inbox[1] = %+v, want the add_bonus payload as sent", inbox[1])
	}

	if _, err := h.emu.Event(ctx, a.Name, "holder", map[string]string{"Event": "user_del_card", "CardId": "pCARD", "UserCardCode": "0001"}); err != nil {
		t.Fatal(err)
	}
	if got, want := h.post("/card/membercard/updateuser", tok, map[string]any{"code": "0001", "bonus": 1}).code(), 40127; got != want {
		t.Errorf("update a deleted card: errcode %d, want %d", got, want)
	}
}
