package emulator

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"slices"
	"sort"
	"time"
)

// Message modes of an official account (公众平台 → 开发 → 基本配置 → 消息加解密方式).
const (
	ModePlaintext  = "plaintext"
	ModeCompatible = "compatible"
	ModeSafe       = "safe"
)

// Account is one official account the emulator plays.
type Account struct {
	Name           string         `json:"name"` // the merchant id in wxclub, e.g. "demo"; shopper calls may address an account by Name or AppID
	AppID          string         `json:"app_id"`
	AppSecret      string         `json:"app_secret"`
	Token          string         `json:"token"`
	EncodingAESKey string         `json:"encoding_aes_key"` // 43 chars, or "" for plaintext only
	Mode           string         `json:"mode"`             // "plaintext" | "compatible" | "safe"; default: "safe" when EncodingAESKey != "" else "plaintext"
	WebhookURL     string         `json:"webhook_url"`      // where WeChat POSTs messages, e.g. http://127.0.0.1:8080/wechat/demo
	OriginalID     string         `json:"original_id"`      // gh_xxxxxxxxxxxx, the ToUserName of inbound messages; default "gh_" + first 12 hex of sha1(AppID)
	TemplateIDs    []string       `json:"template_ids"`     // template ids added to this account; empty means any non-empty id is accepted
	DailyQuota     map[string]int `json:"daily_quota"`      // per API path calls per day; 0/absent = WeChat's default
}

// account is an Account plus everything WeChat remembers about it.
type account struct {
	cfg     Account
	users   map[string]*user
	tags    map[int]*tag
	nextTag int
	cards   map[string]*cardCode // UserCardCode -> card

	latestToken string      // the newest /cgi-bin/token token
	stable      stableState // the /cgi-bin/stable_token pool
	quota       map[string]*dayCount
	permanentQR int
	sentTmpl    map[string]sentTemplate // openid + client_msg_id -> first send
	tmplSwept   time.Time               // when sentTmpl was last swept
	lastReq     map[string]DeliveredRequest
}

// withDefaults fills Mode and OriginalID and checks the settings WeChat's
// console would refuse.
func (a Account) withDefaults() (Account, error) {
	if a.AppID == "" || a.AppSecret == "" || a.Token == "" {
		return a, fmt.Errorf("emulator: app_id, app_secret and token are required")
	}
	if a.EncodingAESKey != "" {
		if err := checkAESKey(a.EncodingAESKey); err != nil {
			return a, err
		}
	}
	if a.Mode == "" {
		a.Mode = ModePlaintext
		if a.EncodingAESKey != "" {
			a.Mode = ModeSafe
		}
	}
	switch a.Mode {
	case ModePlaintext:
	case ModeCompatible, ModeSafe:
		if a.EncodingAESKey == "" {
			return a, fmt.Errorf("emulator: mode %q needs an encoding_aes_key", a.Mode)
		}
	default:
		return a, fmt.Errorf("emulator: unknown mode %q (plaintext, compatible or safe)", a.Mode)
	}
	if a.Name == "" {
		a.Name = a.AppID
	}
	if a.OriginalID == "" {
		sum := sha1.Sum([]byte(a.AppID))
		a.OriginalID = "gh_" + hex.EncodeToString(sum[:])[:12]
	}
	a.TemplateIDs = slices.Clone(a.TemplateIDs)
	a.DailyQuota = cloneMap(a.DailyQuota)
	return a, nil
}

// checkAESKey applies WeChat's rule: 43 characters of base64 that decode,
// with one "=" appended, to a 32-byte AES-256 key.
func checkAESKey(k string) error {
	if len(k) != 43 {
		return fmt.Errorf("emulator: encoding_aes_key must be 43 characters, got %d", len(k))
	}
	key, err := base64.StdEncoding.DecodeString(k + "=")
	if err != nil || len(key) != 32 {
		return fmt.Errorf("emulator: encoding_aes_key is not base64 of a 32-byte key")
	}
	return nil
}

