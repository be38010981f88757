package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

const simGroupAbout = `usage: wxclub sim group ACTION [flags]

Speak in a merchant's WeChat group through the emulator's group bridge.

actions:
  say TEXT   post TEXT in the group as --sender and print the bot's replies
  messages   print what the service posted to the group`

// runSimGroup plays someone in a merchant's WeChat group through the
// emulator's group bridge: `sim group say TEXT` signs the message with the
// bridge secret the emulator holds for the merchant, posts it to the
// service's POST /group/<merchant> and prints the replies; `sim group
// messages` prints what the service posted to the group through the
// bridge's callback.
func runSimGroup(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newCommandLine(simGroupAbout, stdout)
	merchant := fs.String("merchant", "demo", "merchant id")
	server := fs.String("server", "http://127.0.0.1:8080", "the service (the emulator is served under /emu when api_base is emulator)")
	group := fs.String("group", "demo-group", "the group's id")
	groupName := fs.String("group-name", "", "the group's name")
	sender := fs.String("sender", "wxid_demo_member", "the sender's id in the bridge")
	nickname := fs.String("nickname", "", "the sender's nickname in the group (default: none, as when a bridge sends none)")
	atBot := fs.Bool("at", false, "the message @-mentions the bot")
	msgID := fs.String("msg-id", "", "the bridge's message id (default: a fresh one; repeat one to redeliver)")
	positional, err := fs.parse(args)
	if err != nil {
		return err
	}
	if len(positional) == 0 {
		return fs.usageErrorf("sim group: say TEXT or messages")
	}
	base := strings.TrimRight(*server, "/")
	client := &simClient{base: base + "/emu", http: &http.Client{Timeout: 15 * time.Second}}
	switch action, text := positional[0], strings.Join(positional[1:], " "); action {
	case "say":
		if text == "" {
			return fs.usageErrorf("sim group: say needs the text")
		}
		req := simGroupSay{
			Merchant: *merchant, GroupID: *group, GroupName: *groupName, Text: text, AtBot: *atBot, MsgID: *msgID,
			WebhookURL: base + "/group/" + url.PathEscape(*merchant),
		}
		req.Sender.ID, req.Sender.Nickname = *sender, *nickname
		return client.groupSay(ctx, stdout, req)
	case "messages":
		return client.groupMessages(ctx, stdout, *group)
	default:
		return fs.usageErrorf("sim group: unknown action %q (say, messages)", action)
	}
}

type simGroupSay struct {
	Merchant  string `json:"merchant"`
	GroupID   string `json:"group_id"`
	GroupName string `json:"group_name,omitempty"`
	Sender    struct {
		ID       string `json:"id"`
		Nickname string `json:"nickname"`
	} `json:"sender"`
	Text       string `json:"text"`
	AtBot      bool   `json:"at_bot,omitempty"`
	WebhookURL string `json:"webhook_url"`
	MsgID      string `json:"msg_id,omitempty"`
}

func (c *simClient) groupSay(ctx context.Context, stdout io.Writer, req simGroupSay) error {
	body, _ := json.Marshal(req)
	var d struct {
		Status  int    `json:"status"`
		Body    string `json:"body"`
		Problem string `json:"problem"`
		Replies []struct {
			Text string `json:"text"`
		} `json:"replies"`
	}
	if err := c.call(ctx, http.MethodPost, c.base+"/groups/say", body, &d); err != nil {
		return err
	}
	switch {
	case d.Problem != "":
		fmt.Fprintf(stdout, "(the service answered %d: %s %s)\n", d.Status, d.Problem, strings.TrimSpace(d.Body))
	case len(d.Replies) == 0:
		fmt.Fprintln(stdout, "(no reply)")
	}
	for _, r := range d.Replies {
		fmt.Fprintln(stdout, r.Text)
	}
	return nil
}

func (c *simClient) groupMessages(ctx context.Context, stdout io.Writer, group string) error {
	var posts []struct {
		Text string    `json:"text"`
		At   time.Time `json:"at"`
	}
	if err := c.call(ctx, http.MethodGet, c.base+"/groups/"+url.PathEscape(group)+"/messages", nil, &posts); err != nil {
		return err
	}
	if len(posts) == 0 {
		fmt.Fprintln(stdout, "(no posts in this group)")
	}
	for _, p := range posts {
		fmt.Fprintf(stdout, "[%s] %s\n", p.At.Local().Format("01-02 15:04:05"), p.Text)
	}
	return nil
}
