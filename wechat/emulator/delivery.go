package emulator

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"strconv"
)

// Delivery is what happened when the emulator delivered one message to a
// webhook, and what WeChat would make of the answer.
type Delivery struct {
	Status  int              `json:"status"`            // webhook HTTP status
	Body    string           `json:"body"`              // raw response body as received
	Reply   *ReplyMessage    `json:"reply,omitempty"`   // parsed (and, in safe/compatible mode, signature-checked and decrypted) passive reply; nil when the body is "success" or empty
	Problem string           `json:"problem,omitempty"` // what WeChat would complain about
	Request DeliveredRequest `json:"request"`           // what was sent
}

// DeliveredRequest is one webhook request as sent.
type DeliveredRequest struct {
	URL      string `json:"url"`       // with WeChat's query string
	Body     string `json:"body"`      // as posted (the envelope in safe/compatible mode)
	PlainXML string `json:"plain_xml"` // the message before encryption
}

// maxReplyBody bounds a reply read; WeChat's own limit for a passive reply
// is far below this.
const maxReplyBody = 1 << 20

// deliver signs plainXML for the account, remembers the request for
// Redeliver and sends it. Callers do not hold e.mu.
func (e *Emulator) deliver(ctx context.Context, a Account, openid string, plainXML []byte) Delivery {
	if a.WebhookURL == "" {
		return Delivery{Problem: "account has no webhook_url; WeChat would have nowhere to send this",
			Request: DeliveredRequest{PlainXML: string(plainXML)}}
	}
	u, body, err := Signer{Account: a}.envelope(a.WebhookURL, plainXML, e.now().Unix(), newNonce())
	if err != nil {
		return Delivery{Problem: err.Error(), Request: DeliveredRequest{PlainXML: string(plainXML)}}
	}
	req := DeliveredRequest{URL: u, Body: string(body), PlainXML: string(plainXML)}
	e.remember(a.AppID, openid, req)
	return e.send(ctx, a, openid, req)
}

// remember keeps the last request per account and openid for Redeliver.
func (e *Emulator) remember(appID, openid string, req DeliveredRequest) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if acc, ok := e.accounts[appID]; ok {
		acc.lastReq[openid] = req
	}
}

// send posts req and judges the answer as WeChat would.
func (e *Emulator) send(ctx context.Context, a Account, openid string, req DeliveredRequest) Delivery {
	d := Delivery{Request: req}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, req.URL, bytes.NewReader([]byte(req.Body)))
	if err != nil {
		d.Problem = err.Error()
		return d
	}
	hreq.Header.Set("Content-Type", "text/xml")
	hreq.Header.Set("User-Agent", "Mozilla/4.0")
	resp, err := e.client.Do(hreq)
	if err != nil {
		d.Problem = e.transportProblem(err)
		e.log.Warn("delivery failed", "app_id", a.AppID, "openid", openid, "problem", d.Problem)
		return d
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxReplyBody))
	d.Status, d.Body = resp.StatusCode, string(raw)
	if err != nil {
		d.Problem = e.transportProblem(err)
		return d
	}
	d.Reply, d.Problem = judgeReply(a, openid, resp.StatusCode, raw, replyQuery(req.URL))
	e.log.Debug("delivered", "app_id", a.AppID, "openid", openid, "status", d.Status, "problem", d.Problem)
	return d
}

// transportProblem words a failed request as WeChat experiences it.
func (e *Emulator) transportProblem(err error) string {
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return fmt.Sprintf("no reply within %s: WeChat drops the connection and retries (3 tries in all)", e.client.Timeout)
	}
	return "webhook unreachable: " + err.Error()
}

type replyParams struct {
	timestamp int64
	nonce     string
}

func replyQuery(rawURL string) replyParams {
	u, err := url.Parse(rawURL)
	if err != nil {
		return replyParams{}
	}
	q := u.Query()
	ts, _ := strconv.ParseInt(q.Get("timestamp"), 10, 64)
	return replyParams{timestamp: ts, nonce: q.Get("nonce")}
}

// judgeReply returns the passive reply and what WeChat would complain
// about. WeChat accepts "success" as "no reply". Its docs also tolerate a
// zero-length body, but the emulator reports one: it is what a handler
// that crashed or forgot to answer leaves behind, and "success" is the
// answer WeChat recommends. An encrypted empty message (what silenceper's
// Server.Send produces in safe mode when the handler returns nil) is
// refused outright.
func judgeReply(a Account, openid string, status int, body []byte, p replyParams) (*ReplyMessage, string) {
	if status != http.StatusOK {
		return nil, fmt.Sprintf("webhook answered HTTP %d: WeChat counts it as a failure, retries and may tell the user the account cannot serve them", status)
	}
	reply, err := Signer{Account: a}.OpenReply(body, p.timestamp, p.nonce)
	switch {
	case errors.Is(err, ErrEmptyReply):
		return nil, "empty body: answer \"success\" when there is no reply (WeChat's recommended answer)"
	case err != nil:
		return nil, err.Error() + ": WeChat shows the user \"该公众号暂时无法提供服务，请稍后再试\""
	case reply == nil:
		return nil, ""
	}
	if reply.ToUserName != openid || reply.FromUserName != a.OriginalID {
		return reply, fmt.Sprintf("reply is addressed from %q to %q, want from %q to %q",
			reply.FromUserName, reply.ToUserName, a.OriginalID, openid)
	}
	return reply, ""
}

// newNonce is a random decimal string like WeChat's nonces.
func newNonce() string {
	n, err := rand.Int(rand.Reader, big.NewInt(9_000_000_000))
	if err != nil {
		return "1320562132"
	}
	return strconv.FormatInt(n.Int64()+1_000_000_000, 10)
}
