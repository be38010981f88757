package ritual

import (
	"bytes"
	"context"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"time"
)

// Admin changes a merchant's settings and runs the console's accounts.
type Admin struct {
	*changer
	merchants *merchantCache
}

// SettingsSections returns the parts of a merchant's settings that are
// read and changed one at a time (GET/PUT /api/v1/settings/<section>).
func SettingsSections() []string {
	return []string{
		"profile", "official_account", "membership", "activation", "rewards", "referral",
		"signin", "groups", "campaigns", "templates", "template_quota",
	}
}

// SettingsDoc is the merchant's settings as read, secrets masked, with the
// version they are at.
type SettingsDoc struct {
	Version  int             `json:"version"`
	Merchant json.RawMessage `json:"settings"`
}

// SettingsVersion is one change to a merchant's settings: which section,
// who made it and when, and what it was before and after.
type SettingsVersion struct {
	MerchantID   string          `json:"-"`
	Version      int             `json:"version"`
	Section      string          `json:"section"`
	ChangedBy    string          `json:"changed_by"`
	ChangedAt    time.Time       `json:"changed_at"`
	Before       json.RawMessage `json:"before,omitempty"`
	After        json.RawMessage `json:"after,omitempty"`
	Reevaluate   bool            `json:"-"` // the change moves level thresholds: members are re-evaluated
	ReevaluateAt *time.Time      `json:"-"` // when that was done
}

// SettingsLog keeps every version of every merchant's settings.
type SettingsLog interface {
	Append(ctx context.Context, v *SettingsVersion) error
	List(ctx context.Context, merchantID string, limit int) ([]SettingsVersion, error)
	// PendingReevaluation returns versions whose re-evaluation is not done.
	PendingReevaluation(ctx context.Context, limit int) ([]SettingsVersion, error)
	MarkReevaluated(ctx context.Context, merchantID string, version int, at time.Time) error
}

// secretMask stands for a secret in what is read; written back unchanged,
// it keeps the secret as it was.
const secretMask = "********"

// Settings returns the merchant's settings, secrets masked.
func (c *Admin) Settings(ctx context.Context, m *Merchant) (SettingsDoc, error) {
	fresh, err := c.store.Merchants().ByID(ctx, m.ID)
	if err != nil {
		return SettingsDoc{}, err
	}
	raw, err := json.Marshal(masked(fresh))
	return SettingsDoc{Version: fresh.Version, Merchant: raw}, err
}

// Section returns one section of the merchant's settings, secrets masked.
func (c *Admin) Section(ctx context.Context, m *Merchant, section string) (json.RawMessage, int, error) {
	fresh, err := c.store.Merchants().ByID(ctx, m.ID)
	if err != nil {
		return nil, 0, err
	}
	v, err := sectionOf(masked(fresh), section)
	if err != nil {
		return nil, 0, err
	}
	raw, err := json.Marshal(v)
	return raw, fresh.Version, err
}

// masked returns a copy of m with its secrets replaced by secretMask.
func masked(m *Merchant) *Merchant {
	cp := *m
	if cp.OfficialAccount.AppSecret != "" {
		cp.OfficialAccount.AppSecret = secretMask
	}
	if cp.OfficialAccount.EncodingAESKey != "" {
		cp.OfficialAccount.EncodingAESKey = secretMask
	}
	if cp.Groups.Secret != "" {
		cp.Groups.Secret = secretMask
	}
	return &cp
}

// profile is the section holding the merchant's name and time zone.
type profile struct {
	Name     string `json:"name"`
	Timezone string `json:"timezone"`
}

// sectionOf returns a pointer to the section's part of m, for reading and
// for decoding a new value into.
func sectionOf(m *Merchant, section string) (any, error) {
	switch section {
	case "profile":
		return &profile{Name: m.Name, Timezone: m.Timezone}, nil
	case "official_account":
		return &m.OfficialAccount, nil
	case "membership":
		return &m.Membership, nil
	case "activation":
		return &m.Activation, nil
	case "rewards":
		return &m.Rewards, nil
	case "referral":
		return &m.Referral, nil
	case "signin":
		return &m.SignIn, nil
	case "groups":
		return &m.Groups, nil
	case "campaigns":
		return &m.Campaigns, nil
	case "templates":
		return &m.Templates, nil
	case "template_quota":
		return &m.TemplateQuota, nil
	}
	return nil, Errorf(ENOTFOUND, "no settings section %q; sections: %s", section, strings.Join(SettingsSections(), ", "))
}

