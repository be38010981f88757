package ritual

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"time"
	"unicode/utf8"

	"github.com/wxclub/wxclub/templates"
)

// Merchant is a brand running a membership programme on one official
// account. Its settings are seeded from config.yaml and live in the database
// afterwards.
type Merchant struct {
	ID              string          `json:"id"`
	Name            string          `json:"name"`
	Timezone        string          `json:"timezone"`
	OfficialAccount OfficialAccount `json:"official_account"`
	Membership      Membership      `json:"membership"`
	Activation      Activation      `json:"activation"`
	Rewards         []Reward        `json:"rewards"`
	Referral        Referral        `json:"referral"`
	SignIn          SignIn          `json:"signin"`
	Groups          Groups          `json:"groups"`
	Campaigns       Campaigns       `json:"campaigns"`
	// TemplateQuota is the account's daily template-message quota (WeChat's
	// default is 100,000). Campaigns use at most 90% of it, so messages
	// about members' own changes always get through. At most 100,000,000.
	TemplateQuota int                    `json:"template_quota"`
	Templates     map[string]TemplateRef `json:"templates"`

	// APIKeyHash is the SHA-256 of the merchant API key; the key itself is
	// never stored.
	APIKeyHash string `json:"-"`
	// Version counts the changes to the settings, from 1.
	Version   int       `json:"-"`
	CreatedAt time.Time `json:"-"`
	UpdatedAt time.Time `json:"-"`
}

// Message modes of an official account, as chosen in WeChat's console
// (消息加解密方式).
const (
	ModePlaintext  = "plaintext"  // 明文模式: no encryption
	ModeCompatible = "compatible" // 兼容模式: WeChat sends both; we accept either
	ModeSafe       = "safe"       // 安全模式: every message is AES-encrypted
)

// OfficialAccount holds the credentials of the merchant's official account.
type OfficialAccount struct {
	AppID          string `json:"app_id"`
	AppSecret      string `json:"app_secret"`
	Token          string `json:"token"`
	EncodingAESKey string `json:"encoding_aes_key"`
	// Mode is plaintext, compatible or safe. Empty means safe when an
	// EncodingAESKey is set and plaintext otherwise.
	Mode string `json:"mode"`
}

// MessageMode returns the effective mode.
func (a OfficialAccount) MessageMode() string {
	switch {
	case a.Mode != "":
		return a.Mode
	case a.EncodingAESKey != "":
		return ModeSafe
	default:
		return ModePlaintext
	}
}

// TemplateRef names the WeChat template used for one purpose and, optionally,
// how its keywords are filled. Fields maps a keyword of the template
// ("thing1", "number2") to the name of a text template in templates/; when
// empty the mapping shipped in templates/ is used.
type TemplateRef struct {
	ID     string            `json:"id"`
	Fields map[string]string `json:"fields,omitempty"`
}

// Template purposes: every message wxclub sends on its own initiative is sent
// for one of these.
const (
	PurposePointsChanged = "points_changed"
	PurposeLevelChanged  = "level_changed"
	PurposeCouponIssued  = "coupon_issued" // a coupon redeemed with points, or a level's or birthday's reward
	PurposeGiftGranted   = "gift_granted"  // the new-member gift pack, on activation
	PurposeCeremony      = "ceremony"      // an upgrade ceremony opened, is about to expire, or closed

	// PurposeGroupPost is not a template message: it is posted to a group
	// through the merchant's group bridge.
	PurposeGroupPost = "group_post"
	// PurposeCustomText is a customer-service text message to a member
	// (within WeChat's 48-hour window), e.g. their balance asked in a group.
	PurposeCustomText = "custom_text"

	// PurposeCardSync is not a template message: it pushes the balance and
	// level nickname to the member's WeChat member card.
	PurposeCardSync = "card_sync"
)

