package handlers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wxclub/wxclub/models"
	"github.com/wxclub/wxclub/models/modelstest"
	"github.com/wxclub/wxclub/ritual"
	"github.com/wxclub/wxclub/ritual/ritualtest"
)

// TestWebhookRefusesOverlongFields: a field longer than its column (or than
// WeChat ever sends) is refused with 400 naming it, on both databases —
// not a 500 WeChat would retry on MySQL and a stored row on SQLite — and
// nothing is stored, so the genuine delivery that follows is new.
func TestWebhookRefusesOverlongFields(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		e := newEnv(t, db, clock, ritual.ModePlaintext, 5*time.Minute)
		withCard := ritualtest.Merchant(ritual.ModePlaintext) // so that card events store the card's code
		withCard.Activation.Method, withCard.Activation.CardID = ritual.ActivateMemberCard, "pCard"
		e.merchant, e.apiKey = e.seed(withCard)
		cardXML := func(openid, code string) string {
			return fmt.Sprintf(`<xml><ToUserName><![CDATA[gh_test]]></ToUserName><FromUserName><![CDATA[%s]]></FromUserName><CreateTime>%d</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[user_get_card]]></Event><CardId><![CDATA[pCard]]></CardId><UserCardCode><![CDATA[%s]]></UserCardCode></xml>`,
				openid, clock.Now().Unix(), code)
		}
		cases := []struct {
			name, field    string
			rejected, good func(openid string) string
			// stored is the openid the rejected delivery would have made a
			// member of, and its dedupe key.
			stored func(openid string) (string, ritual.InboundMessage)
		}{
			{"FromUserName of 65 characters", "FromUserName",
				func(o string) string { return e.textXML(o+strings.Repeat("x", 65-len(o)), "帮助", 7001) },
				func(o string) string { return e.textXML(o, "帮助", 7001) },
				func(o string) (string, ritual.InboundMessage) {
					return o + strings.Repeat("x", 65-len(o)), ritual.InboundMessage{MsgID: 7001}
				}},
			{"FromUserName of 65 Chinese characters", "FromUserName",
				func(o string) string { return e.textXML(strings.Repeat("微", 65), "帮助", 7002) },
				func(o string) string { return e.textXML(o, "帮助", 7002) },
				func(o string) (string, ritual.InboundMessage) {
					return strings.Repeat("微", 65), ritual.InboundMessage{MsgID: 7002}
				}},
			{"subscribe with a scene of 100 characters", "EventKey",
				func(o string) string { return e.eventXML(o, "subscribe", "qrscene_"+strings.Repeat("s", 100)) },
				func(o string) string { return e.eventXML(o, "subscribe", "qrscene_shop") },
				func(o string) (string, ritual.InboundMessage) {
					return o, ritual.InboundMessage{OpenID: o, Event: "subscribe", EventKey: "qrscene_" + strings.Repeat("s", 100), SentAt: clock.Now()}
				}},
			{"scan of a scene of 65 characters", "EventKey",
				func(o string) string { return e.eventXML(o, "SCAN", strings.Repeat("s", 65)) },
				func(o string) string { return e.eventXML(o, "SCAN", "shop") },
				func(o string) (string, ritual.InboundMessage) {
					return o, ritual.InboundMessage{OpenID: o, Event: "SCAN", EventKey: strings.Repeat("s", 65), SentAt: clock.Now()}
				}},
			{"menu key of 129 characters", "EventKey",
				func(o string) string { return e.eventXML(o, "CLICK", strings.Repeat("k", 129)) },
				func(o string) string { return e.textXML(o, "帮助", 7005) },
				func(o string) (string, ritual.InboundMessage) {
					return o, ritual.InboundMessage{OpenID: o, Event: "CLICK", EventKey: strings.Repeat("k", 129), SentAt: clock.Now()}
				}},
			{"member card code of 65 characters", "UserCardCode",
				func(o string) string { return cardXML(o, strings.Repeat("9", 65)) },
				func(o string) string { return cardXML(o, "123456789012") },
				func(o string) (string, ritual.InboundMessage) {
					return o, ritual.InboundMessage{OpenID: o, Event: "user_get_card", SentAt: clock.Now()}
				}},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				openid := ritualtest.RandomID("o")
				r := e.send(e.deliver(c.rejected(openid), false))
				if r.status != http.StatusBadRequest || !strings.Contains(r.body, c.field) {
					t.Fatalf("status %d (%s), want 400 naming %s", r.status, r.body, c.field)
				}
				who, msg := c.stored(openid)
				if e.memberExists(who) {
					t.Fatal("the refused delivery made a member")
				}
				if _, err := db.Inbound().Reply(context.Background(), e.merchant.ID, msg.DedupeKey()); ritual.ErrorCode(err) != ritual.ENOTFOUND {
					t.Fatalf("the refused delivery was recorded: %v", err)
				}
				if r := e.send(e.deliver(c.good(openid), false)); r.status != http.StatusOK {
					t.Fatalf("the genuine delivery: %d %s", r.status, r.body)
				}
				if !e.memberExists(openid) {
					t.Fatal("the genuine delivery after a refused one was not handled as new")
				}
				if member, _ := db.Members().ByOpenID(context.Background(), e.merchant.ID, openid); c.field == "UserCardCode" && member.CardCode != "123456789012" {
					t.Fatalf("card code %q after the genuine card event, want 123456789012", member.CardCode)
				}
			})
		}
	})
}

