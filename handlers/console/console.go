// Package console is the merchant's web console under /console/: sign-in
// with a merchant account (owner or operator), pages for levels and rights,
// rituals, coupons, campaigns, the funnel, the week's points board,
// members, failed messages and settings versions, and a phone preview that
// chats with the bot as a test shopper through the emulator.
//
// It is server-rendered with html/template. Templates, the stylesheet and
// the one small script are embedded, so the binary serves everything
// itself, with no build step and nothing fetched from elsewhere. Every
// change to settings goes through ritual's UpdateSettings, and every query
// uses the merchant of the signed-in session, never one named in a request.
package console

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"github.com/wxclub/wxclub/ritual"
)

// Club is what the console needs from the domain; *ritual.Club implements
// it.
type Club interface {
	Now() time.Time
	Merchant(ctx context.Context, id string) (*ritual.Merchant, error)
	SignIn(ctx context.Context, merchantID, username, password, ip string) (*ritual.ConsoleSession, error)
	ConsoleSession(ctx context.Context, token string) (*ritual.ConsoleSession, error)
	SignOut(ctx context.Context, token string) error
	Section(ctx context.Context, m *ritual.Merchant, section string) (json.RawMessage, int, error)
	UpdateSettings(ctx context.Context, m *ritual.Merchant, section string, body []byte, by string, ifVersion int) (*ritual.SettingsVersion, error)
	SettingsVersions(ctx context.Context, m *ritual.Merchant, limit int) ([]ritual.SettingsVersion, error)
	MemberPage(ctx context.Context, m *ritual.Merchant, openidOrPhone string) (ritual.MemberPage, error)
	Ceremonies(ctx context.Context, m *ritual.Merchant, status string, limit int) ([]ritual.CeremonyView, error)
	GrantCeremony(ctx context.Context, m *ritual.Merchant, id int64) (ritual.CeremonyView, error)
	CampaignStatuses(ctx context.Context, m *ritual.Merchant) ([]ritual.CampaignStatus, error)
	Funnel(ctx context.Context, m *ritual.Merchant, from, to time.Time) (ritual.FunnelReport, error)
	Leaderboard(ctx context.Context, m *ritual.Merchant, limit int) (ritual.PointsBoard, error)
	OutboxFailures(ctx context.Context, m *ritual.Merchant, limit int) ([]ritual.MessageView, error)
}

var _ Club = (*ritual.Club)(nil)

// Shopper plays a WeChat user chatting with a merchant's official account,
// for the phone preview. The service implements it with the in-process
// emulator; against real WeChat there is none.
type Shopper interface {
	// Follow makes openid follow the merchant's account and returns the
	// bot's reply.
	Follow(ctx context.Context, merchantID, openid string) (string, error)
	// Say sends text as openid and returns the bot's reply.
	Say(ctx context.Context, merchantID, openid, text string) (string, error)
	// Inbox returns what the merchant's account sent openid (template and
	// customer-service messages), in delivery order.
	Inbox(ctx context.Context, merchantID, openid string) ([]Message, error)
}

// Message is one message a shopper received, as WeChat rendered it.
type Message struct {
	Kind       string // "template", "text" (customer service), "card_update"
	At         time.Time
	TemplateID string
	Data       []Keyword // a template's keywords in the template's order
	Content    string
}

// Keyword is one filled keyword of a template message.
type Keyword struct {
	Key, Value string
}

// Options configures the console.
type Options struct {
	Club Club
	// Shopper drives the phone preview; nil when the service talks to real
	// WeChat, and the preview page says it is unavailable.
	Shopper Shopper
	Logger  *slog.Logger
	// DefaultMerchant fills in the merchant on the sign-in form.
	DefaultMerchant string
}

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// Handler serves the console under /console/.
type Handler struct {
	club            Club
	shopper         Shopper
	log             *slog.Logger
	defaultMerchant string
	pages           map[string]*template.Template
	preview         *transcripts
	mux             *http.ServeMux
}

// New returns the console.
func New(opts Options) *Handler {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	h := &Handler{
		club: opts.Club, shopper: opts.Shopper, log: opts.Logger, defaultMerchant: opts.DefaultMerchant,
		pages: parsePages(), preview: newTranscripts(), mux: http.NewServeMux(),
	}
	h.routes()
	return h
}

