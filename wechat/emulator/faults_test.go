package emulator_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/silenceper/wechat/v2/officialaccount/message"

	"github.com/wxclub/wxclub/wechat/emulator"
)

const sendPath = "/cgi-bin/message/template/send"

func TestFaults(t *testing.T) {
	tests := []struct {
		name       string
		fault      emulator.Fault
		wantStatus []int // HTTP status of each call
		wantCode   []int // errcode of each call
		minTook    time.Duration
	}{
		{"errcode twice", emulator.Fault{Path: sendPath, Count: 2, ErrCode: -1},
			[]int{200, 200, 200}, []int{-1, -1, 0}, 0},
		{"HTTP 502 once", emulator.Fault{Path: sendPath, Status: 502},
			[]int{502, 200}, []int{-1, 0}, 0},
		{"delay then normal", emulator.Fault{Path: sendPath, DelayMS: 60},
			[]int{200, 200}, []int{0, 0}, 60 * time.Millisecond},
		{"other path untouched", emulator.Fault{Path: "/cgi-bin/tags/get", ErrCode: 45009},
			[]int{200}, []int{0}, 0},
		{"faults beat token checks", emulator.Fault{Path: sendPath, ErrCode: 40001},
			[]int{200, 200}, []int{40001, 0}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, emulator.Options{})
			a := h.register(uniqueAccount(emulator.ModePlaintext))
			h.follow(a, "fan")
			tok := h.token(a)
			h.emu.AddFault(tc.fault)
			for i := range tc.wantStatus {
				start := time.Now()
				status, m := h.do("POST", "/emu"+sendPath+"?access_token="+tok, templateBody("fan", "T", map[string]string{"k": "v"}))
				took := time.Since(start)
				if status != tc.wantStatus[i] || m.code() != tc.wantCode[i] {
					t.Errorf("call %d: HTTP %d errcode %d, want HTTP %d errcode %d", i+1, status, m.code(), tc.wantStatus[i], tc.wantCode[i])
				}
				if i == 0 && took < tc.minTook {
					t.Errorf("call 1 took %v, want at least %v", took, tc.minTook)
				}
			}
		})
	}
}

func TestFaultDelayHonoursCancellation(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	a := h.register(uniqueAccount(emulator.ModePlaintext))
	h.emu.AddFault(emulator.Fault{Path: "/cgi-bin/token", DelayMS: 10000})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", h.url+"/emu/cgi-bin/token?grant_type=client_credential&appid="+a.AppID+"&secret="+a.AppSecret, nil)
	start := time.Now()
	_, err := http.DefaultClient.Do(req)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the client's deadline", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("cancelled call took %v", took)
	}
	// The fault was consumed by the cancelled call.
	if tok := h.token(a); tok == "" {
		t.Error("no token after the delayed call")
	}
}

func TestFaultsOverHTTP(t *testing.T) {
	h := newHarness(t, emulator.Options{})
	a := h.register(uniqueAccount(emulator.ModePlaintext))
	status, _ := h.do("POST", "/emu/faults", map[string]any{"path": "/cgi-bin/token", "count": 5, "errcode": -1})
	if got, want := status, http.StatusNoContent; got != want {
		t.Fatalf("POST /emu/faults: %d, want %d", got, want)
	}
	tokenURL := "/emu/cgi-bin/token?grant_type=client_credential&appid=" + a.AppID + "&secret=" + a.AppSecret
	if _, m := h.do("GET", tokenURL, nil); m.code() != -1 {
		t.Fatalf("token with a fault queued: %v", m)
	}
	status, _ = h.do("DELETE", "/emu/faults", nil)
	if got, want := status, http.StatusNoContent; got != want {
		t.Fatalf("DELETE /emu/faults: %d, want %d", got, want)
	}
	if _, m := h.do("GET", tokenURL, nil); m.code() != 0 {
		t.Errorf("token after clearing faults: %v", m)
	}
	if status, _ := h.do("POST", "/emu/faults", map[string]any{"pth": "/x"}); status != http.StatusBadRequest {
		t.Errorf("a misspelt fault was accepted: %d", status)
	}
}

// silenceper sees a fault as the error its retry logic must handle.
func TestSilenceperSeesFaults(t *testing.T) {
	a := uniqueAccount(emulator.ModePlaintext)
	oa := silenceper(t, a, false)
	shared.emu.SetFollowing(a.AppID, "oFault", true)
	if _, err := oa.GetAccessToken(); err != nil {
		t.Fatal(err)
	}
	msg := &message.TemplateMessage{ToUser: "oFault", TemplateID: "T", Data: map[string]*message.TemplateDataItem{"k": {Value: "v"}}}
	shared.emu.AddFault(emulator.Fault{Path: sendPath, Status: http.StatusBadGateway})
	if _, err := oa.GetTemplate().Send(msg); err == nil || !strings.Contains(err.Error(), "502") {
		t.Errorf("err = %v, want HTTP 502", err)
	}
	if _, err := oa.GetTemplate().Send(msg); err != nil {
		t.Errorf("after the fault: %v", err)
	}
}
