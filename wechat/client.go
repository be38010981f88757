package wechat

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"log/slog"
	"sync"

	"github.com/silenceper/wechat/v2/cache"
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
	// Tokens holds access tokens and the lock that serialises fetching
	// them. Default: NewMemoryKV, fine for one process. Replicas must share
	// one (RedisKV or the database): every /cgi-bin/token call supersedes
	// the previous token, so replicas with caches of their own would
	// invalidate each other's tokens.
	Tokens ritual.KeyValue
	// StableToken fetches tokens from /cgi-bin/stable_token, which gives
	// every caller the same token, instead of /cgi-bin/token.
	StableToken bool
	Logger      *slog.Logger // default: discard
}

// Client sends to WeChat on behalf of every merchant. Safe for concurrent
// use.
type Client struct {
	tokens ritual.KeyValue
	stable bool
	log    *slog.Logger
	// libCache is only there because silenceper refuses to build an
	// account without a cache; tokens never go into it.
	libCache cache.Cache

	mu       sync.Mutex
	accounts map[string]*officialAccount // by AppID
}

// officialAccount is silenceper's client for one merchant's account, built
// with the secret whose hash it keeps, and the shared token it uses.
type officialAccount struct {
	secretHash [sha256.Size]byte
	oa         *officialaccount.OfficialAccount
	token      *SharedToken
}

var _ ritual.Messenger = (*Client)(nil)

// NewClient returns a Client. silenceper's process-global HTTP client and
// API base must have been set with ConfigureLibrary.
func NewClient(opts ClientOptions) *Client {
	if opts.Tokens == nil {
		opts.Tokens = NewMemoryKV(nil)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Client{
		tokens: opts.Tokens, stable: opts.StableToken, log: opts.Logger,
		libCache: cache.NewMemory(), accounts: map[string]*officialAccount{},
	}
}

// account returns silenceper's client for m, built on first use and rebuilt
// when the merchant's secret changed. Its token comes from the shared
// cache, so concurrent sends that find no token — in this process or in
// any replica — wait for one fetch instead of superseding each other's.
func (c *Client) account(m *ritual.Merchant) *officialAccount {
	oac := m.OfficialAccount
	hash := sha256.Sum256([]byte(oac.AppSecret))
	c.mu.Lock()
	defer c.mu.Unlock()
	if a, ok := c.accounts[oac.AppID]; ok && a.secretHash == hash {
		return a
	}
	oa := officialaccount.NewOfficialAccount(&config.Config{
		AppID: oac.AppID, AppSecret: oac.AppSecret, Token: oac.Token,
		EncodingAESKey: oac.EncodingAESKey, Cache: c.libCache,
	})
	token := NewSharedToken(c.tokens, oac.AppID, oac.AppSecret, c.stable)
	oa.SetAccessTokenHandle(token)
	a := &officialAccount{secretHash: hash, oa: oa, token: token}
	c.accounts[oac.AppID] = a
	return a
}

// InvalidateToken drops the merchant's cached access token, for every
// replica sharing the cache, so the next call fetches a new one.
func (c *Client) InvalidateToken(m *ritual.Merchant) {
	if err := c.account(m).token.Invalidate(context.Background()); err != nil {
		c.log.Warn("access token not invalidated", "merchant", m.ID, "err", err)
	}
}

// SendTemplate sends a template message from merchant m's official account
// and returns WeChat's msgid. A failure is a *ritual.SendError. A refused
// access token (40001, 40014, 42001) is dropped from the shared cache, if
// no other send or replica has replaced it already, and the send retried
// once with a fresh one.
func (c *Client) SendTemplate(ctx context.Context, m *ritual.Merchant, msg ritual.TemplateMessage) (int64, error) {
	if m == nil {
		return 0, sendErrorf(ritual.SendFinal, 0, "no merchant")
	}
	log := c.log.With("merchant", m.ID)
	id, err := c.sendTemplate(ctx, m, msg)
	if err != nil {
		log.Warn("template message not sent", "class", err.Class, "errcode", err.ErrCode)
		return 0, err
	}
	log.Debug("template message sent", "errcode", 0)
	return id, nil
}

// sendTemplate sends msg and returns WeChat's msgid.
func (c *Client) sendTemplate(ctx context.Context, m *ritual.Merchant, msg ritual.TemplateMessage) (int64, *ritual.SendError) {
	body := templateBody(msg)
	var msgID int64
	err := c.withToken(ctx, m, "send template", func(token string) (apiStatus, *ritual.SendError) {
		res, err := postTemplate(ctx, token, body)
		msgID = res.MsgID
		return apiStatus{ErrCode: res.ErrCode, ErrMsg: res.ErrMsg}, err
	})
	return msgID, err
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
