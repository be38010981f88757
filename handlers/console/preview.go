package console

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"
)

// The phone preview: the merchant picks a test shopper (or makes a new
// one) and chats with the bot as them, through the Shopper (the emulator).
// The page shows the bot's passive replies and, from the shopper's inbox,
// the template messages exactly as WeChat received them: template id and
// each keyword's value.
//
// What the shopper said and what the bot answered is kept here, in memory:
// the emulator it goes through is in memory too, so both live and die with
// the process.

// transcripts keeps each test shopper's side of the chat.
type transcripts struct {
	mu       sync.Mutex
	chats    map[string][]chatLine // merchant + "\x00" + openid
	shoppers map[string][]string   // merchant → the test shoppers made here, newest first
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
	return &transcripts{chats: map[string][]chatLine{}, shoppers: map[string][]string{}}
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

func (t *transcripts) remember(merchant, openid string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	list := []string{openid}
	for _, o := range t.shoppers[merchant] {
		if o != openid && len(list) < maxShoppers {
			list = append(list, o)
		}
	}
	t.shoppers[merchant] = list
}

func (t *transcripts) list(merchant string) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.shoppers[merchant]...)
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

var openidPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{6,64}$`)

func (h *Handler) previewPage(q *request) {
	d := h.previewData(q, q.r.URL.Query().Get("openid"))
	status := http.StatusOK
	if !d.Available {
		status = http.StatusServiceUnavailable
	}
	h.render(q.w, q.r, status, "preview", q.view("手机预览", "preview", d))
}

// previewMessages serves the chat alone, for the page's script to refresh
// it while template messages arrive.
func (h *Handler) previewMessages(q *request) {
	d := h.previewData(q, q.r.URL.Query().Get("openid"))
	q.w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := h.pages["preview"].ExecuteTemplate(q.w, "chat", q.view("", "preview", d)); err != nil {
		h.log.ErrorContext(q.r.Context(), "console: render chat", "err", err)
	}
}

func (h *Handler) previewData(q *request, openid string) previewData {
	d := previewData{Available: h.shopper != nil}
	if !d.Available {
		return d
	}
	d.Shoppers = h.preview.list(q.m.ID)
	if openid == "" {
		return d
	}
	if !openidPattern.MatchString(openid) {
		d.Error = "openid 只能是 6-64 个字母、数字、- 或 _。"
		return d
	}
	d.OpenID = openid
	for _, l := range h.preview.lines(q.m.ID, openid) {
		d.Bubbles = append(d.Bubbles, bubble{From: l.From, At: l.At, Text: l.Text})
	}
	inbox, err := h.shopper.Inbox(q.r.Context(), q.m.ID, openid)
	if err != nil {
		d.Error = "读不到这位顾客收到的消息：" + err.Error()
	}
	for _, msg := range inbox {
		d.Bubbles = append(d.Bubbles, bubble{From: msg.Kind, At: msg.At, Text: msg.Content, TemplateID: msg.TemplateID, Data: msg.Data})
	}
	sort.SliceStable(d.Bubbles, func(i, j int) bool { return d.Bubbles[i].At.Before(d.Bubbles[j].At) })
	return d
}

// previewNew makes a new test shopper who follows the account.
func (h *Handler) previewNew(q *request) {
	if h.unavailable(q) {
		return
	}
	b := make([]byte, 10)
	_, _ = rand.Read(b)
	openid := "oPreview" + hex.EncodeToString(b)
	h.preview.remember(q.m.ID, openid)
	h.preview.add(q.m.ID, openid, chatLine{At: h.club.Now(), From: "system", Text: "新测试顾客 " + openid + " 关注了公众号"})
	h.follow(q, openid)
}

// previewFollow makes the picked shopper follow the account.
func (h *Handler) previewFollow(q *request) {
	if h.unavailable(q) {
		return
	}
	openid := q.r.PostForm.Get("openid")
	if !openidPattern.MatchString(openid) {
		h.errorPage(q.w, q.r, q, http.StatusUnprocessableEntity, "openid 只能是 6-64 个字母、数字、- 或 _。")
		return
	}
	h.preview.remember(q.m.ID, openid)
	h.preview.add(q.m.ID, openid, chatLine{At: h.club.Now(), From: "system", Text: "关注公众号"})
	h.follow(q, openid)
}

func (h *Handler) follow(q *request, openid string) {
	reply, err := h.shopper.Follow(q.r.Context(), q.m.ID, openid)
	h.answer(q, openid, reply, err)
}

// previewSay sends what the merchant typed as the shopper.
func (h *Handler) previewSay(q *request) {
	if h.unavailable(q) {
		return
	}
	openid, text := q.r.PostForm.Get("openid"), strings.TrimSpace(q.r.PostForm.Get("text"))
	if !openidPattern.MatchString(openid) {
		h.errorPage(q.w, q.r, q, http.StatusUnprocessableEntity, "先选一位测试顾客。")
		return
	}
	if text == "" {
		http.Redirect(q.w, q.r, previewURL(openid), http.StatusSeeOther)
		return
	}
	h.preview.add(q.m.ID, openid, chatLine{At: h.club.Now(), From: "shopper", Text: text})
	reply, err := h.shopper.Say(q.r.Context(), q.m.ID, openid, text)
	h.answer(q, openid, reply, err)
}

// answer records the bot's reply (or why there was none) and shows the
// chat.
func (h *Handler) answer(q *request, openid, reply string, err error) {
	line := chatLine{At: h.club.Now(), From: "bot", Text: reply}
	switch {
	case err != nil:
		line.From, line.Text = "system", "没有送达："+err.Error()
	case reply == "":
		line.From, line.Text = "system", "（公众号没有回复）"
	}
	h.preview.add(q.m.ID, openid, line)
	http.Redirect(q.w, q.r, previewURL(openid), http.StatusSeeOther)
}

func (h *Handler) unavailable(q *request) bool {
	if h.shopper != nil {
		return false
	}
	h.errorPage(q.w, q.r, q, http.StatusServiceUnavailable, previewUnavailable)
	return true
}

const previewUnavailable = "手机预览不可用：服务连接的是真实微信（wechat.api_base 不是 emulator），没有可以扮演顾客的模拟器。"

func previewURL(openid string) string {
	return "/console/preview?openid=" + url.QueryEscape(openid) + "#end"
}
