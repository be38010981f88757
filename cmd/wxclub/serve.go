package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wxclub/wxclub/handlers"
	"github.com/wxclub/wxclub/models"
	"github.com/wxclub/wxclub/ritual"
	"github.com/wxclub/wxclub/wechat"
	"github.com/wxclub/wxclub/wechat/emulator"
)

// Main is the running service: database, domain, HTTP server and the
// background work, with the emulator when the configuration asks for it.
type Main struct {
	Config Config
	Logger *slog.Logger
	Clock  ritual.Clock

	DB       *models.DB
	Club     *ritual.Club
	Emulator *emulator.Emulator
	Metrics  *handlers.Metrics
	redis    *redis.Client
	// WeChat sends to WeChat (or the emulator); tests may replace it
	// before Run.
	WeChat ritual.WeChat

	listener net.Listener
	server   *http.Server
	stop     context.CancelFunc
	schedule *scheduler
	workers  sync.WaitGroup
}

// NewMain returns a Main for cfg.
func NewMain(cfg Config, logger *slog.Logger) *Main {
	return &Main{Config: cfg, Logger: logger, Clock: ritual.SystemClock}
}

const serveAbout = `usage: wxclub [serve] [-config FILE]

Run the service: WeChat webhooks, the API, the web console, the campaign
scheduler and the outbox relay, until SIGTERM or SIGINT.`

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseConfigOnly(serveAbout, args, stdout)
	if err != nil {
		return err
	}
	m := NewMain(cfg, newLogger(cfg.Log, stderr))
	if err := m.Run(ctx); err != nil {
		m.Close()
		return err
	}
	<-ctx.Done()
	m.Logger.Info("shutting down")
	return m.Close()
}

// newLogger builds the process logger from the log configuration. Unless
// log.openids is on, any attribute named openid — from any component,
// the emulator's debug lines included — is masked.
func newLogger(cfg LogConfig, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Level))
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == "openid" && !cfg.OpenIDs {
			a.Value = slog.StringValue("***")
		}
		return a
	}}
	if cfg.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// Run opens and migrates the database, seeds the configured merchants,
// starts listening and serving, and starts the background work. It returns
// once the service is up; Close stops it.
func (m *Main) Run(ctx context.Context) error {
	if err := m.openDatabase(ctx); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", m.Config.Server.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s (server.addr): %w", m.Config.Server.Addr, err)
	}
	m.listener = ln
	m.Metrics = handlers.NewMetrics()
	m.Metrics.WatchDB(m.DB.SQL(), m.Config.Database.Driver)
	m.Metrics.WatchStatements(m.DB.Statements)
	if m.WeChat == nil {
		m.WeChat = wechat.NewClient(wechat.ClientOptions{
			Tokens: m.tokenStore(), StableToken: m.Config.WeChat.StableToken, Logger: m.Logger,
		})
	}
	m.Club = ritual.NewClub(m.DB, ritual.ClubOptions{
		Clock: m.Clock, Logger: m.Logger, Observer: m.Metrics, WeChat: m.WeChat, PublicURL: m.publicURL(),
	})
	m.Metrics.WatchOutbox(m.Club.OutboxDepth)
	if m.Config.WeChat.APIBase == APIBaseEmulator {
		m.bridgeToEmulator()
	}
	if err := m.seedMerchants(ctx); err != nil {
		return err
	}
	if err := m.configureWeChat(); err != nil {
		return err
	}
	m.server = &http.Server{
		Handler:           m.handler(ctx),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	go func() {
		if err := m.server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.Logger.Error("http server stopped", "err", err)
		}
	}()
	if err := m.startBackground(); err != nil {
		return err
	}
	m.Logger.Info("wxclub serving", "addr", m.URL(), "console", m.URL()+"/console/", "database", m.Config.Database.Driver, "wechat", m.Config.WeChat.APIBase, "version", version)
	m.logDemoSignIn()
	return nil
}

// shippedConsolePassword is the demo console password config.yaml ships
// with. A console user still configured with it is the demo one, and the
// start-up log tells a first-time user how to sign in. The password itself
// is never logged: only that it is the one in config.yaml.
const shippedConsolePassword = "demo-console-password"

