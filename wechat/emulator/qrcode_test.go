package emulator_test

import (
	"bytes"
	"context"
	"errors"
	"image/png"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/silenceper/wechat/v2/officialaccount/basic"

	"github.com/wxclub/wxclub/wechat/emulator"
)

func qrBody(action string, expire int64, id int64, str string) map[string]any {
	scene := map[string]any{}
	if id != 0 {
		scene["scene_id"] = id
	}
	if str != "" {
		scene["scene_str"] = str
	}
	body := map[string]any{"action_name": action, "action_info": map[string]any{"scene": scene}}
	if expire != 0 {
		body["expire_seconds"] = expire
	}
	return body
}

func TestQRCreateRules(t *testing.T) {
	tests := []struct {
		name       string
		body       map[string]any
		want       int
		wantExpire int64 // expire_seconds in the answer; 0 for none
	}{
		{"temporary default 60 s", qrBody("QR_SCENE", 0, 123, ""), 0, 60},
		{"temporary string", qrBody("QR_STR_SCENE", 604800, 0, "shop-1"), 0, 604800},
		{"temporary capped at 30 days", qrBody("QR_SCENE", 3000000, 7, ""), 0, 2592000},
		{"temporary 32-bit max", qrBody("QR_SCENE", 0, 4294967295, ""), 0, 60},
		{"temporary scene_id 0", qrBody("QR_SCENE", 0, 0, ""), 40053, 0},
		{"temporary scene_id over 32 bits", qrBody("QR_SCENE", 0, 4294967296, ""), 40053, 0},
		{"permanent 100000", qrBody("QR_LIMIT_SCENE", 0, 100000, ""), 0, 0},
		{"permanent 100001", qrBody("QR_LIMIT_SCENE", 0, 100001, ""), 40053, 0},
		{"permanent string 64", qrBody("QR_LIMIT_STR_SCENE", 0, 0, strings.Repeat("s", 64)), 0, 0},
		{"permanent string 65", qrBody("QR_LIMIT_STR_SCENE", 0, 0, strings.Repeat("s", 65)), 40053, 0},
		{"empty scene_str", qrBody("QR_STR_SCENE", 0, 0, ""), 40053, 0},
		{"unknown action", qrBody("QR_FOREVER", 0, 1, ""), 40035, 0},
	}
	h := newHarness(t, emulator.Options{})
	a := h.register(uniqueAccount(emulator.ModePlaintext))
	tok := h.token(a)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := h.post("/cgi-bin/qrcode/create", tok, tc.body)
			if got := m.code(); got != tc.want {
				t.Fatalf("errcode = %d, want %d (%v)", got, tc.want, m)
			}
			if tc.want != 0 {
				return
			}
			if m.str("ticket") == "" || !strings.HasPrefix(m.str("url"), "http://weixin.qq.com/q/") {
				t.Errorf("answer %v lacks a ticket or url", m)
			}
			if _, hasErrmsg := m["errmsg"]; hasErrmsg {
				t.Errorf("a successful answer carries errmsg, which silenceper reads as failure: %v", m)
			}
			if got := m.num("expire_seconds"); got != tc.wantExpire {
				t.Errorf("expire_seconds = %d, want %d", got, tc.wantExpire)
			}
		})
	}
}

