package handlers_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wxclub/wxclub/handlers"
	"github.com/wxclub/wxclub/models"
	"github.com/wxclub/wxclub/models/modelstest"
	"github.com/wxclub/wxclub/ritual"
	"github.com/wxclub/wxclub/ritual/ritualtest"
)

func TestGroupsAPI(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		e := newGroupEnv(t, db, clock, 5*time.Minute)
		group := ritualtest.RandomID("g")
		anna := e.linkedSender(group, "wx-anna")
		groupReplies(t, e.bridge(bridgeBody(nextBridgeMsgID(), group, "wx-bob", "大家好")))

		status, body := e.api("GET", "/api/v1/groups", e.apiKey)
		groups, _ := body["groups"].([]any)
		if status != 200 || len(groups) != 1 {
			t.Fatalf("groups: %d %v", status, body)
		}
		g := groups[0].(map[string]any)
		if g["id"] != group || g["name"] != "茶友一群" || g["members"] != 2.0 || g["linked_members"] != 1.0 {
			t.Fatalf("group = %v", g)
		}
		if _, err := time.Parse(time.RFC3339, g["first_seen"].(string)); err != nil {
			t.Fatalf("first_seen %v is not a time", g["first_seen"])
		}

		status, body = e.api("GET", "/api/v1/groups/"+group+"/members", e.apiKey)
		members, _ := body["members"].([]any)
		if status != 200 || len(members) != 2 {
			t.Fatalf("members: %d %v", status, body)
		}
		a, b := members[0].(map[string]any), members[1].(map[string]any)
		if a["sender_id"] != "wx-anna" || a["nickname"] != "昵称wx-anna" || a["openid"] != anna || a["level"] != "茶苗" || a["linked"] != true {
			t.Fatalf("linked member = %v", a)
		}
		if b["sender_id"] != "wx-bob" || b["openid"] != "" || b["linked"] != false {
			t.Fatalf("unlinked member = %v", b)
		}

		_, otherKey := e.seed(ritualtest.Merchant(ritual.ModePlaintext))
		if status, body := e.api("GET", "/api/v1/groups", otherKey); status != 200 || len(body["groups"].([]any)) != 0 {
			t.Fatalf("another merchant's groups: %d %v, want none", status, body)
		}
		if status, body := e.api("GET", "/api/v1/groups/"+group+"/members", otherKey); status != 404 || errorCode(body) != ritual.ENOTFOUND {
			t.Fatalf("another merchant's group: %d %v, want 404", status, body)
		}
		if status, _ := e.api("GET", "/api/v1/groups", ""); status != 401 {
			t.Fatalf("no key: %d, want 401", status)
		}
	})
}

// fakeTagger is a ritual.Tagger with function fields.
type fakeTagger struct {
	mu       sync.Mutex
	tags     []ritual.Tag
	create   func(name string) (ritual.Tag, error)
	tagUsers func(tagID int, openids []string) error
	batches  [][]string
}

var _ ritual.Tagger = (*fakeTagger)(nil)

func (f *fakeTagger) Tags(context.Context, *ritual.Merchant) ([]ritual.Tag, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]ritual.Tag(nil), f.tags...), nil
}

