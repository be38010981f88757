package wechat

import (
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/silenceper/wechat/v2/util"
	"github.com/sirupsen/logrus"
)

// WeChatOrigin is the origin silenceper calls.
const WeChatOrigin = "https://api.weixin.qq.com"

// LibraryOptions sets silenceper's process-global behaviour.
type LibraryOptions struct {
	// APIBase replaces WeChatOrigin in every call, e.g. the emulator's
	// http://127.0.0.1:8080/emu. Empty keeps the real origin.
	APIBase string
	// Timeout bounds each HTTP call; silenceper's default client has none,
	// so a hung WeChat connection would hang a relay worker forever.
	Timeout time.Duration
	Logger  *slog.Logger
}

// ConfigureLibrary sets silenceper's globals. Call it once, from main,
// before any WeChat call.
func ConfigureLibrary(opts LibraryOptions) {
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	util.DefaultHTTPClient = &http.Client{Timeout: opts.Timeout, Transport: keepAlive()}
	if base := strings.TrimRight(opts.APIBase, "/"); base != "" && base != WeChatOrigin {
		util.SetURIModifier(func(uri string) string {
			if strings.HasPrefix(uri, WeChatOrigin) {
				return base + strings.TrimPrefix(uri, WeChatOrigin)
			}
			return uri
		})
	} else {
		util.SetURIModifier(nil)
	}
	quietLogrus(opts.Logger)
}

// idleConnsPerHost is how many connections to WeChat stay open between
// calls. Every call goes to one host, and the relay alone has
// relay.concurrency in flight: net/http's default of 2 would close the
// rest after each call and open (TLS-handshake) new ones for the next.
const idleConnsPerHost = 64

func keepAlive() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = idleConnsPerHost
	return t
}

// quietLogrus stops silenceper's logrus output (its root package turns on
// debug level at init, and its server logs whole message bodies at debug)
// and forwards warnings and errors to slog with openids, tokens and secrets
// masked.
func quietLogrus(logger *slog.Logger) {
	logrus.SetLevel(logrus.WarnLevel)
	logrus.SetOutput(io.Discard)
	logrus.StandardLogger().ReplaceHooks(logrus.LevelHooks{})
	if logger != nil {
		logrus.AddHook(slogHook{log: logger.With("component", "silenceper")})
	}
}

type slogHook struct{ log *slog.Logger }

func (h slogHook) Levels() []logrus.Level {
	return []logrus.Level{logrus.PanicLevel, logrus.FatalLevel, logrus.ErrorLevel, logrus.WarnLevel}
}

func (h slogHook) Fire(e *logrus.Entry) error {
	level := slog.LevelWarn
	if e.Level <= logrus.ErrorLevel {
		level = slog.LevelError
	}
	h.log.Log(e.Context, level, Redact(e.Message)) // fields are dropped: they may hold bodies
	return nil
}

var (
	secretParam = regexp.MustCompile(`\b(access_token|secret|appsecret|openid|touser|ticket|code)=([^&\s"]+)`)
	openIDLike  = regexp.MustCompile(`\bo[A-Za-z0-9_-]{27}\b`)
)

// Redact masks access tokens, secrets and openids in a message from
// silenceper or from an error it returned: its errors embed the request
// URL, query string included.
func Redact(s string) string {
	s = secretParam.ReplaceAllString(s, "$1=***")
	return openIDLike.ReplaceAllString(s, "o***")
}