func TestQRPermanentCodes(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	a := h.register(uniqueAccount(emulator.ModePlaintext))
	tok := h.token(a)
	first := h.post("/cgi-bin/qrcode/create", tok, qrBody("QR_LIMIT_STR_SCENE", 0, 0, "door"))
	again := h.post("/cgi-bin/qrcode/create", tok, qrBody("QR_LIMIT_STR_SCENE", 0, 0, "door"))
	if first.str("ticket") == "" || again.str("ticket") != first.str("ticket") {
		t.Errorf("the same permanent scene gave tickets %q and %q, want one", first.str("ticket"), again.str("ticket"))
	}
	h.emu.SetPermanentQRCount(a.AppID, 100000)
	if got, want := h.post("/cgi-bin/qrcode/create", tok, qrBody("QR_LIMIT_SCENE", 0, 5, "")).code(), 45029; got != want {
		t.Errorf("permanent code past 100000: errcode %d, want %d", got, want)
	}
	if got := h.post("/cgi-bin/qrcode/create", tok, qrBody("QR_LIMIT_STR_SCENE", 0, 0, "door")).code(); got != 0 {
		t.Errorf("an existing permanent code past the cap: errcode %d, want 0", got)
	}
	if got := h.post("/cgi-bin/qrcode/create", tok, qrBody("QR_SCENE", 60, 5, "")).code(); got != 0 {
		t.Errorf("temporary code past the permanent cap: errcode %d, want 0", got)
	}
}

func TestShowQRCode(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	a := h.register(uniqueAccount(emulator.ModePlaintext))
	ticket := h.post("/cgi-bin/qrcode/create", h.token(a), qrBody("QR_STR_SCENE", 120, 0, "s")).str("ticket")
	get := func(path string) (int, string, []byte) {
		resp, err := http.Get(h.url + path + "?ticket=" + url.QueryEscape(ticket))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Content-Type"), b
	}
	for _, path := range []string{"/emu/showqrcode", "/emu/cgi-bin/showqrcode"} {
		status, ctype, body := get(path)
		if status != 200 || ctype != "image/png" {
			t.Fatalf("%s: %d %s", path, status, ctype)
		}
		if _, err := png.Decode(bytes.NewReader(body)); err != nil {
			t.Errorf("%s: not a PNG: %v", path, err)
		}
	}
	h.clock.Advance(121 * time.Second)
	if status, _, _ := get("/emu/showqrcode"); status != http.StatusNotFound {
		t.Errorf("expired ticket: %d, want 404", status)
	}
	ticket = "gQnope"
	if status, _, _ := get("/emu/showqrcode"); status != http.StatusNotFound {
		t.Errorf("unknown ticket: %d, want 404", status)
	}
}

func TestScanUsesTheCode(t *testing.T) {
	ctx := context.Background()
	h, a, hook := shopperSetup(t)
	tok := h.token(a)
	ticket := h.post("/cgi-bin/qrcode/create", tok, qrBody("QR_SCENE", 60, 42, "")).str("ticket")
	if _, err := h.emu.Scan(ctx, a.Name, "o1", "42"); err != nil {
		t.Fatal(err)
	}
	if got := hook.messages()[0].Ticket; got != ticket {
		t.Errorf("subscribe Ticket = %q, want %q", got, ticket)
	}
	_, info := h.do("GET", "/emu/cgi-bin/user/info?access_token="+tok+"&openid=o1&lang=zh_CN", nil)
	if info.num("subscribe") != 1 || info.str("subscribe_scene") != "ADD_SCENE_QR_CODE" || info.num("qr_scene") != 42 {
		t.Errorf("user info = %v, want a QR follow with qr_scene 42", info)
	}
	h.clock.Advance(61 * time.Second)
	if _, err := h.emu.Scan(ctx, a.Name, "o2", "42"); !errors.Is(err, emulator.ErrQRCodeExpired) {
		t.Errorf("scanning an expired code: %v, want ErrQRCodeExpired", err)
	}
}

func TestSilenceperQRTicket(t *testing.T) {
	a := uniqueAccount(emulator.ModePlaintext)
	oa := silenceper(t, a, false)
	tk, err := oa.GetBasic().GetQRTicket(basic.NewTmpQrRequest(time.Hour, "member-card"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := tk.ExpireSeconds, int64(3600); got != want {
		t.Errorf("expire_seconds = %d, want %d", got, want)
	}
	tk, err = oa.GetBasic().GetQRTicket(basic.NewLimitQrRequest(100))
	if err != nil || tk.Ticket == "" {
		t.Errorf("permanent: %v %v", tk, err)
	}
}