// UpdateSettings replaces one section with body (its JSON), validates the
// whole merchant and stores the result as a new version, by whom and when.
// Bad input is EINVALID naming the field and changes nothing; ifVersion,
// when not 0, must be the current version (ECONFLICT otherwise). A change
// to level thresholds or the period has every member re-evaluated in the
// background. The change applies on this replica at once and on the others
// within their merchant cache's few seconds; campaign schedules are
// reloaded within a minute.
func (c *Admin) UpdateSettings(ctx context.Context, m *Merchant, section string, body []byte, by string, ifVersion int) (*SettingsVersion, error) {
	var saved *SettingsVersion
	err := c.atomically(ctx, func(tx *work) error {
		current, err := tx.Merchants().Lock(ctx, m.ID)
		if err != nil {
			return err
		}
		if ifVersion != 0 && ifVersion != current.Version {
			return Errorf(ECONFLICT, "the settings are at version %d, not %d: reload and try again", current.Version, ifVersion)
		}
		saved, err = c.replaceSection(ctx, tx, current, section, body, by)
		return err
	})
	if err == nil {
		c.merchants.forget(m.ID)
	}
	return saved, err
}

// replaceSection does UpdateSettings' work on the locked merchant.
func (c *Admin) replaceSection(ctx context.Context, tx *work, current *Merchant, section string, body []byte, by string) (*SettingsVersion, error) {
	next, err := decodeSection(current, section, body)
	if err != nil {
		return nil, err
	}
	if err := next.Validate(); err != nil {
		return nil, err
	}
	before, _ := sectionJSON(current, section)
	after, _ := sectionJSON(next, section)
	if bytes.Equal(before, after) {
		return &SettingsVersion{MerchantID: current.ID, Version: current.Version, Section: section}, nil // nothing changed
	}
	now := c.clock()
	next.Version, next.UpdatedAt = current.Version+1, now
	if err := tx.Merchants().Update(ctx, next); err != nil {
		return nil, err
	}
	v := &SettingsVersion{
		MerchantID: current.ID, Version: next.Version, Section: section, ChangedBy: by, ChangedAt: now,
		Before: maskedJSON(current, section), After: maskedJSON(next, section),
		Reevaluate: section == "membership" && thresholdsMoved(current.Membership, next.Membership),
	}
	c.log.InfoContext(ctx, "settings changed", "merchant", current.ID, "section", section, "version", v.Version, "by", by)
	return v, tx.Settings().Append(ctx, v)
}

