package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	goccyyaml "github.com/goccy/go-yaml"
	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/confmap"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/v2"

	"github.com/wxclub/wxclub/ritual"
)

// Config is the whole configuration: config.yaml, then WXCLUB_* environment
// variables on top. Keys are the YAML keys; WXCLUB_DATABASE_DSN overrides
// database.dsn.
type Config struct {
	Server    ServerConfig     `json:"server"`
	Database  DatabaseConfig   `json:"database"`
	WeChat    WeChatConfig     `json:"wechat"`
	Log       LogConfig        `json:"log"`
	Redis     RedisConfig      `json:"redis"`
	Relay     RelayConfig      `json:"relay"`
	Merchants []MerchantConfig `json:"merchants"`
}

// ServerConfig is the HTTP listener.
type ServerConfig struct {
	Addr string `json:"addr"`
	// PublicURL is where shoppers reach the service (https://club.example.com);
	// links in chat, such as a member's invitation QR code, start with it.
	PublicURL string `json:"public_url"`
	// ShutdownTimeout bounds how long in-flight requests may take to finish
	// after SIGTERM.
	ShutdownTimeout time.Duration `json:"shutdown_timeout"`
}

// DatabaseConfig selects the database.
type DatabaseConfig struct {
	Driver       string `json:"driver"`
	DSN          string `json:"dsn"`
	MaxOpenConns int    `json:"max_open_conns"`
}

// WeChatConfig is how wxclub talks to WeChat.
type WeChatConfig struct {
	// APIBase is "emulator" (serve the emulator in-process under /emu and
	// call it) or an API origin such as https://api.weixin.qq.com.
	APIBase string `json:"api_base"`
	// ReplayWindow rejects signed requests this far from now; 0 turns the
	// check off.
	ReplayWindow time.Duration `json:"replay_window"`
	// DedupeRetention is how long a delivery is remembered so a repeat is
	// recognised. It must outlive the replay window.
	DedupeRetention time.Duration `json:"dedupe_retention"`
	// HTTPTimeout bounds every call to the WeChat API.
	HTTPTimeout time.Duration `json:"http_timeout"`
	// StableToken fetches access tokens with /cgi-bin/stable_token, which
	// hands every caller the same token, instead of /cgi-bin/token.
	StableToken bool `json:"stable_token"`
}

// LogConfig shapes the logs.
type LogConfig struct {
	Format string `json:"format"` // text | json
	Level  string `json:"level"`  // debug | info | warn | error
	// OpenIDs adds the sender's openid to webhook log lines. An openid
	// identifies a person: leave it off unless you are debugging one.
	OpenIDs bool `json:"openids"`
}

// RelayConfig tunes the outbox relay.
type RelayConfig struct {
	// Lease is how long a replica holds the messages it claimed; a
	// replica that dies mid-send leaves them to others after this.
	Lease       time.Duration `json:"lease"`
	Batch       int           `json:"batch"`
	Concurrency int           `json:"concurrency"`
}

// RedisConfig points at the Redis that replicas share the WeChat access
// token through; without an address the database is used.
type RedisConfig struct {
	Addr     string `json:"addr"`
	Password string `json:"password"`
	DB       int    `json:"db"`
}

// MerchantConfig is a merchant as written in config.yaml: the domain's
// settings plus the API key, which the database keeps only hashed.
type MerchantConfig struct {
	ritual.Merchant
	APIKey string `json:"api_key"`
	// Console lists the merchant's web-console users, created (with the
	// password hashed) the first time the service starts with them and
	// never overwritten afterwards.
	Console []ConsoleUser `json:"console"`
}

// ConsoleUser is a web-console account as written in config.yaml. The
// password may be ${ENV}.
type ConsoleUser struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Role     string `json:"role"` // owner | operator
}

// APIBaseEmulator selects the in-process emulator.
const APIBaseEmulator = "emulator"

