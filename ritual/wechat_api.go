package ritual

import (
	"context"
	"fmt"
	"time"
)

// Messenger sends what wxclub says to members on its own initiative. Package
// wechat implements it over the WeChat API; the relay is its only caller.
type Messenger interface {
	// SendTemplate sends a template message from merchant m's official
	// account and returns WeChat's msgid. A failure is a *SendError whose
	// Class tells the relay what to do next. An invalid or expired access
	// token is refreshed and the send retried once inside the call.
	SendTemplate(ctx context.Context, m *Merchant, msg TemplateMessage) (msgID int64, err error)
}

// TemplateMessage is a WeChat template message ready to send.
type TemplateMessage struct {
	OpenID     string
	TemplateID string
	URL        string
	Fields     []TemplateField // in the template's keyword order
	// ClientMsgID lets WeChat drop a repeat of the same message (a resend
	// after a timeout whose first attempt did arrive).
	ClientMsgID string
}

// TemplateField is one keyword of a template message.
type TemplateField struct {
	Key   string
	Value string
}

// SendClass says what a failed send means for the message.
type SendClass string

const (
	// SendRetry: worth trying again later (network, timeout, HTTP 5xx,
	// errcode -1, a token that stayed invalid after one refresh).
	SendRetry SendClass = "retry"
	// SendQuota: 45009, the account's daily quota is spent; nothing more can
	// be sent until it resets.
	SendQuota SendClass = "quota"
	// SendNotFollowing: 43004, the member does not follow the account; the
	// message waits until they do.
	SendNotFollowing SendClass = "not_following"
	// SendFinal: WeChat refused this message for good (43101 the user
	// refused, 45015/45047 outside the reply window, 40037, 47003, ...).
	SendFinal SendClass = "final"
)

// SendError is a failed send.
type SendError struct {
	Class   SendClass
	ErrCode int    // WeChat's errcode, 0 when the failure was not WeChat's answer
	Message string // what happened, with tokens and openids masked
}

func (e *SendError) Error() string {
	return fmt.Sprintf("send: %s (errcode %d): %s", e.Class, e.ErrCode, e.Message)
}

// CardMessenger reaches the member's WeChat member card and makes the QR
// codes printed on membership cards. Package wechat implements it with
// Messenger.
type CardMessenger interface {
	// UpdateMemberCard sets the points balance and level nickname shown on
	// the member's card (card/membercard/updateuser). Failures are
	// *SendError as for SendTemplate.
	UpdateMemberCard(ctx context.Context, m *Merchant, u CardUpdate) error
	// ActivateMemberCard activates the member's card with their membership
	// number and opening balance (card/membercard/activate).
	ActivateMemberCard(ctx context.Context, m *Merchant, a CardActivation) error
	// CreateQRCode asks WeChat for a parameterised QR code (qrcode/create).
	// Errors are *SendError; a permanent code over WeChat's limit is
	// SendFinal with errcode 45029.
	CreateQRCode(ctx context.Context, m *Merchant, req QRRequest) (QRCode, error)
}

// CardUpdate is what a member card shows.
type CardUpdate struct {
	CardID   string
	Code     string // the card's code, as WeChat gave it to the member
	Bonus    int64  // points balance (absolute, so a late update cannot undo a newer one's effect for long)
	Nickname string // level nickname, custom field 1
}

// CardActivation activates a member card.
type CardActivation struct {
	CardID           string
	Code             string
	MembershipNumber string
	Bonus            int64
	Nickname         string
}

// QRRequest asks for a QR code carrying a scene ("claim:AB12CD").
type QRRequest struct {
	Scene     string
	Permanent bool
	// Expire is how long a temporary code lives; WeChat caps it at 30 days.
	Expire time.Duration
}

// QRCode is a ticket and the image WeChat serves for it.
type QRCode struct {
	Ticket    string
	ImageURL  string     // https://mp.weixin.qq.com/cgi-bin/showqrcode?ticket=...
	ExpiresAt *time.Time // nil for permanent codes
}
