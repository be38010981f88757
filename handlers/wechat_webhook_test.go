package handlers_test

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/silenceper/wechat/v2/util"

	"github.com/wxclub/wxclub/models"
	"github.com/wxclub/wxclub/models/modelstest"
	"github.com/wxclub/wxclub/ritual"
	"github.com/wxclub/wxclub/ritual/ritualtest"
)

func TestURLVerification(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		e := newEnv(t, db, clock, ritual.ModePlaintext, 5*time.Minute)
		ts := strconv.FormatInt(clock.Now().Unix(), 10)
		good := util.Signature(e.merchant.OfficialAccount.Token, ts, "nonce1")
		verify := func(sig string) response {
			req, _ := http.NewRequest(http.MethodGet, e.server.URL+"/wechat/"+e.merchant.ID+"?signature="+sig+"&timestamp="+ts+"&nonce=nonce1&echostr=hello123", nil)
			return e.do(req)
		}
		if r := verify(good); r.status != 200 || r.body != "hello123" {
			t.Fatalf("good signature: %d %q, want 200 hello123", r.status, r.body)
		}
		if r := verify(strings.Repeat("0", 40)); r.status != http.StatusForbidden || strings.Contains(r.body, "hello123") {
			t.Fatalf("bad signature: %d %q, want 403 without the echostr", r.status, r.body)
		}
	})
}

// TestOfficialSampleVector feeds the webhook WeChat's own published
// message-encryption sample (token spamtest, the sample EncodingAESKey and
// AppID, msg_signature 5d197aaf...): it must verify, decrypt and answer.
func TestOfficialSampleVector(t *testing.T) {
	const (
		token     = "spamtest"
		aesKey    = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
		appID     = "wx2c2769f8efd9abc2"
		timestamp = "1409735669"
		nonce     = "1320562132"
		msgSign   = "5d197aaffba7e9b25a30732f161a50dee96bd5fa"
		fromXML   = `<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName><FromUserName><![CDATA[oyORnuP8q7ou2gfYjqLzSIWZf0rs]]></FromUserName><CreateTime>1409735668</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[abcdteT]]></Content><MsgId>6054768590064713728</MsgId><Encrypt><![CDATA[hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1QLvbeUgmBM4x6F8PGHQHFVAFmOD2LdJF9FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXwon8T332jisa+h6tEDYsVticbSnyU8dKOIbgU6ux5VTjg3yt+WGzjlpKn6NPhRjpA912xMezR4kw6KWwMrCVKSVCZciVGCgavjIQ6X8tCOp3yZbGpy0VxpAe+77TszTfRd5RJSVO/HTnifJpXgCSUdUue1v6h0EIBYYI1BD1DlD+C0CR8e6OewpusjZ4uBl9FyJvnhvQl+q5rv1ixrcpCumEPo5MJSgM9ehVsNPfUM669WuMyVWQLCzpu9GhglF2PE=]]></Encrypt></xml>`
	)
	ts, _ := strconv.ParseInt(timestamp, 10, 64)
	clock := ritualtest.NewClock(time.Unix(ts, 0))
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		e := newEnv(t, db, clock, ritual.ModePlaintext, 5*time.Minute)
		m := ritualtest.Merchant(ritual.ModeCompatible)
		m.OfficialAccount = ritual.OfficialAccount{AppID: appID, AppSecret: "s", Token: token, EncodingAESKey: aesKey, Mode: ritual.ModeCompatible}
		e.merchant, _ = e.seed(m)

		url := e.server.URL + "/wechat/" + m.ID + "?signature=" + util.Signature(token, timestamp, nonce) +
			"&timestamp=" + timestamp + "&nonce=" + nonce + "&encrypt_type=aes&msg_signature=" + msgSign
		req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(fromXML))
		reply := e.open(e.do(req), true)
		if got, want := reply.ToUserName, "oyORnuP8q7ou2gfYjqLzSIWZf0rs"; got != want {
			t.Fatalf("reply to %q, want %q (the sender inside the sample ciphertext)", got, want)
		}
		if reply.MsgType != "text" || reply.Content == "" {
			t.Fatalf("reply = %+v, want a text reply", reply)
		}
		if !e.memberExists("oyORnuP8q7ou2gfYjqLzSIWZf0rs") {
			t.Fatal("the sample's sender was not recorded as a member")
		}

		// The same sample with one character of msg_signature changed is refused.
		req, _ = http.NewRequest(http.MethodPost, strings.Replace(url, msgSign, "6"+msgSign[1:], 1), strings.NewReader(fromXML))
		if r := e.do(req); r.status != http.StatusForbidden {
			t.Fatalf("tampered msg_signature: status %d, want 403", r.status)
		}
	})
}

