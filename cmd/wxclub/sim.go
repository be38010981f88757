package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/wxclub/wxclub/wechat/emulator"
)

// defaultShopper is the openid `wxclub sim` plays unless told otherwise;
// WeChat openids are 28 characters starting with "o".
const defaultShopper = "oDemoShopper0000000000000001"

const simAbout = `usage: wxclub sim ACTION [flags]

Play a shopper against a running service through the WeChat emulator and
print the account's reply.

actions:
  follow [--scene S]   follow the account, from QR scene S if given
  unfollow             unfollow it
  scan SCENE           scan a QR code (a follower gets SCAN, anyone else follows)
  card --phone P       fetch the membership card the shop prints for the buyer
                       whose order gave phone P (GET /api/v1/members/P/card,
                       with --key), print its code and lines, and scan its
                       QR code as the shopper
  say TEXT             send a text message
  inbox [--json]       print what the account sent the shopper, one line each
                       (time, kind, template and keywords, or the text);
                       --json prints the emulator's raw records
  redeliver            deliver the last message again, as WeChat retries
  group ACTION         speak in a WeChat group (wxclub sim group -h)`

// runSim plays a shopper against a running service through the WeChat
// emulator: the emulator signs (and in safe mode encrypts) each message as
// WeChat would, delivers it to the merchant's webhook and hands back the
// decrypted reply, which is printed.
func runSim(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "group" {
		return runSimGroup(ctx, args[1:], stdout, stderr)
	}
	fs := newCommandLine(simAbout, stdout)
	merchant := fs.String("merchant", "demo", "merchant id")
	openid := fs.String("openid", defaultShopper, "the shopper's openid")
	server := fs.String("server", "http://127.0.0.1:8080", "the service: its merchant API, and the emulator it serves under /emu when api_base is emulator")
	scene := fs.String("scene", "", "QR scene for follow")
	raw := fs.Bool("json", false, "inbox: print each message as the emulator's JSON record")
	phone := fs.String("phone", "", "card: the phone number the buyer's order gave")
	key := fs.String("key", "demo-key-change-me", "card: the merchant's API key (its api_key in config.yaml)")
	positional, err := fs.parse(args)
	if err != nil {
		return err
	}
	if len(positional) == 0 {
		return fs.usageErrorf("sim: say what the shopper does: follow, unfollow, scan SCENE, card --phone P, say TEXT, inbox, redeliver")
	}
	service := strings.TrimRight(*server, "/")
	client := &simClient{base: service + "/emu", http: &http.Client{Timeout: 15 * time.Second}}
	action, rest := positional[0], strings.Join(positional[1:], " ")
	if action == "inbox" {
		return client.inbox(ctx, stdout, *openid, *raw)
	}
	req := shopperRequest{Account: *merchant, OpenID: *openid, Action: action}
	switch action {
	case "follow":
		req.Scene = *scene
	case "scan":
		req.Scene = rest
	case "say":
		req.Text = rest
	case "card":
		if *phone == "" || rest != "" {
			return fs.usageErrorf("sim: card takes the buyer's order phone as --phone P")
		}
		return client.card(ctx, stdout, service+"/api/v1/members/"+url.PathEscape(*phone)+"/card", *key, req)
	case "unfollow", "redeliver":
	default:
		return fs.usageErrorf("sim: unknown action %q", action)
	}
	if (action == "scan" || action == "say") && rest == "" {
		return fs.usageErrorf("sim: %s needs an argument", action)
	}
	return client.act(ctx, stdout, req)
}

type shopperRequest struct {
	Account string `json:"account"`
	OpenID  string `json:"openid"`
	Action  string `json:"action"`
	Scene   string `json:"scene,omitempty"`
	Text    string `json:"text,omitempty"`
}

type simDelivery struct {
	Status int    `json:"status"`
	Body   string `json:"body"`
	Reply  *struct {
		MsgType string `json:"MsgType"`
		Content string `json:"Content"`
	} `json:"reply"`
	Problem string `json:"problem"`
}

type simClient struct {
	base string
	http *http.Client
}

