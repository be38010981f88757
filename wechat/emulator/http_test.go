package emulator_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/wxclub/wxclub/wechat/emulator"
)

func TestAccountsRoute(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	a := uniqueAccount(emulator.ModeSafe)
	a.WebhookURL = "http://hook/wechat/x"
	tests := []struct {
		name string
		body map[string]any
		want int
	}{
		{"ok", map[string]any{"name": a.Name, "app_id": a.AppID, "app_secret": a.AppSecret, "token": a.Token, "encoding_aes_key": a.EncodingAESKey, "webhook_url": a.WebhookURL}, 201},
		{"no secret", map[string]any{"app_id": "wx1", "token": "t"}, 400},
		{"short aes key", map[string]any{"app_id": "wx1", "app_secret": "s", "token": "t", "encoding_aes_key": "abc"}, 400},
		{"unknown mode", map[string]any{"app_id": "wx1", "app_secret": "s", "token": "t", "mode": "loud"}, 400},
		{"safe without a key", map[string]any{"app_id": "wx1", "app_secret": "s", "token": "t", "mode": "safe"}, 400},
		{"name taken", map[string]any{"name": a.Name, "app_id": "wx2", "app_secret": "s", "token": "t"}, 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, m := h.do("POST", "/emu/accounts", tc.body)
			if status != tc.want {
				t.Fatalf("status %d, want %d (%v)", status, tc.want, m)
			}
		})
	}
	resp, err := http.Get(h.url + "/emu/accounts")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	listing, _ := io.ReadAll(resp.Body)
	for _, secret := range []string{a.AppSecret, a.EncodingAESKey, `"token"`} {
		if strings.Contains(string(listing), secret) {
			t.Errorf("GET /emu/accounts shows %q: %s", secret, listing)
		}
	}
	for _, want := range []string{a.AppID, `"mode":"safe"`, `"original_id":"gh_`} {
		if !strings.Contains(string(listing), want) {
			t.Errorf("GET /emu/accounts lacks %s: %s", want, listing)
		}
	}
}

func TestReRegisterKeepsState(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	a := h.register(uniqueAccount(emulator.ModePlaintext))
	h.follow(a, "o1")
	tok := h.token(a)
	a.WebhookURL = "http://elsewhere/wechat"
	a.Name = "renamed"
	h.register(a)
	if got := h.emu.Followers("renamed"); len(got) != 1 || got[0] != "o1" {
		t.Errorf("followers after re-registering = %v, want [o1]", got)
	}
	if got := h.tokenCode(tok); got != 0 {
		t.Errorf("token after re-registering: errcode %d, want 0", got)
	}
}

func TestAPIRouting(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	a := h.register(uniqueAccount(emulator.ModePlaintext))
	tok := h.token(a)
	tests := []struct {
		name, method, path string
		wantStatus         int
		wantCode           int
	}{
		{"unknown API", "GET", "/emu/cgi-bin/menu/create?access_token=" + tok, 404, -1},
		{"unknown card API", "POST", "/emu/card/code/consume?access_token=" + tok, 404, -1},
		{"GET on a POST API", "GET", "/emu/cgi-bin/message/template/send?access_token=" + tok, 200, 43002},
		{"POST on a GET API", "POST", "/emu/cgi-bin/user/info?access_token=" + tok, 200, 43001},
		{"no body", "POST", "/emu/cgi-bin/tags/create?access_token=" + tok, 200, 44002},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, m := h.do(tc.method, tc.path, nil)
			if status != tc.wantStatus || m.code() != tc.wantCode {
				t.Errorf("HTTP %d errcode %d, want HTTP %d errcode %d", status, m.code(), tc.wantStatus, tc.wantCode)
			}
		})
	}
	req, _ := http.NewRequest("POST", h.url+"/emu/cgi-bin/tags/create?access_token="+tok, strings.NewReader("{not json"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `"errcode":47001`) {
		t.Errorf("bad JSON answered %s, want errcode 47001", body)
	}
}

func TestInboxRoute(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	resp, err := http.Get(h.url + "/emu/inbox?openid=nobody")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if got, want := strings.TrimSpace(string(body)), "[]"; got != want {
		t.Errorf("empty inbox = %s, want %s", got, want)
	}
}

func TestUserInfoAndList(t *testing.T) {
	ctx := context.Background()
	h, a, _ := shopperSetup(t)
	tok := h.token(a)
	if _, err := h.emu.Follow(ctx, a.Name, "o1", ""); err != nil {
		t.Fatal(err)
	}
	h.follow(a, "o2", "o3")
	if _, err := h.emu.Unfollow(ctx, a.Name, "o3"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		openid  string
		want    int
		wantSub int64
	}{
		{"o1", 0, 1}, {"o3", 0, 0}, {"nobody", 40003, 0},
	}
	for _, tc := range tests {
		_, m := h.do("GET", "/emu/cgi-bin/user/info?access_token="+tok+"&openid="+tc.openid+"&lang=zh_CN", nil)
		if m.code() != tc.want || m.num("subscribe") != tc.wantSub {
			t.Errorf("%s: %v, want errcode %d subscribe %d", tc.openid, m, tc.want, tc.wantSub)
		}
		if tc.openid == "o3" && len(m) != 2 {
			t.Errorf("a non-follower's info says more than subscribe and openid: %v", m)
		}
		if tc.openid == "o1" && (m.num("subscribe_time") != epoch.Unix() || m.str("subscribe_scene") != "ADD_SCENE_OTHERS") {
			t.Errorf("o1: %v", m)
		}
	}
	_, list := h.do("GET", "/emu/cgi-bin/user/get?access_token="+tok, nil)
	if list.num("total") != 2 || list.str("next_openid") != "o2" {
		t.Errorf("user/get = %v, want o1 and o2", list)
	}
}

// The emulator is used by load runs: concurrent shoppers and API calls
// must be safe (run with -race).
func TestConcurrentUse(t *testing.T) {
	h, a, _ := shopperSetup(t)
	tok := h.token(a)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := "o" + string(rune('a'+i))
			if _, err := h.emu.Follow(context.Background(), a.Name, id, ""); err != nil {
				t.Error(err)
				return
			}
			h.emu.Say(context.Background(), a.Name, id, "hi")
			h.post("/cgi-bin/message/template/send", tok, templateBody(id, "T", map[string]string{"k": "v"}))
			h.emu.Inbox(id)
		}()
	}
	wg.Wait()
	if got, want := len(h.emu.Followers(a.AppID)), 8; got != want {
		t.Errorf("%d followers, want %d", got, want)
	}
}

func TestStatsCountCallsPerPath(t *testing.T) {
	emu := emulator.New(emulator.Options{})
	srv := httptest.NewServer(emu.Handler())
	defer srv.Close()
	for range 3 {
		resp, err := http.Get(srv.URL + "/emu/cgi-bin/token?grant_type=client_credential&appid=nobody&secret=x")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	resp, err := http.Get(srv.URL + "/emu/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var stats emulator.Stats
	if err := json.NewDecoder(resp.Body).Decode(&stats); err != nil {
		t.Fatal(err)
	}
	if got := stats.Calls["/cgi-bin/token"]; got != 3 {
		t.Fatalf("token calls = %d, want 3 (refused calls count too)", got)
	}
}
