package handlers_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wxclub/wxclub/models"
	"github.com/wxclub/wxclub/models/modelstest"
	"github.com/wxclub/wxclub/ritual"
	"github.com/wxclub/wxclub/ritual/ritualtest"
)

// settingsCall sends a settings request with the key and, when ifMatch is
// not "", an If-Match header.
func (e *env) settingsCall(method, path, key, body, ifMatch string) response {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.server.URL+"/api/v1/settings"+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	if ifMatch != "" {
		req.Header.Set("If-Match", ifMatch)
	}
	return e.do(req)
}

// membershipValue reads the membership section and its ETag.
func (e *env) membershipValue(key string) (ritual.Membership, string) {
	e.t.Helper()
	r := e.settingsCall("GET", "/membership", key, "", "")
	var got struct {
		Value ritual.Membership `json:"value"`
	}
	if r.status != 200 || json.Unmarshal([]byte(r.body), &got) != nil || r.header.Get("ETag") == "" {
		e.t.Fatalf("GET membership: %d %s (ETag %q)", r.status, r.body, r.header.Get("ETag"))
	}
	return got.Value, r.header.Get("ETag")
}

func TestSettingsAPI(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		e := newEnv(t, db, clock, ritual.ModeSafe, 5*time.Minute)
		ms, etag := e.membershipValue(e.apiKey)

		// A threshold below the level beneath: 422 naming the field, nothing changed.
		bad := ms
		bad.Levels = append([]ritual.Level(nil), ms.Levels...)
		bad.Levels[1].MinAmountFen = 400000
		body, _ := json.Marshal(bad)
		r := e.settingsCall("PUT", "/membership", e.apiKey, string(body), etag)
		if got := decode(t, r); r.status != 422 || got["error"].(map[string]any)["field"] != "membership.levels[2].min_amount_fen" {
			t.Fatalf("bad threshold: %d %s, want 422 naming membership.levels[2].min_amount_fen", r.status, r.body)
		}
		if _, now := e.membershipValue(e.apiKey); now != etag {
			t.Fatalf("ETag moved from %s to %s after a rejected change", etag, now)
		}

		// A good change: 200, a new ETag; the old one is then stale (409).
		good := ms
		good.Levels = append([]ritual.Level(nil), ms.Levels...)
		good.Levels[1].Nickname = "茶客"
		body, _ = json.Marshal(good)
		r = e.settingsCall("PUT", "/membership", e.apiKey, string(body), etag)
		if r.status != 200 || r.header.Get("ETag") == etag {
			t.Fatalf("rename: %d %s (ETag %q), want 200 and a new ETag", r.status, r.body, r.header.Get("ETag"))
		}
		if again := e.settingsCall("PUT", "/membership", e.apiKey, string(body), etag); again.status != 409 {
			t.Fatalf("stale If-Match: %d %s, want 409", again.status, again.body)
		}
		if got, _ := e.membershipValue(e.apiKey); got.Levels[1].Nickname != "茶客" {
			t.Fatalf("nickname after the rename: %q", got.Levels[1].Nickname)
		}

		// The whole settings: secrets masked; the change listed with who and when.
		r = e.settingsCall("GET", "", e.apiKey, "", "")
		if r.status != 200 || strings.Contains(r.body, e.merchant.OfficialAccount.AppSecret) || !strings.Contains(r.body, "茶客") {
			t.Fatalf("GET settings: %d %s; want 200, the new nickname and no secret", r.status, r.body)
		}
		r = e.settingsCall("GET", "/versions?limit=10", e.apiKey, "", "")
		var versions struct {
			Versions []ritual.SettingsVersion `json:"versions"`
		}
		if json.Unmarshal([]byte(r.body), &versions) != nil || len(versions.Versions) != 1 ||
			versions.Versions[0].ChangedBy != "api" || !versions.Versions[0].ChangedAt.Equal(clock.Now()) {
			t.Fatalf("versions: %d %s, want the one change by api now", r.status, r.body)
		}

		for _, tc := range []struct {
			method, path, body string
			status             int
		}{
			{"GET", "/loyalty", "", 404},
			{"PUT", "/signin", `{"points": 5`, 400},
			{"PUT", "/signin", `{"points": "five"}`, 422},
			{"GET", "/versions?limit=0", "", 422},
		} {
			if r := e.settingsCall(tc.method, tc.path, e.apiKey, tc.body, ""); r.status != tc.status {
				t.Errorf("%s %s %s: %d %s, want %d", tc.method, tc.path, tc.body, r.status, r.body, tc.status)
			}
		}
		if r := e.settingsCall("GET", "", "wrong-key-123", "", ""); r.status != 401 {
			t.Errorf("wrong key: %d, want 401", r.status)
		}
	})
}

func TestSettingsAPIRefusesNumbersPastTheirBounds(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		e := newEnv(t, db, clock, ritual.ModeSafe, 5*time.Minute)
		ms, etag := e.membershipValue(e.apiKey)
		ms.PointsExpireDays = 1_000_000_000_000
		huge, _ := json.Marshal(ms)
		for _, tc := range []struct{ path, body, field string }{
			{"/signin", `{"points": 9223372036854775807, "makeup_cost": 0}`, "signin.points"},
			{"/membership", string(huge), "membership.points_expire_days"},
		} {
			r := e.settingsCall("PUT", tc.path, e.apiKey, tc.body, "")
			if got := decode(t, r); r.status != 422 || got["error"].(map[string]any)["field"] != tc.field {
				t.Errorf("PUT %s %.60s: %d %s, want 422 naming %s", tc.path, tc.body, r.status, r.body, tc.field)
			}
		}
		if _, now := e.membershipValue(e.apiKey); now != etag {
			t.Errorf("ETag moved from %s to %s after refused changes", etag, now)
		}
	})
}

