package handlers

import (
	"context"
	"errors"
	"io"
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

// wechatVerify answers WeChat's server URL check (GET with echostr).
func (s *Server) wechatVerify(c *gin.Context) {
	m, ok := s.signedMerchant(c)
	if !ok {
		return
	}
	echostr := c.Query("echostr")
	if echostr == "" {
		s.reject(c, ritual.Errorf(ritual.EBADREQUEST, "echostr is missing"), m.ID)
		return
	}
	c.String(http.StatusOK, echostr)
}

// wechatMessage handles one delivery: authenticate, decrypt, parse, let the
// domain answer, reply. Every rejection happens before the domain is
// called, so a rejected request stores nothing.
func (s *Server) wechatMessage(c *gin.Context) {
	start := time.Now()
	kind := "unknown"
	defer func() { s.metrics.observeWebhook(merchantLabel(c), kind, webhookOutcome(c), time.Since(start)) }()
	m, ok := s.signedMerchant(c)
	if !ok {
		return
	}
	body, err := readLimited(c.Request, maxWebhookBody)
	if err != nil {
		s.reject(c, err, m.ID)
		return
	}
	q := c.Request.URL.Query()
	plain, err := openEnvelope(m.OfficialAccount, q, body)
	if err != nil {
		s.reject(c, err, m.ID)
		return
	}
	msg, err := parseInbound(plain)
	if err != nil {
		s.reject(c, err, m.ID)
		return
	}
	kind = messageKind(msg)
	if s.logOpenIDs {
		c.Set(openIDKey, msg.OpenID)
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), webhookDeadline)
	defer cancel()
	reply, err := s.club.HandleMessage(ctx, m, msg)
	if err != nil {
		s.reject(c, err, m.ID)
		return
	}
	out, err := renderReply(m.OfficialAccount, q, msg, reply)
	if err != nil {
		s.reject(c, err, m.ID)
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
func (s *Server) signedMerchant(c *gin.Context) (*ritual.Merchant, bool) {
	m, err := s.club.Merchant(c.Request.Context(), c.Param("merchant"))
	if err != nil {
		s.reject(c, err, c.Param("merchant"))
		return nil, false
	}
	c.Set(knownKey, true)
	q := c.Request.URL.Query()
	if !validSignature(m.OfficialAccount.Token, q.Get("signature"), q.Get("timestamp"), q.Get("nonce")) {
		s.reject(c, ritual.Errorf(ritual.EFORBIDDEN, "bad signature"), m.ID)
		return nil, false
	}
	if err := s.checkTimestamp(q.Get("timestamp")); err != nil {
		s.reject(c, err, m.ID)
		return nil, false
	}
	return m, true
}

// checkTimestamp refuses a request signed too long ago (or in the future): a
// captured request cannot be replayed after the window.
func (s *Server) checkTimestamp(raw string) error {
	if s.replayWindow <= 0 {
		return nil
	}
	ts, err := strconv.ParseInt(raw, 10, 64)
	if err != nil {
		return ritual.Errorf(ritual.EFORBIDDEN, "timestamp is not a number")
	}
	skew := s.club.Now().Sub(time.Unix(ts, 0))
	if skew > s.replayWindow || skew < -s.replayWindow {
		return ritual.Errorf(ritual.EFORBIDDEN, "timestamp is %s away from now, outside the replay window", skew.Round(time.Second))
	}
	return nil
}

// reject answers a webhook request that cannot be processed. WeChat shows
// nothing of the body to anyone, so it is a short plain-text reason.
func (s *Server) reject(c *gin.Context, err error, merchant string) {
	if clientGone(c, err) {
		return
	}
	status := statusFor(err)
	if status >= 500 {
		c.Error(err)
	} else {
		s.log.InfoContext(c.Request.Context(), "webhook rejected", "merchant", merchant, "status", status, "reason", ritual.ErrorMessage(err))
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
