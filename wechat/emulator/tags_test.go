package emulator_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/wxclub/wxclub/wechat/emulator"
)

func tagName(name string) map[string]any { return map[string]any{"tag": map[string]any{"name": name}} }

func tagging(tagID int64, openids ...string) map[string]any {
	return map[string]any{"openid_list": openids, "tagid": tagID}
}

func TestTagCreateRules(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	a := h.register(uniqueAccount(emulator.ModePlaintext))
	tok := h.token(a)
	tests := []struct {
		name string
		tag  string
		want int
	}{
		{"ok", "VIP", 0},
		{"30 bytes", strings.Repeat("a", 30), 0},
		{"31 bytes", strings.Repeat("a", 31), 45158},
		{"10 Chinese characters are 30 bytes", strings.Repeat("金", 10), 0},
		{"11 Chinese characters are 33 bytes", strings.Repeat("银", 11), 45158},
		{"duplicate", "VIP", 45157},
		{"the system tag's name", "星标组", 45157},
		{"empty", "", 45157},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := h.post("/cgi-bin/tags/create", tok, tagName(tc.tag))
			if got := m.code(); got != tc.want {
				t.Fatalf("errcode = %d, want %d (%v)", got, tc.want, m)
			}
			if tc.want == 0 {
				tag, _ := m["tag"].(map[string]any)
				if id, _ := tag["id"].(float64); id < 100 || tag["name"] != tc.tag {
					t.Errorf("tag = %v, want id >= 100 and name %q", tag, tc.tag)
				}
			}
		})
	}
}

func TestTagLimitOf100(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	a := h.register(uniqueAccount(emulator.ModePlaintext))
	tok := h.token(a)
	for i := range 100 {
		if m := h.post("/cgi-bin/tags/create", tok, tagName(fmt.Sprintf("t%d", i))); m.code() != 0 {
			t.Fatalf("tag %d: %v", i+1, m)
		}
	}
	if got, want := h.post("/cgi-bin/tags/create", tok, tagName("one too many")).code(), 45056; got != want {
		t.Fatalf("101st tag: errcode %d, want %d", got, want)
	}
	if got := h.post("/cgi-bin/tags/delete", tok, map[string]any{"tag": map[string]any{"id": 100}}).code(); got != 0 {
		t.Fatalf("delete: errcode %d", got)
	}
	if got := h.post("/cgi-bin/tags/create", tok, tagName("room again")).code(); got != 0 {
		t.Errorf("create after a delete: errcode %d, want 0", got)
	}
}

