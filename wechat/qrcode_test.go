package wechat_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/wxclub/wxclub/ritual"
	"github.com/wxclub/wxclub/wechat"
	"github.com/wxclub/wxclub/wechat/emulator"
)

const pathQRCreate = "/cgi-bin/qrcode/create"

// showQRCode fetches the ticket's image from the emulator as a browser
// would from mp.weixin.qq.com, and returns the status and content type.
func showQRCode(t *testing.T, ticket string) (int, string) {
	t.Helper()
	resp, err := http.Get(shared.url + "/emu/showqrcode?ticket=" + url.QueryEscape(ticket))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	ctype := resp.Header.Get("Content-Type")
	if resp.StatusCode == http.StatusOK && !bytes.HasPrefix(body, []byte("\x89PNG\r\n\x1a\n")) {
		t.Errorf("showqrcode answered %s that is not a PNG: %.40q", ctype, body)
	}
	return resp.StatusCode, ctype
}

// checkImageURL fails the test unless qr.ImageURL is WeChat's image URL
// for qr.Ticket.
func checkImageURL(t *testing.T, qr ritual.QRCode) {
	t.Helper()
	if qr.Ticket == "" {
		t.Fatal("no ticket")
	}
	if want := "https://mp.weixin.qq.com/cgi-bin/showqrcode?ticket=" + url.QueryEscape(qr.Ticket); qr.ImageURL != want {
		t.Errorf("image URL = %q, want %q", qr.ImageURL, want)
	}
	u, err := url.Parse(qr.ImageURL)
	if err != nil || u.Query().Get("ticket") != qr.Ticket {
		t.Errorf("image URL %q does not carry the ticket %q (%v)", qr.ImageURL, qr.Ticket, err)
	}
}

func TestCreateQRCodeTemporary(t *testing.T) {
	f := useEmulator(t, 0)
	m := f.merchant()
	const month = 30 * 24 * time.Hour

	for _, tc := range []struct {
		name   string
		expire time.Duration
		want   time.Duration
	}{
		{"default", 0, month},
		{"one hour", time.Hour, time.Hour},
		{"sixty days, capped", 60 * 24 * time.Hour, month},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := time.Now()
			qr, err := f.client.CreateQRCode(context.Background(), m, ritual.QRRequest{Scene: "claim:AB12CD", Expire: tc.expire})
			after := time.Now()
			if err != nil {
				t.Fatal(err)
			}
			checkImageURL(t, qr)
			if qr.ExpiresAt == nil {
				t.Fatal("a temporary code has no expiry")
			}
			if at := *qr.ExpiresAt; at.Before(before.Add(tc.want)) || at.After(after.Add(tc.want)) {
				t.Errorf("expires %s from now, want %s", at.Sub(before).Round(time.Second), tc.want)
			}
			if status, ctype := showQRCode(t, qr.Ticket); status != http.StatusOK || ctype != "image/png" {
				t.Errorf("showqrcode answered %d %s, want 200 image/png", status, ctype)
			}
		})
	}
}

func TestCreateQRCodePermanent(t *testing.T) {
	f := useEmulator(t, 0)
	m := f.merchant()
	perm, err := f.client.CreateQRCode(context.Background(), m, ritual.QRRequest{Scene: "shop:counter", Permanent: true})
	if err != nil {
		t.Fatal(err)
	}
	checkImageURL(t, perm)
	if perm.ExpiresAt != nil {
		t.Errorf("a permanent code expires at %s", perm.ExpiresAt)
	}
	temp, err := f.client.CreateQRCode(context.Background(), m, ritual.QRRequest{Scene: "shop:counter"})
	if err != nil {
		t.Fatal(err)
	}
	// Past every temporary code's life, WeChat still serves the permanent
	// one: it was asked for as permanent, not just reported so.
	shared.clock.Advance(31 * 24 * time.Hour)
	if status, _ := showQRCode(t, perm.Ticket); status != http.StatusOK {
		t.Errorf("permanent code after 31 days: showqrcode answered %d", status)
	}
	if status, _ := showQRCode(t, temp.Ticket); status != http.StatusNotFound {
		t.Errorf("temporary code after 31 days: showqrcode answered %d, want 404", status)
	}
}

