package wechat

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/wxclub/wxclub/ritual"
)

// Bridge posts to merchants' WeChat groups through their group bridge's
// callback URL (DESIGN.md, "Group bridge"), signed like the bridge's own
// requests. It implements ritual.GroupBridge.
type Bridge struct {
	client *http.Client
	// Clock dates the signature (X-Wxclub-Timestamp); the bridge refuses
	// one outside its replay window. Default: the wall clock.
	Clock func() time.Time
}

var _ ritual.GroupBridge = (*Bridge)(nil)

// NewBridge returns a Bridge posting with client; nil means a client with
// a 10-second timeout (a post must not hold a relay worker forever).
func NewBridge(client *http.Client) *Bridge {
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	return &Bridge{client: client, Clock: time.Now}
}

// groupPost is the callback's body.
type groupPost struct {
	GroupID        string `json:"group_id"`
	Text           string `json:"text"`
	IdempotencyKey string `json:"idempotency_key"`
}

// Post posts text to the merchant's group through the bridge's callback.
// idempotencyKey lets the bridge drop a repeat (a resend after a timeout
// whose first attempt arrived). A failure is a *ritual.SendError: network
// trouble, 5xx, 408 and 429 are SendRetry; any other 4xx, or a merchant
// without a callback_url, SendFinal.
func (b *Bridge) Post(ctx context.Context, m *ritual.Merchant, groupID, text, idempotencyKey string) error {
	if m == nil || m.Groups.CallbackURL == "" || m.Groups.Secret == "" {
		return sendErrorf(ritual.SendFinal, 0, "group post: no callback_url")
	}
	body, err := json.Marshal(groupPost{GroupID: groupID, Text: text, IdempotencyKey: idempotencyKey})
	if err != nil {
		return sendErrorf(ritual.SendFinal, 0, "group post: %v", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.Groups.CallbackURL, bytes.NewReader(body))
	if err != nil {
		return sendErrorf(ritual.SendFinal, 0, "group post: bad callback_url: %v", err)
	}
	now := time.Now
	if b.Clock != nil {
		now = b.Clock
	}
	ts := strconv.FormatInt(now().Unix(), 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(ritual.GroupTimestampHeader, ts)
	req.Header.Set(ritual.GroupSignatureHeader, ritual.GroupSignature(m.Groups.Secret, ts, body))
	resp, err := b.client.Do(req)
	if err != nil {
		return transportError(ctx, "group post", err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	switch status := resp.StatusCode; {
	case status >= 200 && status < 300:
		return nil
	case status >= 500 || status == http.StatusRequestTimeout || status == http.StatusTooManyRequests:
		return sendErrorf(ritual.SendRetry, 0, "group post: the bridge answered %d: %s", status, snippet(answer))
	default:
		return sendErrorf(ritual.SendFinal, 0, "group post: the bridge refused it with %d: %s", status, snippet(answer))
	}
}

// snippet is the start of an answer, for an error message.
func snippet(b []byte) string {
	return Redact(truncate(strings.TrimSpace(string(b)), 200))
}
