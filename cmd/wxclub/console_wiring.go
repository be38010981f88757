package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strconv"

	"github.com/wxclub/wxclub/handlers/console"
	"github.com/wxclub/wxclub/wechat/emulator"
)

// console seeds the configured console users and returns the merchant's
// web console, with the phone preview on the in-process emulator when
// there is one. Configuration errors were refused when it was loaded; if
// seeding still fails (the database), the console says so rather than
// half-working, and the rest of the service runs on.
func (m *Main) console(ctx context.Context) http.Handler {
	if err := m.seedConsoleUsers(ctx); err != nil {
		m.Logger.Error("console users could not be created; the console is unavailable", "err", err)
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "console unavailable: its users could not be created (see the log)", http.StatusServiceUnavailable)
		})
	}
	// The club serves every interface the console declares; each may later
	// come from a type of its own.
	opts := console.Options{
		Sessions: m.Club.Admin, Merchants: m.Club.Directory, Clock: m.Club.Directory, Settings: m.Club.Admin,
		Ceremonies: m.Club.Upgrades, Members: m.Club.Reports, Reports: m.Club.Reports, Campaigns: m.Club.Calendar,
		Logger: m.Logger.With("component", "console"),
	}
	if len(m.Config.Merchants) == 1 {
		opts.DefaultMerchant = m.Config.Merchants[0].ID
	}
	if m.Emulator != nil {
		opts.Shopper, opts.TestShoppers = emulatorShopper{m.Emulator}, m.Club.Admin
	}
	return console.New(opts)
}

// seedConsoleUsers creates each merchant's configured console users that
// do not exist yet; a user already in the database is left as it is.
func (m *Main) seedConsoleUsers(ctx context.Context) error {
	for _, mc := range m.Config.Merchants {
		for _, u := range mc.Console {
			created, err := m.Club.SeedConsoleUser(ctx, mc.ID, u.Username, u.Password, u.Role)
			if err != nil {
				return fmt.Errorf("seed console user %s of merchant %s: %w", u.Username, mc.ID, err)
			}
			if created {
				m.Logger.Info("console user created", "merchant", mc.ID, "user", u.Username, "role", u.Role)
			}
		}
	}
	return nil
}

// emulatorShopper plays test shoppers for the console's phone preview on
// the in-process emulator, whose accounts are named by merchant id.
type emulatorShopper struct{ emu *emulator.Emulator }

var _ console.Shopper = emulatorShopper{}

func (s emulatorShopper) Follow(ctx context.Context, merchantID, openid string) (string, error) {
	return replyOf(s.emu.Follow(ctx, merchantID, openid, ""))
}

func (s emulatorShopper) Say(ctx context.Context, merchantID, openid, text string) (string, error) {
	return replyOf(s.emu.Say(ctx, merchantID, openid, text))
}

// replyOf is the text of the bot's passive reply, or what WeChat would
// have made of a bad answer.
func replyOf(d emulator.Delivery, err error) (string, error) {
	switch {
	case errors.Is(err, emulator.ErrNotFollowing):
		return "", errors.New("这位顾客没有关注公众号，先点「关注公众号」")
	case errors.Is(err, emulator.ErrAlreadyFollowing):
		return "", errors.New("这位顾客已经关注了公众号")
	case err != nil:
		return "", err
	case d.Problem != "":
		return "", errors.New(d.Problem)
	case d.Reply == nil:
		return "", nil
	case d.Reply.MsgType != "text":
		return "[" + d.Reply.MsgType + "]", nil
	}
	return d.Reply.Content, nil
}

// Inbox returns what the merchant's account sent openid: the emulator's
// inbox holds every account's messages, so others' are left out.
func (s emulatorShopper) Inbox(_ context.Context, merchantID, openid string) ([]console.Message, error) {
	appID := ""
	for _, a := range s.emu.Accounts() {
		if a.Name == merchantID {
			appID = a.AppID
		}
	}
	if appID == "" {
		return nil, fmt.Errorf("the emulator has no account for merchant %s", merchantID)
	}
	var out []console.Message
	for _, item := range s.emu.Inbox(openid) {
		if item.AppID != appID {
			continue
		}
		out = append(out, console.Message{Kind: item.Kind, At: item.At, TemplateID: item.TemplateID, Data: keywords(item.Data), Content: item.Content})
	}
	return out, nil
}

var keywordNumber = regexp.MustCompile(`(\d+)$`)

// keywords orders a template's data as the template does: WeChat numbers
// its keywords (thing1, amount2, time3).
func keywords(data map[string]string) []console.Keyword {
	out := make([]console.Keyword, 0, len(data))
	for k, v := range data {
		out = append(out, console.Keyword{Key: k, Value: v})
	}
	num := func(k string) int {
		n, _ := strconv.Atoi(keywordNumber.FindString(k))
		return n
	}
	sort.Slice(out, func(i, j int) bool {
		if a, b := num(out[i].Key), num(out[j].Key); a != b {
			return a < b
		}
		return out[i].Key < out[j].Key
	})
	return out
}
