package emulator

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"time"
)

// The group bridge side. WeChat has no API for group chats, so merchants
// connect their groups through a bridge (a WeCom robot, a desktop or puppet
// bridge) that speaks wxclub's signed JSON protocol (DESIGN.md, "Group
// bridge"): it posts each group message to the service's
// POST /group/<merchant> and takes the service's own posts at a callback.
// The emulator plays that bridge:
//
//	POST /emu/groups/bridges {"merchant","secret"}    register a merchant's bridge secret
//	POST /emu/groups/say {...}                         someone speaks in a group: signed, posted to webhook_url, replies returned
//	POST /emu/groups/callback[?merchant=M]             the callback: verifies the signature, records the post
//	GET  /emu/groups/{group_id}/messages               what was posted to a group, in order
//
// Both directions carry X-Wxclub-Timestamp (unix seconds) and
// X-Wxclub-Signature: sha256=hex(HMAC-SHA256(secret, timestamp + "." + body)).
const (
	groupTimestampHeader = "X-Wxclub-Timestamp"
	groupSignatureHeader = "X-Wxclub-Signature"
	// groupReplayWindow is how far from the emulator's clock a callback's
	// timestamp may be, as a careful bridge checks.
	groupReplayWindow = 5 * time.Minute
	// maxGroupBody bounds a callback body, as the service bounds the
	// bridge's.
	maxGroupBody = 64 << 10
	// faultPathGroupCallback is the path POST /emu/faults takes to make
	// the callback fail (e.g. {"path":"/groups/callback","status":502}).
	faultPathGroupCallback = "/groups/callback"
)

// GroupSender is who speaks in a group, in the bridge's terms.
type GroupSender struct {
	ID       string `json:"id"`
	Nickname string `json:"nickname"`
}

// GroupSay is one message someone writes in a group, for the bridge to
// deliver.
type GroupSay struct {
	Merchant   string      `json:"merchant"` // whose bridge: the secret registered for it signs
	GroupID    string      `json:"group_id"`
	GroupName  string      `json:"group_name"`
	Sender     GroupSender `json:"sender"`
	Text       string      `json:"text"`
	AtBot      bool        `json:"at_bot"`
	WebhookURL string      `json:"webhook_url"` // the service's POST /group/<merchant>
	// MsgID is the bridge's message id; empty gets a fresh one. Give the
	// id of an earlier message to deliver it again, as a bridge retrying.
	MsgID string `json:"msg_id,omitempty"`
}

// GroupReply is one thing the service said back in the group.
type GroupReply struct {
	Text string `json:"text"`
}

// GroupDelivery is what came of delivering a group message.
type GroupDelivery struct {
	MsgID   string       `json:"msg_id"`
	Status  int          `json:"status"`
	Body    string       `json:"body"`
	Replies []GroupReply `json:"replies"`
	Problem string       `json:"problem,omitempty"` // what a bridge would complain about
}

// GroupPost is one post the service made to a group through the callback.
type GroupPost struct {
	Merchant       string    `json:"merchant"`
	GroupID        string    `json:"group_id"`
	Text           string    `json:"text"`
	IdempotencyKey string    `json:"idempotency_key"`
	At             time.Time `json:"at"`
}

// groupSide is the bridge's state: secrets by merchant, posts by group,
// and the idempotency keys seen per merchant.
type groupSide struct {
	mu      sync.Mutex
	secrets map[string]string
	posts   map[string][]GroupPost
	seen    map[string]bool // merchant + "\x00" + idempotency key
}

func newGroupSide() *groupSide {
	return &groupSide{secrets: map[string]string{}, posts: map[string][]GroupPost{}, seen: map[string]bool{}}
}

func (e *Emulator) groups() *groupSide { return e.bridge }

// RegisterGroupBridge sets the secret of merchant's group bridge, shared
// with the service (the merchant's groups.secret).
func (e *Emulator) RegisterGroupBridge(merchant, secret string) error {
	if merchant == "" || secret == "" {
		return errors.New("emulator: a group bridge needs a merchant and a secret")
	}
	g := e.groups()
	g.mu.Lock()
	g.secrets[merchant] = secret
	g.mu.Unlock()
	e.log.Info("group bridge registered", "merchant", merchant)
	return nil
}

func (g *groupSide) secret(merchant string) (string, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	s, ok := g.secrets[merchant]
	return s, ok
}

// groupSignature is the bridge protocol's signature.
func groupSignature(secret, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(timestamp + "."))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// groupMessage is what the bridge posts to the service.
type groupMessage struct {
	MsgID     string      `json:"msg_id"`
	GroupID   string      `json:"group_id"`
	GroupName string      `json:"group_name"`
	Sender    GroupSender `json:"sender"`
	Text      string      `json:"text"`
	AtBot     bool        `json:"at_bot"`
	Time      time.Time   `json:"time"`
}

