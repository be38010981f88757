package emulator

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The shopper side: what a WeChat user does, delivered to the account's
// webhook as WeChat would (doc/offiaccount/Message_Management/Receiving_standard_messages.html
// and Receiving_event_pushes.html). State changes (following, cards, the
// reply window) happen whether or not the webhook answers, as on WeChat.

// Follow delivers a subscribe event. scene "" is a plain follow; otherwise
// the shopper followed through a QR code and EventKey is "qrscene_"+scene.
// Following twice is an error: WeChat sends nothing for an existing
// follower.
func (e *Emulator) Follow(ctx context.Context, acct, openid, scene string) (Delivery, error) {
	return e.act(ctx, acct, openid, func(a *account, now time.Time) ([]byte, error) {
		if _, ok := a.follower(openid); ok {
			return nil, ErrAlreadyFollowing
		}
		return e.subscribe(a, openid, scene, now)
	})
}

// subscribe follows and builds the subscribe event. Callers hold e.mu.
func (e *Emulator) subscribe(a *account, openid, scene string, now time.Time) ([]byte, error) {
	fields := []xmlField{{name: "Event", value: "subscribe"}, {name: "EventKey"}}
	var code *qrCode
	if scene != "" {
		c, err := e.codeForScan(a, scene)
		if err != nil {
			return nil, err
		}
		code = c
		fields[1].value = "qrscene_" + scene
		fields = append(fields, xmlField{name: "Ticket", value: ticketOf(c)})
	}
	u := a.user(openid)
	u.follow(now, code, scene)
	return e.inbound(a, u, now, "event", fields), nil
}

// Unfollow delivers an unsubscribe event; it is an error when the shopper
// does not follow.
func (e *Emulator) Unfollow(ctx context.Context, acct, openid string) (Delivery, error) {
	return e.act(ctx, acct, openid, func(a *account, now time.Time) ([]byte, error) {
		u, ok := a.follower(openid)
		if !ok {
			return nil, ErrNotFollowing
		}
		u.unfollow()
		return e.inbound(a, u, now, "event", []xmlField{{name: "Event", value: "unsubscribe"}, {name: "EventKey"}}), nil
	})
}

// Scan delivers what scanning a QR code with scene delivers: a SCAN event
// (EventKey = scene) for a follower; for anyone else the follow the code
// leads to, a subscribe event with EventKey "qrscene_"+scene.
func (e *Emulator) Scan(ctx context.Context, acct, openid, scene string) (Delivery, error) {
	if scene == "" {
		return Delivery{}, errors.New("emulator: scan needs a scene")
	}
	return e.act(ctx, acct, openid, func(a *account, now time.Time) ([]byte, error) {
		u, ok := a.follower(openid)
		if !ok {
			return e.subscribe(a, openid, scene, now)
		}
		code, err := e.codeForScan(a, scene)
		if err != nil {
			return nil, err
		}
		return e.inbound(a, u, now, "event", []xmlField{
			{name: "Event", value: "SCAN"}, {name: "EventKey", value: scene}, {name: "Ticket", value: ticketOf(code)},
		}), nil
	})
}

// Say delivers a text message with a fresh MsgId. Only followers can
// message an official account.
func (e *Emulator) Say(ctx context.Context, acct, openid, text string) (Delivery, error) {
	if text == "" {
		return Delivery{}, errors.New("emulator: WeChat does not send an empty message")
	}
	return e.act(ctx, acct, openid, func(a *account, now time.Time) ([]byte, error) {
		u, ok := a.follower(openid)
		if !ok {
			return nil, ErrNotFollowing
		}
		return e.inbound(a, u, now, "text", []xmlField{
			{name: "Content", value: text},
			{name: "MsgId", value: strconv.FormatInt(e.nextMsgID(), 10), raw: true},
		}), nil
	})
}

// followerEvents can only come from a follower: they start in the chat
// (menus, location reports) or are SCAN, which only followers get.
var followerEvents = map[string]bool{
	"CLICK": true, "VIEW": true, "SCAN": true, "LOCATION": true, "view_miniprogram": true,
	"scancode_push": true, "scancode_waitmsg": true, "pic_sysphoto": true,
	"pic_photo_or_album": true, "pic_weixin": true, "location_select": true,
}

// builtFields are the fields Event builds itself.
var builtFields = map[string]bool{"ToUserName": true, "FromUserName": true, "CreateTime": true, "MsgType": true}

// Event delivers any other event, e.g. user_get_card with CardId and
// UserCardCode. fields must hold Event; the XML has ToUserName,
// FromUserName, CreateTime, MsgType=event, Event, then the other fields
// by name. Card events update the emulator's cards: user_get_card gives the
// shopper the code, user_del_card takes it away.
func (e *Emulator) Event(ctx context.Context, acct, openid string, fields map[string]string) (Delivery, error) {
	ev := fields["Event"]
	switch ev {
	case "":
		return Delivery{}, errors.New("emulator: an event needs fields[\"Event\"]")
	case "subscribe", "unsubscribe":
		return Delivery{}, fmt.Errorf("emulator: use Follow/Unfollow/Scan for %s", ev)
	}
	return e.act(ctx, acct, openid, func(a *account, now time.Time) ([]byte, error) {
		if _, ok := a.follower(openid); !ok && followerEvents[ev] {
			return nil, fmt.Errorf("%w (%s)", ErrNotFollowing, ev)
		}
		switch ev {
		case "user_get_card":
			a.receiveCard(openid, fields["CardId"], fields["UserCardCode"])
		case "user_del_card":
			a.deleteCard(openid, fields["UserCardCode"])
		}
		return e.inbound(a, a.user(openid), now, "event", eventFields(fields)), nil
	})
}

