package emulator_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/silenceper/wechat/v2/officialaccount/message"

	"github.com/wxclub/wxclub/wechat/emulator"
)

func customText(to, content string) map[string]any {
	return map[string]any{"touser": to, "msgtype": "text", "text": map[string]string{"content": content}}
}

func TestCustomSendWindow(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name     string
		interact func(h *harness, a emulator.Account) // what fan does before the sends
		wait     time.Duration
		want     []int // errcode of each send
	}{
		{"a message allows 5 in 48 h", func(h *harness, a emulator.Account) {
			h.follow(a, "fan")
			h.emu.Say(ctx, a.Name, "fan", "hi")
		}, 47 * time.Hour, []int{0, 0, 0, 0, 0, 45047}},
		{"the window closes after 48 h", func(h *harness, a emulator.Account) {
			h.follow(a, "fan")
			h.emu.Say(ctx, a.Name, "fan", "hi")
		}, 48 * time.Hour, []int{45015}},
		{"a follow allows 3 in a minute", func(h *harness, a emulator.Account) {
			h.emu.Follow(ctx, a.Name, "fan", "")
		}, 59 * time.Second, []int{0, 0, 0, 45047}},
		{"a follow's minute passes", func(h *harness, a emulator.Account) {
			h.emu.Follow(ctx, a.Name, "fan", "")
		}, 61 * time.Second, []int{45015}},
		{"a menu click allows 3", func(h *harness, a emulator.Account) {
			h.emu.SetFollowing(a.AppID, "fan", true)
			h.emu.Event(ctx, a.Name, "fan", map[string]string{"Event": "CLICK", "EventKey": "points"})
		}, 0, []int{0, 0, 0, 45047}},
		{"a card event opens no window", func(h *harness, a emulator.Account) {
			h.emu.SetFollowing(a.AppID, "fan", true)
			h.emu.Event(ctx, a.Name, "fan", map[string]string{"Event": "user_get_card", "CardId": "c", "UserCardCode": "1"})
		}, 0, []int{45015}},
		{"a message after a follow takes the larger allowance", func(h *harness, a emulator.Account) {
			h.emu.Follow(ctx, a.Name, "fan", "")
			h.emu.Say(ctx, a.Name, "fan", "hi")
		}, 2 * time.Minute, []int{0, 0, 0, 0, 0, 45047}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, emulator.Options{TokenTTL: 72 * time.Hour})
			a := uniqueAccount(emulator.ModePlaintext)
			a.WebhookURL = newWebhook(t, a, replySuccess).url
			a = h.register(a)
			tok := h.token(a)
			tc.interact(h, a)
			h.clock.Advance(tc.wait)
			for i, want := range tc.want {
				if got := h.post("/cgi-bin/message/custom/send", tok, customText("fan", "reply")).code(); got != want {
					t.Errorf("send %d: errcode %d, want %d", i+1, got, want)
				}
			}
		})
	}
}

func TestCustomSendRules(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	a := h.register(uniqueAccount(emulator.ModePlaintext))
	h.follow(a, "fan")
	h.emu.Say(context.Background(), a.Name, "fan", "hi")
	h.follow(a, "gone")
	h.emu.SetFollowing(a.AppID, "gone", false)
	tok := h.token(a)
	tests := []struct {
		name string
		body map[string]any
		want int
	}{
		{"2048 bytes", customText("fan", strings.Repeat("a", 2048)), 0},
		{"2049 bytes", customText("fan", strings.Repeat("a", 2049)), 45002},
		{"683 Chinese characters are 2049 bytes", customText("fan", strings.Repeat("积", 683)), 45002},
		{"empty text", customText("fan", ""), 44004},
		{"non-follower", customText("gone", "hi"), 43004},
		{"unknown openid", customText("stranger", "hi"), 40003},
		{"unknown msgtype", map[string]any{"touser": "fan", "msgtype": "hologram"}, 40008},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := h.post("/cgi-bin/message/custom/send", tok, tc.body).code(); got != tc.want {
				t.Fatalf("errcode = %d, want %d", got, tc.want)
			}
		})
	}
	inbox := h.emu.Inbox("fan")
	if len(inbox) != 1 || inbox[0].Kind != "text" || len(inbox[0].Content) != 2048 {
		t.Errorf("inbox = %d items, want the one 2048-byte text", len(inbox))
	}
}

func TestSilenceperCustomSend(t *testing.T) {
	a := uniqueAccount(emulator.ModePlaintext)
	oa := silenceper(t, a, false)
	shared.emu.SetFollowing(a.AppID, "oCS", true)
	mgr := oa.GetCustomerMessageManager()
	if err := mgr.Send(message.NewCustomerTextMessage("oCS", "hello")); err == nil || !strings.Contains(err.Error(), "45015") {
		t.Fatalf("send without an interaction: %v, want errcode 45015", err)
	}
	shared.emu.Say(context.Background(), a.AppID, "oCS", "hi")
	if err := mgr.Send(message.NewCustomerTextMessage("oCS", "hello")); err != nil {
		t.Fatal(err)
	}
	if inbox := shared.emu.Inbox("oCS"); len(inbox) != 1 || inbox[0].Content != "hello" {
		t.Errorf("inbox = %+v", inbox)
	}
}

func TestCustomSendRefilledByANewMessage(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	a := h.register(uniqueAccount(emulator.ModePlaintext))
	h.follow(a, "fan")
	tok := h.token(a)
	h.emu.Say(context.Background(), a.Name, "fan", "hi")
	for range 5 {
		h.post("/cgi-bin/message/custom/send", tok, customText("fan", "reply"))
	}
	if got, want := h.post("/cgi-bin/message/custom/send", tok, customText("fan", "reply")).code(), 45047; got != want {
		t.Fatalf("6th reply: errcode %d, want %d", got, want)
	}
	h.emu.Say(context.Background(), a.Name, "fan", "still there?")
	if got := h.post("/cgi-bin/message/custom/send", tok, customText("fan", "yes")).code(); got != 0 {
		t.Errorf("reply after a new message: errcode %d, want 0", got)
	}
}