func TestModesRoundTrip(t *testing.T) {
	clock := &ritualtest.Clock{}
	cases := []struct {
		mode string
		safe bool
	}{
		{ritual.ModePlaintext, false},
		{ritual.ModeCompatible, false},
		{ritual.ModeCompatible, true},
		{ritual.ModeSafe, true},
	}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		for _, tc := range cases {
			t.Run(tc.mode+"/aes="+strconv.FormatBool(tc.safe), func(t *testing.T) {
				e := newEnv(t, db, clock, tc.mode, 5*time.Minute)
				openid := ritualtest.RandomID("o")
				reply := e.open(e.send(e.deliver(e.textXML(openid, "帮助", clock.Now().UnixNano()), tc.safe)), tc.safe)
				if reply.ToUserName != openid || reply.FromUserName != "gh_test" || !strings.Contains(reply.Content, "你可以") {
					t.Fatalf("reply = %+v, want the help text addressed back to the sender", reply)
				}
			})
		}
	})
}

func TestRejectedRequestsStoreNothing(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		e := newEnv(t, db, clock, ritual.ModeCompatible, 5*time.Minute)
		safeOnly := newEnv(t, db, clock, ritual.ModeSafe, 5*time.Minute)
		type tc struct {
			name   string
			env    *env
			mutate func(d *delivery)
			want   int
		}
		cases := []tc{
			{"unknown merchant", e, func(d *delivery) { d.merchant = "nobody-here" }, http.StatusNotFound},
			{"bad signature", e, func(d *delivery) { d.signature = strings.Repeat("a", 40) }, http.StatusForbidden},
			{"bad msg_signature", e, func(d *delivery) { d.safe = true; d.msgSignature = strings.Repeat("b", 40) }, http.StatusForbidden},
			{"sealed for another AppID", e, func(d *delivery) { d.safe = true; d.sealAppID = "wxsomeoneelse" }, http.StatusForbidden},
			{"timestamp too old", e, func(d *delivery) { d.timestamp -= 301 }, http.StatusForbidden},
			{"timestamp in the future", e, func(d *delivery) { d.timestamp += 301 }, http.StatusForbidden},
			{"plaintext to a safe-mode account", safeOnly, func(d *delivery) { d.safe = false }, http.StatusForbidden},
			{"malformed XML", e, func(d *delivery) { d.plain = d.plain[:len(d.plain)-10] }, http.StatusBadRequest},
			{"malformed XML inside the envelope", e, func(d *delivery) { d.safe = true; d.plain = "<xml><FromUserName>" }, http.StatusBadRequest},
			{"body over 64 KiB", e, func(d *delivery) {
				d.plain = strings.Replace(d.plain, "帮助", strings.Repeat("长", 22*1024), 1)
			}, http.StatusRequestEntityTooLarge},
		}
		for i, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				openid := ritualtest.RandomID("o")
				msgID := int64(9000 + i)
				d := c.env.deliver(c.env.textXML(openid, "帮助", msgID), false)
				c.mutate(&d)
				if r := c.env.send(d); r.status != c.want {
					t.Fatalf("status %d (%s), want %d", r.status, r.body, c.want)
				}
				if c.env.memberExists(openid) {
					t.Fatal("a rejected request created a member")
				}
				// Nothing was remembered either: the genuine delivery of the
				// same message is handled as new.
				good := c.env.deliver(c.env.textXML(openid, "帮助", msgID), c.env.merchant.OfficialAccount.MessageMode() == ritual.ModeSafe)
				c.env.open(c.env.send(good), good.safe)
				if !c.env.memberExists(openid) {
					t.Fatal("the genuine delivery after a rejected one was treated as a repeat")
				}
			})
		}
	})
}

func TestReplayWindowOff(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		e := newEnv(t, db, clock, ritual.ModePlaintext, 0)
		d := e.deliver(e.textXML(ritualtest.RandomID("o"), "hi", 1), false)
		d.timestamp -= 86400 * 30
		if r := e.send(d); r.status != 200 {
			t.Fatalf("status %d with the window off, want 200", r.status)
		}
	})
}