// logDemoSignIn names the console sign-in of every configured user still
// on the shipped demo password, with a warning to change it.
func (m *Main) logDemoSignIn() {
	for _, mc := range m.Config.Merchants {
		for _, u := range mc.Console {
			if u.Password == shippedConsolePassword {
				m.Logger.Warn("console demo sign-in: the password is the one in config.yaml; change it before real shoppers arrive",
					"url", m.URL()+"/console/", "merchant", mc.ID, "user", u.Username)
			}
		}
	}
}

// handler is the HTTP surface: each resource is served by the part of the
// club that does that work.
func (m *Main) handler(ctx context.Context) http.Handler {
	return handlers.New(handlers.Options{
		Merchants:  m.Club.Directory,
		Chat:       m.Club.Chat,
		GroupChat:  m.Club.GroupChat,
		Members:    m.Club.Reports,
		Cards:      m.Club.Cards,
		Orders:     m.Club.Shop,
		Rewards:    m.Club.Shop,
		Reports:    m.Club.Reports,
		Campaigns:  m.Club.Calendar,
		Groups:     m.Club.Reports,
		Tags:       m.Club.Tags,
		Ceremonies: m.Club.Upgrades,
		Settings:   m.Club.Admin,

		ReplayWindow: m.Config.WeChat.ReplayWindow, Logger: m.Logger, Emulator: m.emulatorHandler(),
		Metrics: m.Metrics, LogOpenIDs: m.Config.Log.OpenIDs, Tagger: m.tagger(), Console: m.console(ctx),
	})
}

func (m *Main) openDatabase(ctx context.Context) error {
	db, err := models.Open(ctx, models.Config{
		Driver: m.Config.Database.Driver, DSN: m.Config.Database.DSN,
		MaxOpenConns: m.Config.Database.MaxOpenConns, Clock: m.Clock, Logger: m.Logger,
	})
	if err != nil {
		return err
	}
	m.DB = db
	return db.Migrate(ctx)
}

// seedMerchants stores the configured merchants, and the load merchant
// where there is one, the first time the service sees them.
func (m *Main) seedMerchants(ctx context.Context) error {
	if lm, ok := loadMerchant(m.Config); ok {
		m.Logger.Info("load merchant registered: wxclub load and bench drive it, never a configured merchant", "merchant", lm.ID)
	}
	for _, mc := range withLoadMerchant(m.Config) {
		created, err := m.Club.SeedMerchant(ctx, &mc.Merchant, mc.APIKey)
		if err != nil {
			return fmt.Errorf("seed merchant %s: %w", mc.ID, err)
		}
		if !created {
			m.Logger.Info("merchant already in the database; its config.yaml entry is not applied (the database is the truth)", "merchant", mc.ID)
		}
	}
	return nil
}

// bridgeToEmulator points merchants with a group secret but no bridge
// callback at the emulator's bridge side, so the demo's group posts land
// somewhere they can be read (GET /emu/groups/<group>/messages).
func (m *Main) bridgeToEmulator() {
	for i, mc := range m.Config.Merchants {
		if mc.Groups.Secret != "" && mc.Groups.CallbackURL == "" {
			m.Config.Merchants[i].Groups.CallbackURL = m.URL() + "/emu/groups/callback?merchant=" + mc.ID
		}
	}
}

// configureWeChat points silenceper at WeChat or at the in-process
// emulator, which learns each merchant's account and webhook.
func (m *Main) configureWeChat() error {
	base := m.Config.WeChat.APIBase
	if base == APIBaseEmulator {
		m.Emulator = emulator.New(emulator.Options{Clock: m.Clock, Logger: m.Logger.With("component", "emulator")})
		if err := registerAccounts(m.Emulator, withLoadMerchant(m.Config), m.URL()); err != nil {
			return err
		}
		base = m.URL() + "/emu"
	}
	wechat.ConfigureLibrary(wechat.LibraryOptions{APIBase: base, Timeout: m.Config.WeChat.HTTPTimeout, Logger: m.Logger})
	return nil
}

