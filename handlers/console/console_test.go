package console_test

import (
	"context"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/wxclub/wxclub/handlers"
	"github.com/wxclub/wxclub/handlers/console"
	"github.com/wxclub/wxclub/models"
	"github.com/wxclub/wxclub/models/modelstest"
	"github.com/wxclub/wxclub/ritual"
	"github.com/wxclub/wxclub/ritual/ritualtest"
)

func TestMain(m *testing.M) { modelstest.Main(m) }

// env is the whole HTTP surface with the console, on a real club and
// database, with a clock the test moves and a merchant with an owner (boss)
// and an operator (ops).
type env struct {
	t     *testing.T
	db    *models.DB
	club  *ritual.Club
	clock *ritualtest.Clock
	srv   *httptest.Server
	m     *ritual.Merchant
}

func newEnv(t *testing.T, db *models.DB, clock *ritualtest.Clock, shopper console.Shopper) *env {
	t.Helper()
	club := ritual.NewClub(db, ritual.ClubOptions{Clock: clock.Now})
	e := &env{t: t, db: db, club: club, clock: clock, m: e2eMerchant(t, db, club)}
	e.srv = httptest.NewServer(handlers.New(handlers.Options{
		Club: club, Console: console.New(console.Options{
			Sessions: club, Merchants: club, Clock: club, Settings: club, Ceremonies: club, Members: club, Reports: club,
			Shopper: shopper,
		}),
	}))
	t.Cleanup(e.srv.Close)
	return e
}