func TestTagMembers(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	a := h.register(uniqueAccount(emulator.ModePlaintext))
	tok := h.token(a)
	h.follow(a, "o1", "o2")
	var many []string
	for i := range 51 {
		many = append(many, fmt.Sprintf("o%d", i))
	}
	vip := h.post("/cgi-bin/tags/create", tok, tagName("VIP"))["tag"].(map[string]any)["id"].(float64)
	tests := []struct {
		name string
		path string
		body map[string]any
		want int
	}{
		{"tag two followers", "/cgi-bin/tags/members/batchtagging", tagging(int64(vip), "o1", "o2"), 0},
		{"tag again is fine", "/cgi-bin/tags/members/batchtagging", tagging(int64(vip), "o1"), 0},
		{"51 openids", "/cgi-bin/tags/members/batchtagging", tagging(int64(vip), many...), 40032},
		{"no openids", "/cgi-bin/tags/members/batchtagging", tagging(int64(vip)), 40032},
		{"unknown tag", "/cgi-bin/tags/members/batchtagging", tagging(999, "o1"), 45159},
		{"a stranger", "/cgi-bin/tags/members/batchtagging", tagging(int64(vip), "o1", "stranger"), 40003},
		{"untag o2", "/cgi-bin/tags/members/batchuntagging", tagging(int64(vip), "o2"), 0},
		{"rename a system tag", "/cgi-bin/tags/update", map[string]any{"tag": map[string]any{"id": 2, "name": "x"}}, 45058},
		{"delete a system tag", "/cgi-bin/tags/delete", map[string]any{"tag": map[string]any{"id": 1}}, 45058},
		{"rename an unknown tag", "/cgi-bin/tags/update", map[string]any{"tag": map[string]any{"id": 555, "name": "x"}}, 45159},
		{"rename VIP", "/cgi-bin/tags/update", map[string]any{"tag": map[string]any{"id": vip, "name": "Gold"}}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := h.post(tc.path, tok, tc.body).code(); got != tc.want {
				t.Fatalf("errcode = %d, want %d", got, tc.want)
			}
		})
	}
	ids := h.post("/cgi-bin/tags/getidlist", tok, map[string]any{"openid": "o1"})["tagid_list"].([]any)
	if len(ids) != 1 || ids[0].(float64) != vip {
		t.Errorf("o1's tags = %v, want [%v]", ids, vip)
	}
	if ids := h.post("/cgi-bin/tags/getidlist", tok, map[string]any{"openid": "o2"})["tagid_list"].([]any); len(ids) != 0 {
		t.Errorf("o2's tags after untagging = %v, want none", ids)
	}
	page := h.post("/cgi-bin/user/tag/get", tok, map[string]any{"tagid": vip, "next_openid": ""})
	if got := fmt.Sprint(page["data"]); page.num("count") != 1 || got != "map[openid:[o1]]" {
		t.Errorf("user/tag/get = %v, want o1 only", page)
	}
	_, info := h.do("GET", "/emu/cgi-bin/user/info?access_token="+tok+"&openid=o1", nil)
	if got := fmt.Sprint(info["tagid_list"]); got != fmt.Sprintf("[%v]", vip) {
		t.Errorf("user/info tagid_list = %s, want [%v]", got, vip)
	}
	_, tags := h.do("GET", "/emu/cgi-bin/tags/get?access_token="+tok, nil)
	if got := fmt.Sprint(tags["tags"]); !strings.Contains(got, "name:Gold") || !strings.Contains(got, "count:1") {
		t.Errorf("tags/get = %s, want Gold with count 1", got)
	}
}

func TestTagLimitOf20PerUser(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	a := h.register(uniqueAccount(emulator.ModePlaintext))
	tok := h.token(a)
	h.follow(a, "busy", "calm")
	var last int64
	for i := range 21 {
		last = int64(h.post("/cgi-bin/tags/create", tok, tagName(fmt.Sprintf("t%d", i)))["tag"].(map[string]any)["id"].(float64))
		if i == 20 {
			break
		}
		if m := h.post("/cgi-bin/tags/members/batchtagging", tok, tagging(last, "busy")); m.code() != 0 {
			t.Fatalf("tag %d: %v", i+1, m)
		}
	}
	if got, want := h.post("/cgi-bin/tags/members/batchtagging", tok, tagging(last, "calm", "busy")).code(), 45059; got != want {
		t.Fatalf("21st tag on a user: errcode %d, want %d", got, want)
	}
	ids := h.post("/cgi-bin/tags/getidlist", tok, map[string]any{"openid": "calm"})["tagid_list"].([]any)
	if len(ids) != 0 {
		t.Errorf("a refused batch still tagged calm: %v", ids)
	}
}

func TestSilenceperTags(t *testing.T) {
	a := uniqueAccount(emulator.ModePlaintext)
	oa := silenceper(t, a, false)
	shared.emu.SetFollowing(a.AppID, "oTag", true)
	u := oa.GetUser()
	tag, err := u.CreateTag("VIP")
	if err != nil {
		t.Fatal(err)
	}
	if err := u.BatchTag([]string{"oTag"}, tag.ID); err != nil {
		t.Fatal(err)
	}
	ids, err := u.UserTidList("oTag")
	if err != nil || len(ids) != 1 || ids[0] != tag.ID {
		t.Errorf("UserTidList = %v, %v; want [%d]", ids, err, tag.ID)
	}
	info, err := u.GetUserInfo("oTag")
	if err != nil || info.Subscribe != 1 || len(info.TagIDList) != 1 {
		t.Errorf("GetUserInfo = %+v, %v", info, err)
	}
	if _, err := u.GetUserInfo("nobody"); err == nil || !strings.Contains(err.Error(), "40003") {
		t.Errorf("GetUserInfo(unknown) = %v, want errcode 40003", err)
	}
}
