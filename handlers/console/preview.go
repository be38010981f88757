package console

import (
	"context"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/wxclub/wxclub/ritual"
)

// The phone preview: the merchant picks a test shopper (or makes a new
// one) and chats with the bot as them, through the Shopper (the emulator).
// The page shows the bot's passive replies and, from the shopper's inbox,
// the template messages exactly as WeChat received them: template id and
// each keyword's value.
//
// It plays test shoppers only, the members it made (TestShoppers): every
// openid a request names is checked against the database before anything
// is sent or read as them, so no one at the merchant, owner or operator,
// can spend a real shopper's points or read their messages from here.
//
// What the shopper said and what the bot answered is kept here, in memory:
// the emulator it goes through is in memory too, so both live and die with
// the process.

// Shopper plays a WeChat user chatting with a merchant's official account,
// for the phone preview. The service implements it with the in-process
// emulator; against real WeChat there is none.
type Shopper interface {
	// Follow makes openid follow the merchant's account and returns the
	// bot's reply.
	Follow(ctx context.Context, merchantID, openid string) (string, error)
	// Say sends text as openid and returns the bot's reply.
	Say(ctx context.Context, merchantID, openid, text string) (string, error)
	// Inbox returns what the merchant's account sent openid (template and
	// customer-service messages), in delivery order.
	Inbox(ctx context.Context, merchantID, openid string) ([]Message, error)
}

// Message is one message a shopper received, as WeChat rendered it.
type Message struct {
	Kind       string // "template", "text" (customer service), "card_update"
	At         time.Time
	TemplateID string
	Data       []Keyword // a template's keywords in the template's order
	Content    string
}

// Keyword is one filled keyword of a template message.
type Keyword struct {
	Key, Value string
}

// previewPage is the phone preview's page and the forms it posts.
type previewPage struct {
	*renderer
	shopper Shopper      // nil: the preview is unavailable
	testers TestShoppers // nil: the preview is unavailable
	clock   Clock
	chats   *transcripts
}

func newPreviewPage(rd *renderer, shopper Shopper, testers TestShoppers, clock Clock) previewPage {
	if shopper == nil || testers == nil {
		shopper, testers = nil, nil
	}
	return previewPage{renderer: rd, shopper: shopper, testers: testers, clock: clock, chats: newTranscripts()}
}

// transcripts keeps each test shopper's side of the chat.
type transcripts struct {
	mu    sync.Mutex
	chats map[string][]chatLine // merchant + "\x00" + openid
}

type chatLine struct {
	At   time.Time
	From string // "shopper", "bot" or "system"
	Text string
}

const (
	maxChatLines = 200
	maxShoppers  = 20
	maxChats     = 1000 // across merchants; beyond it an old chat is forgotten
)

func newTranscripts() *transcripts {
	return &transcripts{chats: map[string][]chatLine{}}
}

func (t *transcripts) add(merchant, openid string, lines ...chatLine) {
	t.mu.Lock()
	defer t.mu.Unlock()
	key := merchant + "\x00" + openid
	if _, ok := t.chats[key]; !ok && len(t.chats) >= maxChats {
		for other := range t.chats { // any one: these are test chats
			delete(t.chats, other)
			break
		}
	}
	chat := append(t.chats[key], lines...)
	if len(chat) > maxChatLines {
		chat = chat[len(chat)-maxChatLines:]
	}
	t.chats[key] = chat
}

func (t *transcripts) lines(merchant, openid string) []chatLine {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]chatLine(nil), t.chats[merchant+"\x00"+openid]...)
}

// bubble is one message on the phone's screen.
type bubble struct {
	From       string // shopper | bot | system | template | text | card_update
	At         time.Time
	Text       string
	TemplateID string
	Data       []Keyword
}

type previewData struct {
	Available bool
	OpenID    string
	Shoppers  []string
	Bubbles   []bubble
	Error     string
}

