package handlers_test

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/wxclub/wxclub/models"
	"github.com/wxclub/wxclub/models/modelstest"
	"github.com/wxclub/wxclub/ritual"
	"github.com/wxclub/wxclub/ritual/ritualtest"
)

// sendBody sends body to path with the API key and contentType ("" sends
// no Content-Type).
func (e *env) sendBody(method, path, contentType string, body []byte) response {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.server.URL+path, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+e.apiKey)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return e.do(req)
}

// orderStored reports whether an order numbered orderNo exists, by sending
// it again as valid JSON: a stored order answers 200 (or 409 for other
// values), a new one 201. It stores the order if it was not there.
func (e *env) orderStored(orderNo string) bool {
	e.t.Helper()
	r := e.postJSON("/api/v1/orders", e.apiKey, `{"order_no":"`+orderNo+`","phone":"13812345678","amount_fen":100}`)
	if r.status != http.StatusCreated && r.status != http.StatusOK && r.status != http.StatusConflict {
		e.t.Fatalf("probe order %s: %d %s", orderNo, r.status, r.body)
	}
	return r.status != http.StatusCreated
}

// TestJSONBodyMustBeUnicode: encoding/json turns a byte that is not UTF-8,
// or an escaped half of a surrogate pair, into U+FFFD, so the shop's
// "Café" would be stored as something it never sent. Such a body is 400
// saying why, and nothing is stored.
func TestJSONBodyMustBeUnicode(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		e := newGroupEnv(t, db, clock, 5*time.Minute)
		for _, tc := range []struct{ name, channel, want string }{
			{"a byte that is not UTF-8", "caf\xe9", "not valid UTF-8"},
			{"a truncated sequence", "\xe8\x8c", "not valid UTF-8"},
			{"a lone high surrogate", `\ud83c`, "surrogate"},
			{"a lone low surrogate", `\udf75 tea`, "surrogate"},
			{"a high surrogate before a non-surrogate", `\ud83c\u0041`, "surrogate"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				orderNo := ritualtest.RandomID("U")
				body := `{"order_no":"` + orderNo + `","phone":"13812345678","amount_fen":100,"channel":"` + tc.channel + `"}`
				r := e.sendBody("POST", "/api/v1/orders", "application/json", []byte(body))
				if r.status != http.StatusBadRequest || errorCode(decode(t, r)) != ritual.EBADREQUEST || !strings.Contains(r.body, tc.want) {
					t.Fatalf("order with %s: %d %s, want 400 bad_request saying %q", tc.name, r.status, r.body, tc.want)
				}
				if e.orderStored(orderNo) {
					t.Fatalf("order %s was stored although it was refused", orderNo)
				}
			})
		}

		// Escapes that are characters, and an escaped backslash before
		// "ud83c", are fine.
		orderNo := ritualtest.RandomID("U")
		ok := `{"order_no":"` + orderNo + `","phone":"13812345678","amount_fen":100,"channel":"茶\ud83c\udf75 \\ud83c \u00e9"}`
		if r := e.sendBody("POST", "/api/v1/orders", "application/json; charset=utf-8", []byte(ok)); r.status != http.StatusCreated {
			t.Fatalf("order with a surrogate pair: %d %s, want 201", r.status, r.body)
		}

		// A settings section: 400, and the settings stay at their version.
		_, etag := e.membershipValue(e.apiKey)
		r := e.sendBody("PUT", "/api/v1/settings/profile", "application/json", []byte("{\"name\":\"Caf\xe9\",\"timezone\":\"Asia/Shanghai\"}"))
		if r.status != http.StatusBadRequest || errorCode(decode(t, r)) != ritual.EBADREQUEST {
			t.Errorf("profile not UTF-8: %d %s, want 400", r.status, r.body)
		}
		if _, now := e.membershipValue(e.apiKey); now != etag {
			t.Errorf("settings moved from %s to %s after a refused change", etag, now)
		}

		// The group bridge, correctly signed: 400 and no group made.
		group := ritualtest.RandomID("g")
		r = e.bridge([]byte(`{"msg_id":"` + nextBridgeMsgID() + `","group_id":"` + group + `","group_name":"` + "\xff" + `","sender":{"id":"s1"},"text":"签到"}`))
		if r.status != http.StatusBadRequest || errorCode(decode(t, r)) != ritual.EBADREQUEST {
			t.Errorf("bridge message not UTF-8: %d %s, want 400", r.status, r.body)
		}
		if e.groupExists(group) {
			t.Fatalf("group %s was stored from a refused message", group)
		}
	})
}

