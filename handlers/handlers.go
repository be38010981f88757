// Package handlers is wxclub's HTTP surface on gin: the official-account
// webhook, the group-bridge webhook, the merchant API, health checks. It is
// thin: it authenticates, parses and answers, and leaves every decision to
// the domain (package ritual) through the Club interface declared here.
package handlers

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/wxclub/wxclub/ritual"
)

// Club is what the handlers need from the domain; *ritual.Club implements it.
type Club interface {
	Now() time.Time
	Ready(ctx context.Context) error
	Merchant(ctx context.Context, id string) (*ritual.Merchant, error)
	MerchantByAPIKey(ctx context.Context, key string) (*ritual.Merchant, error)
	HandleMessage(ctx context.Context, m *ritual.Merchant, msg ritual.InboundMessage) (ritual.Reply, error)
	MemberView(ctx context.Context, m *ritual.Merchant, openidOrPhone string) (ritual.MemberView, error)
	Rights(ctx context.Context, m *ritual.Merchant, openidOrPhone string) (ritual.RightView, error)
	Ledger(ctx context.Context, m *ritual.Merchant, openidOrPhone string, before int64, limit int) (ritual.LedgerPage, error)
	RecordOrder(ctx context.Context, m *ritual.Merchant, in ritual.OrderInput) (*ritual.OrderAnswer, bool, error)
	RecordRefund(ctx context.Context, m *ritual.Merchant, in ritual.RefundInput) (*ritual.RefundAnswer, bool, error)
	Redeem(ctx context.Context, m *ritual.Merchant, openidOrPhone, reward, redemptionNo string) (*ritual.Redemption, bool, error)
	Coupons(ctx context.Context, m *ritual.Merchant, openidOrPhone string) ([]*ritual.Coupon, error)
	UseCoupon(ctx context.Context, m *ritual.Merchant, code string) (*ritual.Coupon, error)
	Card(ctx context.Context, m *ritual.Merchant, openidOrPhone string, permanent bool) (ritual.CardView, error)
	Funnel(ctx context.Context, m *ritual.Merchant, from, to time.Time) (ritual.FunnelReport, error)
	Referrals(ctx context.Context, m *ritual.Merchant, month string, limit int) (ritual.ReferralBoard, error)
	QRImage(ctx context.Context, merchantID, scene string) (string, error)
	HandleGroupMessage(ctx context.Context, m *ritual.Merchant, msg ritual.GroupMessage) ([]ritual.Reply, error)
	ListGroups(ctx context.Context, m *ritual.Merchant) ([]ritual.GroupView, error)
	GroupMembers(ctx context.Context, m *ritual.Merchant, groupID string) ([]ritual.GroupMemberView, error)
	SyncTag(ctx context.Context, m *ritual.Merchant, tagger ritual.Tagger, req ritual.TagSyncRequest) (*ritual.TagSyncReport, error)
	Ceremonies(ctx context.Context, m *ritual.Merchant, status string, limit int) ([]ritual.CeremonyView, error)
	GrantCeremony(ctx context.Context, m *ritual.Merchant, id int64) (ritual.CeremonyView, error)
	CampaignStatuses(ctx context.Context, m *ritual.Merchant) ([]ritual.CampaignStatus, error)
	CampaignReport(ctx context.Context, m *ritual.Merchant, campaign string) ([]ritual.ReportLine, error)
	Settings(ctx context.Context, m *ritual.Merchant) (ritual.SettingsDoc, error)
	Section(ctx context.Context, m *ritual.Merchant, section string) (json.RawMessage, int, error)
	UpdateSettings(ctx context.Context, m *ritual.Merchant, section string, body []byte, by string, ifVersion int) (*ritual.SettingsVersion, error)
	SettingsVersions(ctx context.Context, m *ritual.Merchant, limit int) ([]ritual.SettingsVersion, error)
}

var _ Club = (*ritual.Club)(nil)