func TestCreateQRCodeRefusals(t *testing.T) {
	f := useEmulator(t, 0)
	m := f.merchant()

	for _, scene := range []string{"", strings.Repeat("s", 65)} {
		t.Run(fmt.Sprintf("scene of %d characters", len(scene)), func(t *testing.T) {
			tokens, creates := shared.calls.count(pathToken), shared.calls.count(pathQRCreate)
			qr, err := f.client.CreateQRCode(context.Background(), m, ritual.QRRequest{Scene: scene})
			se := sendError(t, err)
			if se.Class != ritual.SendFinal || se.ErrCode != 0 || !strings.Contains(se.Message, "1 to 64") {
				t.Errorf("got %s/%d %q, want final/0 naming the limit", se.Class, se.ErrCode, se.Message)
			}
			if qr != (ritual.QRCode{}) {
				t.Errorf("a refused request returned %+v", qr)
			}
			if shared.calls.count(pathToken) != tokens || shared.calls.count(pathQRCreate) != creates {
				t.Error("an invalid scene still called WeChat")
			}
		})
	}
	t.Run("scene of 64 characters", func(t *testing.T) {
		if _, err := f.client.CreateQRCode(context.Background(), m, ritual.QRRequest{Scene: strings.Repeat("s", 64)}); err != nil {
			t.Errorf("the longest scene WeChat takes: %v", err)
		}
	})
	t.Run("HTTP 502", func(t *testing.T) {
		shared.emu.AddFault(emulator.Fault{Path: pathQRCreate, Status: http.StatusBadGateway})
		_, err := f.client.CreateQRCode(context.Background(), m, ritual.QRRequest{Scene: "claim:X"})
		se := sendError(t, err)
		if se.Class != ritual.SendRetry || se.ErrCode != 0 || !strings.Contains(se.Message, "502") {
			t.Errorf("got %s/%d %q, want retry/0 saying 502", se.Class, se.ErrCode, se.Message)
		}
		noneOf(t, "error", err.Error(), append(shared.calls.seenTokens(), m.OfficialAccount.AppSecret)...)
	})
	t.Run("permanent codes exhausted", func(t *testing.T) {
		shared.emu.AddFault(emulator.Fault{Path: pathQRCreate, ErrCode: 45029})
		_, err := f.client.CreateQRCode(context.Background(), m, ritual.QRRequest{Scene: "claim:Y", Permanent: true})
		se := sendError(t, err)
		if se.Class != ritual.SendFinal || se.ErrCode != 45029 || !strings.Contains(se.Message, "permanent QR codes are exhausted") {
			t.Errorf("got %s/%d %q, want final/45029 saying permanent codes are exhausted", se.Class, se.ErrCode, se.Message)
		}
	})
	t.Run("token refused once", func(t *testing.T) {
		shared.emu.AddFault(emulator.Fault{Path: pathQRCreate, ErrCode: 40001})
		creates := shared.calls.count(pathQRCreate)
		qr, err := f.client.CreateQRCode(context.Background(), m, ritual.QRRequest{Scene: "claim:Z"})
		if err != nil {
			t.Fatalf("create with a refused token: %v", err)
		}
		checkImageURL(t, qr)
		if got := shared.calls.count(pathQRCreate) - creates; got != 2 {
			t.Errorf("%d create calls, want 2", got)
		}
	})
}

func TestCreateQRCodeEscapesTheTicket(t *testing.T) {
	// Real tickets are standard base64 ("…UwMEmm3sUw=="): '+', '/' and '='
	// must be escaped, or the image URL names another ticket. The
	// emulator's tickets are URL-safe, so a stub plays WeChat here.
	const ticket = "gQH47joAAAAAAAAAASxodHRwOi8vd2VpeGluLnFxLmNvbS9xL2taZ2Z3+TVRtNzJXV1Brb3ZhYmJJAAIEZ23sUwMEmm3sUw=="
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, pathToken) {
			w.Write([]byte(`{"access_token":"STUBTOKEN","expires_in":7200}`))
			return
		}
		w.Write([]byte(`{"ticket":"` + ticket + `","expire_seconds":3600,"url":"http://weixin.qq.com/q/kZgfwMTm72WWPkovabbI"}`))
	}))
	defer srv.Close()
	f := useEmulator(t, 0)
	wechat.ConfigureLibrary(wechat.LibraryOptions{APIBase: srv.URL + "/emu"})
	m := &ritual.Merchant{ID: "stubbed", OfficialAccount: ritual.OfficialAccount{AppID: "wxstubbed", AppSecret: "s", Token: "tok"}}

	before := time.Now()
	qr, err := f.client.CreateQRCode(context.Background(), m, ritual.QRRequest{Scene: "claim:AB12CD"})
	if err != nil {
		t.Fatal(err)
	}
	if qr.Ticket != ticket {
		t.Errorf("ticket = %q, want %q", qr.Ticket, ticket)
	}
	checkImageURL(t, qr)
	// WeChat's expire_seconds is the truth, whatever was asked.
	if qr.ExpiresAt == nil || qr.ExpiresAt.Before(before.Add(time.Hour)) || qr.ExpiresAt.After(time.Now().Add(time.Hour)) {
		t.Errorf("expires at %v, want an hour from now as WeChat answered", qr.ExpiresAt)
	}
}