func TestRepeatedDeliveryGetsTheSameBody(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		for _, safe := range []bool{false, true} {
			t.Run("aes="+strconv.FormatBool(safe), func(t *testing.T) {
				e := newEnv(t, db, clock, ritual.ModeCompatible, 5*time.Minute)
				openid := ritualtest.RandomID("o")
				sub := e.deliver(e.eventXML(openid, "subscribe", ""), safe)
				first := e.send(sub)
				if !strings.Contains(e.open(first, safe).Content, "欢迎关注") {
					t.Fatalf("first reply %q, want the welcome", first.body)
				}
				clock.Advance(time.Second)
				if r := e.send(e.deliver(e.eventXML(openid, "unsubscribe", ""), safe)); r.body != "success" {
					t.Fatalf("unsubscribe answered %q, want success", r.body)
				}

				again := e.send(sub)
				if again.status != first.status || again.body != first.body {
					t.Fatalf("repeat answered %d %q, want the first body %q byte for byte", again.status, again.body, first.body)
				}
				m, _ := e.db.Members().ByOpenID(t.Context(), e.merchant.ID, openid)
				if m.State != ritual.StateUnfollowed {
					t.Fatalf("state %s after the repeated subscribe, want unfollowed (no second effect)", m.State)
				}
			})
		}
	})
}

func TestConcurrentRepeatsGetOneAnswer(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		e := newEnv(t, db, clock, ritual.ModeSafe, 5*time.Minute)
		openid := ritualtest.RandomID("o")
		e.send(e.deliver(e.eventXML(openid, "subscribe", ""), true))
		clock.Advance(time.Second)
		e.send(e.deliver(e.eventXML(openid, "unsubscribe", ""), true))
		clock.Advance(time.Second)

		// A returning follower's subscribe, delivered many times at once: one
		// handling says "welcome back"; a second would say "welcome".
		d := e.deliver(e.eventXML(openid, "subscribe", "qrscene_poster"), true)
		const n = 12
		bodies := make([]response, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				bodies[i] = e.send(d)
			}()
		}
		wg.Wait()
		for i := range n {
			if bodies[i].status != bodies[0].status || bodies[i].body != bodies[0].body {
				t.Fatalf("delivery %d got %d %q, want what delivery 0 got: %d %q", i, bodies[i].status, bodies[i].body, bodies[0].status, bodies[0].body)
			}
		}
		if got := e.open(bodies[0], true).Content; !strings.Contains(got, "欢迎回来") {
			t.Fatalf("reply %q, want welcome back", got)
		}
	})
}

func TestNoReplyIsSuccessNeverEmpty(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		e := newEnv(t, db, clock, ritual.ModeSafe, 5*time.Minute)
		openid := ritualtest.RandomID("o")
		e.send(e.deliver(e.eventXML(openid, "subscribe", ""), true))
		clock.Advance(time.Second)
		for _, event := range []string{"unsubscribe", "VIEW", "TEMPLATESENDJOBFINISH"} {
			r := e.send(e.deliver(e.eventXML(openid, event, ""), true))
			if r.status != 200 || r.body != "success" {
				t.Fatalf("%s answered %d %q, want 200 success", event, r.status, r.body)
			}
		}
	})
}

func TestUnknownMerchantIsNotFound(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		e := newEnv(t, db, clock, ritual.ModePlaintext, 5*time.Minute)
		req, _ := http.NewRequest(http.MethodGet, e.server.URL+"/wechat/ghost?signature=x&timestamp=1&nonce=1&echostr=e", nil)
		if r := e.do(req); r.status != http.StatusNotFound {
			t.Fatalf("status %d, want 404", r.status)
		}
	})
}

func TestOversizedBodyWithoutContentLength(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		e := newEnv(t, db, clock, ritual.ModePlaintext, 5*time.Minute)
		d := e.deliver(e.textXML(ritualtest.RandomID("o"), strings.Repeat("x", 70<<10), 1), false)
		req := d.request(e.server.URL)
		body := req.Body
		req.Body = io.NopCloser(struct{ io.Reader }{bytes.NewReader(mustRead(body))})
		req.ContentLength = -1 // chunked: the limit must hold while reading
		if r := e.do(req); r.status != http.StatusRequestEntityTooLarge {
			t.Fatalf("status %d, want 413", r.status)
		}
	})
}
