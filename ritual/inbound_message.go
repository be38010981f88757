package ritual

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
)

// Message kinds and the events wxclub acts on, as WeChat names them.
const (
	KindText  = "text"
	KindEvent = "event"

	EventSubscribe   = "subscribe"
	EventUnsubscribe = "unsubscribe"
	EventScan        = "SCAN"
)

// InboundMessage is one message or event a shopper sent to the official
// account, already authenticated and decrypted by the webhook.
type InboundMessage struct {
	OpenID    string    // FromUserName
	AccountID string    // ToUserName, the official account's original id
	Kind      string    // MsgType: text, image, event, ...
	Event     string    // for events: subscribe, SCAN, ...
	EventKey  string    // for events: the QR scene, menu key, ...
	Content   string    // for text
	MsgID     int64     // for messages; zero for events
	SentAt    time.Time // CreateTime
	// Fields holds every top-level element of the message as WeChat sent it,
	// for events wxclub has no typed field for (member-card events).
	Fields map[string]string
}

// DedupeKey identifies a delivery across WeChat's retries: the MsgId for
// messages, and for events (which carry none) sender, CreateTime, Event and
// EventKey. It is hashed so it fits an index whatever the event key holds.
func (m InboundMessage) DedupeKey() string {
	var raw string
	if m.MsgID != 0 {
		raw = "msg\x00" + strconv.FormatInt(m.MsgID, 10)
	} else {
		raw = strings.Join([]string{"event", m.OpenID, strconv.FormatInt(m.SentAt.Unix(), 10), m.Event, m.EventKey}, "\x00")
	}
	sum := sha256.Sum256([]byte(raw))
	return hex.EncodeToString(sum[:])
}

// QRScene returns the scene of a subscribe through a parameterised QR code
// ("qrscene_claim:AB12" → "claim:AB12") or of a SCAN by a follower.
func (m InboundMessage) QRScene() string {
	switch m.Event {
	case EventSubscribe:
		return strings.TrimPrefix(m.EventKey, "qrscene_")
	case EventScan:
		return m.EventKey
	}
	return ""
}

// Reply is what the bot answers in the passive reply. An empty Text means
// no reply: the webhook answers "success".
type Reply struct {
	Text string
}