func e2eMerchant(t *testing.T, db *models.DB, club *ritual.Club) *ritual.Merchant {
	t.Helper()
	ctx := context.Background()
	m := ritualtest.Merchant(ritual.ModeCompatible)
	m.Membership.Levels[1].Ceremony = &ritual.CeremonyRule{
		Steps: []string{ritual.StepConfirm}, DeadlineDays: 7, OnDeadline: ritual.DeadlineGrant,
	}
	if _, err := club.SeedMerchant(ctx, m, "key-"+m.ID); err != nil {
		t.Fatal(err)
	}
	// Passwords are hashed at bcrypt's lowest cost: at the default cost each
	// sign-in takes a second under the race detector.
	for _, u := range [][3]string{{"boss", "boss-password-123", ritual.RoleOwner}, {"ops", "ops-password-1234", ritual.RoleOperator}} {
		hash, err := bcrypt.GenerateFromPassword([]byte(u[1]), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Accounts().CreateUser(ctx, &ritual.ConsoleUser{MerchantID: m.ID, Username: u[0], PasswordHash: string(hash), Role: u[2], CreatedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	return m
}

// browser is a client with its own cookies that does not follow redirects.
type browser struct {
	e      *env
	client *http.Client
}

func (e *env) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{e: e, client: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type page struct {
	status int
	body   string
	header http.Header
}

func (b *browser) do(req *http.Request) page {
	b.e.t.Helper()
	resp, err := b.client.Do(req)
	if err != nil {
		b.e.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return page{status: resp.StatusCode, body: string(body), header: resp.Header}
}

func (b *browser) get(path string) page {
	req, _ := http.NewRequest(http.MethodGet, b.e.srv.URL+path, nil)
	return b.do(req)
}

func (b *browser) post(path string, form url.Values, header ...string) page {
	req, _ := http.NewRequest(http.MethodPost, b.e.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return b.do(req)
}

var csrfInput = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func csrfOf(body string) string {
	if m := csrfInput.FindStringSubmatch(body); m != nil {
		return html.UnescapeString(m[1])
	}
	return ""
}

// signIn signs in as user and returns the session's CSRF token.
func (b *browser) signIn(user, password string) string {
	b.e.t.Helper()
	login := b.get("/console/login")
	p := b.post("/console/login", url.Values{"csrf": {csrfOf(login.body)}, "merchant": {b.e.m.ID}, "username": {user}, "password": {password}})
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/console/" {
		b.e.t.Fatalf("sign in as %s: %d %s", user, p.status, p.header.Get("Location"))
	}
	home := b.get("/console/")
	if home.status != http.StatusOK {
		b.e.t.Fatalf("overview after sign-in: %d", home.status)
	}
	return csrfOf(home.body)
}

var (
	formPattern   = regexp.MustCompile(`(?s)<form method="post" action="[^"]*" class="edit" id="settings-form">(.*?)</form>`)
	inputPattern  = regexp.MustCompile(`<input ([^>]*)>`)
	attrPattern   = regexp.MustCompile(`(\w+)(?:="([^"]*)")?`)
	selectPattern = regexp.MustCompile(`(?s)<select id="[^"]*" name="([^"]*)">(.*?)</select>`)
	chosen        = regexp.MustCompile(`<option value="([^"]*)" selected>`)
	textareas     = regexp.MustCompile(`(?s)<textarea id="[^"]*" name="([^"]*)"[^>]*>(.*?)</textarea>`)
)

// settingsForm returns what the page's settings form would post, as a
// browser would: text and hidden inputs, checked boxes, chosen options.
func settingsForm(t *testing.T, body string) url.Values {
	t.Helper()
	m := formPattern.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no settings form in:\n%s", body)
	}
	form := url.Values{}
	for _, in := range inputPattern.FindAllStringSubmatch(m[1], -1) {
		attrs := map[string]string{}
		for _, a := range attrPattern.FindAllStringSubmatch(in[1], -1) {
			attrs[a[1]] = html.UnescapeString(a[2])
		}
		if _, ok := attrs["name"]; !ok {
			continue
		}
		if attrs["type"] == "checkbox" {
			if _, checked := attrs["checked"]; !checked {
				continue
			}
			if _, ok := attrs["value"]; !ok {
				attrs["value"] = "on"
			}
		}
		form.Add(attrs["name"], attrs["value"])
	}
	for _, s := range selectPattern.FindAllStringSubmatch(m[1], -1) {
		value := ""
		if c := chosen.FindStringSubmatch(s[2]); c != nil {
			value = html.UnescapeString(c[1])
		}
		form.Set(html.UnescapeString(s[1]), value)
	}
	for _, ta := range textareas.FindAllStringSubmatch(m[1], -1) {
		form.Set(html.UnescapeString(ta[1]), html.UnescapeString(ta[2]))
	}
	return form
}

// section returns the merchant's section and its version, from the
// database.
func (e *env) version(section string) (string, int) {
	e.t.Helper()
	raw, v, err := e.club.Section(context.Background(), e.m, section)
	if err != nil {
		e.t.Fatal(err)
	}
	return string(raw), v
}

// errorAt returns the error shown at the field named key.
func errorAt(body, key string) string {
	re := regexp.MustCompile(`<p class="err" data-for="` + regexp.QuoteMeta(key) + `">([^<]*)`)
	if m := re.FindStringSubmatch(body); m != nil {
		return html.UnescapeString(m[1])
	}
	return ""
}

func TestConsoleAsksToSignIn(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		e := newEnv(t, db, clock, nil)
		b := e.browser()
		if p := b.get("/console"); p.status != http.StatusMovedPermanently || p.header.Get("Location") != "/console/" {
			t.Fatalf("/console: %d → %q", p.status, p.header.Get("Location"))
		}
		p := b.get("/console/levels")
		if p.status != http.StatusSeeOther || p.header.Get("Location") != "/console/login?next=%2Fconsole%2Flevels" {
			t.Fatalf("a page without a session: %d → %q", p.status, p.header.Get("Location"))
		}
		if p := b.post("/console/levels", url.Values{"membership.levels[0].nickname": {"x"}}); p.status != http.StatusUnauthorized {
			t.Fatalf("a form without a session: %d", p.status)
		}
		if p.header.Get("Content-Security-Policy") == "" || p.header.Get("X-Frame-Options") != "DENY" {
			t.Fatalf("console headers: %v", p.header)
		}
	})
}

func TestConsoleSignIn(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		e := newEnv(t, db, clock, nil)
		b := e.browser()
		token := csrfOf(b.get("/console/login").body)
		form := url.Values{"csrf": {token}, "merchant": {e.m.ID}, "username": {"boss"}, "password": {"boss-password-123"}}

		forged := url.Values{"csrf": {"forged-token-forged-token-forged-token"}, "merchant": form["merchant"], "username": form["username"], "password": form["password"]}
		if p := b.post("/console/login", forged); p.status != http.StatusForbidden {
			t.Fatalf("sign-in without the form's token: %d", p.status)
		}
		wrong := url.Values{"csrf": {token}, "merchant": {e.m.ID}, "username": {"boss"}, "password": {"nope-nope-nope"}}
		if p := b.post("/console/login", wrong); p.status != http.StatusUnauthorized || !strings.Contains(p.body, "不正确") {
			t.Fatalf("wrong password: %d, page shows the error: %v", p.status, strings.Contains(p.body, "不正确"))
		}
		p := b.post("/console/login", form, "X-Forwarded-Proto", "https")
		if p.status != http.StatusSeeOther {
			t.Fatalf("right password: %d", p.status)
		}
		cookie := p.header.Get("Set-Cookie")
		for _, want := range []string{"wxclub_console=", "Path=/console/", "HttpOnly", "SameSite=Lax", "Secure", "Max-Age=43200"} {
			if !strings.Contains(cookie, want) {
				t.Errorf("session cookie %q lacks %s", cookie, want)
			}
		}

		// Over plain http the cookie is not Secure (it would never come back).
		b2 := e.browser()
		form.Set("csrf", csrfOf(b2.get("/console/login").body))
		if p := b2.post("/console/login", form); strings.Contains(p.header.Get("Set-Cookie"), "Secure") {
			t.Errorf("plain-http session cookie is Secure: %q", p.header.Get("Set-Cookie"))
		}
		if home := b2.get("/console/"); home.status != http.StatusOK || !strings.Contains(home.body, `id="whoami">boss<`) {
			t.Fatalf("overview: %d", home.status)
		}
	})
}

func TestConsoleRefusesFormsWithoutTheSessionsToken(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		e := newEnv(t, db, clock, nil)
		b := e.browser()
		b.signIn("boss", "boss-password-123")
		form := settingsForm(t, b.get("/console/levels").body)
		form.Set("membership.levels[0].nickname", "茶芽")
		_, before := e.version("membership")
		for _, token := range []string{"", "not-the-token", csrfOf(e.browser().get("/console/login").body)} {
			form.Set("csrf", token)
			if p := b.post("/console/levels", form); p.status != http.StatusForbidden || !strings.Contains(p.body, "CSRF") {
				t.Fatalf("csrf %q: %d", token, p.status)
			}
		}
		// Another session's token does not do either.
		other := e.browser()
		form.Set("csrf", other.signIn("boss", "boss-password-123"))
		if p := b.post("/console/levels", form); p.status != http.StatusForbidden {
			t.Fatalf("another session's token: %d", p.status)
		}
		if raw, after := e.version("membership"); after != before || strings.Contains(raw, "茶芽") {
			t.Fatalf("a refused form changed the settings: version %d → %d", before, after)
		}
	})
}

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