// Options configures the HTTP surface.
type Options struct {
	Club Club
	// ReplayWindow rejects signed requests whose timestamp is further than
	// this from now; 0 turns the check off.
	ReplayWindow time.Duration
	Logger       *slog.Logger
	// Emulator, when set, is the in-process WeChat emulator, served under
	// /emu.
	Emulator http.Handler
	// Metrics, when set, counts requests and is served at /metrics.
	Metrics *Metrics
	// LogOpenIDs adds the sender's openid to the webhook's request log line;
	// off by default, since an openid identifies a person.
	LogOpenIDs bool
	// Tagger, when set, manages WeChat user tags for POST /api/v1/tags/sync
	// (the wechat.Client); without it that route answers 503.
	Tagger ritual.Tagger
	// Console, when set, is the merchant's web console (handlers/console),
	// served under /console/.
	Console http.Handler
}

// Server holds the handlers' dependencies.
type Server struct {
	club         Club
	replayWindow time.Duration
	log          *slog.Logger
	metrics      *Metrics
	logOpenIDs   bool
}

// New returns the HTTP handler of the whole service.
func New(opts Options) http.Handler {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Metrics == nil {
		opts.Metrics = NewMetrics()
	}
	s := &Server{club: opts.Club, replayWindow: opts.ReplayWindow, log: opts.Logger, metrics: opts.Metrics, logOpenIDs: opts.LogOpenIDs}
	r := gin.New()
	r.ContextWithFallback = true // c.Request.Context() cancellation reaches the domain
	r.Use(s.requestLog(), s.recoverPanic())

	r.GET("/healthz", s.healthz)
	r.GET("/readyz", s.readyz)
	r.GET("/metrics", gin.WrapH(opts.Metrics.Handler()))
	r.GET("/wechat/:merchant", s.wechatVerify)
	r.POST("/wechat/:merchant", s.wechatMessage)
	r.POST("/group/:merchant", s.groupMessage)

	r.GET("/api/v1/openapi.json", s.getOpenAPI)
	api := r.Group("/api/v1", s.authenticate)
	api.GET("/members/:openid", s.getMember)
	api.GET("/members/:openid/ledger", s.getLedger)
	api.GET("/members/:openid/rights", s.getRights)
	api.POST("/orders", s.postOrder)
	api.POST("/orders/:order_no/refunds", s.postRefund)
	api.POST("/members/:openid/redemptions", s.postRedemption)
	api.GET("/members/:openid/coupons", s.getCoupons)
	api.POST("/coupons/:code/use", s.postCouponUse)
	api.GET("/members/:openid/card", s.getCard)
	api.GET("/funnel", s.getFunnel)
	api.GET("/referrals/leaderboard", s.getReferralBoard)
	api.GET("/groups", s.getGroups)
	api.GET("/groups/:id/members", s.getGroupMembers)
	api.POST("/tags/sync", s.postTagSync(opts.Tagger))
	api.GET("/ceremonies", s.getCeremonies)
	api.POST("/ceremonies/:id/grant", s.postCeremonyGrant)
	api.GET("/campaigns", s.getCampaigns)
	api.GET("/campaigns/report", s.getCampaignReport)
	api.GET("/settings", s.getSettings)
	api.GET("/settings/versions", s.getSettingsVersions)
	api.GET("/settings/:section", s.getSettingsSection)
	api.PUT("/settings/:section", s.putSettingsSection)
	r.GET("/qr/:merchant/:scene", s.getQR)

	if opts.Emulator != nil {
		r.Any("/emu/*path", gin.WrapH(opts.Emulator))
	}
	if opts.Console != nil {
		r.GET("/console", func(c *gin.Context) { c.Redirect(http.StatusMovedPermanently, "/console/") })
		r.Any("/console/*path", gin.WrapH(opts.Console))
	}
	r.NoRoute(func(c *gin.Context) {
		writeError(c, ritual.Errorf(ritual.ENOTFOUND, "no route %s %s", c.Request.Method, c.Request.URL.Path))
	})
	return r
}