// decodeSection returns a copy of current with section replaced by body.
// Unknown fields and wrong types are EINVALID naming the field; a secret
// sent back as its mask keeps its value.
func decodeSection(current *Merchant, section string, body []byte) (*Merchant, error) {
	next := *current
	next.Membership.Levels = append([]Level(nil), current.Membership.Levels...)
	target, err := sectionOf(&next, section)
	if err != nil {
		return nil, err
	}
	reflect.ValueOf(target).Elem().SetZero() // a field left out is empty, not kept
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(target); err != nil {
		return nil, sectionError(section, target, body, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		// Decode stops after the first value: "00" would be taken as 0.
		return nil, Errorf(EBADREQUEST, "the body holds more than one JSON value")
	}
	if p, ok := target.(*profile); ok {
		next.Name, next.Timezone = p.Name, p.Timezone
	}
	keepSecrets(current, &next)
	return &next, nil
}

// keepSecrets puts back each secret the body sent as its mask.
func keepSecrets(current, next *Merchant) {
	if next.OfficialAccount.AppSecret == secretMask {
		next.OfficialAccount.AppSecret = current.OfficialAccount.AppSecret
	}
	if next.OfficialAccount.EncodingAESKey == secretMask {
		next.OfficialAccount.EncodingAESKey = current.OfficialAccount.EncodingAESKey
	}
	if next.Groups.Secret == secretMask {
		next.Groups.Secret = current.Groups.Secret
	}
}

// sectionError names the field a JSON body got wrong, by its whole path
// ("membership.levels[1].foo"): encoding/json names an unknown field
// without its parents and a mistyped one without array indices, which
// leaves a merchant with several levels guessing which one is wrong.
func sectionError(section string, target any, body []byte, err error) error {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &syntaxErr), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return Errorf(EBADREQUEST, "the body is not valid JSON")
	}
	if at, what, ok := misfit(body, reflect.TypeOf(target), section); ok {
		return FieldErrorf(at, "%s", what)
	}
	switch {
	case errors.As(err, &typeErr):
		return FieldErrorf(section+"."+typeErr.Field, "has the wrong type: %s where %s is wanted", typeErr.Value, typeErr.Type)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return FieldErrorf(section+"."+strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`), "is not a setting")
	}
	return FieldErrorf(section, "%v", err)
}

// misfit finds the first place, in the order the body is written, where raw
// does not fit a value of type t: a key t has no field for, or a value of
// the wrong type. It returns that place's path below path and what is
// wrong; ok is false when everything fits.
func misfit(raw []byte, t reflect.Type, path string) (at, what string, ok bool) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	raw = bytes.TrimSpace(raw)
	custom := reflect.PointerTo(t).Implements(reflect.TypeFor[json.Unmarshaler]()) ||
		reflect.PointerTo(t).Implements(reflect.TypeFor[encoding.TextUnmarshaler]())
	switch {
	case len(raw) == 0:
		return "", "", false
	case !custom && raw[0] == '{' && (t.Kind() == reflect.Struct || t.Kind() == reflect.Map):
		return misfitMembers(raw, t, path)
	case !custom && raw[0] == '[' && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array):
		return misfitElements(raw, t, path)
	}
	// A value that is no container of t's kind: decode it alone, as the body
	// would have been, and report what fails.
	err := json.Unmarshal(raw, reflect.New(t).Interface())
	var typeErr *json.UnmarshalTypeError
	switch {
	case err == nil:
		return "", "", false
	case errors.As(err, &typeErr):
		return path, fmt.Sprintf("has the wrong type: %s where %s is wanted", typeErr.Value, typeErr.Type), true
	}
	return path, err.Error(), true
}

// misfitMembers walks an object's members: a struct's fields by their JSON
// names (matched as encoding/json matches them), or a map's values.
func misfitMembers(raw []byte, t reflect.Type, path string) (string, string, bool) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil {
		return "", "", false
	}
	for dec.More() {
		tok, err := dec.Token()
		key, isKey := tok.(string)
		var value json.RawMessage
		if err != nil || !isKey || dec.Decode(&value) != nil {
			return "", "", false
		}
		at := path + "." + key
		var valueType reflect.Type
		if t.Kind() == reflect.Map {
			valueType = t.Elem()
		} else if field, found := jsonField(t, key); found {
			valueType = field.Type
		} else {
			return at, "is not a setting", true
		}
		if at, what, ok := misfit(value, valueType, at); ok {
			return at, what, true
		}
	}
	return "", "", false
}

// misfitElements walks an array's elements.
func misfitElements(raw []byte, t reflect.Type, path string) (string, string, bool) {
	var elements []json.RawMessage
	if json.Unmarshal(raw, &elements) != nil {
		return "", "", false
	}
	for i, e := range elements {
		if at, what, ok := misfit(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); ok {
			return at, what, true
		}
	}
	return "", "", false
}

// jsonField returns the field of struct t that encoding/json fills from
// key: the exact name first, else one equal under case folding; fields of
// embedded structs without a name count as t's own.
func jsonField(t reflect.Type, key string) (reflect.StructField, bool) {
	fields := jsonFields(t)
	for _, f := range fields {
		if f.Name == key {
			return f, true
		}
	}
	for _, f := range fields {
		if strings.EqualFold(f.Name, key) {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// jsonFields lists t's fields under their JSON names.
func jsonFields(t reflect.Type) []reflect.StructField {
	var out []reflect.StructField
	for _, f := range reflect.VisibleFields(t) {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case name == "-" || !f.IsExported() && !f.Anonymous:
			continue
		case f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct:
			continue // its fields are listed in its place
		case name == "":
			name = f.Name
		}
		f.Name = name
		out = append(out, f)
	}
	return out
}

func sectionJSON(m *Merchant, section string) ([]byte, error) {
	v, err := sectionOf(m, section)
	if err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

func maskedJSON(m *Merchant, section string) json.RawMessage {
	b, _ := sectionJSON(masked(m), section)
	return b
}

// thresholdsMoved reports whether members' levels may change with the new
// programme.
func thresholdsMoved(a, b Membership) bool {
	if a.PeriodDays != b.PeriodDays || len(a.Levels) != len(b.Levels) {
		return true
	}
	for i := range a.Levels {
		if a.Levels[i].Key != b.Levels[i].Key || a.Levels[i].MinAmountFen != b.Levels[i].MinAmountFen || a.Levels[i].MinOrders != b.Levels[i].MinOrders {
			return true
		}
	}
	return false
}

// SettingsVersions lists the merchant's settings changes, newest first.
func (c *Admin) SettingsVersions(ctx context.Context, m *Merchant, limit int) ([]SettingsVersion, error) {
	if limit < 1 || limit > 200 {
		return nil, FieldErrorf("limit", "must be between 1 and 200")
	}
	return c.store.Settings().List(ctx, m.ID, limit)
}
