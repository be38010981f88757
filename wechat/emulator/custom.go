package emulator

import "time"

// Customer-service messages may only answer a user's recent interaction.
// The rules are the 2023 ones of the official-account docs
// (doc/offiaccount/Customer_Service/Customer_Service_Messages.html, 客服消息下发规则):
//
//	用户发送消息    5 条   48 小时
//	点击自定义菜单  3 条   1 分钟   (CLICK, scancode_push, scancode_waitmsg)
//	关注公众号      3 条   1 分钟
//	扫描二维码      3 条   1 分钟
//
// A new interaction raises the allowance to the larger of what is left and
// what the interaction grants, and the deadline to the later of the two
// ("可下发消息条数更新为当前可下发条数限制的最大值，有效下发时间限制也更新为最长有效时间").
// Past the deadline a send gets 45015, over the count 45047.
const (
	messageReplies = 5
	messageWindow  = 48 * time.Hour
	actionReplies  = 3
	actionWindow   = time.Minute
	// maxCustomText is the customer-service text limit in bytes; longer
	// content gets 45002.
	maxCustomText = 2048
)

type csWindow struct {
	remaining int
	deadline  time.Time
}

func (w *csWindow) grant(now time.Time, n int, d time.Duration) {
	if !now.Before(w.deadline) {
		w.remaining, w.deadline = n, now.Add(d)
		return
	}
	w.remaining = max(w.remaining, n)
	if end := now.Add(d); end.After(w.deadline) {
		w.deadline = end
	}
}

// spend takes one message from the allowance or says why it cannot.
func (w *csWindow) spend(now time.Time) *apiError {
	if !now.Before(w.deadline) {
		return wxErr(codeOutOfTimeLimit)
	}
	if w.remaining <= 0 {
		return wxErr(codeOutOfResponseCount)
	}
	w.remaining--
	return nil
}

// interaction is what a delivered message or event grants, if anything.
func interaction(msgType, event string) (n int, d time.Duration, ok bool) {
	if msgType != "event" {
		return messageReplies, messageWindow, true
	}
	switch event {
	case "subscribe", "SCAN", "CLICK", "scancode_push", "scancode_waitmsg":
		return actionReplies, actionWindow, true
	}
	return 0, 0, false
}

// customMsgTypes are the msgtypes message/custom/send accepts
// (api_sendcustommessage).
var customMsgTypes = map[string]bool{
	"text": true, "image": true, "voice": true, "video": true, "music": true, "news": true,
	"mpnews": true, "mpnewsarticle": true, "msgmenu": true, "wxcard": true, "miniprogrampage": true,
}

type customRequest struct {
	ToUser  string `json:"touser"`
	MsgType string `json:"msgtype"`
	Text    *struct {
		Content string `json:"content"`
	} `json:"text"`
}

// customSend serves POST /cgi-bin/message/custom/send.
func (e *Emulator) customSend(a *account, c *call) (any, *apiError) {
	var req customRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	u, known := a.users[req.ToUser]
	switch {
	case !known:
		return nil, wxErr(codeInvalidOpenID)
	case !u.following:
		return nil, wxErr(codeRequireSubscribe)
	case !customMsgTypes[req.MsgType]:
		return nil, wxErr(codeInvalidMsgType)
	}
	item := InboxItem{Kind: req.MsgType, At: e.now(), AppID: a.cfg.AppID}
	if req.MsgType == "text" {
		if req.Text == nil || req.Text.Content == "" {
			return nil, wxErr(codeEmptyContent)
		}
		if len(req.Text.Content) > maxCustomText {
			return nil, wxErrf(codeContentTooLong, "(text is %d bytes, the limit is %d)", len(req.Text.Content), maxCustomText)
		}
		item.Content = req.Text.Content
	}
	if err := u.window.spend(e.now()); err != nil {
		return nil, err
	}
	e.deliverToInbox(req.ToUser, item)
	return okBody(), nil
}
