package wechat_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wxclub/wxclub/ritual"
	"github.com/wxclub/wxclub/wechat"
	"github.com/wxclub/wxclub/wechat/emulator"
)

// bridged returns a merchant whose group bridge is the shared emulator's,
// and a Bridge signing on the emulator's clock.
func bridged(t *testing.T) (*ritual.Merchant, *wechat.Bridge) {
	t.Helper()
	n := seq.Add(1)
	m := &ritual.Merchant{ID: fmt.Sprintf("bridged%d", n),
		Groups: ritual.Groups{Secret: "bridge-secret-0123456789", CallbackURL: shared.url + "/emu/groups/callback"}}
	if err := shared.emu.RegisterGroupBridge(m.ID, m.Groups.Secret); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(shared.emu.ClearFaults)
	b := wechat.NewBridge(nil)
	b.Clock = shared.clock.Now
	return m, b
}

func TestBridgePostReachesTheGroup(t *testing.T) {
	m, b := bridged(t)
	group := "g-" + m.ID
	ctx := context.Background()
	if err := b.Post(ctx, m, group, "🎉 恭喜一位群友成为茶友！", "ceremony:1:"+group); err != nil {
		t.Fatal(err)
	}
	// A resend after a timeout carries the same key: the bridge drops it.
	if err := b.Post(ctx, m, group, "🎉 恭喜一位群友成为茶友！", "ceremony:1:"+group); err != nil {
		t.Fatal(err)
	}
	posts := shared.emu.GroupPosts(group)
	if len(posts) != 1 || posts[0].Text != "🎉 恭喜一位群友成为茶友！" || posts[0].Merchant != m.ID || posts[0].IdempotencyKey != "ceremony:1:"+group {
		t.Fatalf("posts = %+v, want the one post, from the merchant", posts)
	}
}

func TestBridgePostFailures(t *testing.T) {
	m, b := bridged(t)
	ctx := context.Background()
	post := func(m *ritual.Merchant) *ritual.SendError {
		t.Helper()
		err := b.Post(ctx, m, "g-fail", "hello", fmt.Sprintf("k-%d", seq.Add(1)))
		if err == nil {
			return nil
		}
		return sendError(t, err)
	}

	shared.emu.AddFault(emulator.Fault{Path: "/groups/callback", Status: http.StatusBadGateway})
	if se := post(m); se == nil || se.Class != ritual.SendRetry || !strings.Contains(se.Message, "502") {
		t.Fatalf("a 502: %v, want SendRetry", se)
	}
	wrong := *m
	wrong.Groups.Secret = "another-secret-0123456789"
	if se := post(&wrong); se == nil || se.Class != ritual.SendFinal || !strings.Contains(se.Message, "401") {
		t.Fatalf("a bad signature: %v, want SendFinal with the bridge's 401", se)
	}
	if strings.Contains(post(&wrong).Message, wrong.Groups.Secret) {
		t.Fatal("the error shows the secret")
	}
	late := *b
	late.Clock = func() time.Time { return shared.clock.Now().Add(-time.Hour) }
	if err := late.Post(ctx, m, "g-fail", "hello", "k-late"); sendError(t, err).Class != ritual.SendFinal {
		t.Fatalf("an hour-old signature: %v, want refused by the bridge", err)
	}
	none := *m
	none.Groups.CallbackURL = ""
	if se := post(&none); se == nil || se.Class != ritual.SendFinal || !strings.Contains(se.Message, "no callback_url") {
		t.Fatalf("no callback: %v, want SendFinal naming it", se)
	}
	down := *m
	down.Groups.CallbackURL = "http://127.0.0.1:1/callback"
	if se := post(&down); se == nil || se.Class != ritual.SendRetry {
		t.Fatalf("nobody listening: %v, want SendRetry", se)
	}
	if got := shared.emu.GroupPosts("g-fail"); len(got) != 0 {
		t.Fatalf("failed posts reached the group: %+v", got)
	}
}

func TestSendText(t *testing.T) {
	f := useEmulator(t, 0)
	m := f.merchant()
	ctx := context.Background()
	openid := f.follower(m)
	// WeChat allows customer-service messages only after the user wrote.
	if err := f.client.SendText(ctx, m, openid, "你有 739 积分"); sendError(t, err).ErrCode != 45015 || sendError(t, err).Class != ritual.SendFinal {
		t.Fatalf("outside the window: %v, want final 45015", err)
	}
	if _, err := shared.emu.Say(ctx, m.OfficialAccount.AppID, openid, "积分"); err != nil {
		t.Fatal(err)
	}
	if err := f.client.SendText(ctx, m, openid, "你有 739 积分"); err != nil {
		t.Fatal(err)
	}
	inbox := shared.emu.Inbox(openid)
	if len(inbox) != 1 || inbox[0].Kind != "text" || inbox[0].Content != "你有 739 积分" {
		t.Fatalf("inbox = %+v, want the text", inbox)
	}
	shared.emu.SetFollowing(m.OfficialAccount.AppID, openid, false)
	if err := f.client.SendText(ctx, m, openid, "hi"); sendError(t, err).Class != ritual.SendNotFollowing {
		t.Fatalf("to someone who left: %v, want SendNotFollowing", err)
	}
	noneOf(t, "log", f.log.String(), append(shared.calls.seenTokens(), openid, m.OfficialAccount.AppSecret)...)
}