// DefaultConfig returns the configuration used for keys the file leaves out.
func DefaultConfig() Config {
	return Config{
		Server:   ServerConfig{Addr: ":8080", ShutdownTimeout: 10 * time.Second},
		Database: DatabaseConfig{Driver: "sqlite", DSN: "wxclub.db", MaxOpenConns: 32},
		WeChat: WeChatConfig{
			APIBase: APIBaseEmulator, ReplayWindow: 300 * time.Second,
			DedupeRetention: 72 * time.Hour, HTTPTimeout: 10 * time.Second,
		},
		Log:   LogConfig{Format: "text", Level: "info"},
		Relay: RelayConfig{Lease: 60 * time.Second, Batch: 50, Concurrency: 8},
	}
}

// EnvPrefix starts every environment override.
const EnvPrefix = "WXCLUB_"

// LoadConfig reads path over the defaults, applies WXCLUB_* overrides from
// environ and validates the result. Errors name the offending key.
func LoadConfig(path string, environ []string) (Config, error) {
	k := koanf.New(".")
	if err := k.Load(confmap.Provider(defaultsMap(), "."), nil); err != nil {
		return Config{}, err
	}
	if err := k.Load(file.Provider(path), yaml.Parser()); err != nil {
		return Config{}, fmt.Errorf("config: read %s: %w", path, locateYAMLError(path, err))
	}
	if err := expandSecrets(k, environ); err != nil {
		return Config{}, err
	}
	if err := fillMerchantDefaults(k); err != nil {
		return Config{}, err
	}
	fromEnv, err := applyEnv(k, environ)
	if err != nil {
		return Config{}, err
	}
	cfg, err := decode(k)
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		return Config{}, nameEnvSource(err, fromEnv)
	}
	return cfg, nil
}

// defaultsMap flattens DefaultConfig into koanf keys, so every known key
// exists before the file is read and can be overridden from the
// environment even when the file leaves it out.
func defaultsMap() map[string]any {
	d := DefaultConfig()
	return map[string]any{
		"server.addr": d.Server.Addr, "server.shutdown_timeout": d.Server.ShutdownTimeout.String(), "server.public_url": d.Server.PublicURL,
		"database.driver": d.Database.Driver, "database.dsn": d.Database.DSN,
		"database.max_open_conns": d.Database.MaxOpenConns,
		"wechat.api_base":         d.WeChat.APIBase, "wechat.replay_window": d.WeChat.ReplayWindow.String(),
		"wechat.dedupe_retention": d.WeChat.DedupeRetention.String(), "wechat.http_timeout": d.WeChat.HTTPTimeout.String(),
		"wechat.stable_token": d.WeChat.StableToken,
		"log.format":          d.Log.Format, "log.level": d.Log.Level, "log.openids": d.Log.OpenIDs,
		"redis.addr": d.Redis.Addr, "redis.password": d.Redis.Password, "redis.db": d.Redis.DB,
		"relay.lease": d.Relay.Lease.String(), "relay.batch": d.Relay.Batch, "relay.concurrency": d.Relay.Concurrency,
	}
}

// applyEnv overrides scalar keys from WXCLUB_<KEY> (dots become
// underscores, upper case) and returns the variable behind each key it set.
// Only known keys are mapped, so an underscore in a key ("replay_window")
// is never ambiguous.
func applyEnv(k *koanf.Koanf, environ []string) (map[string]string, error) {
	byEnv := map[string]string{}
	for key := range defaultsMap() {
		byEnv[EnvPrefix+strings.ToUpper(strings.ReplaceAll(key, ".", "_"))] = key
	}
	overrides, fromEnv := map[string]any{}, map[string]string{}
	for _, kv := range environ {
		name, value, _ := strings.Cut(kv, "=")
		if key, ok := byEnv[name]; ok {
			overrides[key], fromEnv[key] = value, name
		}
	}
	return fromEnv, k.Load(confmap.Provider(overrides, "."), nil)
}

