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
		Merchants: club.Directory, Chat: club.Chat, GroupChat: club.GroupChat, Members: club.Reports,
		Cards: club.Cards, Orders: club.Shop, Rewards: club.Shop, Reports: club.Reports,
		Campaigns: club.Calendar, Groups: club.Reports, Tags: club.Tags, Ceremonies: club.Upgrades,
		Settings: club.Admin,
		Console: console.New(console.Options{
			Sessions: club.Admin, Merchants: club.Directory, Clock: club.Directory, Settings: club.Admin,
			Ceremonies: club.Upgrades, Members: club.Reports, Reports: club.Reports, Campaigns: club.Calendar,
			Shopper: shopper, TestShoppers: club.Admin,
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

// version returns the merchant's section and its version, from the
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

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
