package ritual_test

import (
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/wxclub/wxclub/models/modelstest"
	"github.com/wxclub/wxclub/ritual/ritualtest"
	"github.com/wxclub/wxclub/wechat"
	"github.com/wxclub/wxclub/wechat/emulator"
)

// wx is the WeChat the relay tests send to: the emulator, behind the real
// client. silenceper's globals point at it once, as main does.
var wx struct {
	emu   *emulator.Emulator
	clock *ritualtest.Clock
}

func TestMain(m *testing.M) {
	wx.clock = ritualtest.NewClock(time.Date(2026, 11, 24, 2, 0, 0, 0, time.UTC))
	wx.emu = emulator.New(emulator.Options{Clock: wx.clock.Now})
	srv := httptest.NewServer(wx.emu.Handler())
	// Short enough that the 6-second WeChat stall in the relay test times out.
	wechat.ConfigureLibrary(wechat.LibraryOptions{APIBase: srv.URL + "/emu", Timeout: 2 * time.Second})
	code := modelstest.Run(m)
	srv.Close()
	os.Exit(code)
}