func TestConsoleShowsOnlyTheSessionsMerchant(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		e := newEnv(t, db, clock, nil)
		other := e2eMerchant(t, db, e.club)
		ctx := context.Background()
		theirs := ritualtest.RandomID("oTheirs")
		if _, err := e.club.HandleMessage(ctx, other, ritual.InboundMessage{OpenID: theirs, Kind: ritual.KindEvent, Event: ritual.EventSubscribe, SentAt: clock.Now()}); err != nil {
			t.Fatal(err)
		}
		for i, fen := range []int64{30000, 20000} { // qualifies for senior: a ceremony opens
			if _, _, err := e.club.RecordOrder(ctx, other, ritual.OrderInput{OrderNo: "B-" + itoa(int64(i)), OpenID: theirs, AmountFen: fen}); err != nil {
				t.Fatal(err)
			}
		}
		open, err := e.club.Ceremonies(ctx, other, ritual.CeremonyOpen, 10)
		if err != nil || len(open) != 1 {
			t.Fatalf("merchant B's open ceremonies: %+v %v", open, err)
		}
		b := e.browser()
		csrf := b.signIn("boss", "boss-password-123")
		p := b.get("/console/members?q=" + theirs)
		if p.status != http.StatusNotFound || strings.Contains(p.body, `id="member"`) {
			t.Fatalf("merchant A's session finds merchant B's member: %d", p.status)
		}
		if board := b.get("/console/leaderboard"); strings.Contains(board.body, theirs) {
			t.Fatal("merchant B's member is on merchant A's board")
		}
		if rituals := b.get("/console/rituals"); strings.Contains(rituals.body, theirs) {
			t.Fatal("merchant B's ceremony is on merchant A's rituals page")
		}
		theirCeremony := "/console/ceremonies/" + itoa(open[0].ID) + "/grant"
		if p := b.post(theirCeremony, url.Values{"csrf": {csrf}}); p.status != http.StatusNotFound {
			t.Fatalf("granting merchant B's ceremony from A's session: %d", p.status)
		}
		if still, _ := e.club.Ceremonies(ctx, other, ritual.CeremonyOpen, 10); len(still) != 1 {
			t.Fatal("merchant A's session granted merchant B's ceremony")
		}
		// Naming the other merchant in the request changes nothing: the
		// session's merchant is the only one.
		if p := b.get("/console/members?q=" + theirs + "&merchant=" + other.ID); p.status != http.StatusNotFound {
			t.Fatalf("with ?merchant=: %d", p.status)
		}
	})
}

func TestConsoleSessionEndsWhenIdle(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		e := newEnv(t, db, clock, nil)
		b := e.browser()
		b.signIn("boss", "boss-password-123")
		clock.Advance(25 * time.Minute)
		if p := b.get("/console/funnel"); p.status != http.StatusOK {
			t.Fatalf("after 25 minutes: %d", p.status)
		}
		clock.Advance(31 * time.Minute)
		if p := b.get("/console/funnel"); p.status != http.StatusSeeOther || !strings.HasPrefix(p.header.Get("Location"), "/console/login") {
			t.Fatalf("after 31 idle minutes: %d → %q", p.status, p.header.Get("Location"))
		}
	})
}

