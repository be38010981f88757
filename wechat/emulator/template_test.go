package emulator_test

import (
	"strings"
	"testing"
	"time"

	"github.com/silenceper/wechat/v2/officialaccount/message"

	"github.com/wxclub/wxclub/wechat/emulator"
)

func templateBody(to, tmpl string, data map[string]string) map[string]any {
	d := map[string]any{}
	for k, v := range data {
		d[k] = map[string]string{"value": v, "color": "#173177"}
	}
	return map[string]any{"touser": to, "template_id": tmpl, "url": "https://shop.example/m", "data": d}
}

func TestTemplateSendRules(t *testing.T) {
	tests := []struct {
		name    string
		to      string
		tmpl    string
		data    map[string]string
		want    int
		wantMsg string
	}{
		{"ok", "fan", "T1", map[string]string{"thing1": "积分到账", "amount2": "12345678901234567890"}, 0, "ok"},
		{"ok at 20 Chinese characters", "fan", "T1", map[string]string{"thing1": strings.Repeat("积", 20)}, 0, "ok"},
		{"non-follower", "gone", "T1", map[string]string{"thing1": "x"}, 43004, "require subscribe"},
		{"unknown openid", "stranger", "T1", map[string]string{"thing1": "x"}, 40003, "invalid openid"},
		{"template not added", "fan", "T9", map[string]string{"thing1": "x"}, 40037, "invalid template_id"},
		{"empty template id", "fan", "", map[string]string{"thing1": "x"}, 40037, "invalid template_id"},
		{"21 characters", "fan", "T1", map[string]string{"thing1": strings.Repeat("a", 21)}, 47003, "argument invalid! data.thing1.value invalid"},
		{"line break", "fan", "T1", map[string]string{"ok": "fine", "thing2": "two\nlines"}, 47003, "data.thing2.value invalid"},
	}
	h := newHarness(t, emulator.Options{})
	a := uniqueAccount(emulator.ModePlaintext)
	a.TemplateIDs = []string{"T1"}
	a = h.register(a)
	h.follow(a, "fan", "gone")
	h.emu.SetFollowing(a.AppID, "gone", false)
	tok := h.token(a)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(h.emu.Inbox(tc.to))
			m := h.post("/cgi-bin/message/template/send", tok, templateBody(tc.to, tc.tmpl, tc.data))
			if got := m.code(); got != tc.want {
				t.Fatalf("errcode = %d, want %d (%v)", got, tc.want, m)
			}
			if !strings.HasPrefix(m.str("errmsg"), tc.wantMsg) && !strings.Contains(m.str("errmsg"), tc.wantMsg) {
				t.Errorf("errmsg = %q, want %q", m.str("errmsg"), tc.wantMsg)
			}
			wantItems := before
			if tc.want == 0 {
				wantItems++
			}
			if got := len(h.emu.Inbox(tc.to)); got != wantItems {
				t.Errorf("inbox has %d items, want %d", got, wantItems)
			}
		})
	}
}

func TestTemplateInboxOrderAndQuota(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	a := uniqueAccount(emulator.ModePlaintext)
	a.DailyQuota = map[string]int{"/cgi-bin/message/template/send": 3}
	a = h.register(a)
	h.follow(a, "fan")
	tok := h.token(a)
	var ids []int64
	for _, v := range []string{"first", "second", "third"} {
		m := h.post("/cgi-bin/message/template/send", tok, templateBody("fan", "T", map[string]string{"k": v}))
		if m.code() != 0 {
			t.Fatalf("send %s: %v", v, m)
		}
		ids = append(ids, m.num("msgid"))
	}
	if got, want := h.post("/cgi-bin/message/template/send", tok, templateBody("fan", "T", map[string]string{"k": "fourth"})).code(), 45009; got != want {
		t.Fatalf("send over the daily quota: errcode %d, want %d", got, want)
	}
	inbox := h.emu.Inbox("fan")
	if got, want := len(inbox), 3; got != want {
		t.Fatalf("inbox has %d items, want %d", got, want)
	}
	for i, want := range []string{"first", "second", "third"} {
		it := inbox[i]
		if it.Kind != "template" || it.Data["k"] != want || it.MsgID != ids[i] || it.AppID != a.AppID || it.URL == "" {
			t.Errorf("inbox[%d] = %+v, want template %q with msgid %d", i, it, want, ids[i])
		}
	}
	// Quotas are per Shanghai day: 16:00 UTC is midnight in Shanghai.
	h.clock.Advance(14 * time.Hour)
	tok = h.token(a)
	if got := h.post("/cgi-bin/message/template/send", tok, templateBody("fan", "T", map[string]string{"k": "next day"})).code(); got != 0 {
		t.Errorf("send on the next Shanghai day: errcode %d, want 0", got)
	}
}

func TestTemplateClientMsgIDDedupe(t *testing.T) {
	h := newHarness(t, emulator.Options{TokenTTL: time.Hour})
	a := h.register(uniqueAccount(emulator.ModePlaintext))
	h.follow(a, "fan")
	tok := h.token(a)
	send := func() wx {
		body := templateBody("fan", "T", map[string]string{"k": "v"})
		body["client_msg_id"] = "order-1"
		return h.post("/cgi-bin/message/template/send", tok, body)
	}
	first, retry := send(), send()
	if first.code() != 0 || retry.code() != 0 {
		t.Fatalf("sends: %v, %v", first, retry)
	}
	if got, want := retry.num("msgid"), first.num("msgid"); got != want {
		t.Errorf("repeated client_msg_id answered msgid %d, want the first %d", got, want)
	}
	if got, want := len(h.emu.Inbox("fan")), 1; got != want {
		t.Errorf("inbox has %d items after a repeated client_msg_id, want %d", got, want)
	}
	h.clock.Advance(10 * time.Minute)
	if later := send(); later.num("msgid") == first.num("msgid") {
		t.Error("client_msg_id still deduplicated after 10 minutes")
	}
	if got, want := len(h.emu.Inbox("fan")), 2; got != want {
		t.Errorf("inbox has %d items, want %d", got, want)
	}
}

func TestSilenceperTemplateSend(t *testing.T) {
	a := uniqueAccount(emulator.ModeSafe)
	oa := silenceper(t, a, false)
	shared.emu.SetFollowing(a.AppID, "oFan", true)
	msgID, err := oa.GetTemplate().Send(&message.TemplateMessage{
		ToUser: "oFan", TemplateID: "TPL", URL: "https://shop.example",
		Data: map[string]*message.TemplateDataItem{"thing1": {Value: "积分 +10"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	inbox := shared.emu.Inbox("oFan")
	if len(inbox) != 1 || inbox[0].MsgID != msgID || inbox[0].Data["thing1"] != "积分 +10" {
		t.Fatalf("inbox = %+v, want the template with msgid %d", inbox, msgID)
	}
	_, err = oa.GetTemplate().Send(&message.TemplateMessage{ToUser: "oFan", TemplateID: "TPL",
		Data: map[string]*message.TemplateDataItem{"thing1": {Value: "a\nb"}}})
	if err == nil || !strings.Contains(err.Error(), "47003") {
		t.Errorf("err = %v, want errcode 47003", err)
	}
}