// TestBridgeRefusesOverlongIDs: the group bridge refuses an id longer than
// its column with 400 naming the field, and stores nothing.
func TestBridgeRefusesOverlongIDs(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		e := newGroupEnv(t, db, clock, 5*time.Minute)
		for _, field := range []string{"msg_id", "group_id", "sender.id"} {
			t.Run(field, func(t *testing.T) {
				msgID, group, sender := nextBridgeMsgID(), ritualtest.RandomID("g"), "wx-anna"
				long := map[string]string{"msg_id": msgID, "group_id": group, "sender.id": sender}
				long[field] += strings.Repeat("长", 129)
				r := e.bridge(bridgeBody(long["msg_id"], long["group_id"], long["sender.id"], "帮助"))
				var answer struct {
					Error struct{ Field string } `json:"error"`
				}
				if r.status != http.StatusBadRequest || json.Unmarshal([]byte(r.body), &answer) != nil || answer.Error.Field != field {
					t.Fatalf("status %d (%s), want 400 naming %s", r.status, r.body, field)
				}
				if e.groupExists(long["group_id"]) || e.groupExists(group) {
					t.Fatal("the refused message recorded its group")
				}
				if got := groupReplies(t, e.bridge(bridgeBody(msgID, group, sender, "帮助"))); len(got) != 1 || !strings.Contains(got[0], "签到") {
					t.Fatalf("the genuine message = %q, want the help", got)
				}
			})
		}
	})
}

// TestSettingsRefuseOverlongStrings: a merchant name or AppID longer than
// its column is refused with 422 naming it, and the settings stay as they
// were.
func TestSettingsRefuseOverlongStrings(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		e := newEnv(t, db, clock, ritual.ModePlaintext, 5*time.Minute)
		cases := []struct{ section, field, key, value string }{
			{"profile", "name", "name", strings.Repeat("茶", 129)},
			{"official_account", "app_id", "app_id", "wx" + strings.Repeat("a", 63)},
		}
		for _, c := range cases {
			t.Run(c.section+"."+c.key, func(t *testing.T) {
				before := e.settingsCall("GET", "/"+c.section, e.apiKey, "", "")
				var got struct {
					Value map[string]any `json:"value"`
				}
				if before.status != 200 || json.Unmarshal([]byte(before.body), &got) != nil {
					t.Fatalf("GET %s: %d %s", c.section, before.status, before.body)
				}
				got.Value[c.key] = c.value
				body, _ := json.Marshal(got.Value)
				r := e.settingsCall("PUT", "/"+c.section, e.apiKey, string(body), before.header.Get("ETag"))
				errBody, _ := decode(t, r)["error"].(map[string]any)
				if field, _ := errBody["field"].(string); r.status != 422 || !strings.HasSuffix(field, c.field) {
					t.Fatalf("%d %s, want 422 naming %s", r.status, r.body, c.field)
				}
				if after := e.settingsCall("GET", "/"+c.section, e.apiKey, "", ""); after.body != before.body || after.header.Get("ETag") != before.header.Get("ETag") {
					t.Fatalf("settings changed by a refused update: %s → %s", before.body, after.body)
				}
			})
		}
	})
}