func eventFields(fields map[string]string) []xmlField {
	out := []xmlField{{name: "Event", value: fields["Event"]}}
	keys := make([]string, 0, len(fields))
	for k := range fields {
		if k != "Event" && !builtFields[k] {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		out = append(out, xmlField{name: k, value: fields[k]})
	}
	return out
}

// Redeliver sends the exact request (same query string and body) of the
// last delivery to this openid again, as WeChat does when it retries. It
// changes no state.
func (e *Emulator) Redeliver(ctx context.Context, acct, openid string) (Delivery, error) {
	e.mu.Lock()
	a, err := e.lookup(acct)
	if err != nil {
		e.mu.Unlock()
		return Delivery{}, err
	}
	req, ok := a.lastReq[openid]
	cfg := a.cfg
	e.mu.Unlock()
	if !ok {
		return Delivery{}, ErrNoDelivery
	}
	return e.send(ctx, cfg, openid, req), nil
}

// act runs a shopper action: build checks and changes state under the
// lock and returns the plain message, which is delivered after the lock is
// released.
func (e *Emulator) act(ctx context.Context, acct, openid string, build func(*account, time.Time) ([]byte, error)) (Delivery, error) {
	if openid == "" {
		return Delivery{}, errors.New("emulator: an openid is required")
	}
	e.mu.Lock()
	a, err := e.lookup(acct)
	if err != nil {
		e.mu.Unlock()
		return Delivery{}, err
	}
	plain, err := build(a, e.now())
	cfg := a.cfg
	e.mu.Unlock()
	if err != nil {
		return Delivery{}, err
	}
	return e.deliver(ctx, cfg, openid, plain), nil
}

// inbound builds a message from u to the account and grants the
// customer-service window the message opens. Callers hold e.mu.
func (e *Emulator) inbound(a *account, u *user, now time.Time, msgType string, fields []xmlField) []byte {
	event := ""
	if msgType == "event" && len(fields) > 0 {
		event = fields[0].value
	}
	if n, d, ok := interaction(msgType, event); ok && u.following {
		u.window.grant(now, n, d)
	}
	head := []xmlField{
		{name: "ToUserName", value: a.cfg.OriginalID},
		{name: "FromUserName", value: u.openid},
		{name: "CreateTime", value: strconv.FormatInt(now.Unix(), 10), raw: true},
		{name: "MsgType", value: msgType},
	}
	return buildXML(append(head, fields...))
}

// ticketOf is the Ticket of a QR event: the code's, or a made-up one for a
// scene no code was created for here.
func ticketOf(c *qrCode) string {
	if c == nil {
		return newTicket()
	}
	return c.ticket
}

type xmlField struct {
	name, value string
	raw         bool // a number, written without CDATA as WeChat does
}

func buildXML(fields []xmlField) []byte {
	var b strings.Builder
	b.WriteString("<xml>")
	for _, f := range fields {
		v := f.value
		if !f.raw {
			v = cdata(v)
		}
		b.WriteString("<" + f.name + ">" + v + "</" + f.name + ">")
	}
	b.WriteString("</xml>")
	return []byte(b.String())
}

type shopperRequest struct {
	Account string            `json:"account"`
	OpenID  string            `json:"openid"`
	Action  string            `json:"action"`
	Scene   string            `json:"scene"`
	Text    string            `json:"text"`
	Fields  map[string]string `json:"fields"`
}

// serveShopper serves POST /emu/shopper: one shopper action, answered with
// the Delivery, or 400 {"error"} when WeChat would refuse the action.
func (e *Emulator) serveShopper(w http.ResponseWriter, r *http.Request) {
	var req shopperRequest
	if err := readJSON(r, &req); err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	d, err := e.shop(r.Context(), req)
	switch {
	case errors.Is(err, ErrUnknownAccount):
		writeError(w, http.StatusNotFound, err)
	case err != nil:
		writeError(w, http.StatusBadRequest, err)
	default:
		writeJSON(w, http.StatusOK, d)
	}
}

func (e *Emulator) shop(ctx context.Context, req shopperRequest) (Delivery, error) {
	switch req.Action {
	case "follow":
		return e.Follow(ctx, req.Account, req.OpenID, req.Scene)
	case "unfollow":
		return e.Unfollow(ctx, req.Account, req.OpenID)
	case "scan":
		return e.Scan(ctx, req.Account, req.OpenID, req.Scene)
	case "say":
		return e.Say(ctx, req.Account, req.OpenID, req.Text)
	case "event":
		return e.Event(ctx, req.Account, req.OpenID, req.Fields)
	case "redeliver":
		return e.Redeliver(ctx, req.Account, req.OpenID)
	}
	return Delivery{}, fmt.Errorf("emulator: unknown action %q (follow, unfollow, scan, say, event, redeliver)", req.Action)
}
