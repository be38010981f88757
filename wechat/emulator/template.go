package emulator

import (
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Template message rules (doc/service/api/notify/template/api_sendtemplatemessage
// and Template_Message_Interface.html 类目模板消息):
//   - only followers receive them: 43004 "require subscribe";
//   - an openid the account never saw: 40003 "invalid openid";
//   - the template must be one the account added: 40037 "invalid template_id";
//   - since the 2023 template reform keyword values are short and single
//     line; thing.DATA allows 20 characters, the strictest common limit, and
//     the emulator applies it to every keyword so a service is safe with any
//     template: 47003 "argument invalid! data.<key>.value invalid";
//   - client_msg_id: "对于同一个openid + client_msg_id, 只发送一条消息,10分钟有效".
const (
	maxTemplateValue = 20
	clientMsgIDTTL   = 10 * time.Minute
)

type templateRequest struct {
	ToUser      string                  `json:"touser"`
	TemplateID  string                  `json:"template_id"`
	URL         string                  `json:"url"`
	Data        map[string]templateItem `json:"data"`
	ClientMsgID string                  `json:"client_msg_id"`
	MiniProgram *struct {
		AppID    string `json:"appid"`
		PagePath string `json:"pagepath"`
	} `json:"miniprogram"`
}

type templateItem struct {
	Value string `json:"value"`
	Color string `json:"color"`
}

type templateResponse struct {
	errBody
	MsgID int64 `json:"msgid"`
}

type sentTemplate struct {
	msgID int64
	at    time.Time
}

// templateSend serves POST /cgi-bin/message/template/send.
func (e *Emulator) templateSend(a *account, c *call) (any, *apiError) {
	var req templateRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	u, known := a.users[req.ToUser]
	switch {
	case !known:
		return nil, wxErr(codeInvalidOpenID)
	case !a.templateAllowed(req.TemplateID):
		return nil, wxErr(codeInvalidTemplateID)
	case !u.following:
		return nil, wxErr(codeRequireSubscribe)
	}
	if err := checkTemplateData(req.Data); err != nil {
		return nil, err
	}
	now := e.now()
	if id, dup := a.duplicateTemplate(req.ToUser, req.ClientMsgID, now); dup {
		// WeChat documents that a repeated client_msg_id sends only one
		// message but not what the repeat answers; the emulator answers
		// success with the first send's msgid, so a retry after a lost
		// response looks like the success it was.
		return templateResponse{okBody(), id}, nil
	}
	id := e.nextTemplateMsgID()
	if req.ClientMsgID != "" {
		a.sentTmpl[req.ToUser+"\x00"+req.ClientMsgID] = sentTemplate{msgID: id, at: now}
	}
	e.deliverToInbox(req.ToUser, InboxItem{
		Kind: "template", At: now, AppID: a.cfg.AppID, TemplateID: req.TemplateID,
		URL: req.URL, Data: flattenTemplateData(req.Data), MsgID: id,
	})
	return templateResponse{okBody(), id}, nil
}

func (a *account) templateAllowed(id string) bool {
	if id == "" {
		return false
	}
	return len(a.cfg.TemplateIDs) == 0 || slices.Contains(a.cfg.TemplateIDs, id)
}

// duplicateTemplate reports an earlier send with the same client_msg_id
// to the same openid within the dedupe window. Expired entries are swept
// at most once a minute, so a load run's sends stay O(1).
func (a *account) duplicateTemplate(openid, clientMsgID string, now time.Time) (int64, bool) {
	if now.Sub(a.tmplSwept) >= time.Minute {
		for k, s := range a.sentTmpl {
			if now.Sub(s.at) >= clientMsgIDTTL {
				delete(a.sentTmpl, k)
			}
		}
		a.tmplSwept = now
	}
	if clientMsgID == "" {
		return 0, false
	}
	s, ok := a.sentTmpl[openid+"\x00"+clientMsgID]
	if !ok || now.Sub(s.at) >= clientMsgIDTTL {
		return 0, false
	}
	return s.msgID, true
}

// checkTemplateData applies the keyword value rules, keys in sorted order
// so the same request always names the same key.
func checkTemplateData(data map[string]templateItem) *apiError {
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := data[k].Value
		if utf8.RuneCountInString(v) > maxTemplateValue || strings.ContainsAny(v, "\r\n") {
			return wxErrf(codeArgumentInvalid, "data.%s.value invalid", k)
		}
	}
	return nil
}

func flattenTemplateData(data map[string]templateItem) map[string]string {
	out := make(map[string]string, len(data))
	for k, v := range data {
		out[k] = v.Value
	}
	return out
}