// TemplatePurposes lists the purposes a merchant may configure.
var templatePurposes = []string{
	PurposePointsChanged, PurposeLevelChanged, PurposeCouponIssued, PurposeGiftGranted, PurposeCeremony,
	PurposeMemberDay, PurposeBirthday, PurposePointsExpiring, PurposeSignInReminder, PurposeLeaderboard,
}

// HashAPIKey returns the stored form of a merchant API key. Keys are long
// random strings, so a plain SHA-256 is enough and lets us look a key up by
// its hash.
func HashAPIKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// DefaultTimezone is the zone of a merchant whose settings name none.
const DefaultTimezone = "Asia/Shanghai"

// MerchantDefaults returns the settings a merchant takes for every key its
// configuration leaves out, so a merchant with only an id, a name, an API
// key and an official account starts: the Shanghai zone, a 365-day period,
// one point per yuan lasting 365 days, activation by the order phone's last
// four digits, three levels, and the reply and template texts shipped in
// templates/. Template ids are not defaulted: they belong to the merchant's
// own WeChat account, and a purpose without one sends no template message.
// template_quota 0 already means WeChat's 100,000 a day. The level
// nicknames are neutral, not the demo's tea names, which would be wrong
// for a shop that sells anything else.
//
// The defaults fill keys that are absent when configuration is seeded; they
// never fill a value a merchant wrote (points_per_yuan: 0 means no points),
// and the settings API does not apply them: a change that removes
// something required is refused, not silently replaced.
func MerchantDefaults() *Merchant {
	return &Merchant{
		Timezone: DefaultTimezone,
		Membership: Membership{
			PeriodDays: 365, PointsPerYuan: 1, PointsExpireDays: 365,
			Levels: []Level{
				{Key: "ordinary", Name: "普通会员", Nickname: "新朋友",
					Right: Right{Kind: RightFreeSample, Title: "新人试用装"}},
				{Key: "senior", Name: "高级会员", Nickname: "老朋友", MinAmountFen: 50000, MinOrders: 2,
					Right: Right{Kind: RightDiscount, Value: 95, Title: "全场95折"}},
				{Key: "vip", Name: "VIP会员", Nickname: "挚友", MinAmountFen: 300000, MinOrders: 5,
					Right: Right{Kind: RightPrepayRatio, Value: 30, Title: "定制款预付30%"}},
			},
		},
		Activation: Activation{Method: ActivatePhoneLast4},
	}
}

// Location returns the merchant's time zone.
func (m *Merchant) Location() *time.Location {
	loc, err := time.LoadLocation(m.Timezone)
	if err != nil {
		return time.UTC // Validate refuses unknown zones; this is for zero values.
	}
	return loc
}

var (
	merchantIDPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)
	tokenPattern      = regexp.MustCompile(`^[A-Za-z0-9]{3,32}$`)
	aesKeyPattern     = regexp.MustCompile(`^[A-Za-z0-9+/]{43}$`)
)

// Limits of a merchant's settings that are kept in columns of their own
// (models: merchants.name, merchants.app_id), in characters.
const (
	MaxMerchantNameLen = 128
	MaxAppIDLen        = 64
)

