package console_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wxclub/wxclub/handlers/console"
	"github.com/wxclub/wxclub/models"
	"github.com/wxclub/wxclub/models/modelstest"
	"github.com/wxclub/wxclub/ritual"
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
		if p := b.post("/console/preview/follow", url.Values{"csrf": {csrf}, "openid": {openid}}); p.status != http.StatusSeeOther || len(followed) != 2 {
			t.Fatalf("the test shopper follows again: %d, %d follows", p.status, len(followed))
		}
		// A test shopper's openid is 6 to 64 letters, digits, - or _, and
		// one the preview made: any other is no test shopper.
		for openid, want := range map[string]int{
			"oK-_09": http.StatusNotFound, strings.Repeat("o", 64): http.StatusNotFound,
			"oK-_0": http.StatusUnprocessableEntity, strings.Repeat("o", 65): http.StatusUnprocessableEntity,
			"o顾客顾客": http.StatusUnprocessableEntity, "oShopper\n": http.StatusUnprocessableEntity, "o Shopper": http.StatusUnprocessableEntity,
		} {
			if p := b.post("/console/preview/follow", url.Values{"csrf": {csrf}, "openid": {openid}}); p.status != want {
				t.Errorf("follow as %q: %d, want %d", openid, p.status, want)
			}
		}
		if len(followed) != 2 {
			t.Errorf("follows reached the shopper for openids the preview did not make: %q", followed[2:])
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

// botShopper plays shoppers on the club's own chat, as the emulator does
// through the webhook: what they say reaches the bot and spends real
// points. It records everything it is asked to do.
type botShopper struct {
	club  *ritual.Club
	clock *ritualtest.Clock
	msgID atomic.Int64
	mu    sync.Mutex
	acted []string
}

func (s *botShopper) record(what string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.acted = append(s.acted, what)
}

func (s *botShopper) actions() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.acted...)
}

func (s *botShopper) deliver(ctx context.Context, merchantID string, msg ritual.InboundMessage) (string, error) {
	m, err := s.club.Merchant(ctx, merchantID)
	if err != nil {
		return "", err
	}
	msg.SentAt = s.clock.Now()
	reply, err := s.club.HandleMessage(ctx, m, msg)
	return reply.Text, err
}

func (s *botShopper) Follow(ctx context.Context, merchantID, openid string) (string, error) {
	s.record("follow " + openid)
	return s.deliver(ctx, merchantID, ritual.InboundMessage{OpenID: openid, Kind: "event", Event: "subscribe"})
}

func (s *botShopper) Say(ctx context.Context, merchantID, openid, text string) (string, error) {
	s.record("say " + openid + " " + text)
	return s.deliver(ctx, merchantID, ritual.InboundMessage{OpenID: openid, Kind: "text", Content: text, MsgID: s.msgID.Add(1)})
}

func (s *botShopper) Inbox(_ context.Context, _, openid string) ([]console.Message, error) {
	s.record("inbox " + openid)
	return nil, nil
}

