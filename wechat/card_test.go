package wechat_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/wxclub/wxclub/ritual"
	"github.com/wxclub/wxclub/wechat/emulator"
)

const (
	pathCardUpdate   = "/card/membercard/updateuser"
	pathCardActivate = "/card/membercard/activate"
)

// cardHolder returns a follower of m who received a member card through
// WeChat (a user_get_card event), and the card's id and code.
func (f *fixture) cardHolder(m *ritual.Merchant) (openid, cardID, code string) {
	f.t.Helper()
	openid = f.follower(m)
	n := seq.Add(1)
	cardID, code = fmt.Sprintf("pCARD%d", n), fmt.Sprintf("%012d", n)
	_, err := shared.emu.Event(context.Background(), m.OfficialAccount.AppID, openid, map[string]string{
		"Event": "user_get_card", "CardId": cardID, "UserCardCode": code,
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return openid, cardID, code
}

// cardUpdates returns the card updates in openid's inbox.
func cardUpdates(openid string) []emulator.InboxItem {
	var out []emulator.InboxItem
	for _, it := range shared.emu.Inbox(openid) {
		if it.Kind == "card_update" {
			out = append(out, it)
		}
	}
	return out
}

func TestUpdateMemberCardReachesTheCard(t *testing.T) {
	f := useEmulator(t, 0)
	m := f.merchant()
	openid, cardID, code := f.cardHolder(m)

	for i, u := range []ritual.CardUpdate{
		{CardID: cardID, Code: code, Bonus: 120, Nickname: "茶友"},
		// The balance is absolute: a lower one replaces, not subtracts.
		{CardID: cardID, Code: code, Bonus: 80, Nickname: "茶苗"},
	} {
		if err := f.client.UpdateMemberCard(context.Background(), m, u); err != nil {
			t.Fatalf("update %d: %v", i, err)
		}
		got := cardUpdates(openid)
		if len(got) != i+1 {
			t.Fatalf("after update %d the inbox has %d card updates: %+v", i, len(got), got)
		}
		card := got[i].Card
		if got[i].AppID != m.OfficialAccount.AppID {
			t.Errorf("update %d came from %s, want %s", i, got[i].AppID, m.OfficialAccount.AppID)
		}
		if card["bonus"] != float64(u.Bonus) || card["custom_field_value1"] != u.Nickname {
			t.Errorf("update %d shows bonus %v, field %v; want %d, %s", i, card["bonus"], card["custom_field_value1"], u.Bonus, u.Nickname)
		}
		if card["code"] != code || card["card_id"] != cardID {
			t.Errorf("update %d for code %v of card %v, want %s of %s", i, card["code"], card["card_id"], code, cardID)
		}
		if _, ok := card["add_bonus"]; ok {
			t.Errorf("update %d sent add_bonus: %v", i, card)
		}
	}
	noneOf(t, "log", f.log.String(), append(shared.calls.seenTokens(), openid, code, m.OfficialAccount.AppSecret)...)
}

func TestUpdateMemberCardRefusals(t *testing.T) {
	f := useEmulator(t, 0)
	m := f.merchant()
	openid, cardID, code := f.cardHolder(m)

	for _, tc := range []struct {
		name    string
		update  ritual.CardUpdate
		fault   *emulator.Fault
		class   ritual.SendClass
		errcode int
	}{
		{name: "unknown code", update: ritual.CardUpdate{CardID: cardID, Code: "999999999999", Bonus: 1},
			class: ritual.SendFinal, errcode: 40056},
		{name: "another card's id", update: ritual.CardUpdate{CardID: "pOTHERCARD", Code: code, Bonus: 1},
			class: ritual.SendFinal, errcode: 40073},
		{name: "system busy", update: ritual.CardUpdate{CardID: cardID, Code: code, Bonus: 1},
			fault: &emulator.Fault{ErrCode: -1}, class: ritual.SendRetry, errcode: -1},
		{name: "HTTP 502", update: ritual.CardUpdate{CardID: cardID, Code: code, Bonus: 1},
			fault: &emulator.Fault{Status: http.StatusBadGateway}, class: ritual.SendRetry, errcode: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.fault != nil {
				fault := *tc.fault
				fault.Path = pathCardUpdate
				shared.emu.AddFault(fault)
			}
			err := f.client.UpdateMemberCard(context.Background(), m, tc.update)
			se := sendError(t, err)
			if se.Class != tc.class || se.ErrCode != tc.errcode {
				t.Errorf("got %s/%d, want %s/%d: %v", se.Class, se.ErrCode, tc.class, tc.errcode, se)
			}
			if n := len(cardUpdates(openid)); n != 0 {
				t.Errorf("a refused update reached the card (%d updates)", n)
			}
			noneOf(t, "error", err.Error(), append(shared.calls.seenTokens(), openid, m.OfficialAccount.AppSecret)...)
		})
	}
	if logged := f.log.String(); !strings.Contains(logged, "errcode=40073") || !strings.Contains(logged, "merchant="+m.ID) {
		t.Errorf("failures not logged with merchant and errcode: %q", logged)
	}
}

func TestUpdateMemberCardRefreshesARefusedToken(t *testing.T) {
	f := useEmulator(t, 0)
	m := f.merchant()
	openid, cardID, code := f.cardHolder(m)
	update := ritual.CardUpdate{CardID: cardID, Code: code, Bonus: 10, Nickname: "茶苗"}
	if err := f.client.UpdateMemberCard(context.Background(), m, update); err != nil {
		t.Fatal(err)
	}

	t.Run("refused once", func(t *testing.T) {
		shared.emu.AddFault(emulator.Fault{Path: pathCardUpdate, ErrCode: 40001})
		tokens, calls := shared.calls.count(pathToken), shared.calls.count(pathCardUpdate)
		update.Bonus = 20
		if err := f.client.UpdateMemberCard(context.Background(), m, update); err != nil {
			t.Fatalf("update with a refused token: %v", err)
		}
		if got := shared.calls.count(pathToken) - tokens; got != 1 {
			t.Errorf("%d token fetches, want 1 refresh", got)
		}
		if got := shared.calls.count(pathCardUpdate) - calls; got != 2 {
			t.Errorf("%d update calls, want the refused one and one retry", got)
		}
		got := cardUpdates(openid)
		if len(got) != 2 || got[1].Card["bonus"] != float64(20) {
			t.Errorf("card updates = %+v, want a second one with bonus 20", got)
		}
	})
	t.Run("refused twice", func(t *testing.T) {
		shared.emu.AddFault(emulator.Fault{Path: pathCardUpdate, Count: 2, ErrCode: 42001})
		calls := shared.calls.count(pathCardUpdate)
		err := f.client.UpdateMemberCard(context.Background(), m, update)
		if se := sendError(t, err); se.Class != ritual.SendRetry || se.ErrCode != 42001 {
			t.Errorf("got %s/%d, want retry/42001: %v", se.Class, se.ErrCode, se)
		}
		if got := shared.calls.count(pathCardUpdate) - calls; got != 2 {
			t.Errorf("%d update calls, want 2", got)
		}
	})
}

func TestActivateMemberCard(t *testing.T) {
	f := useEmulator(t, 0)
	m := f.merchant()
	openid, cardID, code := f.cardHolder(m)

	err := f.client.ActivateMemberCard(context.Background(), m, ritual.CardActivation{
		CardID: cardID, Code: code, MembershipNumber: "M000123", Bonus: 50, Nickname: "茶苗",
	})
	if err != nil {
		t.Fatal(err)
	}
	got := cardUpdates(openid)
	if len(got) != 1 {
		t.Fatalf("inbox has %d card updates, want 1: %+v", len(got), got)
	}
	card := got[0].Card
	for key, want := range map[string]any{
		"membership_number": "M000123", "code": code, "card_id": cardID,
		"init_bonus": float64(50), "init_custom_field_value1": "茶苗",
	} {
		if card[key] != want {
			t.Errorf("%s = %v, want %v (card %v)", key, card[key], want, card)
		}
	}

	t.Run("unknown code", func(t *testing.T) {
		err := f.client.ActivateMemberCard(context.Background(), m, ritual.CardActivation{
			CardID: cardID, Code: "888888888888", MembershipNumber: "M000124",
		})
		if se := sendError(t, err); se.Class != ritual.SendFinal || se.ErrCode != 40056 {
			t.Errorf("got %s/%d, want final/40056: %v", se.Class, se.ErrCode, se)
		}
	})
	t.Run("token refused once", func(t *testing.T) {
		shared.emu.AddFault(emulator.Fault{Path: pathCardActivate, ErrCode: 40014})
		calls := shared.calls.count(pathCardActivate)
		err := f.client.ActivateMemberCard(context.Background(), m, ritual.CardActivation{
			CardID: cardID, Code: code, MembershipNumber: "M000123", Bonus: 60,
		})
		if err != nil {
			t.Fatalf("activate with a refused token: %v", err)
		}
		if got := shared.calls.count(pathCardActivate) - calls; got != 2 {
			t.Errorf("%d activate calls, want 2", got)
		}
		if n := len(cardUpdates(openid)); n != 2 {
			t.Errorf("%d card updates, want 2", n)
		}
	})
}
