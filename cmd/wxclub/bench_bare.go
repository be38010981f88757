package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/gin-gonic/gin"
	sdk "github.com/silenceper/wechat/v2"
	"github.com/silenceper/wechat/v2/cache"
	offconfig "github.com/silenceper/wechat/v2/officialaccount/config"
	"github.com/silenceper/wechat/v2/officialaccount/message"

	"github.com/wxclub/wxclub/wechat"
)

// The bare webhook is the yardstick for the service's webhook: gin and
// silenceper's official-account server alone, answering the load
// merchant's signed (and encrypted) messages — verify the signature,
// decrypt, parse, reply with a text — and storing nothing. The service
// can go no faster than this on the same machine; the bench reports how
// far below it the service stays.

const benchBareAbout = `usage: wxclub bench-bare-webhook [-addr ADDR] [-config FILE]

Serve the load merchant's webhook on /wechat/load with gin and silenceper
alone: verify, decrypt, parse, reply, store nothing. wxclub bench starts it.`

// benchBareReply is about as long as the service's reply to 帮助.
const benchBareReply = "发送「积分」查看积分和等级；「签到」每天领积分；「兑换」用积分换券；「邀请」邀请好友得积分；「激活」激活会员卡。"

func runBenchBareWebhook(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newCommandLine(benchBareAbout, stdout)
	addr := fs.String("addr", "127.0.0.1:8090", "listen address")
	path := fs.String("config", "config.yaml", "configuration the load merchant is derived from")
	if _, err := fs.parseNone(args); err != nil {
		return err
	}
	cfg, err := LoadConfig(*path, os.Environ())
	if err != nil {
		return err
	}
	lm, ok := loadMerchant(cfg)
	if !ok {
		return errors.New("bench-bare-webhook: no load merchant (wechat.api_base must be emulator)")
	}
	// silenceper's process-global hooks: quiet its logrus as serve does.
	wechat.ConfigureLibrary(wechat.LibraryOptions{APIBase: "http://127.0.0.1:1", Logger: slog.New(slog.DiscardHandler)})
	srv := &http.Server{Addr: *addr, Handler: bareWebhook(lm), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shutdown)
	}()
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// bareWebhook is the gin engine of the bare webhook.
func bareWebhook(mc MerchantConfig) http.Handler {
	acct := mc.OfficialAccount
	oa := sdk.NewWechat().GetOfficialAccount(&offconfig.Config{
		AppID: acct.AppID, AppSecret: acct.AppSecret, Token: acct.Token,
		EncodingAESKey: acct.EncodingAESKey, Cache: cache.NewMemory(),
	})
	r := gin.New()
	r.GET("/healthz", func(c *gin.Context) { c.String(http.StatusOK, "ok") })
	r.POST("/wechat/"+mc.ID, func(c *gin.Context) {
		server := oa.GetServer(c.Request, c.Writer)
		server.SetMessageHandler(func(*message.MixMessage) *message.Reply {
			return &message.Reply{MsgType: message.MsgTypeText, MsgData: message.NewText(benchBareReply)}
		})
		if err := server.Serve(); err != nil {
			c.String(http.StatusForbidden, err.Error())
			return
		}
		if err := server.Send(); err != nil {
			c.String(http.StatusInternalServerError, err.Error())
		}
	})
	return r
}
