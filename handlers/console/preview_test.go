package console_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/wxclub/wxclub/handlers/console"
	"github.com/wxclub/wxclub/models"
	"github.com/wxclub/wxclub/models/modelstest"
	"github.com/wxclub/wxclub/ritual/ritualtest"
)

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