// GroupSay delivers a message written in a group to the service, signed
// with the merchant's bridge secret, and returns the service's replies.
// A refusal by the service is reported in the delivery (Status, Problem),
// not as an error; errors are for what the bridge itself cannot do.
func (e *Emulator) GroupSay(ctx context.Context, s GroupSay) (GroupDelivery, error) {
	switch {
	case s.WebhookURL == "":
		return GroupDelivery{}, errors.New("emulator: group say needs the service's webhook_url (…/group/<merchant>)")
	case s.GroupID == "" || s.Sender.ID == "":
		return GroupDelivery{}, errors.New("emulator: group say needs group_id and sender.id")
	case s.Text == "":
		return GroupDelivery{}, errors.New("emulator: nobody sends an empty message")
	}
	secret, ok := e.groups().secret(s.Merchant)
	if !ok {
		return GroupDelivery{}, fmt.Errorf("emulator: no group bridge registered for merchant %q", s.Merchant)
	}
	if s.MsgID == "" {
		s.MsgID = newGroupMsgID()
	}
	now := e.now()
	body, err := json.Marshal(groupMessage{MsgID: s.MsgID, GroupID: s.GroupID, GroupName: s.GroupName, Sender: s.Sender,
		Text: s.Text, AtBot: s.AtBot, Time: now.UTC().Truncate(time.Second)})
	if err != nil {
		return GroupDelivery{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.WebhookURL, bytes.NewReader(body))
	if err != nil {
		return GroupDelivery{}, fmt.Errorf("emulator: bad webhook_url: %w", err)
	}
	ts := strconv.FormatInt(now.Unix(), 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(groupTimestampHeader, ts)
	req.Header.Set(groupSignatureHeader, groupSignature(secret, ts, body))
	d := GroupDelivery{MsgID: s.MsgID, Replies: []GroupReply{}}
	resp, err := e.client.Do(req)
	if err != nil {
		d.Problem = fmt.Sprintf("the service did not answer: %v", err)
		return d, nil
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxReplyBody))
	d.Status, d.Body = resp.StatusCode, string(raw)
	if resp.StatusCode != http.StatusOK {
		d.Problem = fmt.Sprintf("the service answered %d", resp.StatusCode)
		return d, nil
	}
	var answer struct {
		Replies *[]GroupReply `json:"replies"`
	}
	switch err := json.Unmarshal(raw, &answer); {
	case err != nil:
		d.Problem = fmt.Sprintf("the answer is not JSON: %v", err)
	case answer.Replies == nil:
		d.Problem = `the answer has no "replies" array`
	default:
		d.Replies = append(d.Replies, *answer.Replies...)
	}
	return d, nil
}

func newGroupMsgID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return "emu-" + hex.EncodeToString(b)
}

// GroupPosts returns what the service posted to a group, in arrival order.
func (e *Emulator) GroupPosts(groupID string) []GroupPost {
	g := e.groups()
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]GroupPost{}, g.posts[groupID]...)
}

// receivePost checks a callback's signature and records the post, once
// per idempotency key. It returns the HTTP status to answer.
func (e *Emulator) receivePost(r *http.Request, body []byte) (int, bool, error) {
	ts, sig := r.Header.Get(groupTimestampHeader), r.Header.Get(groupSignatureHeader)
	if ts == "" || sig == "" {
		return http.StatusUnauthorized, false, fmt.Errorf("emulator: %s and %s are required", groupTimestampHeader, groupSignatureHeader)
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return http.StatusUnauthorized, false, errors.New("emulator: the timestamp is not unix seconds")
	}
	if skew := e.now().Sub(time.Unix(unix, 0)); skew > groupReplayWindow || skew < -groupReplayWindow {
		return http.StatusUnauthorized, false, fmt.Errorf("emulator: the timestamp is %s away from now", skew.Round(time.Second))
	}
	merchant, ok := e.groups().signedBy(r.URL.Query().Get("merchant"), ts, body, sig)
	if !ok {
		return http.StatusUnauthorized, false, errors.New("emulator: bad signature")
	}
	var in struct {
		GroupID        string `json:"group_id"`
		Text           string `json:"text"`
		IdempotencyKey string `json:"idempotency_key"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil || in.GroupID == "" || in.Text == "" {
		return http.StatusBadRequest, false, errors.New(`emulator: a post is {"group_id","text","idempotency_key"} with group_id and text`)
	}
	post := GroupPost{Merchant: merchant, GroupID: in.GroupID, Text: in.Text, IdempotencyKey: in.IdempotencyKey, At: e.now()}
	g := e.groups()
	g.mu.Lock()
	defer g.mu.Unlock()
	if post.IdempotencyKey != "" {
		key := merchant + "\x00" + post.IdempotencyKey
		if g.seen[key] {
			return http.StatusOK, true, nil
		}
		g.seen[key] = true
	}
	g.posts[post.GroupID] = append(g.posts[post.GroupID], post)
	return http.StatusOK, false, nil
}

// signedBy finds the merchant whose secret made sig: the named one, or
// (without a name) any registered one.
func (g *groupSide) signedBy(merchant, ts string, body []byte, sig string) (string, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	names := []string{merchant}
	if merchant == "" {
		names = names[:0]
		for name := range g.secrets {
			names = append(names, name)
		}
		sort.Strings(names)
	}
	for _, name := range names {
		if secret, ok := g.secrets[name]; ok && hmac.Equal([]byte(groupSignature(secret, ts, body)), []byte(sig)) {
			return name, true
		}
	}
	return "", false
}

func (e *Emulator) serveGroupBridges(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Merchant string `json:"merchant"`
		Secret   string `json:"secret"`
	}
	if err := readJSON(r, &req); err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	if err := e.RegisterGroupBridge(req.Merchant, req.Secret); err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (e *Emulator) serveGroupSay(w http.ResponseWriter, r *http.Request) {
	var s GroupSay
	if err := readJSON(r, &s); err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	d, err := e.GroupSay(r.Context(), s)
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

func (e *Emulator) serveGroupCallback(w http.ResponseWriter, r *http.Request) {
	e.countCall(faultPathGroupCallback)
	if e.applyFault(w, r, faultPathGroupCallback) {
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxGroupBody))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, errors.New("emulator: the post is over 64 KiB"))
		return
	}
	status, duplicate, err := e.receivePost(r, body)
	if err != nil {
		writeError(w, status, err)
		return
	}
	writeJSON(w, status, map[string]bool{"ok": true, "duplicate": duplicate})
}

func (e *Emulator) serveGroupMessages(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, e.GroupPosts(r.PathValue("group_id")))
}