// nameEnvSource adds the environment variable to an error about a key it
// set: an operator reading "wechat.replay_window" would otherwise search
// config.yaml for a value that is not there.
func nameEnvSource(err error, fromEnv map[string]string) error {
	msg := err.Error()
	for key, name := range fromEnv {
		if strings.HasPrefix(msg, "config: "+key+":") {
			return fmt.Errorf("%w (set by %s)", err, name)
		}
	}
	return err
}

// locateYAMLError puts the right line into a YAML syntax error. The YAML
// parser koanf uses reports the line where the enclosing mapping starts
// ("line 1: did not find expected key" for a key mis-indented on line 3);
// goccy/go-yaml, asked only when that parser has already failed, points at
// the offending token. Only line, column and message are shown, never the
// source around them, which may hold a secret.
func locateYAMLError(path string, err error) error {
	src, readErr := os.ReadFile(path)
	if readErr != nil {
		return err
	}
	var out any
	var located goccyyaml.Error
	if !errors.As(goccyyaml.Unmarshal(src, &out), &located) || located.GetToken() == nil {
		return err
	}
	pos := located.GetToken().Position
	return fmt.Errorf("yaml: line %d column %d: %s", pos.Line, pos.Column, located.GetMessage())
}

var secretRef = regexp.MustCompile(`^\$\{([A-Z_][A-Z0-9_]*)\}$`)

// expandSecrets replaces values written as ${NAME} inside merchants by the
// environment variable NAME, so credentials need not sit in the file.
func expandSecrets(k *koanf.Koanf, environ []string) error {
	env := map[string]string{}
	for _, kv := range environ {
		name, value, _ := strings.Cut(kv, "=")
		env[name] = value
	}
	raw, ok := k.Get("merchants").([]any)
	if !ok {
		return nil
	}
	for i, item := range raw {
		if err := expandIn(fmt.Sprintf("merchants[%d]", i), item, env); err != nil {
			return err
		}
	}
	return k.Load(confmap.Provider(map[string]any{"merchants": raw}, "."), nil)
}