// registerAccounts tells the emulator about each merchant's official
// account and where its webhook is.
func registerAccounts(emu *emulator.Emulator, merchants []MerchantConfig, serviceURL string) error {
	for _, mc := range merchants {
		if mc.Groups.Secret != "" {
			if err := emu.RegisterGroupBridge(mc.ID, mc.Groups.Secret); err != nil {
				return fmt.Errorf("emulator: register %s's group bridge: %w", mc.ID, err)
			}
		}
		acct := mc.OfficialAccount
		err := emu.Register(emulator.Account{
			Name: mc.ID, AppID: acct.AppID, AppSecret: acct.AppSecret, Token: acct.Token,
			EncodingAESKey: acct.EncodingAESKey, Mode: acct.MessageMode(),
			WebhookURL: serviceURL + "/wechat/" + mc.ID,
		})
		if err != nil {
			return fmt.Errorf("emulator: register %s: %w", mc.ID, err)
		}
	}
	return nil
}

func (m *Main) emulatorHandler() http.Handler {
	if m.Emulator == nil {
		return nil
	}
	return m.Emulator.Handler()
}

// URL returns the base URL the service listens on, reachable from this host.
func (m *Main) URL() string {
	addr := m.listener.Addr().(*net.TCPAddr)
	host := "127.0.0.1"
	if h, _, err := net.SplitHostPort(m.Config.Server.Addr); err == nil && h != "" && h != "0.0.0.0" && h != "::" {
		host = h
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return fmt.Sprintf("http://%s:%d", host, addr.Port)
}

// startBackground starts the work that runs beside the HTTP server: the
// outbox relay and the recurring jobs on cron. Close cancels their context
// and waits for them.
func (m *Main) startBackground() error {
	ctx, cancel := context.WithCancel(context.Background())
	m.stop = cancel
	m.workers.Add(1)
	go func() {
		defer m.workers.Done()
		m.relay(ctx)
	}()
	m.schedule = newScheduler(ctx, m.Logger, m.Club, replicaName())
	for _, job := range m.jobs() {
		if err := m.schedule.add(job); err != nil {
			return err
		}
	}
	if err := m.scheduleCampaigns(ctx); err != nil {
		return err
	}
	m.schedule.start()
	return nil
}

// scheduleCampaigns puts every merchant's campaign jobs on cron, and runs
// once any slot missed while the service was down that is still within
// its job's catch-up window.
func (m *Main) scheduleCampaigns(ctx context.Context) error {
	if err := m.schedule.reloadCampaigns(ctx); err != nil {
		return err
	}
	m.workers.Add(1)
	go func() {
		defer m.workers.Done()
		ran, err := m.Club.CatchUp(ctx, replicaName())
		if err != nil && ctx.Err() == nil {
			m.Logger.Warn("catching up missed campaign slots", "err", err)
		} else if len(ran) > 0 {
			m.Logger.Info("ran missed campaign slots", "jobs", ran)
		}
	}()
	return nil
}

// relayIdle is how long the relay rests when the outbox has nothing due.
const relayIdle = 500 * time.Millisecond

// tokenStore is where replicas share the WeChat access token: Redis when
// configured, else the database. Never per process: each /cgi-bin/token
// call supersedes the last token, so replicas with tokens of their own
// would keep invalidating each other.
func (m *Main) tokenStore() ritual.KeyValue {
	if m.Config.Redis.Addr == "" {
		return m.DB.KeyValue()
	}
	m.redis = redis.NewClient(&redis.Options{Addr: m.Config.Redis.Addr, Password: m.Config.Redis.Password, DB: m.Config.Redis.DB})
	return wechat.NewRedisKV(m.redis, "wxclub:")
}

// publicURL is where shoppers reach the service, for links in chat:
// server.public_url, else this listener.
func (m *Main) publicURL() string {
	if m.Config.Server.PublicURL != "" {
		return m.Config.Server.PublicURL
	}
	return m.URL()
}

// tagger mirrors groups and levels to WeChat user tags, when the WeChat
// client can.
func (m *Main) tagger() ritual.Tagger {
	t, _ := m.WeChat.(ritual.Tagger)
	return t
}

// replicaName names this process in leases and job claims.
func replicaName() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s-%d", host, os.Getpid())
}

