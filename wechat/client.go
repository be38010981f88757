package wechat

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"

	"github.com/silenceper/wechat/v2/cache"
	"github.com/silenceper/wechat/v2/credential"
	"github.com/silenceper/wechat/v2/officialaccount"
	"github.com/silenceper/wechat/v2/officialaccount/config"
	"github.com/silenceper/wechat/v2/officialaccount/message"
	"github.com/silenceper/wechat/v2/util"

	"github.com/wxclub/wxclub/ritual"
)

// templateSendURL is WeChat's template-message API; the URI modifier set by
// ConfigureLibrary sends it to the emulator in tests.
const templateSendURL = WeChatOrigin + "/cgi-bin/message/template/send"

// ClientOptions configures a Client. The zero value is usable.
type ClientOptions struct {
	// Cache holds access tokens. Default cache.NewMemory(). Replicas must
	// share one (Redis or the database): every /cgi-bin/token call
	// supersedes the previous token, so replicas with caches of their own
	// would invalidate each other's tokens.
	Cache  cache.Cache
	Logger *slog.Logger // default: discard
}

// Client sends to WeChat on behalf of every merchant. Safe for concurrent
// use.
type Client struct {
	cache cache.Cache
	log   *slog.Logger

	mu       sync.Mutex
	accounts map[string]*officialAccount // by AppID
}

// officialAccount is silenceper's client for one merchant's account, built
// with the secret whose hash it keeps.
type officialAccount struct {
	secretHash [sha256.Size]byte
	oa         *officialaccount.OfficialAccount
}

var _ ritual.Messenger = (*Client)(nil)

// NewClient returns a Client. silenceper's process-global HTTP client and
// API base must have been set with ConfigureLibrary.
func NewClient(opts ClientOptions) *Client {
	if opts.Cache == nil {
		opts.Cache = cache.NewMemory()
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Client{cache: opts.Cache, log: opts.Logger, accounts: map[string]*officialAccount{}}
}

// account returns silenceper's client for m, built on first use and rebuilt
// when the merchant's secret changed. One per account matters: silenceper
// serialises token fetches per client, so concurrent sends that find no
// token fetch one instead of superseding each other's.
func (c *Client) account(m *ritual.Merchant) *officialaccount.OfficialAccount {
	oac := m.OfficialAccount
	hash := sha256.Sum256([]byte(oac.AppSecret))
	c.mu.Lock()
	defer c.mu.Unlock()
	if a, ok := c.accounts[oac.AppID]; ok && a.secretHash == hash {
		return a.oa
	}
	oa := officialaccount.NewOfficialAccount(&config.Config{
		AppID: oac.AppID, AppSecret: oac.AppSecret, Token: oac.Token,
		EncodingAESKey: oac.EncodingAESKey, Cache: c.cache,
	})
	c.accounts[oac.AppID] = &officialAccount{secretHash: hash, oa: oa}
	return oa
}

// tokenCacheKey is where silenceper's DefaultAccessToken keeps an official
// account's token (credential/default_access_token.go).
func tokenCacheKey(appID string) string {
	return fmt.Sprintf("%s_access_token_%s", credential.CacheKeyOfficialAccountPrefix, appID)
}

// InvalidateToken drops the merchant's cached access token so the next call
// fetches a new one.
func (c *Client) InvalidateToken(m *ritual.Merchant) {
	_ = c.cache.Delete(tokenCacheKey(m.OfficialAccount.AppID))
}

// dropToken drops the cached token only if it still is the one WeChat
// refused: when another send already replaced it, dropping the
// replacement would make this send fetch yet another token and supersede
// it for no reason.
func (c *Client) dropToken(ctx context.Context, appID, refused string) {
	key := tokenCacheKey(appID)
	if cur, _ := cache.GetContext(ctx, c.cache, key).(string); cur == refused {
		_ = cache.DeleteContext(ctx, c.cache, key)
	}
}

// SendTemplate sends a template message from merchant m's official account
// and returns WeChat's msgid. A failure is a *ritual.SendError. A refused
// access token (40001, 40014, 42001) is dropped from the cache and the send
// retried once with a fresh one.
func (c *Client) SendTemplate(ctx context.Context, m *ritual.Merchant, msg ritual.TemplateMessage) (int64, error) {
	if m == nil {
		return 0, sendErrorf(ritual.SendFinal, 0, "no merchant")
	}
	log := c.log.With("merchant", m.ID)
	id, err := c.sendTemplate(ctx, m, msg, log)
	if err != nil {
		log.Warn("template message not sent", "class", err.Class, "errcode", err.ErrCode)
		return 0, err
	}
	log.Debug("template message sent", "errcode", 0)
	return id, nil
}

func (c *Client) sendTemplate(ctx context.Context, m *ritual.Merchant, msg ritual.TemplateMessage, log *slog.Logger) (int64, *ritual.SendError) {
	body := templateBody(msg)
	oa := c.account(m)
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return 0, sendErrorf(ritual.SendRetry, 0, "send template: gave up: %v", err)
		}
		token, err := oa.GetAccessTokenContext(ctx)
		if err != nil {
			return 0, classifyToken(ctx, err)
		}
		res, serr := postTemplate(ctx, token, body)
		switch {
		case serr != nil:
			return 0, serr
		case res.ErrCode == 0:
			return res.MsgID, nil
		case tokenRefused(res.ErrCode) && attempt == 1:
			log.Info("access token refused; fetching a new one", "errcode", res.ErrCode)
			c.dropToken(ctx, m.OfficialAccount.AppID, token)
			continue
		default:
			return 0, classifySend(res.ErrCode, Redact(res.ErrMsg))
		}
	}
}

// templateBody is the request WeChat expects, in silenceper's type.
func templateBody(msg ritual.TemplateMessage) *message.TemplateMessage {
	data := make(map[string]*message.TemplateDataItem, len(msg.Fields))
	for _, f := range msg.Fields {
		data[f.Key] = &message.TemplateDataItem{Value: f.Value}
	}
	return &message.TemplateMessage{
		ToUser: msg.OpenID, TemplateID: msg.TemplateID, URL: msg.URL,
		Data: data, ClientMsgID: msg.ClientMsgID,
	}
}

type templateResult struct {
	ErrCode int    `json:"errcode"`
	ErrMsg  string `json:"errmsg"`
	MsgID   int64  `json:"msgid"`
}

// postTemplate sends one template message with token. It calls the API
// itself rather than through silenceper's Template.Send, which takes no
// context and gives the errcode only inside a formatted string.
func postTemplate(ctx context.Context, token string, body *message.TemplateMessage) (templateResult, *ritual.SendError) {
	raw, err := util.PostJSONContext(ctx, templateSendURL+"?access_token="+token, body)
	if err != nil {
		return templateResult{}, transportError(ctx, "send template", err)
	}
	var res templateResult
	if err := json.Unmarshal(raw, &res); err != nil {
		return templateResult{}, sendErrorf(ritual.SendRetry, 0, "send template: undecodable answer %q: %s",
			Redact(truncate(string(raw), 200)), Redact(err.Error()))
	}
	return res, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
