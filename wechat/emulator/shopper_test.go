package emulator_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/wxclub/wxclub/wechat/emulator"
)

// shopperSetup registers a safe-mode account whose webhook answers "success".
func shopperSetup(t *testing.T) (*harness, emulator.Account, *webhook) {
	t.Helper()
	h := newHarness(t, emulator.Options{})
	a := uniqueAccount(emulator.ModeSafe)
	hook := newWebhook(t, a, replySuccess)
	a.WebhookURL = hook.url
	return h, h.register(a), hook
}

func TestShopperRefusals(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		act  func(h *harness, a emulator.Account) error
		want error
	}{
		{"follow twice", func(h *harness, a emulator.Account) error {
			h.follow(a, "o1")
			_, err := h.emu.Follow(ctx, a.Name, "o1", "")
			return err
		}, emulator.ErrAlreadyFollowing},
		{"unfollow a non-follower", func(h *harness, a emulator.Account) error {
			_, err := h.emu.Unfollow(ctx, a.Name, "o1")
			return err
		}, emulator.ErrNotFollowing},
		{"say without following", func(h *harness, a emulator.Account) error {
			_, err := h.emu.Say(ctx, a.Name, "o1", "hi")
			return err
		}, emulator.ErrNotFollowing},
		{"say after unfollowing", func(h *harness, a emulator.Account) error {
			h.follow(a, "o1")
			h.emu.SetFollowing(a.AppID, "o1", false)
			_, err := h.emu.Say(ctx, a.Name, "o1", "hi")
			return err
		}, emulator.ErrNotFollowing},
		{"menu click without following", func(h *harness, a emulator.Account) error {
			_, err := h.emu.Event(ctx, a.Name, "o1", map[string]string{"Event": "CLICK", "EventKey": "k"})
			return err
		}, emulator.ErrNotFollowing},
		{"unknown account", func(h *harness, a emulator.Account) error {
			_, err := h.emu.Follow(ctx, "nobody", "o1", "")
			return err
		}, emulator.ErrUnknownAccount},
		{"redeliver before any delivery", func(h *harness, a emulator.Account) error {
			_, err := h.emu.Redeliver(ctx, a.Name, "o1")
			return err
		}, emulator.ErrNoDelivery},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, a, hook := shopperSetup(t)
			if err := tc.act(h, a); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if got := len(hook.messages()); got != 0 {
				t.Errorf("webhook got %d messages for a refused action, want 0", got)
			}
		})
	}
}

func TestShopperMessages(t *testing.T) {
	ctx := context.Background()
	h, a, hook := shopperSetup(t)
	steps := []struct {
		name      string
		act       func() (emulator.Delivery, error)
		wantType  string
		wantEvent string
		wantKey   string
	}{
		{"scan as a stranger follows", func() (emulator.Delivery, error) { return h.emu.Scan(ctx, a.Name, "o1", "shop42") }, "event", "subscribe", "qrscene_shop42"},
		{"scan as a follower", func() (emulator.Delivery, error) { return h.emu.Scan(ctx, a.AppID, "o1", "shop42") }, "event", "SCAN", "shop42"},
		{"say", func() (emulator.Delivery, error) { return h.emu.Say(ctx, a.Name, "o1", "hello") }, "text", "", ""},
		{"get a card", func() (emulator.Delivery, error) {
			return h.emu.Event(ctx, a.Name, "o1", map[string]string{"Event": "user_get_card", "CardId": "pCard", "UserCardCode": "123"})
		}, "event", "user_get_card", ""},
		{"unfollow", func() (emulator.Delivery, error) { return h.emu.Unfollow(ctx, a.Name, "o1") }, "event", "unsubscribe", ""},
		{"plain follow", func() (emulator.Delivery, error) { return h.emu.Follow(ctx, a.Name, "o1", "") }, "event", "subscribe", ""},
	}
	for i, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			d, err := s.act()
			if err != nil {
				t.Fatal(err)
			}
			if d.Problem != "" {
				t.Fatalf("problem: %s", d.Problem)
			}
			msgs := hook.messages()
			if got, want := len(msgs), i+1; got != want {
				t.Fatalf("webhook has %d messages, want %d", got, want)
			}
			m := msgs[i]
			if m.MsgType != s.wantType || m.Event != s.wantEvent || m.EventKey != s.wantKey {
				t.Errorf("got MsgType=%q Event=%q EventKey=%q, want %q %q %q", m.MsgType, m.Event, m.EventKey, s.wantType, s.wantEvent, s.wantKey)
			}
			if got, want := m.ToUserName, a.OriginalID; got != want {
				t.Errorf("ToUserName = %q, want %q", got, want)
			}
			if got, want := m.CreateTime, epoch.Unix(); got != want {
				t.Errorf("CreateTime = %d, want %d (the Clock)", got, want)
			}
			if !strings.Contains(d.Request.PlainXML, "<FromUserName><![CDATA[o1]]></FromUserName>") {
				t.Errorf("plain xml %s lacks the FromUserName", d.Request.PlainXML)
			}
		})
	}
	if got := hook.messages()[0].Ticket; got == "" {
		t.Error("a QR subscribe has no Ticket")
	}
}

