// Package handlers is wxclub's HTTP surface on gin: the official-account
// webhook, the group-bridge webhook, the merchant API, health checks and
// metrics. It is thin: it authenticates, parses and answers, and leaves
// every decision to the domain (package ritual). Each group of handlers
// declares the small interface it needs beside it (Orders in api_orders.go,
// Chat in wechat_webhook.go, ...) and holds only that; the wiring in cmd
// gives each the part of *ritual.Club that implements it.
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
	Campaigns  Campaigns
	Groups     Groups
	Tags       Tags
	Ceremonies Ceremonies
	Settings   Settings

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
		{"Campaigns", opts.Campaigns != nil},
		{"Groups", opts.Groups != nil},
		{"Tags", opts.Tags != nil},
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
	bridge := &groupWebhook{merchants: opts.Merchants, chat: opts.GroupChat, replayWindow: opts.ReplayWindow, metrics: opts.Metrics}
	members := &membersAPI{members: opts.Members}
	cards := &cardsAPI{cards: opts.Cards}
	orders := &ordersAPI{orders: opts.Orders}
	rewards := &rewardsAPI{rewards: opts.Rewards}
	reports := &reportsAPI{reports: opts.Reports}
	campaigns := &campaignsAPI{campaigns: opts.Campaigns}
	groups := &groupsAPI{groups: opts.Groups}
	tags := &tagsAPI{tags: opts.Tags, tagger: opts.Tagger}
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
	api := r.Group("/api/v1", authenticate(opts.Merchants), requireJSON)
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
	api.POST("/tags/sync", tags.postTagSync)
	api.GET("/ceremonies", ceremonies.getCeremonies)
	api.POST("/ceremonies/:id/grant", ceremonies.postCeremonyGrant)
	api.GET("/campaigns", campaigns.getCampaigns)
	api.GET("/campaigns/report", campaigns.getCampaignReport)
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
		// The service's root is where a first-time user lands from the
		// start-up log; 302, not 301, so browsers do not remember it.
		r.GET("/", func(c *gin.Context) { c.Redirect(http.StatusFound, "/console/") })
		r.Any("/console/*path", gin.WrapH(opts.Console))
	}
	r.NoRoute(func(c *gin.Context) {
		writeError(c, ritual.Errorf(ritual.ENOTFOUND, "no route %s %s", c.Request.Method, c.Request.URL.Path))
	})
	return r
}
