// Package console is the merchant's web console under /console/: sign-in
// with a merchant account (owner or operator), pages for levels and rights,
// rituals, coupons, campaigns, the funnel, the week's points board,
// members, failed messages and settings versions, and a phone preview that
// chats with the bot as a test shopper through the emulator.
//
// It is server-rendered with html/template. Templates, the stylesheet and
// the one small script are embedded, so the binary serves everything
// itself, with no build step and nothing fetched from elsewhere. Every
// change to settings goes through Settings.UpdateSettings (ritual's), and
// every query uses the merchant of the signed-in session, never one named
// in a request.
//
// The console reaches the domain through small interfaces, one per
// resource (Sessions, Merchants, Settings, Ceremonies, Members, Reports,
// Campaigns, TestShoppers and a Clock), each served by the part of
// *ritual.Club that does that work. Each page is its own type, in a file named for the page,
// holding only those it uses.
package console

import (
	"context"
	"embed"
	"encoding/json"
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"github.com/wxclub/wxclub/ritual"
)

// Sessions signs merchant accounts in and out of the console.
type Sessions interface {
	// SignIn opens a session if the password is right: EUNAUTHORIZED for
	// a wrong username or password alike, ERATELIMITED after too many
	// failures for the user or from ip.
	SignIn(ctx context.Context, merchantID, username, password, ip string) (*ritual.ConsoleSession, error)
	// ConsoleSession returns the live session of the cookie's token and
	// records the activity; an unknown, idle or too old one is
	// EUNAUTHORIZED.
	ConsoleSession(ctx context.Context, token string) (*ritual.ConsoleSession, error)
	// SignOut ends the session; an unknown token is not an error.
	SignOut(ctx context.Context, token string) error
}

// Merchants finds the merchant a session belongs to.
type Merchants interface {
	// Merchant returns the merchant with id, or ENOTFOUND.
	Merchant(ctx context.Context, id string) (*ritual.Merchant, error)
}

// Clock says what time it is for the console: the funnel's default range
// ends today, and the preview's chat lines are stamped with it.
type Clock interface {
	Now() time.Time
}

// Settings reads and replaces a merchant's settings sections, each change
// a new version.
type Settings interface {
	// Section returns a section as JSON with the current settings version.
	Section(ctx context.Context, m *ritual.Merchant, section string) (json.RawMessage, int, error)
	// UpdateSettings replaces a section and stores the settings as a new
	// version by whom. Refused input is EINVALID naming the settings key
	// and changes nothing; ifVersion, when not 0, must be the current
	// version (ECONFLICT otherwise).
	UpdateSettings(ctx context.Context, m *ritual.Merchant, section string, body []byte, by string, ifVersion int) (*ritual.SettingsVersion, error)
	// SettingsVersions lists the changes, newest first.
	SettingsVersions(ctx context.Context, m *ritual.Merchant, limit int) ([]ritual.SettingsVersion, error)
}

// Ceremonies lists members' upgrade ceremonies and completes one by hand.
type Ceremonies interface {
	// Ceremonies lists the ceremonies in status ("" for all).
	Ceremonies(ctx context.Context, m *ritual.Merchant, status string, limit int) ([]ritual.CeremonyView, error)
	// GrantCeremony completes an open ceremony, waiving its remaining steps.
	GrantCeremony(ctx context.Context, m *ritual.Merchant, id int64) (ritual.CeremonyView, error)
}

// Members shows one member, found by openid or phone.
type Members interface {
	// MemberPage returns ENOTFOUND when no member of the merchant has
	// that openid or phone.
	MemberPage(ctx context.Context, m *ritual.Merchant, openidOrPhone string) (ritual.MemberPage, error)
}

// Reports are what the merchant reads about how things went: the funnel,
// the points board, campaign runs and messages that failed.
type Reports interface {
	// Funnel reports on the members recognized from an order in
	// [from, to); a range it refuses is EINVALID.
	Funnel(ctx context.Context, m *ritual.Merchant, from, to time.Time) (ritual.FunnelReport, error)
	// Leaderboard ranks members by the points they earned this week.
	Leaderboard(ctx context.Context, m *ritual.Merchant, limit int) (ritual.PointsBoard, error)
	// OutboxFailures lists the messages WeChat refused for good, newest
	// first.
	OutboxFailures(ctx context.Context, m *ritual.Merchant, limit int) ([]ritual.MessageView, error)
}

// Campaigns tell how the campaign jobs run.
type Campaigns interface {
	// CampaignStatuses lists the campaign jobs with their next and last run.
	CampaignStatuses(ctx context.Context, m *ritual.Merchant) ([]ritual.CampaignStatus, error)
}

// TestShoppers are the only shoppers the phone preview may play: members
// it made, marked as tests in the database. Owners and operators alike
// use the preview, and neither can act as a real member through it.
type TestShoppers interface {
	// NewTestShopper makes a test shopper, not yet following, and returns
	// its openid.
	NewTestShopper(ctx context.Context, m *ritual.Merchant) (string, error)
	// TestShopper returns nil if openid is one of m's test shoppers:
	// EFORBIDDEN if it is a real member's, ENOTFOUND if no member has it.
	TestShopper(ctx context.Context, m *ritual.Merchant, openid string) error
	// TestShoppers returns the openids of m's newest test shoppers.
	TestShoppers(ctx context.Context, m *ritual.Merchant, limit int) ([]string, error)
}

