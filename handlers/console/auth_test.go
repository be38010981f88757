package console_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/wxclub/wxclub/models"
	"github.com/wxclub/wxclub/models/modelstest"
	"github.com/wxclub/wxclub/ritual/ritualtest"
)

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
