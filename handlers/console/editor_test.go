package console_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/wxclub/wxclub/models"
	"github.com/wxclub/wxclub/models/modelstest"
	"github.com/wxclub/wxclub/ritual"
	"github.com/wxclub/wxclub/ritual/ritualtest"
)

func TestConsoleEditsGoThroughUpdateSettings(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		e := newEnv(t, db, clock, nil)
		b := e.browser()
		b.signIn("boss", "boss-password-123")
		_, v1 := e.version("membership")

		t.Run("a good change is a new version", func(t *testing.T) {
			form := settingsForm(t, b.get("/console/levels").body)
			form.Set("membership.levels[0].nickname", "茶芽")
			p := b.post("/console/levels", form)
			if p.status != http.StatusSeeOther || p.header.Get("Location") != "/console/levels?saved=2" {
				t.Fatalf("save: %d → %q\n%s", p.status, p.header.Get("Location"), p.body)
			}
			raw, v2 := e.version("membership")
			if v2 != v1+1 || !strings.Contains(raw, `"nickname":"茶芽"`) {
				t.Fatalf("after saving: version %d, %s", v2, raw)
			}
			if !strings.Contains(b.get("/console/levels?saved=2").body, "已保存") {
				t.Fatal("no word that it was saved")
			}
			again := settingsForm(t, b.get("/console/levels").body)
			if p := b.post("/console/levels", again); p.status != http.StatusSeeOther || p.header.Get("Location") != "/console/levels?unchanged" {
				t.Fatalf("saving without a change: %d → %q", p.status, p.header.Get("Location"))
			}
			if _, v := e.version("membership"); v != v1+1 {
				t.Fatalf("saving without a change made version %d", v)
			}
			vs, _ := e.club.SettingsVersions(context.Background(), e.m, 5)
			if len(vs) == 0 || vs[0].ChangedBy != "console:boss" || vs[0].Section != "membership" {
				t.Fatalf("versions %+v, want the console's change by boss", vs)
			}
		})

		cases := []struct {
			name, path string
			change     func(url.Values)
			field      string // where the error shows; "" for above the form
			says       string
		}{
			{"a threshold below the level below", "/console/levels", func(f url.Values) { f.Set("membership.levels[2].min_amount_fen", "100") },
				"membership.levels[2].min_amount_fen", "lower than the level below"},
			{"an empty nickname", "/console/levels", func(f url.Values) { f.Set("membership.levels[1].nickname", "") },
				"membership.levels[1].nickname", "required"},
			{"a threshold that is not a number", "/console/levels", func(f url.Values) { f.Set("membership.levels[1].min_orders", "两") },
				"membership.levels[1].min_orders", "整数"},
			{"a right that is not a percent", "/console/levels", func(f url.Values) { f.Set("membership.levels[1].right.value", "120") },
				"membership.levels[1].right.value", "1-99"},
			{"a pledge step without a phrase", "/console/rituals", func(f url.Values) {
				f["membership.levels[2].ceremony.steps"] = []string{"pledge"}
				f.Set("membership.levels[2].ceremony", "on")
				f.Set("membership.levels[2].ceremony.pledge", "")
			}, "membership.levels[2].ceremony.pledge", "pledge"},
			{"a step twice", "/console/rituals", func(f url.Values) {
				f["membership.levels[1].ceremony.steps"] = []string{"confirm", "confirm"}
			}, "membership.levels[1].ceremony.steps", "twice"},
			{"a new coupon with a taken name", "/console/coupons", func(f url.Values) {
				f.Set("rewards[new].key", "another")
				f.Set("rewards[new].name", "10元券")
			}, "rewards[new].key", "duplicate"},
			{"a coupon the gift pack gives, deleted", "/console/coupons", func(f url.Values) { f.Set("rewards[0].delete", "on") },
				"", "activation.gift.coupons[0]"},
			{"a bad cron spec", "/console/campaigns", func(f url.Values) {
				f.Set("campaigns.birthday", "on")
				f.Set("campaigns.birthday.schedule", "every day at nine")
			}, "campaigns.birthday.schedule", "bad cron spec"},
			{"a bad catch-up", "/console/campaigns", func(f url.Values) {
				f.Set("campaigns.birthday", "on")
				f.Set("campaigns.birthday.schedule", "0 9 * * *")
				f.Set("campaigns.birthday.catch_up", "soon")
			}, "campaigns.birthday.catch_up", "时长"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				section := map[string]string{"/console/levels": "membership", "/console/rituals": "membership", "/console/coupons": "rewards", "/console/campaigns": "campaigns"}[c.path]
				rawBefore, before := e.version(section)
				form := settingsForm(t, b.get(c.path).body)
				c.change(form)
				p := b.post(c.path, form)
				if p.status != http.StatusUnprocessableEntity {
					t.Fatalf("status %d, want 422\n%s", p.status, p.body)
				}
				if c.field != "" {
					if msg := errorAt(p.body, c.field); !strings.Contains(msg, c.says) {
						t.Fatalf("error at %s = %q, want it to say %q\n%s", c.field, msg, c.says, p.body)
					}
				} else if !strings.Contains(p.body, `id="form-error"`) || !strings.Contains(p.body, c.says) {
					t.Fatalf("want an error above the form naming %s\n%s", c.says, p.body)
				}
				if raw, after := e.version(section); after != before || raw != rawBefore {
					t.Fatalf("a refused change changed %s: version %d → %d", section, before, after)
				}
			})
		}

		t.Run("a stale form is refused", func(t *testing.T) {
			form := settingsForm(t, b.get("/console/levels").body)
			form.Set("version", "1")
			form.Set("membership.levels[0].nickname", "旧页面")
			if p := b.post("/console/levels", form); p.status != http.StatusConflict || !strings.Contains(p.body, "其他人修改") {
				t.Fatalf("stale form: %d", p.status)
			}
		})

		t.Run("a coupon added and one deleted", func(t *testing.T) {
			form := settingsForm(t, b.get("/console/coupons").body)
			form.Set("rewards[2].delete", "on") // the teapot; nothing refers to it
			for k, v := range map[string]string{"key": "green-tea", "name": "绿茶券", "product": "明前绿茶一罐", "value_fen": "5000",
				"points_price": "800", "stock": "50", "per_member_limit": "1", "valid_days": "30"} {
				form.Set("rewards[new]."+k, v)
			}
			if p := b.post("/console/coupons", form); p.status != http.StatusSeeOther {
				t.Fatalf("save coupons: %d\n%s", p.status, p.body)
			}
			raw, _ := e.version("rewards")
			if strings.Contains(raw, "teapot") || !strings.Contains(raw, `"key":"green-tea"`) || !strings.Contains(raw, "cash-10") {
				t.Fatalf("rewards now %s", raw)
			}
		})
	})
}