// Validate checks the merchant's settings; the error names the offending
// field by its configuration key.
func (m *Merchant) Validate() error {
	if !merchantIDPattern.MatchString(m.ID) {
		return FieldErrorf("id", "must be 1-64 lower-case letters, digits, '-' or '_', got %q", m.ID)
	}
	if m.Name == "" {
		return FieldErrorf("name", "is required")
	}
	if err := checkLengths(EINVALID, bounded{"name", m.Name, MaxMerchantNameLen}); err != nil {
		return err
	}
	if _, err := time.LoadLocation(m.Timezone); m.Timezone == "" || err != nil {
		return FieldErrorf("timezone", "must be an IANA time zone such as Asia/Shanghai, got %q", m.Timezone)
	}
	if err := m.OfficialAccount.Validate(); err != nil {
		return Prefix("official_account", err)
	}
	if err := m.Membership.Validate(); err != nil {
		return Prefix("membership", err)
	}
	if err := validateRewards(m.Rewards); err != nil {
		return err
	}
	if err := m.Activation.Validate(m.Rewards); err != nil {
		return Prefix("activation", err)
	}
	if err := m.Referral.Validate(); err != nil {
		return Prefix("referral", err)
	}
	if err := m.SignIn.Validate(); err != nil {
		return Prefix("signin", err)
	}
	if err := m.Groups.Validate(); err != nil {
		return Prefix("groups", err)
	}
	if err := m.Campaigns.Validate(m.Timezone, m.Rewards); err != nil {
		return Prefix("campaigns", err)
	}
	if m.TemplateQuota < 0 || m.TemplateQuota > maxTemplateQuota {
		return FieldErrorf("template_quota", "must be between 0 (WeChat's default, 100000) and %d, got %d", maxTemplateQuota, m.TemplateQuota)
	}
	return validateTemplates(m.Templates)
}

// Validate checks the official-account credentials.
func (a OfficialAccount) Validate() error {
	if err := checkLengths(EINVALID, bounded{"app_id", a.AppID, MaxAppIDLen}); err != nil {
		return err
	}
	switch {
	case a.AppID == "":
		return FieldErrorf("app_id", "is required")
	case a.AppSecret == "":
		return FieldErrorf("app_secret", "is required")
	case !tokenPattern.MatchString(a.Token):
		return FieldErrorf("token", "must be 3-32 letters or digits, as WeChat requires")
	case a.EncodingAESKey != "" && !aesKeyPattern.MatchString(a.EncodingAESKey):
		return FieldErrorf("encoding_aes_key", "must be the 43 characters WeChat generates")
	}
	switch a.Mode {
	case "", ModePlaintext:
	case ModeCompatible, ModeSafe:
		if a.EncodingAESKey == "" {
			return FieldErrorf("encoding_aes_key", "is required in %s mode", a.Mode)
		}
	default:
		return FieldErrorf("mode", "must be plaintext, compatible or safe, got %q", a.Mode)
	}
	return nil
}

func validateTemplates(refs map[string]TemplateRef) error {
	for purpose, ref := range refs {
		if !knownPurpose(purpose) {
			return FieldErrorf("templates."+purpose, "unknown purpose; known: %v", templatePurposes)
		}
		if ref.ID == "" {
			return FieldErrorf(fmt.Sprintf("templates.%s.id", purpose), "is required")
		}
		if err := validateFields(purpose, ref.Fields); err != nil {
			return err
		}
	}
	return nil
}

// sampleNotice is what a field template is tried on before it is accepted.
var sampleNotice = NoticeData{
	Merchant: "茶舍", Nickname: "茶友", Delta: "+128", Balance: 1280, Reason: "消费¥128.00得积分",
	Time: "2026-11-24 10:00", FromNickname: "茶苗", ToNickname: "茶友", Right: "全场95折",
}

// validateFields checks a merchant's keyword → text-template mapping: each
// must parse, and render within WeChat's 20 characters on sample data.
func validateFields(purpose string, fields map[string]string) error {
	for key, text := range fields {
		path := fmt.Sprintf("templates.%s.fields.%s", purpose, key)
		if err := templates.CheckFieldTemplate(text); err != nil {
			return FieldErrorf(path, "does not parse: %v", err)
		}
		out, err := templates.Default().TemplateFields(purpose, map[string]string{key: text}, sampleNotice)
		if err != nil {
			return FieldErrorf(path, "%v", err)
		}
		if n := utf8.RuneCountInString(out[0].Raw); n > templates.MaxFieldRunes {
			return FieldErrorf(path, "renders to %d characters on sample data; WeChat allows %d", n, templates.MaxFieldRunes)
		}
	}
	return nil
}

func knownPurpose(p string) bool {
	for _, known := range templatePurposes {
		if p == known {
			return true
		}
	}
	return false
}