var (
	_ Sessions     = (*ritual.Admin)(nil)
	_ Merchants    = (*ritual.Directory)(nil)
	_ Clock        = (*ritual.Directory)(nil)
	_ Settings     = (*ritual.Admin)(nil)
	_ Ceremonies   = (*ritual.Upgrades)(nil)
	_ Members      = (*ritual.Reports)(nil)
	_ Reports      = (*ritual.Reports)(nil)
	_ Campaigns    = (*ritual.Calendar)(nil)
	_ TestShoppers = (*ritual.Admin)(nil)
)

// Options configures the console: one field per interface, so each may
// be served by a different type.
type Options struct {
	Sessions   Sessions
	Merchants  Merchants
	Clock      Clock
	Settings   Settings
	Ceremonies Ceremonies
	Members    Members
	Reports    Reports
	Campaigns  Campaigns
	// Shopper drives the phone preview; nil when the service talks to real
	// WeChat, and the preview page says it is unavailable.
	Shopper Shopper
	// TestShoppers says whom the preview may play; without it the preview
	// is unavailable too.
	TestShoppers TestShoppers
	Logger       *slog.Logger
	// DefaultMerchant fills in the merchant on the sign-in form.
	DefaultMerchant string
}

//go:embed static
var staticFiles embed.FS

// Handler serves the console under /console/.
type Handler struct {
	mux *http.ServeMux
}

// New returns the console: it parses the templates and routes each page
// to its own type.
func New(opts Options) *Handler {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	rd := newRenderer(log)
	gate := gate{renderer: rd, sessions: opts.Sessions, merchants: opts.Merchants}
	in := gate.signedIn
	owners := func(next func(q *request)) http.HandlerFunc { return gate.signedIn(gate.ownerOnly(next)) }
	login := loginPage{renderer: rd, sessions: opts.Sessions, defaultMerchant: opts.DefaultMerchant}
	home := homePage{renderer: rd, settings: opts.Settings, ceremonies: opts.Ceremonies, reports: opts.Reports, campaigns: opts.Campaigns, previewReady: opts.Shopper != nil && opts.TestShoppers != nil}
	levels := levelsEditor(rd, opts.Settings)
	rituals := ritualsEditor(rd, opts.Settings, opts.Ceremonies)
	grant := grantPage{renderer: rd, ceremonies: opts.Ceremonies}
	coupons := couponsEditor(rd, opts.Settings)
	campaigns := campaignsEditor(rd, opts.Settings, opts.Campaigns)
	funnel := funnelPage{renderer: rd, reports: opts.Reports, clock: opts.Clock}
	board := leaderboardPage{renderer: rd, reports: opts.Reports}
	members := membersPage{renderer: rd, members: opts.Members}
	outbox := outboxPage{renderer: rd, reports: opts.Reports}
	versions := versionsPage{renderer: rd, settings: opts.Settings}
	preview := newPreviewPage(rd, opts.Shopper, opts.TestShoppers, opts.Clock)

	mux := http.NewServeMux()
	static, _ := fs.Sub(staticFiles, "static")
	mux.Handle("GET /console/static/", http.StripPrefix("/console/static/", cacheFor(time.Hour, http.FileServerFS(static))))
	mux.HandleFunc("GET /console/login", login.get)
	mux.HandleFunc("POST /console/login", login.post)
	mux.HandleFunc("POST /console/logout", in(login.logout))

	mux.HandleFunc("GET /console/{$}", in(home.serve))
	mux.HandleFunc("GET /console/levels", in(levels.serve))
	mux.HandleFunc("POST /console/levels", owners(levels.serve))
	mux.HandleFunc("GET /console/rituals", in(rituals.serve))
	mux.HandleFunc("POST /console/rituals", owners(rituals.serve))
	mux.HandleFunc("POST /console/ceremonies/{id}/grant", in(grant.serve))
	mux.HandleFunc("GET /console/coupons", in(coupons.serve))
	mux.HandleFunc("POST /console/coupons", owners(coupons.serve))
	mux.HandleFunc("GET /console/campaigns", in(campaigns.serve))
	mux.HandleFunc("POST /console/campaigns", owners(campaigns.serve))
	mux.HandleFunc("GET /console/funnel", in(funnel.serve))
	mux.HandleFunc("GET /console/leaderboard", in(board.serve))
	mux.HandleFunc("GET /console/members", in(members.serve))
	mux.HandleFunc("GET /console/outbox", in(outbox.serve))
	mux.HandleFunc("GET /console/versions", in(versions.serve))

	// Owners and operators may both use the preview: it plays only test
	// shoppers, so it changes nothing a real shopper owns.
	mux.HandleFunc("GET /console/preview", in(preview.serve))
	mux.HandleFunc("GET /console/preview/messages", in(preview.messages))
	mux.HandleFunc("POST /console/preview/new", in(preview.newShopper))
	mux.HandleFunc("POST /console/preview/follow", in(preview.follow))
	mux.HandleFunc("POST /console/preview/say", in(preview.say))

	mux.HandleFunc("/console/", func(w http.ResponseWriter, r *http.Request) {
		rd.errorPage(w, r, nil, http.StatusNotFound, "没有这个页面。")
	})
	return &Handler{mux: mux}
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