func expandIn(path string, node any, env map[string]string) error {
	m, ok := node.(map[string]any)
	if !ok {
		return nil
	}
	for key, v := range m {
		switch v := v.(type) {
		case string:
			if ref := secretRef.FindStringSubmatch(v); ref != nil {
				value, set := env[ref[1]]
				if !set {
					return fmt.Errorf("config: %s.%s: environment variable %s is not set", path, key, ref[1])
				}
				m[key] = value
			}
		case map[string]any:
			if err := expandIn(path+"."+key, v, env); err != nil {
				return err
			}
		case []any: // lists of maps, such as the console users
			for i, item := range v {
				if err := expandIn(fmt.Sprintf("%s.%s[%d]", path, key, i), item, env); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// fillMerchantDefaults gives every key a merchant leaves out its value from
// ritual.MerchantDefaults, so a merchant written with only an id, a name,
// an API key and an official account starts. It works on the file's keys
// before they are decoded, because only there is a key left out told apart
// from one written as zero: points_per_yuan: 0 stays 0, and levels: []
// stays empty and is refused. A map is filled key by key; a list (levels)
// is taken whole or not at all, never merged with the merchant's own.
func fillMerchantDefaults(k *koanf.Koanf) error {
	raw, ok := k.Get("merchants").([]any)
	if !ok {
		return nil
	}
	encoded, err := json.Marshal(ritual.MerchantDefaults())
	if err != nil {
		return err
	}
	for _, item := range raw {
		m, ok := item.(map[string]any)
		if !ok {
			continue
		}
		var defaults map[string]any // decoded afresh: merchants share no maps
		if err := json.Unmarshal(encoded, &defaults); err != nil {
			return err
		}
		fillAbsent(m, withoutZeros(defaults).(map[string]any))
	}
	return k.Load(confmap.Provider(map[string]any{"merchants": raw}, "."), nil)
}

// withoutZeros drops the zero values of an encoded default (0, "", false,
// null, empty maps and lists): they say nothing a left-out key does not.
// Lists are kept whole.
func withoutZeros(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for key, each := range v {
			if kept := withoutZeros(each); kept != nil {
				out[key] = kept
			}
		}
		if len(out) == 0 {
			return nil
		}
		return out
	case []any:
		if len(v) == 0 {
			return nil
		}
		return v
	case nil, bool, string, float64:
		if reflect.ValueOf(v).IsValid() && !reflect.ValueOf(v).IsZero() {
			return v
		}
		return nil
	}
	return v
}

// fillAbsent copies into m every key of defaults that m lacks or leaves
// empty ("membership:" with nothing under it), descending into maps both
// hold.
func fillAbsent(m, defaults map[string]any) {
	for key, d := range defaults {
		have, present := m[key]
		if !present || have == nil {
			m[key] = d
			continue
		}
		haveMap, ok1 := have.(map[string]any)
		dMap, ok2 := d.(map[string]any)
		if ok1 && ok2 {
			fillAbsent(haveMap, dMap)
		}
	}
}

func decode(k *koanf.Koanf) (Config, error) {
	var cfg Config
	var md mapstructure.Metadata
	err := k.UnmarshalWithConf("", &cfg, koanf.UnmarshalConf{Tag: "json", DecoderConfig: &mapstructure.DecoderConfig{
		DecodeHook:       mapstructure.ComposeDecodeHookFunc(durationHook, mapstructure.TextUnmarshallerHookFunc()),
		WeaklyTypedInput: true,
		Squash:           true,
		Metadata:         &md,
		Result:           &cfg,
	}})
	if err != nil {
		return Config{}, decodeError(err)
	}
	if len(md.Unused) > 0 {
		sort.Strings(md.Unused)
		return Config{}, fmt.Errorf("config: unknown key %s", strings.Join(md.Unused, ", "))
	}
	return cfg, nil
}

var (
	durationType       = reflect.TypeFor[time.Duration]()
	ritualDurationType = reflect.TypeFor[ritual.Duration]()
)

// durationHook reads a duration and, when it cannot, says so with the whole
// value: mapstructure's own hook cuts the value at its last space and
// leaves the quote open (time: invalid duration "five). A bare number other
// than 0 is refused rather than read as nanoseconds, so replay_window: 300
// cannot silently mean 300ns.
func durationHook(_, to reflect.Type, data any) (any, error) {
	if to != durationType && to != ritualDurationType {
		return data, nil
	}
	switch v := data.(type) {
	case string:
		d, err := time.ParseDuration(v)
		if err != nil {
			return nil, fmt.Errorf("%q is not a duration such as 300s, 5m or 72h", v)
		}
		if to == ritualDurationType {
			return ritual.Duration(d), nil
		}
		return d, nil
	case int, int64, uint64, float64:
		if reflect.ValueOf(v).IsZero() {
			return data, nil
		}
		return nil, fmt.Errorf("%v has no unit: write %vs, %vm or %vh", v, v, v, v)
	}
	return data, nil
}

// decodeError turns mapstructure's errors ("decoding failed due to the
// following error(s): 'wechat.replay_window' ...") into one line per key,
// in the "config: key: problem" form of Validate.
func decodeError(err error) error {
	var lines []string
	var collect func(error)
	collect = func(err error) {
		switch e := err.(type) {
		case *mapstructure.DecodeError:
			problem := e.Unwrap().Error()
			var pe *mapstructure.ParseError // its message leaves the value out
			if errors.As(e, &pe) {
				problem = fmt.Sprintf("%q is not a valid %s", fmt.Sprint(pe.Value), pe.Expected.Type())
			}
			lines = append(lines, fmt.Sprintf("config: %s: %s", e.Name(), problem))
		case interface{ Unwrap() []error }:
			for _, each := range e.Unwrap() {
				collect(each)
			}
		case interface{ Unwrap() error }: // "decoding failed due to ..."
			collect(e.Unwrap())
		default:
			lines = append(lines, "config: "+err.Error())
		}
	}
	collect(err)
	sort.Strings(lines)
	return errors.New(strings.Join(lines, "\n"))
}

// Validate checks the configuration; the error names the key.
func (c Config) Validate() error {
	switch {
	case c.Server.Addr == "":
		return errors.New("config: server.addr: is required")
	case c.Server.PublicURL != "" && !strings.HasPrefix(c.Server.PublicURL, "http"):
		return fmt.Errorf("config: server.public_url: must be an http(s) URL, got %q", c.Server.PublicURL)
	case c.Database.Driver != "sqlite" && c.Database.Driver != "mysql":
		return fmt.Errorf("config: database.driver: must be sqlite or mysql, got %q", c.Database.Driver)
	case c.Database.DSN == "":
		return errors.New("config: database.dsn: is required")
	case c.WeChat.APIBase != APIBaseEmulator && !strings.HasPrefix(c.WeChat.APIBase, "http"):
		return fmt.Errorf("config: wechat.api_base: must be %q or an http(s) origin, got %q", APIBaseEmulator, c.WeChat.APIBase)
	case c.WeChat.ReplayWindow < 0:
		return errors.New("config: wechat.replay_window: must not be negative")
	case c.WeChat.DedupeRetention <= c.WeChat.ReplayWindow:
		return fmt.Errorf("config: wechat.dedupe_retention: %s must be longer than wechat.replay_window (%s), or a replay inside the window would be handled twice", c.WeChat.DedupeRetention, c.WeChat.ReplayWindow)
	case c.WeChat.HTTPTimeout <= 0:
		return errors.New("config: wechat.http_timeout: must be positive")
	case c.Relay.Lease <= c.WeChat.HTTPTimeout:
		return fmt.Errorf("config: relay.lease: %s must be longer than wechat.http_timeout (%s), or a slow send would be claimed twice", c.Relay.Lease, c.WeChat.HTTPTimeout)
	case c.Relay.Batch < 1 || c.Relay.Concurrency < 1:
		return errors.New("config: relay.batch and relay.concurrency: must be at least 1")
	case !slices.Contains([]string{"text", "json"}, c.Log.Format):
		return fmt.Errorf("config: log.format: must be text or json, got %q", c.Log.Format)
	case !slices.Contains([]string{"debug", "info", "warn", "error"}, c.Log.Level):
		return fmt.Errorf("config: log.level: must be debug, info, warn or error, got %q", c.Log.Level)
	}
	return c.validateMerchants()
}

func (c Config) validateMerchants() error {
	seen := map[string]bool{}
	for i, mc := range c.Merchants {
		path := fmt.Sprintf("merchants[%d]", i)
		if err := mc.Merchant.Validate(); err != nil {
			return fmt.Errorf("config: %s.%s: %s", path, ritual.ErrorField(err), ritual.ErrorMessage(err))
		}
		if len(mc.APIKey) < 8 {
			return fmt.Errorf("config: %s.api_key: must be at least 8 characters", path)
		}
		if seen[mc.ID] {
			return fmt.Errorf("config: %s.id: duplicate merchant id %q", path, mc.ID)
		}
		seen[mc.ID] = true
		if err := validateConsoleUsers(path, mc.Console); err != nil {
			return err
		}
	}
	return nil
}

func validateConsoleUsers(path string, users []ConsoleUser) error {
	seen := map[string]bool{}
	for i, u := range users {
		at := fmt.Sprintf("%s.console[%d]", path, i)
		if err := ritual.ValidateConsoleUser(u.Username, u.Password, u.Role); err != nil {
			return fmt.Errorf("config: %s.%s: %s", at, ritual.ErrorField(err), ritual.ErrorMessage(err))
		}
		if seen[u.Username] {
			return fmt.Errorf("config: %s.username: duplicate console user %q", at, u.Username)
		}
		seen[u.Username] = true
	}
	return nil
}