func (f *fakeTagger) CreateTag(_ context.Context, _ *ritual.Merchant, name string) (ritual.Tag, error) {
	if f.create != nil {
		return f.create(name)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	t := ritual.Tag{ID: 100 + len(f.tags), Name: name}
	f.tags = append(f.tags, t)
	return t, nil
}

func (f *fakeTagger) TagUsers(_ context.Context, _ *ritual.Merchant, tagID int, openids []string) error {
	f.mu.Lock()
	f.batches = append(f.batches, openids)
	f.mu.Unlock()
	if f.tagUsers != nil {
		return f.tagUsers(tagID, openids)
	}
	return nil
}

// withTagger serves e's club again, with tagger.
func (e *env) withTagger(tagger ritual.Tagger) {
	opts := clubOptions(e.club)
	opts.ReplayWindow, opts.Tagger = 5*time.Minute, tagger
	srv := httptest.NewServer(handlers.New(opts))
	e.t.Cleanup(srv.Close)
	e.server = srv
}

func TestTagSyncAPI(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		e := newGroupEnv(t, db, clock, 5*time.Minute)
		group := ritualtest.RandomID("g")
		anna := e.linkedSender(group, "wx-anna")
		bob := e.linkedSender(group, "wx-bob")

		if r := e.postJSON("/api/v1/tags/sync", e.apiKey, `{"group_id":"`+group+`"}`); r.status != http.StatusServiceUnavailable {
			t.Fatalf("without a tagger: %d %s, want 503", r.status, r.body)
		}
		tagger := &fakeTagger{tagUsers: func(tagID int, openids []string) error {
			if len(openids) == 1 && openids[0] == bob {
				return &ritual.SendError{Class: ritual.SendFinal, ErrCode: 45059, Message: "tag list of user is too long"}
			}
			if len(openids) > 1 {
				return &ritual.SendError{Class: ritual.SendFinal, ErrCode: 45059, Message: "tag list of user is too long"}
			}
			return nil
		}}
		e.withTagger(tagger)
		r := e.postJSON("/api/v1/tags/sync", e.apiKey, `{"group_id":"`+group+`"}`)
		body := decode(t, r)
		tag, _ := body["tag"].(map[string]any)
		skipped, _ := body["skipped"].([]any)
		if r.status != 200 || tag["name"] != "茶友一群" || body["created"] != true || body["tagged"] != 1.0 || len(skipped) != 1 {
			t.Fatalf("sync: %d %s", r.status, r.body)
		}
		if s := skipped[0].(map[string]any); s["openid"] != bob || s["errcode"] != 45059.0 {
			t.Fatalf("skipped = %v, want bob with 45059", s)
		}
		if len(tagger.batches) != 3 || len(tagger.batches[0]) != 2 || tagger.batches[1][0] != anna {
			t.Fatalf("batches = %v, want the pair, then one by one", tagger.batches)
		}

		cases := []struct {
			name, body string
			tagger     *fakeTagger
			want       int
		}{
			{"neither", `{}`, tagger, 422},
			{"both", `{"group_id":"` + group + `","level":"ordinary"}`, tagger, 422},
			{"unknown field", `{"group":"x"}`, tagger, 422},
			{"not JSON", `{"group_id":`, tagger, 400},
			{"unknown group", `{"group_id":"nope"}`, tagger, 404},
			{"unknown level", `{"level":"nope"}`, tagger, 404},
			{"100 tags used", `{"level":"茶友"}`, &fakeTagger{create: func(string) (ritual.Tag, error) {
				return ritual.Tag{}, &ritual.SendError{Class: ritual.SendFinal, ErrCode: 45056, Message: "too many tags now"}
			}}, 409},
			{"WeChat down", `{"level":"茶友"}`, &fakeTagger{create: func(string) (ritual.Tag, error) {
				return ritual.Tag{}, &ritual.SendError{Class: ritual.SendRetry, Message: "timed out"}
			}}, 503},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				e.withTagger(c.tagger)
				r := e.postJSON("/api/v1/tags/sync", e.apiKey, c.body)
				if r.status != c.want || !strings.Contains(r.body, `"error"`) {
					t.Fatalf("%d %s, want %d with an error body", r.status, r.body, c.want)
				}
			})
		}
		_, otherKey := e.seed(ritualtest.Merchant(ritual.ModePlaintext))
		if r := e.postJSON("/api/v1/tags/sync", otherKey, `{"group_id":"`+group+`"}`); r.status != 404 {
			t.Fatalf("another merchant's group: %d %s, want 404", r.status, r.body)
		}
	})
}