func (h *Handler) routes() {
	static, _ := fs.Sub(staticFiles, "static")
	h.mux.Handle("GET /console/static/", http.StripPrefix("/console/static/", cacheFor(time.Hour, http.FileServerFS(static))))
	h.mux.HandleFunc("GET /console/login", h.getLogin)
	h.mux.HandleFunc("POST /console/login", h.postLogin)
	h.mux.HandleFunc("POST /console/logout", h.signedIn(h.postLogout))

	h.mux.HandleFunc("GET /console/{$}", h.signedIn(h.home))
	h.mux.HandleFunc("GET /console/levels", h.signedIn(h.levels))
	h.mux.HandleFunc("POST /console/levels", h.signedIn(h.ownerOnly(h.levels)))
	h.mux.HandleFunc("GET /console/rituals", h.signedIn(h.rituals))
	h.mux.HandleFunc("POST /console/rituals", h.signedIn(h.ownerOnly(h.rituals)))
	h.mux.HandleFunc("POST /console/ceremonies/{id}/grant", h.signedIn(h.grantCeremony))
	h.mux.HandleFunc("GET /console/coupons", h.signedIn(h.coupons))
	h.mux.HandleFunc("POST /console/coupons", h.signedIn(h.ownerOnly(h.coupons)))
	h.mux.HandleFunc("GET /console/campaigns", h.signedIn(h.campaigns))
	h.mux.HandleFunc("POST /console/campaigns", h.signedIn(h.ownerOnly(h.campaigns)))
	h.mux.HandleFunc("GET /console/funnel", h.signedIn(h.funnel))
	h.mux.HandleFunc("GET /console/leaderboard", h.signedIn(h.leaderboard))
	h.mux.HandleFunc("GET /console/members", h.signedIn(h.members))
	h.mux.HandleFunc("GET /console/outbox", h.signedIn(h.outbox))
	h.mux.HandleFunc("GET /console/versions", h.signedIn(h.versions))

	h.mux.HandleFunc("GET /console/preview", h.signedIn(h.previewPage))
	h.mux.HandleFunc("GET /console/preview/messages", h.signedIn(h.previewMessages))
	h.mux.HandleFunc("POST /console/preview/new", h.signedIn(h.previewNew))
	h.mux.HandleFunc("POST /console/preview/follow", h.signedIn(h.previewFollow))
	h.mux.HandleFunc("POST /console/preview/say", h.signedIn(h.previewSay))

	h.mux.HandleFunc("/console/", func(w http.ResponseWriter, r *http.Request) {
		h.errorPage(w, r, nil, http.StatusNotFound, "没有这个页面。")
	})
}

// ServeHTTP serves the console with headers that keep its pages out of
// frames, caches and other origins' reach.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "same-origin")
	hd.Set("Cache-Control", "no-store")
	h.mux.ServeHTTP(w, r)
}

func cacheFor(d time.Duration, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "private, max-age="+itoa(int(d.Seconds())))
		next.ServeHTTP(w, r)
	})
}

// view is what every page template gets.
type view struct {
	Title    string
	Nav      string
	Session  *ritual.ConsoleSession
	Merchant *ritual.Merchant
	Loc      *time.Location
	Flash    string
	Error    string
	Data     any
}

// CSRF is the session's token for the page's forms.
func (v view) CSRF() string {
	if v.Session == nil {
		return ""
	}
	return v.Session.CSRFToken
}

// CanEdit reports whether the signed-in user may change settings.
func (v view) CanEdit() bool { return v.Session != nil && v.Session.CanChangeSettings() }

// render writes page with status.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, page string, v view) {
	t, ok := h.pages[page]
	if !ok {
		panic("console: no page template " + page)
	}
	if v.Loc == nil {
		v.Loc = time.UTC
		if v.Merchant != nil {
			v.Loc = v.Merchant.Location()
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := t.ExecuteTemplate(w, "layout", v); err != nil {
		h.log.ErrorContext(r.Context(), "console: render", "page", page, "err", err)
	}
}

// errorPage answers status with a page saying msg.
func (h *Handler) errorPage(w http.ResponseWriter, r *http.Request, q *request, status int, msg string) {
	v := view{Title: statusTitles[status], Error: msg, Data: status}
	if v.Title == "" {
		v.Title = http.StatusText(status)
	}
	if q != nil {
		v.Session, v.Merchant = q.s, q.m
	}
	h.render(w, r, status, "error", v)
}

var statusTitles = map[int]string{
	http.StatusBadRequest:          "请求有误",
	http.StatusUnauthorized:        "需要登录",
	http.StatusForbidden:           "没有权限",
	http.StatusNotFound:            "找不到",
	http.StatusConflict:            "有冲突",
	http.StatusUnprocessableEntity: "输入有误",
	http.StatusInternalServerError: "出错了",
	http.StatusServiceUnavailable:  "暂不可用",
}

// fail answers an error from the domain: its message for the codes a user
// can act on, a generic sentence (and a log line) for the rest.
func (h *Handler) fail(q *request, err error) {
	switch ritual.ErrorCode(err) {
	case ritual.ENOTFOUND:
		h.errorPage(q.w, q.r, q, http.StatusNotFound, "没有找到："+ritual.ErrorMessage(err))
	case ritual.EINVALID, ritual.EBADREQUEST:
		h.errorPage(q.w, q.r, q, http.StatusUnprocessableEntity, ritual.ErrorField(err)+" "+ritual.ErrorMessage(err))
	case ritual.ECONFLICT:
		h.errorPage(q.w, q.r, q, http.StatusConflict, ritual.ErrorMessage(err))
	default:
		if errors.Is(q.r.Context().Err(), context.Canceled) {
			return
		}
		h.log.ErrorContext(q.r.Context(), "console", "path", q.r.URL.Path, "err", err)
		h.errorPage(q.w, q.r, q, http.StatusInternalServerError, "服务出错了，请稍后再试。")
	}
}