// relay sends the outbox until ctx ends. A batch under way when it ends is
// finished (each send is bounded by wechat.http_timeout): stopping between
// batches is the safe point, so no claimed message waits for its lease.
func (m *Main) relay(ctx context.Context) {
	relay := m.Club.NewRelay(m.WeChat, ritual.RelayOptions{
		Owner: replicaName(), Lease: m.Config.Relay.Lease, Batch: m.Config.Relay.Batch, Concurrency: m.Config.Relay.Concurrency,
		Bridge: wechat.NewBridge(&http.Client{Timeout: m.Config.WeChat.HTTPTimeout}),
	})
	for ctx.Err() == nil {
		n, err := relay.RunOnce(context.WithoutCancel(ctx))
		if err != nil && ctx.Err() == nil {
			m.Logger.Warn("relay", "err", err)
		}
		if n > 0 && err == nil {
			continue
		}
		select {
		case <-ctx.Done():
		case <-time.After(relayIdle):
		}
	}
}

// jobs lists the recurring work.
func (m *Main) jobs() []scheduledJob {
	return []scheduledJob{{
		name: "ceremonies", spec: "*/10 * * * *",
		run: func(ctx context.Context) error {
			n, err := m.Club.CeremonyTick(ctx)
			if n > 0 {
				m.Logger.Info("ceremonies reminded or granted", "count", n)
			}
			return err
		},
	}, {
		name: "campaign-schedules", spec: "* * * * *", everyReplica: true,
		run: func(ctx context.Context) error { return m.schedule.reloadCampaigns(ctx) },
	}, {
		name: "settings-reevaluation", spec: "* * * * *",
		run: func(ctx context.Context) error {
			n, err := m.Club.ReevaluateAfterChanges(ctx, replicaName())
			if n > 0 {
				m.Logger.Info("members re-evaluated after a settings change", "changes", n)
			}
			return err
		},
	}, {
		name: "reevaluate-levels", spec: "CRON_TZ=Asia/Shanghai 10 3 * * *",
		run: func(ctx context.Context) error {
			n, err := m.Club.ReevaluateAllLevels(ctx)
			m.Logger.Info("levels re-evaluated", "changed", n)
			return err
		},
	}, {
		name: "forget-deliveries", spec: "@hourly",
		run: func(ctx context.Context) error {
			n, err := m.Club.ForgetDeliveries(ctx, m.Config.WeChat.DedupeRetention)
			if n > 0 {
				m.Logger.Info("forgot old deliveries", "count", n)
			}
			return err
		},
	}}
}

// Close stops taking requests, lets in-flight ones finish (within
// server.shutdown_timeout), stops the background work and closes the
// database.
func (m *Main) Close() error {
	var errs []error
	if m.server != nil {
		ctx, cancel := context.WithTimeout(context.Background(), m.Config.Server.ShutdownTimeout)
		start := time.Now()
		if err := m.server.Shutdown(ctx); err != nil {
			m.Logger.Warn("in-flight requests cut off at server.shutdown_timeout", "timeout", m.Config.Server.ShutdownTimeout, "err", err)
			errs = append(errs, err)
		} else {
			m.Logger.Info("in-flight requests finished; no longer listening", "took", time.Since(start).Round(time.Millisecond))
		}
		cancel()
	} else if m.listener != nil {
		errs = append(errs, m.listener.Close())
	}
	if m.stop != nil {
		m.stop()
		m.schedule.stop()
		m.Logger.Info("cron stopped: jobs under way finished, no new ones start")
		m.workers.Wait()
		m.Logger.Info("relay stopped: its last batch was finished")
	}
	if m.redis != nil {
		errs = append(errs, m.redis.Close())
	}
	if m.DB != nil {
		errs = append(errs, m.DB.Close())
	}
	return errors.Join(errs...)
}
