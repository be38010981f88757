package ritual

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
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

// Limits of a delivery's fields, in characters: the columns that keep them
// (models: members.openid, members.subscribe_scene, members.card_code) and
// WeChat's own (a QR scene_str is 1-64 characters, a menu key at most 128
// bytes, an openid 28). Longer is not WeChat, and is refused before
// anything is stored.
const (
	MaxOpenIDLen    = 64
	MaxSceneLen     = 64
	MaxCardCodeLen  = 64
	maxEventKeyLen  = 128
	maxAccountIDLen = 64
	maxKindLen      = 32
	maxEventLen     = 64
)

// Validate checks a delivery before anything is stored. Errors are
// EBADREQUEST and name the field as WeChat does.
func (m InboundMessage) Validate() error {
	if m.OpenID == "" || m.Kind == "" {
		return Errorf(EBADREQUEST, "FromUserName and MsgType are required")
	}
	err := checkLengths(EBADREQUEST,
		bounded{"FromUserName", m.OpenID, MaxOpenIDLen},
		bounded{"ToUserName", m.AccountID, maxAccountIDLen},
		bounded{"MsgType", m.Kind, maxKindLen},
		bounded{"Event", m.Event, maxEventLen},
		bounded{"EventKey", m.EventKey, maxEventKeyLen},
		bounded{"UserCardCode", m.Fields["UserCardCode"], MaxCardCodeLen})
	if err != nil {
		return err
	}
	if n := utf8.RuneCountInString(m.QRScene()); n > MaxSceneLen {
		return &Error{Code: EBADREQUEST, Field: "EventKey", Message: fmt.Sprintf("EventKey holds a QR scene of %d characters; at most %d are accepted", n, MaxSceneLen)}
	}
	return nil
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