// validOpenID reports whether openid may name a test shopper: 6 to 64
// letters, digits, - or _.
func validOpenID(openid string) bool {
	if len(openid) < 6 || len(openid) > 64 {
		return false
	}
	for _, c := range []byte(openid) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func (p previewPage) serve(q *request) {
	d, status := p.data(q, q.r.URL.Query().Get("openid"))
	if status == 0 {
		return
	}
	p.render(q.w, q.r, status, "preview", q.view("手机预览", "preview", d))
}

// messages serves the chat alone, for the page's script to refresh it
// while template messages arrive.
func (p previewPage) messages(q *request) {
	d, status := p.data(q, q.r.URL.Query().Get("openid"))
	if status == 0 {
		return
	}
	q.w.Header().Set("Content-Type", "text/html; charset=utf-8")
	q.w.WriteHeader(status)
	if err := p.templates["preview"].ExecuteTemplate(q.w, "chat", q.view("", "preview", d)); err != nil {
		p.log.ErrorContext(q.r.Context(), "console: render chat", "err", err)
	}
}

// data is the page for openid and its status; status 0 means an error
// page has been written instead.
func (p previewPage) data(q *request, openid string) (previewData, int) {
	d := previewData{Available: p.shopper != nil}
	if !d.Available {
		return d, http.StatusServiceUnavailable
	}
	var err error
	if d.Shoppers, err = p.testers.TestShoppers(q.r.Context(), q.m, maxShoppers); err != nil {
		p.fail(q, err)
		return d, 0
	}
	if openid == "" {
		return d, http.StatusOK
	}
	if !validOpenID(openid) {
		d.Error = invalidOpenID
		return d, http.StatusUnprocessableEntity
	}
	if status, msg, err := p.refusal(q, openid); err != nil {
		p.fail(q, err)
		return d, 0
	} else if status != 0 {
		d.Error = msg
		return d, status
	}
	d.OpenID = openid
	for _, l := range p.chats.lines(q.m.ID, openid) {
		d.Bubbles = append(d.Bubbles, bubble{From: l.From, At: l.At, Text: l.Text})
	}
	inbox, err := p.shopper.Inbox(q.r.Context(), q.m.ID, openid)
	if err != nil {
		d.Error = "读不到这位顾客收到的消息：" + err.Error()
	}
	for _, msg := range inbox {
		d.Bubbles = append(d.Bubbles, bubble{From: msg.Kind, At: msg.At, Text: msg.Content, TemplateID: msg.TemplateID, Data: msg.Data})
	}
	sort.SliceStable(d.Bubbles, func(i, j int) bool { return d.Bubbles[i].At.Before(d.Bubbles[j].At) })
	return d, http.StatusOK
}

const invalidOpenID = "openid 只能是 6-64 个字母、数字、- 或 _。"

// refusal says why the preview may not play openid (a status and a
// message), or returns status 0 for one of the merchant's test shoppers.
// Only those it made are played: a real member's openid is refused before
// anything is sent or read as them.
func (p previewPage) refusal(q *request, openid string) (int, string, error) {
	err := p.testers.TestShopper(q.r.Context(), q.m, openid)
	switch ritual.ErrorCode(err) {
	case "":
		return 0, "", nil
	case ritual.EFORBIDDEN:
		p.log.WarnContext(q.r.Context(), "console: preview refused a real member", "merchant", q.m.ID, "user", q.s.Username, "openid", openid)
		return http.StatusForbidden, "openid " + openid + " 是真实会员。手机预览只扮演在这里新建的测试顾客，不能以真实会员的身份关注、发消息或查看消息。", nil
	case ritual.ENOTFOUND:
		return http.StatusNotFound, "没有 openid 为 " + openid + " 的测试顾客。手机预览只扮演在这里新建的测试顾客：先点「新测试顾客」。", nil
	}
	return 0, "", err
}

// played reports whether the form's openid is a test shopper the preview
// may act as, and answers the request itself when not.
func (p previewPage) played(q *request, openid string) bool {
	if !validOpenID(openid) {
		p.errorPage(q.w, q.r, q, http.StatusUnprocessableEntity, invalidOpenID)
		return false
	}
	status, msg, err := p.refusal(q, openid)
	if err != nil {
		p.fail(q, err)
		return false
	} else if status != 0 {
		p.errorPage(q.w, q.r, q, status, msg)
		return false
	}
	return true
}

// newShopper makes a new test shopper who follows the account.
func (p previewPage) newShopper(q *request) {
	if p.unavailable(q) {
		return
	}
	openid, err := p.testers.NewTestShopper(q.r.Context(), q.m)
	if err != nil {
		p.fail(q, err)
		return
	}
	p.chats.add(q.m.ID, openid, chatLine{At: p.clock.Now(), From: "system", Text: "新测试顾客 " + openid + " 关注了公众号"})
	p.followAs(q, openid)
}

// follow makes the picked test shopper follow the account.
func (p previewPage) follow(q *request) {
	if p.unavailable(q) {
		return
	}
	openid := q.r.PostForm.Get("openid")
	if !p.played(q, openid) {
		return
	}
	p.chats.add(q.m.ID, openid, chatLine{At: p.clock.Now(), From: "system", Text: "关注公众号"})
	p.followAs(q, openid)
}

// followAs has openid follow the account and shows the bot's welcome.
func (p previewPage) followAs(q *request, openid string) {
	reply, err := p.shopper.Follow(q.r.Context(), q.m.ID, openid)
	p.answer(q, openid, reply, err)
}

// say sends what the merchant typed as the test shopper.
func (p previewPage) say(q *request) {
	if p.unavailable(q) {
		return
	}
	openid, text := q.r.PostForm.Get("openid"), strings.TrimSpace(q.r.PostForm.Get("text"))
	if openid == "" {
		p.errorPage(q.w, q.r, q, http.StatusUnprocessableEntity, "先选一位测试顾客。")
		return
	}
	if !p.played(q, openid) {
		return
	}
	if text == "" {
		http.Redirect(q.w, q.r, previewURL(openid), http.StatusSeeOther)
		return
	}
	p.chats.add(q.m.ID, openid, chatLine{At: p.clock.Now(), From: "shopper", Text: text})
	reply, err := p.shopper.Say(q.r.Context(), q.m.ID, openid, text)
	p.answer(q, openid, reply, err)
}

// answer records the bot's reply (or why there was none) and shows the
// chat.
func (p previewPage) answer(q *request, openid, reply string, err error) {
	line := chatLine{At: p.clock.Now(), From: "bot", Text: reply}
	switch {
	case err != nil:
		line.From, line.Text = "system", "没有送达："+err.Error()
	case reply == "":
		line.From, line.Text = "system", "（公众号没有回复）"
	}
	p.chats.add(q.m.ID, openid, line)
	http.Redirect(q.w, q.r, previewURL(openid), http.StatusSeeOther)
}

func (p previewPage) unavailable(q *request) bool {
	if p.shopper != nil {
		return false
	}
	p.errorPage(q.w, q.r, q, http.StatusServiceUnavailable, previewUnavailable)
	return true
}

const previewUnavailable = "手机预览不可用：服务连接的是真实微信（wechat.api_base 不是 emulator），没有可以扮演顾客的模拟器。"

func previewURL(openid string) string {
	return "/console/preview?openid=" + url.QueryEscape(openid) + "#end"
}
