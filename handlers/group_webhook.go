package handlers

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/wxclub/wxclub/ritual"
)

// GroupChat is the conversation in the merchant's groups, as a bridge
// reports it.
type GroupChat interface {
	// Now is the time a message's timestamp is held to (the replay window).
	Now() time.Time
	// HandleGroupMessage decides what a message in a group does and what
	// the bot says there.
	HandleGroupMessage(ctx context.Context, m *ritual.Merchant, msg ritual.GroupMessage) ([]ritual.Reply, error)
}

var _ GroupChat = (*ritual.GroupChat)(nil)

// groupWebhook answers the group bridge's webhook, /group/:merchant.
type groupWebhook struct {
	merchants    Merchants
	chat         GroupChat
	replayWindow time.Duration
	metrics      *Metrics
}

// groupReply is one thing the bot says in the group.
type groupReply struct {
	Text string `json:"text"`
}

// groupAnswer is the body of every accepted bridge request.
type groupAnswer struct {
	Replies []groupReply `json:"replies"`
}

// groupMessage handles POST /group/:merchant, a message in one of the
// merchant's groups as a bridge reports it (DESIGN.md, "Group bridge").
// Unknown merchants, and merchants without a bridge secret, are 404; a
// missing or wrong signature, or a timestamp outside the replay window, is
// 401; a body not sent as application/json 415; a body over 64 KiB 413;
// JSON that does not parse, or is not valid Unicode, 400. Every
// rejection happens before the domain is called, so it stores nothing.
func (g *groupWebhook) groupMessage(c *gin.Context) {
	start := time.Now()
	defer func() { g.metrics.observeWebhook(merchantLabel(c), "group", webhookOutcome(c), time.Since(start)) }()
	m, err := g.merchants.Merchant(c.Request.Context(), c.Param("merchant"))
	if err == nil && !m.Groups.Enabled() {
		err = ritual.Errorf(ritual.ENOTFOUND, "merchant %s has no group bridge", m.ID)
	}
	if err != nil {
		writeError(c, err)
		return
	}
	c.Set(knownKey, true)
	if err := jsonContentType(c.Request); err != nil {
		writeError(c, err)
		return
	}
	body, err := readLimited(c.Request, maxWebhookBody)
	if err != nil {
		writeError(c, err)
		return
	}
	if err := g.checkGroupSignature(c, m, body); err != nil {
		writeError(c, err)
		return
	}
	if err := validUnicode(body); err != nil {
		writeError(c, err)
		return
	}
	var msg ritual.GroupMessage
	if err := json.Unmarshal(body, &msg); err != nil {
		writeError(c, ritual.Errorf(ritual.EBADREQUEST, "the body is not a group message in JSON: %v", err))
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), webhookDeadline)
	defer cancel()
	replies, err := g.chat.HandleGroupMessage(ctx, m, msg)
	if err != nil {
		writeError(c, err)
		return
	}
	out := groupAnswer{Replies: make([]groupReply, 0, len(replies))}
	for _, r := range replies {
		out.Replies = append(out.Replies, groupReply{Text: r.Text})
	}
	c.JSON(http.StatusOK, out)
}

// checkGroupSignature verifies X-Wxclub-Signature over the timestamp and
// the raw body, and the timestamp against the replay window.
func (g *groupWebhook) checkGroupSignature(c *gin.Context, m *ritual.Merchant, body []byte) error {
	ts := c.GetHeader(ritual.GroupTimestampHeader)
	sig := c.GetHeader(ritual.GroupSignatureHeader)
	if ts == "" || sig == "" {
		return ritual.Errorf(ritual.EUNAUTHORIZED, "%s and %s are required", ritual.GroupTimestampHeader, ritual.GroupSignatureHeader)
	}
	if !ritual.VerifyGroupSignature(m.Groups.Secret, ts, body, sig) {
		return ritual.Errorf(ritual.EUNAUTHORIZED, "bad signature")
	}
	if g.replayWindow <= 0 {
		return nil
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return ritual.Errorf(ritual.EUNAUTHORIZED, "%s is not unix seconds", ritual.GroupTimestampHeader)
	}
	skew := g.chat.Now().Sub(time.Unix(unix, 0))
	if skew > g.replayWindow || skew < -g.replayWindow {
		return ritual.Errorf(ritual.EUNAUTHORIZED, "timestamp is %s away from now, outside the replay window", skew.Round(time.Second))
	}
	return nil
}