func TestSettingsAPIKeepsMerchantsApart(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		e := newEnv(t, db, clock, ritual.ModeSafe, 5*time.Minute)
		other, otherKey := e.seed(ritualtest.Merchant(ritual.ModeSafe))

		ms, _ := e.membershipValue(e.apiKey)
		ms.Levels[2].Nickname = "茶王"
		body, _ := json.Marshal(ms)
		if r := e.settingsCall("PUT", "/membership", e.apiKey, string(body), ""); r.status != 200 {
			t.Fatalf("rename: %d %s", r.status, r.body)
		}
		theirs, _ := e.membershipValue(otherKey)
		if theirs.Levels[2].Nickname != "茶仙" {
			t.Errorf("the other merchant's vip nickname is %q, want 茶仙", theirs.Levels[2].Nickname)
		}
		r := e.settingsCall("GET", "", otherKey, "", "")
		if !strings.Contains(r.body, `"id":"`+other.ID+`"`) || strings.Contains(r.body, e.merchant.ID) {
			t.Errorf("the other merchant's settings: %s; want theirs only", r.body)
		}
		if r := e.settingsCall("GET", "/versions", otherKey, "", ""); !strings.Contains(r.body, `"versions":[]`) {
			t.Errorf("the other merchant's versions: %s, want none", r.body)
		}
	})
}

// A mistake deep in a section is named by its whole path, so a merchant
// with three levels knows which one to fix.
func TestSettingsAPINamesTheNestedField(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		e := newEnv(t, db, clock, ritual.ModeSafe, 5*time.Minute)
		ms, etag := e.membershipValue(e.apiKey)
		membership := func(edit func(levels []any)) string {
			raw, _ := json.Marshal(ms)
			var doc map[string]any
			_ = json.Unmarshal(raw, &doc)
			edit(doc["levels"].([]any))
			body, _ := json.Marshal(doc)
			return string(body)
		}
		level := func(levels []any, i int) map[string]any { return levels[i].(map[string]any) }
		for _, tc := range []struct{ path, body, field string }{
			{"/membership", membership(func(l []any) { level(l, 1)["foo"] = 1 }), "membership.levels[1].foo"},
			{"/membership", membership(func(l []any) { level(l, 2)["min_orders"] = "five" }), "membership.levels[2].min_orders"},
			{"/membership", membership(func(l []any) {
				level(l, 1)["ceremony"] = map[string]any{"steps": []string{"confirm"}, "deadline_days": 7, "on_deadline": "grant",
					"reward": map[string]any{"points": 10, "bonus": 5}}
			}), "membership.levels[1].ceremony.reward.bonus"},
			{"/membership", membership(func(l []any) { level(l, 0)["right"].(map[string]any)["value"] = "95" }), "membership.levels[0].right.value"},
			{"/rewards", `[{"key":"a","name":"A","stock":1},{"key":"b","name":"B","stock":"many"}]`, "rewards[1].stock"},
			{"/templates", `{"points_changed":{"id":"T","colour":"red"}}`, "templates.points_changed.colour"},
			{"/membership", `{"period_days":365,"foo":1}`, "membership.foo"},
		} {
			r := e.settingsCall("PUT", tc.path, e.apiKey, tc.body, "")
			if got := decode(t, r); r.status != 422 || got["error"].(map[string]any)["field"] != tc.field {
				t.Errorf("PUT %s %.80s: %d %s, want 422 naming %s", tc.path, tc.body, r.status, r.body, tc.field)
			}
		}
		if _, now := e.membershipValue(e.apiKey); now != etag {
			t.Errorf("ETag moved from %s to %s after refused changes", etag, now)
		}
	})
}

// A merchant can keep members' names out of group announcements; the
// switch reads back, and anything but a boolean is refused by name.
func TestSettingsAPIAnonymousAnnouncements(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		e := newEnv(t, db, clock, ritual.ModeSafe, 5*time.Minute)
		groups := func() map[string]any {
			r := e.settingsCall("GET", "/groups", e.apiKey, "", "")
			var got struct {
				Value map[string]any `json:"value"`
			}
			if r.status != 200 || json.Unmarshal([]byte(r.body), &got) != nil {
				t.Fatalf("GET groups: %d %s", r.status, r.body)
			}
			return got.Value
		}
		value := groups()
		if value["anonymous_announcements"] != false {
			t.Fatalf("groups = %v, want anonymous_announcements false by default", value)
		}
		value["anonymous_announcements"] = "yes"
		body, _ := json.Marshal(value)
		r := e.settingsCall("PUT", "/groups", e.apiKey, string(body), "")
		if got := decode(t, r); r.status != 422 || got["error"].(map[string]any)["field"] != "groups.anonymous_announcements" {
			t.Fatalf("PUT a string: %d %s, want 422 naming groups.anonymous_announcements", r.status, r.body)
		}
		value["anonymous_announcements"] = true
		body, _ = json.Marshal(value)
		if r := e.settingsCall("PUT", "/groups", e.apiKey, string(body), ""); r.status != 200 {
			t.Fatalf("PUT true: %d %s", r.status, r.body)
		}
		if got := groups(); got["anonymous_announcements"] != true {
			t.Fatalf("groups after the change = %v", got)
		}
	})
}
