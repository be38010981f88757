package emulator

import (
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// Options configures an Emulator. The zero value is usable.
type Options struct {
	Clock      func() time.Time // default time.Now
	TokenTTL   time.Duration    // access_token lifetime, default 7200s; tests shorten it
	HTTPClient *http.Client     // delivers messages to webhooks; default: Timeout 5s (WeChat waits 5 s for a reply)
	Logger     *slog.Logger     // default: discard
}

// Errors the shopper side returns when WeChat itself would not send
// anything. Test with errors.Is.
var (
	ErrUnknownAccount   = errors.New("emulator: unknown account")
	ErrAlreadyFollowing = errors.New("emulator: already following; WeChat sends nothing for an existing follower")
	ErrNotFollowing     = errors.New("emulator: not following; only followers can do this")
	ErrNoDelivery       = errors.New("emulator: nothing was delivered to this openid yet")
	ErrQRCodeExpired    = errors.New("emulator: every QR code with this scene has expired")
)

const (
	defaultTokenTTL = 7200 * time.Second
	// WeChat waits 5 s for the webhook's reply, then drops the connection
	// and retries (Passive_user_reply_message: "五秒内收不到响应会断掉连接").
	webhookTimeout = 5 * time.Second
)

// Emulator is a fake WeChat platform. It is safe for concurrent use.
type Emulator struct {
	clock    func() time.Time
	tokenTTL time.Duration
	client   *http.Client
	log      *slog.Logger

	mu       sync.Mutex
	accounts map[string]*account // by AppID
	names    map[string]string   // Name -> AppID
	tokens   map[string]*token   // access_token -> its record
	faults   map[string][]*Fault // API path -> queued faults, first applies first
	inbox    map[string][]InboxItem
	tickets  map[string]*qrCode // QR ticket -> code
	lastMsg  int64              // last inbound MsgId handed out
	lastTmpl int64              // last template msgid handed out
	calls    map[string]int     // API path -> calls received, faults included
	bridge   *groupSide         // the group bridge's side: its own lock
}

// New returns an empty emulator; Register accounts before use.
func New(opts Options) *Emulator {
	e := &Emulator{
		clock:    opts.Clock,
		tokenTTL: opts.TokenTTL,
		client:   opts.HTTPClient,
		log:      opts.Logger,
		accounts: map[string]*account{},
		names:    map[string]string{},
		tokens:   map[string]*token{},
		faults:   map[string][]*Fault{},
		calls:    map[string]int{},
		bridge:   newGroupSide(),
		inbox:    map[string][]InboxItem{},
		tickets:  map[string]*qrCode{},
		// Ids look like WeChat's rather than 1, 2, 3, so a service that
		// stores them in too small a column fails here too: inbound MsgIds
		// are 64-bit (e.g. 6054768590064713728), template msgids pass
		// 2^31 but stay exact in a JSON float.
		lastMsg:  6100000000000000000,
		lastTmpl: 2900000000,
	}
	if e.clock == nil {
		e.clock = time.Now
	}
	if e.tokenTTL <= 0 {
		e.tokenTTL = defaultTokenTTL
	}
	if e.client == nil {
		e.client = &http.Client{Timeout: webhookTimeout}
	}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	return e
}

func (e *Emulator) now() time.Time { return e.clock() }

// nextMsgID hands out a fresh, unique inbound MsgId. Callers hold e.mu.
func (e *Emulator) nextMsgID() int64 {
	e.lastMsg++
	return e.lastMsg
}

// nextTemplateMsgID hands out a fresh template msgid. Callers hold e.mu.
func (e *Emulator) nextTemplateMsgID() int64 {
	e.lastTmpl++
	return e.lastTmpl
}