// TestJSONBodyMustSayJSON: a JSON API takes JSON only as
// application/json. The same bytes as text/plain, a form or multipart (what
// a browser form or `curl -d` sends) are 415 in the API's error shape, and
// nothing is stored.
func TestJSONBodyMustSayJSON(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		e := newGroupEnv(t, db, clock, 5*time.Minute)
		var multi bytes.Buffer
		mw := multipart.NewWriter(&multi)
		_ = mw.Close()
		for _, tc := range []struct{ name, contentType string }{
			{"text", "text/plain"}, {"text in UTF-8", "text/plain;charset=UTF-8"},
			{"form", "application/x-www-form-urlencoded"}, {"multipart", mw.FormDataContentType()},
			{"none", ""}, {"JSON in Latin-1", "application/json; charset=iso-8859-1"},
			{"not quite JSON", "application/jsonx"}, {"not a media type", "json"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				orderNo := ritualtest.RandomID("M")
				body := `{"order_no":"` + orderNo + `","phone":"13812345678","amount_fen":100}`
				r := e.sendBody("POST", "/api/v1/orders", tc.contentType, []byte(body))
				if r.status != http.StatusUnsupportedMediaType || errorCode(decode(t, r)) != ritual.EMEDIATYPE {
					t.Fatalf("Content-Type %q: %d %s, want 415 %s", tc.contentType, r.status, r.body, ritual.EMEDIATYPE)
				}
				if e.orderStored(orderNo) {
					t.Fatalf("order %s was stored from a %q body", orderNo, tc.contentType)
				}
			})
		}

		_, etag := e.membershipValue(e.apiKey)
		form := url.Values{"name": {"x"}}.Encode()
		r := e.sendBody("PUT", "/api/v1/settings/profile", "application/x-www-form-urlencoded", []byte(form))
		if r.status != http.StatusUnsupportedMediaType || errorCode(decode(t, r)) != ritual.EMEDIATYPE {
			t.Errorf("settings as a form: %d %s, want 415", r.status, r.body)
		}
		if _, now := e.membershipValue(e.apiKey); now != etag {
			t.Errorf("settings moved from %s to %s after a refused change", etag, now)
		}

		// The bridge, correctly signed but sent as text/plain.
		group := ritualtest.RandomID("g")
		req := e.bridgeRequest(e.merchant.ID, e.merchant.Groups.Secret, clock.Now().Unix(), bridgeBody(nextBridgeMsgID(), group, "s1", "签到"))
		req.Header.Set("Content-Type", "text/plain")
		if r := e.do(req); r.status != http.StatusUnsupportedMediaType || errorCode(decode(t, r)) != ritual.EMEDIATYPE {
			t.Errorf("bridge as text/plain: %d %s, want 415", r.status, r.body)
		}
		if e.groupExists(group) {
			t.Fatalf("group %s was stored from a text/plain message", group)
		}
	})
}

// TestJSONBodyIsOneValue: a decoder stops after the first JSON value, so
// "00" read as 0 and a stray "}" after an order went unnoticed (found by
// FuzzSettingsSection). A body is one JSON value or it is 400, and nothing
// is stored.
func TestJSONBodyIsOneValue(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		e := newEnv(t, db, clock, ritual.ModePlaintext, 5*time.Minute)
		for _, trailer := range []string{"}", "]", " 1", ` {"amount_fen":1}`} {
			orderNo := ritualtest.RandomID("V")
			body := `{"order_no":"` + orderNo + `","phone":"13812345678","amount_fen":100}` + trailer
			r := e.sendBody("POST", "/api/v1/orders", "application/json", []byte(body))
			if r.status != http.StatusBadRequest || errorCode(decode(t, r)) != ritual.EBADREQUEST {
				t.Errorf("order followed by %q: %d %s, want 400", trailer, r.status, r.body)
			}
			if e.orderStored(orderNo) {
				t.Errorf("order %s followed by %q was stored", orderNo, trailer)
			}
		}
		for _, tc := range []struct{ section, body string }{
			{"template_quota", "00"}, {"referral", `{"points":5,"monthly_cap":1}}`}, {"signin", `{"points":1} {"points":2}`},
		} {
			_, etag := e.membershipValue(e.apiKey)
			r := e.sendBody("PUT", "/api/v1/settings/"+tc.section, "application/json", []byte(tc.body))
			if r.status != http.StatusBadRequest || errorCode(decode(t, r)) != ritual.EBADREQUEST {
				t.Errorf("%s %q: %d %s, want 400", tc.section, tc.body, r.status, r.body)
			}
			if _, now := e.membershipValue(e.apiKey); now != etag {
				t.Errorf("%s %q moved the settings from %s to %s", tc.section, tc.body, etag, now)
			}
		}
	})
}
