// Package handlers is wxclub's HTTP surface on gin: the official-account
// webhook, the group-bridge webhook, the merchant API, health checks and
// metrics. It is thin: it authenticates, parses and answers, and leaves
// every decision to the domain (package ritual). Each group of handlers
// declares the small interface it needs beside it (Orders in api_orders.go,
// Chat in wechat_webhook.go, ...) and holds only that; *ritual.Club
// implements them all.
package handlers

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/wxclub/wxclub/ritual"
)

// Options configures the HTTP surface. The domain fields, Merchants to
// Settings, are required: New panics when one is nil, so a wiring mistake
// stops the process at start instead of answering requests with a 500.
type Options struct {
	Merchants  Merchants
	Chat       Chat
	GroupChat  GroupChat
	Members    Members
	Cards      Cards
	Orders     Orders
	Rewards    Rewards
	Reports    Reports
	Groups     Groups
	Ceremonies Ceremonies
	Settings   Settings
	// Club, when set, fills each domain field above that is nil with itself
	// (it must implement them all, as *ritual.Club does).
	//
	// Deprecated: set the fields. Club stays only until the tests of
	// handlers/console, which are being changed separately, stop using it.
	Club any

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

// fillFromClub sets each nil domain field of opts to opts.Club, if it
// implements that field's interface.
func fillFromClub(opts *Options) {
	if opts.Club == nil {
		return
	}
	c := opts.Club
	if opts.Merchants == nil {
		opts.Merchants, _ = c.(Merchants)
	}
	if opts.Chat == nil {
		opts.Chat, _ = c.(Chat)
	}
	if opts.GroupChat == nil {
		opts.GroupChat, _ = c.(GroupChat)
	}
	if opts.Members == nil {
		opts.Members, _ = c.(Members)
	}
	if opts.Cards == nil {
		opts.Cards, _ = c.(Cards)
	}
	if opts.Orders == nil {
		opts.Orders, _ = c.(Orders)
	}
	if opts.Rewards == nil {
		opts.Rewards, _ = c.(Rewards)
	}
	if opts.Reports == nil {
		opts.Reports, _ = c.(Reports)
	}
	if opts.Groups == nil {
		opts.Groups, _ = c.(Groups)
	}
	if opts.Ceremonies == nil {
		opts.Ceremonies, _ = c.(Ceremonies)
	}
	if opts.Settings == nil {
		opts.Settings, _ = c.(Settings)
	}
}

// requireDomain panics naming the first domain field of opts that is nil.
func requireDomain(opts Options) {
	for _, f := range []struct {
		name string
		set  bool
	}{
		{"Merchants", opts.Merchants != nil},
		{"Chat", opts.Chat != nil},
		{"GroupChat", opts.GroupChat != nil},
		{"Members", opts.Members != nil},
		{"Cards", opts.Cards != nil},
		{"Orders", opts.Orders != nil},
		{"Rewards", opts.Rewards != nil},
		{"Reports", opts.Reports != nil},
		{"Groups", opts.Groups != nil},
		{"Ceremonies", opts.Ceremonies != nil},
		{"Settings", opts.Settings != nil},
	} {
		if !f.set {
			panic("handlers.New: Options." + f.name + " is nil; its routes would fail on every request")
		}
	}
}

// New returns the HTTP handler of the whole service. It panics when a
// domain field of opts is nil.
func New(opts Options) http.Handler {
	fillFromClub(&opts)
	requireDomain(opts)
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Metrics == nil {
		opts.Metrics = NewMetrics()
	}
	official := &wechatWebhook{
		merchants: opts.Merchants, chat: opts.Chat, replayWindow: opts.ReplayWindow,
		log: opts.Logger, metrics: opts.Metrics, logOpenIDs: opts.LogOpenIDs,
	}
	bridge := &groupWebhook{merchants: opts.Merchants, chat: opts.GroupChat, replayWindow: opts.ReplayWindow}
	members := &membersAPI{members: opts.Members}
	cards := &cardsAPI{cards: opts.Cards}
	orders := &ordersAPI{orders: opts.Orders}
	rewards := &rewardsAPI{rewards: opts.Rewards}
	reports := &reportsAPI{reports: opts.Reports}
	groups := &groupsAPI{groups: opts.Groups, tagger: opts.Tagger}
	ceremonies := &ceremoniesAPI{ceremonies: opts.Ceremonies}
	settings := &settingsAPI{settings: opts.Settings}

	r := gin.New()
	r.ContextWithFallback = true // c.Request.Context() cancellation reaches the domain
	r.Use(requestLog(opts.Logger), recoverPanic(opts.Logger))

	r.GET("/healthz", healthz)
	r.GET("/readyz", readyz(opts.Merchants))
	r.GET("/metrics", gin.WrapH(opts.Metrics.Handler()))
	r.GET("/wechat/:merchant", official.wechatVerify)
	r.POST("/wechat/:merchant", official.wechatMessage)
	r.POST("/group/:merchant", bridge.groupMessage)

	r.GET("/api/v1/openapi.json", getOpenAPI)
	api := r.Group("/api/v1", authenticate(opts.Merchants))
	api.GET("/members/:openid", members.getMember)
	api.GET("/members/:openid/ledger", members.getLedger)
	api.GET("/members/:openid/rights", members.getRights)
	api.POST("/orders", orders.postOrder)
	api.POST("/orders/:order_no/refunds", orders.postRefund)
	api.POST("/members/:openid/redemptions", rewards.postRedemption)
	api.GET("/members/:openid/coupons", rewards.getCoupons)
	api.POST("/coupons/:code/use", rewards.postCouponUse)
	api.GET("/members/:openid/card", cards.getCard)
	api.GET("/funnel", reports.getFunnel)
	api.GET("/referrals/leaderboard", reports.getReferralBoard)
	api.GET("/groups", groups.getGroups)
	api.GET("/groups/:id/members", groups.getGroupMembers)
	api.POST("/tags/sync", groups.postTagSync)
	api.GET("/ceremonies", ceremonies.getCeremonies)
	api.POST("/ceremonies/:id/grant", ceremonies.postCeremonyGrant)
	api.GET("/campaigns", reports.getCampaigns)
	api.GET("/campaigns/report", reports.getCampaignReport)
	api.GET("/settings", settings.getSettings)
	api.GET("/settings/versions", settings.getSettingsVersions)
	api.GET("/settings/:section", settings.getSettingsSection)
	api.PUT("/settings/:section", settings.putSettingsSection)
	r.GET("/qr/:merchant/:scene", cards.getQR)

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