// Nobody at the merchant acts as a real shopper from the console: the
// preview follows, speaks and reads the inbox only as test shoppers it
// made, for owners and operators alike.
func TestConsolePreviewPlaysOnlyTestShoppers(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		ctx := context.Background()
		bot := &botShopper{clock: clock}
		e := newEnv(t, db, clock, bot)
		bot.club = e.club

		// A real shopper follows and buys: 1000 points.
		const real = "oRealShopper0000000000001"
		if _, err := bot.Follow(ctx, e.m.ID, real); err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.club.RecordOrder(ctx, e.m, ritual.OrderInput{OrderNo: "REAL-1", OpenID: real, AmountFen: 100000}); err != nil {
			t.Fatal(err)
		}
		points := func() int64 {
			t.Helper()
			member, err := db.Members().ByOpenID(ctx, e.m.ID, real)
			if err != nil {
				t.Fatal(err)
			}
			return member.Points
		}
		if got := points(); got != 1000 {
			t.Fatalf("the real shopper has %d points, want 1000", got)
		}
		bot.acted = nil

		for _, who := range [][2]string{{"ops", "ops-password-1234"}, {"boss", "boss-password-123"}} {
			b := e.browser()
			csrf := b.signIn(who[0], who[1])
			if p := b.post("/console/preview/say", url.Values{"csrf": {csrf}, "openid": {real}, "text": {"兑换 10元券"}}); p.status != http.StatusForbidden || !strings.Contains(p.body, "是真实会员") {
				t.Errorf("%s redeems as the real shopper: %d, want 403 saying it is a real member", who[0], p.status)
			}
			if p := b.post("/console/preview/follow", url.Values{"csrf": {csrf}, "openid": {real}}); p.status != http.StatusForbidden {
				t.Errorf("%s follows as the real shopper: %d, want 403", who[0], p.status)
			}
			if p := b.get("/console/preview?openid=" + real); p.status != http.StatusForbidden || !strings.Contains(p.body, "是真实会员") {
				t.Errorf("%s opens the real shopper's phone: %d, want 403 saying it is a real member", who[0], p.status)
			}
			if p := b.get("/console/preview/messages?openid=" + real); p.status != http.StatusForbidden {
				t.Errorf("%s reads the real shopper's messages: %d, want 403", who[0], p.status)
			}
			// An openid no member has is no test shopper either, and
			// naming it makes no member.
			const stranger = "oNotAMember000000000001"
			if p := b.post("/console/preview/say", url.Values{"csrf": {csrf}, "openid": {stranger}, "text": {"积分"}}); p.status != http.StatusNotFound || !strings.Contains(p.body, "没有 openid 为") {
				t.Errorf("%s speaks as an openid no member has: %d, want 404", who[0], p.status)
			}
			if _, err := db.Members().ByOpenID(ctx, e.m.ID, stranger); ritual.ErrorCode(err) != ritual.ENOTFOUND {
				t.Errorf("the refused openid became a member: %v", err)
			}
		}
		if got := bot.actions(); len(got) != 0 {
			t.Errorf("refused requests reached the shopper: %q", got)
		}
		if got := points(); got != 1000 {
			t.Fatalf("the real shopper has %d points after the refused attempts, want 1000", got)
		}

		// A test shopper still works end to end, for an operator.
		b := e.browser()
		csrf := b.signIn("ops", "ops-password-1234")
		p := b.post("/console/preview/new", url.Values{"csrf": {csrf}})
		u, _ := url.Parse(p.header.Get("Location"))
		tester := u.Query().Get("openid")
		if p.status != http.StatusSeeOther || !strings.HasPrefix(tester, "oPreview") {
			t.Fatalf("new test shopper: %d → %q", p.status, p.header.Get("Location"))
		}
		if member, err := db.Members().ByOpenID(ctx, e.m.ID, tester); err != nil || !member.TestShopper || member.State != ritual.StateFollowing {
			t.Fatalf("the new test shopper in the database: %+v %v, want a following member marked as a test shopper", member, err)
		}
		if p := b.post("/console/preview/say", url.Values{"csrf": {csrf}, "openid": {tester}, "text": {"积分"}}); p.status != http.StatusSeeOther {
			t.Fatalf("the test shopper says 积分: %d", p.status)
		}
		page := b.get("/console/preview?openid=" + tester)
		if page.status != http.StatusOK || !strings.Contains(html.UnescapeString(page.body), "茶苗，你现在有 0 积分") {
			t.Fatalf("the test shopper's phone: %d, want the bot's answer to 积分:\n%s", page.status, page.body)
		}
		if !strings.Contains(page.body, tester) || strings.Contains(page.body, real) {
			t.Errorf("the list of test shoppers should hold %s and not the real shopper", tester)
		}

		// Nor does a test shopper take over a real buyer's membership by
		// sending the code printed on their card.
		answer, _, err := e.club.RecordOrder(ctx, e.m, ritual.OrderInput{OrderNo: "REAL-2", Phone: "13900001111", AmountFen: 20000})
		if err != nil {
			t.Fatal(err)
		}
		buyer, err := db.Members().ByPhone(ctx, e.m.ID, "13900001111")
		if err != nil || buyer.ClaimCode == "" {
			t.Fatalf("the buyer from the order (%+v): %+v %v, want a claim code", answer, buyer, err)
		}
		if p := b.post("/console/preview/say", url.Values{"csrf": {csrf}, "openid": {tester}, "text": {buyer.ClaimCode}}); p.status != http.StatusSeeOther {
			t.Fatalf("the test shopper sends a claim code: %d", p.status)
		}
		if chat := b.get("/console/preview?openid=" + tester).body; !strings.Contains(chat, "测试顾客不能绑定真实顾客的会员卡") {
			t.Errorf("the phone does not say the claim was refused:\n%s", chat)
		}
		if after, err := db.Members().ByPhone(ctx, e.m.ID, "13900001111"); err != nil || after.OpenID != "" || after.TestShopper {
			t.Fatalf("the real buyer after a test shopper sent their code: %+v %v, want them still unbound", after, err)
		}
		if member, err := db.Members().ByOpenID(ctx, e.m.ID, tester); err != nil || !member.TestShopper {
			t.Fatalf("the test shopper after sending a claim code: %+v %v", member, err)
		}
		if got := points(); got != 1000 {
			t.Fatalf("the real shopper has %d points, want 1000", got)
		}
	})
}
