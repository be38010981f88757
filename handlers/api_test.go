package handlers_test

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/wxclub/wxclub/models"
	"github.com/wxclub/wxclub/models/modelstest"
	"github.com/wxclub/wxclub/ritual"
	"github.com/wxclub/wxclub/ritual/ritualtest"
)

func mustRead(r io.Reader) []byte {
	b, _ := io.ReadAll(r)
	return b
}

func (e *env) api(method, path, key string) (int, map[string]any) {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.server.URL+path, nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	r := e.do(req)
	var body map[string]any
	if err := json.Unmarshal([]byte(r.body), &body); err != nil {
		e.t.Fatalf("%s %s: body is not JSON: %q", method, path, r.body)
	}
	return r.status, body
}

func errorCode(body map[string]any) string {
	e, _ := body["error"].(map[string]any)
	code, _ := e["code"].(string)
	if msg, _ := e["message"].(string); msg == "" {
		return "(no message)"
	}
	return code
}

func TestGetMember(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		e := newEnv(t, db, clock, ritual.ModePlaintext, 5*time.Minute)
		openid := ritualtest.RandomID("o")
		e.send(e.deliver(e.eventXML(openid, "subscribe", "qrscene_shelf"), false))

		status, body := e.api("GET", "/api/v1/members/"+openid, e.apiKey)
		if status != 200 {
			t.Fatalf("status %d %v, want 200", status, body)
		}
		if body["openid"] != openid || body["state"] != "following" || body["subscribe_scene"] != "shelf" {
			t.Fatalf("member = %v", body)
		}
		if _, err := time.Parse(time.RFC3339, body["followed_at"].(string)); err != nil {
			t.Fatalf("followed_at %v is not a time", body["followed_at"])
		}

		t.Run("missing key", func(t *testing.T) {
			status, body := e.api("GET", "/api/v1/members/"+openid, "")
			if status != 401 || errorCode(body) != ritual.EUNAUTHORIZED {
				t.Fatalf("%d %v, want 401 unauthorized with a message", status, body)
			}
		})
		t.Run("wrong key", func(t *testing.T) {
			status, body := e.api("GET", "/api/v1/members/"+openid, "not-a-key-at-all")
			if status != 401 || errorCode(body) != ritual.EUNAUTHORIZED {
				t.Fatalf("%d %v, want 401", status, body)
			}
		})
		t.Run("another merchant's member", func(t *testing.T) {
			_, otherKey := e.seed(ritualtest.Merchant(ritual.ModePlaintext))
			status, body := e.api("GET", "/api/v1/members/"+openid, otherKey)
			if status != 404 || errorCode(body) != ritual.ENOTFOUND {
				t.Fatalf("%d %v, want 404 not_found", status, body)
			}
		})
		t.Run("unknown member", func(t *testing.T) {
			status, body := e.api("GET", "/api/v1/members/nobody", e.apiKey)
			if status != 404 || errorCode(body) != ritual.ENOTFOUND {
				t.Fatalf("%d %v, want 404", status, body)
			}
		})
	})
}

func TestHealth(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		e := newEnv(t, db, clock, ritual.ModePlaintext, 5*time.Minute)
		if status, _ := e.api("GET", "/healthz", ""); status != 200 {
			t.Fatalf("healthz %d", status)
		}
		if status, _ := e.api("GET", "/readyz", ""); status != 200 {
			t.Fatalf("readyz %d while the database answers", status)
		}
		db.Close()
		if status, body := e.api("GET", "/readyz", ""); status != 503 {
			t.Fatalf("readyz %d %v with the database closed, want 503", status, body)
		}
		if status, _ := e.api("GET", "/healthz", ""); status != 200 {
			t.Fatalf("healthz %d with the database closed, want 200 (the process lives)", status)
		}
	})
}