// Register adds an account, or replaces the settings of the account with
// the same AppID while keeping its followers, tokens, tags and cards.
func (e *Emulator) Register(a Account) error {
	a, err := a.withDefaults()
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if other, ok := e.names[a.Name]; ok && other != a.AppID {
		return fmt.Errorf("emulator: name %q is already used by app %s", a.Name, other)
	}
	if old, ok := e.accounts[a.AppID]; ok {
		delete(e.names, old.cfg.Name)
		old.cfg = a
	} else {
		e.accounts[a.AppID] = newAccount(a)
	}
	e.names[a.Name] = a.AppID
	e.log.Info("account registered", "name", a.Name, "app_id", a.AppID, "mode", a.Mode, "webhook", a.WebhookURL)
	return nil
}

func newAccount(a Account) *account {
	return &account{
		cfg:      a,
		users:    map[string]*user{},
		tags:     map[int]*tag{},
		nextTag:  firstTagID,
		cards:    map[string]*cardCode{},
		quota:    map[string]*dayCount{},
		sentTmpl: map[string]sentTemplate{},
		lastReq:  map[string]DeliveredRequest{},
	}
}

// Accounts lists the registered accounts, ordered by name.
func (e *Emulator) Accounts() []Account {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]Account, 0, len(e.accounts))
	for _, a := range e.accounts {
		out = append(out, a.cfg)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// lookup finds an account by Name or AppID. Callers hold e.mu.
func (e *Emulator) lookup(nameOrAppID string) (*account, error) {
	if a, ok := e.accounts[nameOrAppID]; ok {
		return a, nil
	}
	if id, ok := e.names[nameOrAppID]; ok {
		return e.accounts[id], nil
	}
	return nil, fmt.Errorf("%w %q", ErrUnknownAccount, nameOrAppID)
}

// publicAccount is an Account as GET /emu/accounts shows it: no secrets.
type publicAccount struct {
	Name        string         `json:"name"`
	AppID       string         `json:"app_id"`
	Mode        string         `json:"mode"`
	WebhookURL  string         `json:"webhook_url"`
	OriginalID  string         `json:"original_id"`
	TemplateIDs []string       `json:"template_ids"`
	DailyQuota  map[string]int `json:"daily_quota,omitempty"`
	Followers   int            `json:"followers"`
}

func (e *Emulator) publicAccounts() []publicAccount {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := []publicAccount{}
	for _, a := range e.accounts {
		out = append(out, publicAccount{
			Name: a.cfg.Name, AppID: a.cfg.AppID, Mode: a.cfg.Mode, WebhookURL: a.cfg.WebhookURL,
			OriginalID: a.cfg.OriginalID, TemplateIDs: nonNil(a.cfg.TemplateIDs), DailyQuota: a.cfg.DailyQuota,
			Followers: len(a.followers()),
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// user returns the account's record of openid, creating it: WeChat knows
// a user from their first contact with the account. Callers hold e.mu.
func (a *account) user(openid string) *user {
	u, ok := a.users[openid]
	if !ok {
		u = &user{openid: openid}
		a.users[openid] = u
	}
	return u
}

// follower returns the user only when they follow the account.
func (a *account) follower(openid string) (*user, bool) {
	u, ok := a.users[openid]
	return u, ok && u.following
}

func (a *account) followers() []string {
	var out []string
	for id, u := range a.users {
		if u.following {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}

// cstDay is the Asia/Shanghai calendar day of t, the day WeChat's daily
// quotas reset on. A fixed zone needs no tzdata; China has no DST.
func cstDay(t time.Time) string {
	return t.In(time.FixedZone("CST", 8*3600)).Format(time.DateOnly)
}

func cloneMap[K comparable, V any](m map[K]V) map[K]V {
	if m == nil {
		return nil
	}
	out := make(map[K]V, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