// shopper is a console.Shopper of function fields.
type shopper struct {
	follow func(merchantID, openid string) (string, error)
	say    func(merchantID, openid, text string) (string, error)
	inbox  func(merchantID, openid string) ([]console.Message, error)
}

var _ console.Shopper = shopper{}

func (s shopper) Follow(_ context.Context, merchantID, openid string) (string, error) {
	return s.follow(merchantID, openid)
}

func (s shopper) Say(_ context.Context, merchantID, openid, text string) (string, error) {
	return s.say(merchantID, openid, text)
}

func (s shopper) Inbox(_ context.Context, merchantID, openid string) ([]console.Message, error) {
	return s.inbox(merchantID, openid)
}

func TestConsolePhonePreview(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		var followed, said []string
		fake := shopper{
			follow: func(merchantID, openid string) (string, error) {
				followed = append(followed, merchantID+" "+openid)
				return "欢迎关注！", nil
			},
			say: func(merchantID, openid, text string) (string, error) {
				said = append(said, merchantID+" "+text)
				return "茶苗，你现在有 0 积分。", nil
			},
			inbox: func(merchantID, openid string) ([]console.Message, error) {
				return []console.Message{{Kind: "template", At: clock.Now().Add(time.Second), TemplateID: "TPL_POINTS",
					Data: []console.Keyword{{Key: "thing1", Value: "消费¥320.00得积分"}, {Key: "character_string2", Value: "+320"}}}}, nil
			},
		}
		e := newEnv(t, db, clock, fake)
		b := e.browser()
		csrf := b.signIn("ops", "ops-password-1234")

		p := b.post("/console/preview/new", url.Values{"csrf": {csrf}})
		loc := p.header.Get("Location")
		if p.status != http.StatusSeeOther || !strings.HasPrefix(loc, "/console/preview?openid=oPreview") {
			t.Fatalf("new test shopper: %d → %q", p.status, loc)
		}
		u, _ := url.Parse(loc)
		openid := u.Query().Get("openid")
		if len(followed) != 1 || followed[0] != e.m.ID+" "+openid {
			t.Fatalf("follows %q, want the new shopper following merchant %s", followed, e.m.ID)
		}
		if p := b.post("/console/preview/say", url.Values{"csrf": {csrf}, "openid": {openid}, "text": {"积分"}}); p.status != http.StatusSeeOther {
			t.Fatalf("say: %d", p.status)
		}
		if len(said) != 1 || said[0] != e.m.ID+" 积分" {
			t.Fatalf("said %q", said)
		}
		chat := b.get("/console/preview?openid=" + openid).body
		for _, want := range []string{"欢迎关注！", "积分", "茶苗，你现在有 0 积分。", "TPL_POINTS", "thing1", "消费¥320.00得积分", "character_string2"} {
			if !strings.Contains(html.UnescapeString(chat), want) {
				t.Errorf("the preview lacks %q", want)
			}
		}
		if frag := b.get("/console/preview/messages?openid=" + openid); frag.status != http.StatusOK || !strings.Contains(frag.body, "TPL_POINTS") || strings.Contains(frag.body, "<html") {
			t.Fatalf("chat fragment: %d", frag.status)
		}
		if p := b.post("/console/preview/say", url.Values{"openid": {openid}, "text": {"积分"}}); p.status != http.StatusForbidden || len(said) != 1 {
			t.Fatalf("say without the CSRF token: %d, said %d times", p.status, len(said))
		}
		// A test shopper's openid is 6 to 64 letters, digits, - or _.
		for openid, want := range map[string]int{
			"oK-_09": http.StatusSeeOther, strings.Repeat("o", 64): http.StatusSeeOther,
			"oK-_0": http.StatusUnprocessableEntity, strings.Repeat("o", 65): http.StatusUnprocessableEntity,
			"o顾客顾客": http.StatusUnprocessableEntity, "oShopper\n": http.StatusUnprocessableEntity, "o Shopper": http.StatusUnprocessableEntity,
		} {
			if p := b.post("/console/preview/follow", url.Values{"csrf": {csrf}, "openid": {openid}}); p.status != want {
				t.Errorf("follow as %q: %d, want %d", openid, p.status, want)
			}
		}
	})
}

func TestConsolePreviewUnavailableAgainstRealWeChat(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		e := newEnv(t, db, clock, nil)
		b := e.browser()
		csrf := b.signIn("boss", "boss-password-123")
		if p := b.get("/console/preview"); p.status != http.StatusServiceUnavailable || !strings.Contains(p.body, "手机预览不可用") {
			t.Fatalf("preview without an emulator: %d", p.status)
		}
		if p := b.post("/console/preview/new", url.Values{"csrf": {csrf}}); p.status != http.StatusServiceUnavailable {
			t.Fatalf("new shopper without an emulator: %d", p.status)
		}
	})
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