func (c *simClient) act(ctx context.Context, stdout io.Writer, req shopperRequest) error {
	body, _ := json.Marshal(req)
	var d simDelivery
	if err := c.call(ctx, http.MethodPost, c.base+"/shopper", body, &d); err != nil {
		return err
	}
	switch {
	case d.Problem != "":
		fmt.Fprintf(stdout, "(webhook answered %d: %s)\n", d.Status, d.Problem)
	case d.Reply != nil:
		fmt.Fprintln(stdout, d.Reply.Content)
	default:
		fmt.Fprintf(stdout, "(no reply: %s)\n", d.Body)
	}
	return nil
}

// card does what a shop and its buyer do with a membership card: the shop
// fetches the card of the member its order made (the merchant API, as for
// printing; claim codes are never on a public endpoint) and the buyer scans
// its QR code. It prints the card and the account's reply.
func (c *simClient) card(ctx context.Context, stdout io.Writer, cardURL, key string, req shopperRequest) error {
	var card struct {
		Code  string   `json:"code"`
		Scene string   `json:"scene"`
		Lines []string `json:"lines"`
	}
	if err := c.merchantGet(ctx, cardURL, key, &card); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "card: code %s, QR scene %s\n", card.Code, card.Scene)
	for _, line := range card.Lines {
		fmt.Fprintln(stdout, "  "+line)
	}
	fmt.Fprintf(stdout, "%s scans it:\n", req.OpenID)
	req.Action, req.Scene = "scan", card.Scene
	return c.act(ctx, stdout, req)
}

// merchantGet reads u from the merchant API with key; a refusal comes back
// as its message.
func (c *simClient) merchantGet(ctx context.Context, u, key string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("sim: is the service running? %w", err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode >= 300 {
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if json.Unmarshal(data, &e) != nil || e.Error.Message == "" {
			return fmt.Errorf("sim: %s answered %d: %s", u, resp.StatusCode, bytes.TrimSpace(data))
		}
		hint := ""
		switch e.Error.Code {
		case "not_found":
			hint = " (an order with that phone, POST /api/v1/orders, makes the member)"
		case "unauthorized":
			hint = " (give the merchant's api_key with --key)"
		}
		return fmt.Errorf("sim: the merchant API answered %d: %s%s", resp.StatusCode, e.Error.Message, hint)
	}
	return json.Unmarshal(data, out)
}

func (c *simClient) inbox(ctx context.Context, stdout io.Writer, openid string, raw bool) error {
	var items []json.RawMessage
	if err := c.call(ctx, http.MethodGet, c.base+"/inbox?openid="+url.QueryEscape(openid), nil, &items); err != nil {
		return err
	}
	if len(items) == 0 {
		fmt.Fprintln(stdout, "(inbox empty)")
	}
	for _, item := range items {
		if raw {
			fmt.Fprintln(stdout, string(item))
			continue
		}
		var msg emulator.InboxItem
		if err := json.Unmarshal(item, &msg); err != nil {
			return fmt.Errorf("sim: the emulator's inbox sent %s: %w", item, err)
		}
		fmt.Fprintln(stdout, inboxLine(msg))
	}
	return nil
}

// inboxLine is one message as a shopper would read it: when, what kind,
// and a template's id with its keywords in the template's order, or the
// text. What has neither (a card update) is shown as it arrived.
func inboxLine(msg emulator.InboxItem) string {
	line := msg.At.Format("2006-01-02 15:04:05") + "  " + msg.Kind
	switch {
	case msg.TemplateID != "":
		line += "  " + msg.TemplateID
		for _, k := range keywords(msg.Data) {
			line += "  " + k.Key + "=" + k.Value
		}
	case msg.Content != "":
		line += "  " + msg.Content
	case msg.Card != nil:
		card, _ := json.Marshal(msg.Card)
		line += "  " + string(card)
	}
	return line
}

func (c *simClient) call(ctx context.Context, method, u string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("sim: is the service running? %w", err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode >= 300 {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(data, &e) == nil && e.Error != "" {
			return fmt.Errorf("sim: %s", e.Error)
		}
		return fmt.Errorf("sim: %s answered %d: %s", u, resp.StatusCode, bytes.TrimSpace(data))
	}
	return json.Unmarshal(data, out)
}
