package handlers

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/wxclub/wxclub/ritual"
)

const (
	// maxWebhookBody is the largest delivery accepted. WeChat's own
	// messages are a few KiB; anything near this is not from WeChat.
	maxWebhookBody = 64 << 10
	// webhookDeadline leaves a margin under the 5 s WeChat waits for a
	// reply before it retries.
	webhookDeadline = 4500 * time.Millisecond
)

// Chat is the conversation with followers of the official account.
type Chat interface {
	// Now is the time a delivery's timestamp is held to (the replay window).
	Now() time.Time
	// HandleMessage decides what a delivery does and what to reply; a
	// repeated delivery gets the first answer again.
	HandleMessage(ctx context.Context, m *ritual.Merchant, msg ritual.InboundMessage) (ritual.Reply, error)
}

var _ Chat = (*ritual.Chat)(nil)

// wechatWebhook answers the official account's webhook, /wechat/:merchant.
type wechatWebhook struct {
	merchants    Merchants
	chat         Chat
	replayWindow time.Duration
	log          *slog.Logger
	metrics      *Metrics
	logOpenIDs   bool
}

// wechatVerify answers WeChat's server URL check (GET with echostr).
func (w *wechatWebhook) wechatVerify(c *gin.Context) {
	m, ok := w.signedMerchant(c)
	if !ok {
		return
	}
	echostr := c.Query("echostr")
	if echostr == "" {
		w.reject(c, ritual.Errorf(ritual.EBADREQUEST, "echostr is missing"), m.ID)
		return
	}
	c.String(http.StatusOK, echostr)
}

// wechatMessage handles one delivery: authenticate, decrypt, parse, let the
// domain answer, reply. Every rejection happens before the domain is
// called, so a rejected request stores nothing.
func (w *wechatWebhook) wechatMessage(c *gin.Context) {
	start := time.Now()
	kind := "unknown"
	defer func() { w.metrics.observeWebhook(merchantLabel(c), kind, webhookOutcome(c), time.Since(start)) }()
	m, ok := w.signedMerchant(c)
	if !ok {
		return
	}
	body, err := readLimited(c.Request, maxWebhookBody)
	if err != nil {
		w.reject(c, err, m.ID)
		return
	}
	q := c.Request.URL.Query()
	plain, err := openEnvelope(m.OfficialAccount, q, body)
	if err != nil {
		w.reject(c, err, m.ID)
		return
	}
	msg, err := parseInbound(plain)
	if err != nil {
		w.reject(c, err, m.ID)
		return
	}
	kind = messageKind(msg)
	if w.logOpenIDs {
		c.Set(openIDKey, msg.OpenID)
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), webhookDeadline)
	defer cancel()
	reply, err := w.chat.HandleMessage(ctx, m, msg)
	if err != nil {
		w.reject(c, err, m.ID)
		return
	}
	out, err := renderReply(m.OfficialAccount, q, msg, reply)
	if err != nil {
		w.reject(c, err, m.ID)
		return
	}
	if reply.Text == "" {
		c.Set(outcomeKey, "success")
	}
	c.Data(http.StatusOK, out.contentType, out.body)
}

// Keys of what the webhook leaves in the gin context for logs and metrics.
const (
	openIDKey  = "openid"
	outcomeKey = "outcome"
	knownKey   = "known_merchant"
)

// messageKind labels a delivery for metrics: the MsgType, and the event.
func messageKind(msg ritual.InboundMessage) string {
	if msg.Kind == ritual.KindEvent {
		return "event:" + msg.Event
	}
	return msg.Kind
}

// merchantLabel is the route's merchant once it is known to exist; an
// unknown id (anyone can make one up) is not a label of its own.
func merchantLabel(c *gin.Context) string {
	if c.GetBool(knownKey) {
		return c.Param("merchant")
	}
	return "unknown"
}

// webhookOutcome says how the request ended: replied, success (no reply),
// rejected (4xx) or error (5xx).
func webhookOutcome(c *gin.Context) string {
	switch status := c.Writer.Status(); {
	case status >= 500:
		return "error"
	case status >= 400:
		return "rejected"
	case c.GetString(outcomeKey) != "":
		return c.GetString(outcomeKey)
	default:
		return "replied"
	}
}

// signedMerchant finds the merchant of the route and checks the request's
// signature and timestamp; on failure it has already answered.
func (w *wechatWebhook) signedMerchant(c *gin.Context) (*ritual.Merchant, bool) {
	m, err := w.merchants.Merchant(c.Request.Context(), c.Param("merchant"))
	if err != nil {
		w.reject(c, err, c.Param("merchant"))
		return nil, false
	}
	c.Set(knownKey, true)
	q := c.Request.URL.Query()
	if !validSignature(m.OfficialAccount.Token, q.Get("signature"), q.Get("timestamp"), q.Get("nonce")) {
		w.reject(c, ritual.Errorf(ritual.EFORBIDDEN, "bad signature"), m.ID)
		return nil, false
	}
	if err := w.checkTimestamp(q.Get("timestamp")); err != nil {
		w.reject(c, err, m.ID)
		return nil, false
	}
	return m, true
}

// checkTimestamp refuses a request signed too long ago (or in the future): a
// captured request cannot be replayed after the window.
func (w *wechatWebhook) checkTimestamp(raw string) error {
	if w.replayWindow <= 0 {
		return nil
	}
	ts, err := strconv.ParseInt(raw, 10, 64)
	if err != nil {
		return ritual.Errorf(ritual.EFORBIDDEN, "timestamp is not a number")
	}
	skew := w.chat.Now().Sub(time.Unix(ts, 0))
	if skew > w.replayWindow || skew < -w.replayWindow {
		return ritual.Errorf(ritual.EFORBIDDEN, "timestamp is %s away from now, outside the replay window", skew.Round(time.Second))
	}
	return nil
}

// reject answers a webhook request that cannot be processed. WeChat shows
// nothing of the body to anyone, so it is a short plain-text reason.
func (w *wechatWebhook) reject(c *gin.Context, err error, merchant string) {
	if clientGone(c, err) {
		return
	}
	status := statusFor(err)
	if status >= 500 {
		c.Error(err)
	} else {
		w.log.InfoContext(c.Request.Context(), "webhook rejected", "merchant", merchant, "status", status, "reason", ritual.ErrorMessage(err))
	}
	c.Header("Content-Type", "text/plain; charset=utf-8")
	c.AbortWithStatus(status)
	_, _ = c.Writer.WriteString(ritual.ErrorMessage(err))
}

// readLimited reads the body, refusing more than limit bytes with ETOOLARGE.
func readLimited(r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, ritual.Errorf(ritual.ETOOLARGE, "body is %d bytes; the limit is %d", r.ContentLength, limit)
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, limit))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return nil, ritual.Errorf(ritual.ETOOLARGE, "body is over the limit of %d bytes", limit)
	} else if err != nil {
		return nil, ritual.Errorf(ritual.EBADREQUEST, "reading the body: %v", err)
	}
	return body, nil
}