func TestConsoleOperatorsReadAndGrantButDoNotChangeSettings(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		e := newEnv(t, db, clock, nil)
		ctx := context.Background()
		openid := ritualtest.RandomID("o")
		if _, err := e.club.HandleMessage(ctx, e.m, ritual.InboundMessage{OpenID: openid, Kind: ritual.KindEvent, Event: ritual.EventSubscribe, SentAt: clock.Now()}); err != nil {
			t.Fatal(err)
		}
		for i, fen := range []int64{30000, 20000} {
			if _, _, err := e.club.RecordOrder(ctx, e.m, ritual.OrderInput{OrderNo: "G-" + string(rune('1'+i)), OpenID: openid, AmountFen: fen}); err != nil {
				t.Fatal(err)
			}
		}
		b := e.browser()
		csrf := b.signIn("ops", "ops-password-1234")
		for _, path := range []string{"/console/levels", "/console/rituals", "/console/coupons", "/console/campaigns", "/console/funnel",
			"/console/leaderboard", "/console/members?q=" + openid, "/console/outbox", "/console/versions", "/console/preview"} {
			p := b.get(path)
			want := http.StatusOK
			if path == "/console/preview" {
				want = http.StatusServiceUnavailable // no emulator here
			}
			if p.status != want {
				t.Errorf("operator GET %s: %d, want %d", path, p.status, want)
			}
		}
		levels := b.get("/console/levels").body
		if strings.Contains(levels, `id="save"`) || !strings.Contains(levels, `id="read-only"`) {
			t.Fatal("an operator gets a save button")
		}
		raw, before := e.version("membership")
		for _, path := range []string{"/console/levels", "/console/rituals", "/console/coupons", "/console/campaigns"} {
			form := settingsForm(t, b.get(path).body)
			if p := b.post(path, form); p.status != http.StatusForbidden || !strings.Contains(p.body, "只有店主") {
				t.Fatalf("operator POST %s: %d", path, p.status)
			}
		}
		if raw2, after := e.version("membership"); after != before || raw2 != raw {
			t.Fatalf("an operator changed the settings: %d → %d", before, after)
		}

		open, err := e.club.Ceremonies(ctx, e.m, ritual.CeremonyOpen, 10)
		if err != nil || len(open) != 1 {
			t.Fatalf("open ceremonies %+v %v", open, err)
		}
		if !strings.Contains(b.get("/console/rituals").body, "/console/ceremonies/") {
			t.Fatal("the rituals page offers no grant button")
		}
		grant := "/console/ceremonies/" + itoa(open[0].ID) + "/grant"
		if p := b.post(grant, url.Values{"csrf": {csrf}}); p.status != http.StatusSeeOther {
			t.Fatalf("operator grants: %d\n%s", p.status, p.body)
		}
		if v, _ := e.club.MemberView(ctx, e.m, openid); v.Level.Key != "senior" {
			t.Fatalf("after the grant: %s, want senior", v.Level.Key)
		}
		if p := b.post(grant, url.Values{"csrf": {csrf}}); p.status != http.StatusConflict {
			t.Fatalf("granting twice: %d", p.status)
		}
	})
}