func TestShopperMsgIDsAreUnique(t *testing.T) {
	h, a, hook := shopperSetup(t)
	h.follow(a, "o1", "o2")
	for _, id := range []string{"o1", "o2", "o1"} {
		if _, err := h.emu.Say(context.Background(), a.Name, id, "x"); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[int64]bool{}
	for _, m := range hook.messages() {
		if m.MsgID == 0 || seen[m.MsgID] {
			t.Fatalf("MsgId %d is zero or repeated", m.MsgID)
		}
		seen[m.MsgID] = true
	}
}

func TestShopperRedeliverRepeatsTheRequest(t *testing.T) {
	h, a, hook := shopperSetup(t)
	h.follow(a, "o1")
	first, err := h.emu.Say(context.Background(), a.Name, "o1", "once")
	if err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(5e9) // WeChat retries seconds later, with the same timestamp
	again, err := h.emu.Redeliver(context.Background(), a.Name, "o1")
	if err != nil {
		t.Fatal(err)
	}
	if again.Request != first.Request {
		t.Errorf("redelivered %+v, want %+v", again.Request, first.Request)
	}
	reqs := hook.requests()
	if got, want := len(reqs), 2; got != want {
		t.Fatalf("webhook saw %d requests, want %d", got, want)
	}
	if reqs[0] != reqs[1] {
		t.Errorf("the retry differs from the original:\n%s\n%s", reqs[0], reqs[1])
	}
}

func TestShopperHTTP(t *testing.T) {
	h, a, _ := shopperSetup(t)
	status, m := h.do("POST", "/emu/shopper", map[string]any{"account": a.Name, "openid": "o1", "action": "say", "text": "hi"})
	if got, want := status, 400; got != want {
		t.Errorf("say while not following: status %d, want %d", got, want)
	}
	if !strings.Contains(m.str("error"), "not following") {
		t.Errorf("error = %q", m.str("error"))
	}
	status, m = h.do("POST", "/emu/shopper", map[string]any{"account": a.Name, "openid": "o1", "action": "follow", "scene": "7"})
	if got, want := status, 200; got != want {
		t.Fatalf("follow: status %d, want %d (%v)", got, want, m)
	}
	if got, want := m.num("status"), int64(200); got != want {
		t.Errorf("delivery status = %d, want %d", got, want)
	}
	if got, want := m.str("body"), "success"; got != want {
		t.Errorf("delivery body = %q, want %q", got, want)
	}
	if got := h.emu.Followers(a.Name); len(got) != 1 || got[0] != "o1" {
		t.Errorf("followers = %v, want [o1]", got)
	}
}
