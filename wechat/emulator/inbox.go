package emulator

import (
	"errors"
	"maps"
	"net/http"
	"time"
)

// InboxItem is one thing a shopper received from an official account.
type InboxItem struct {
	Kind       string            `json:"kind"` // "template" | "text" | "card_update" (or another customer-service msgtype)
	At         time.Time         `json:"at"`
	AppID      string            `json:"app_id"`
	TemplateID string            `json:"template_id,omitempty"`
	URL        string            `json:"url,omitempty"`
	Data       map[string]string `json:"data,omitempty"`    // template keyword -> value
	Content    string            `json:"content,omitempty"` // customer-service text
	Card       map[string]any    `json:"card,omitempty"`    // membercard updateuser / activate payload as received
	MsgID      int64             `json:"msg_id,omitempty"`
}

// deliverToInbox appends an item to the openid's inbox. Callers hold e.mu.
func (e *Emulator) deliverToInbox(openid string, item InboxItem) {
	e.inbox[openid] = append(e.inbox[openid], item)
	e.log.Debug("inbox", "openid", openid, "kind", item.Kind, "app_id", item.AppID)
}

// Inbox returns what the openid received, from every account, in delivery
// order. The items are copies.
func (e *Emulator) Inbox(openid string) []InboxItem {
	e.mu.Lock()
	defer e.mu.Unlock()
	items := e.inbox[openid]
	out := make([]InboxItem, len(items))
	for i, it := range items {
		it.Data = maps.Clone(it.Data)
		it.Card = maps.Clone(it.Card)
		out[i] = it
	}
	return out
}

func (e *Emulator) serveInbox(w http.ResponseWriter, r *http.Request) {
	openid := r.URL.Query().Get("openid")
	if openid == "" {
		writeError(w, http.StatusBadRequest, errors.New("emulator: inbox needs ?openid="))
		return
	}
	writeJSON(w, http.StatusOK, e.Inbox(openid))
}
