package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/wxclub/wxclub/models"
	"github.com/wxclub/wxclub/ritual"
)

// The console in a real browser: headless Chromium, driven by chromedp,
// against the whole service on SQLite with the shipped configuration
// (whose demo merchant has an owner, demo, and an operator).
//
// They run when WXCLUB_TEST_BROWSER names the browser (.ci/run sets it to
// /usr/bin/chromium) and skip, saying so, otherwise. Each page visited is
// screenshotted to WXCLUB_SCREENSHOTS (default: a temporary directory) as
// <page>.png.

// EnvBrowser names the Chromium binary the browser tests drive.
const EnvBrowser = "WXCLUB_TEST_BROWSER"

type browser struct {
	t     *testing.T
	ctx   context.Context
	base  string
	shots string
}

// browserPath returns the browser to drive, skipping t when none is set;
// a browser named but missing fails t.
func browserPath(t *testing.T) string {
	t.Helper()
	path := os.Getenv(EnvBrowser)
	if path == "" {
		t.Skipf("browser test skipped: %s is not set (.ci/run sets it to /usr/bin/chromium)", EnvBrowser)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("%s=%s: %v", EnvBrowser, path, err)
	}
	return path
}

// newBrowser starts headless Chromium with a fresh profile for t.
func newBrowser(t *testing.T, path, base string) *browser {
	t.Helper()
	shots := os.Getenv("WXCLUB_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	} else if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	profile := t.TempDir()
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.NoFirstRun,
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1280, 900),
	)
	ctx, cancelCtx := chromedp.NewContext(alloc)
	t.Cleanup(func() {
		cancelCtx()
		cancelAlloc()
	})
	b := &browser{t: t, ctx: ctx, base: base, shots: shots}
	// The first action starts the browser; it gets no timeout of its own,
	// which would stop the browser when it expired.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start %s: %v", path, err)
	}
	return b
}

// in returns the browser for the subtest t.
func (b *browser) in(t *testing.T) *browser {
	c := *b
	c.t = t
	return &c
}

// waitFor polls until the JavaScript expression holds, through the
// navigations a posted form causes, for up to 15 seconds.
func (b *browser) waitFor(what, expression string) {
	b.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(b.ctx, 2*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => { try { return !!(`+expression+`); } catch (e) { return false; } })()`))
		cancel()
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("timed out waiting for %s (%s): last error %v", what, expression, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// do runs steps, each page's worth within a minute.
func (b *browser) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, time.Minute)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// text returns the text of the element sel (its textContent: SVG
// elements have no innerText).
func (b *browser) text(sel string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

// open navigates to a console path and waits for the page's main part.
func (b *browser) open(path string) {
	b.t.Helper()
	b.do("open "+path, chromedp.Navigate(b.base+path), chromedp.WaitVisible(chromedp.CSS("main h1")))
}

// shot saves the whole page as <name>.png.
func (b *browser) shot(name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(b.shots, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// signIn signs in on the sign-in page and waits for the overview.
func (b *browser) signIn(username, password string) {
	b.t.Helper()
	b.do("sign in as "+username,
		chromedp.SetValue(chromedp.CSS("#username"), username),
		chromedp.SetValue(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS("#sign-in")),
		chromedp.WaitVisible(chromedp.CSS("#whoami")),
	)
}

// membership returns the demo merchant's membership section and version,
// from the database.
func membership(t *testing.T, m *Main) (ritual.Membership, int) {
	t.Helper()
	ctx := context.Background()
	merchant, err := m.Club.Merchant(ctx, m.Config.Merchants[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	raw, version, err := m.Club.Section(ctx, merchant, "membership")
	if err != nil {
		t.Fatal(err)
	}
	var ms ritual.Membership
	if err := json.Unmarshal(raw, &ms); err != nil {
		t.Fatal(err)
	}
	return ms, version
}

func TestConsoleInBrowser(t *testing.T) {
	path := browserPath(t)
	m := startMain(t, models.DriverSQLite)
	b := newBrowser(t, path, m.URL())
	key := m.Config.Merchants[0].APIKey

	// Two buyers for the funnel and the board: one known by phone only, one
	// who buys, follows the account and buys again.
	const buyer = "oBrowserBuyer000000000000001"
	order := func(body string) {
		if status, answer := post(t, m.URL()+"/api/v1/orders", key, body); status != 201 {
			t.Fatalf("order %s: %d %s", body, status, answer)
		}
	}
	order(`{"order_no":"BR-1","phone":"13900000001","amount_fen":20000}`)
	order(`{"order_no":"BR-2","openid":"` + buyer + `","amount_fen":32000}`)
	sim(t, m, "follow", "--openid="+buyer)
	order(`{"order_no":"BR-3","openid":"` + buyer + `","amount_fen":8800}`)

	t.Run("sign in, a wrong password first", func(t *testing.T) {
		b := b.in(t)
		b.open("/console/")
		if loc := b.text("main h1"); loc != "登录" {
			t.Fatalf("the console without a session shows %q, want the sign-in page", loc)
		}
		b.shot("login")
		b.do("wrong password",
			chromedp.SetValue(chromedp.CSS("#username"), "demo"),
			chromedp.SetValue(chromedp.CSS("#password"), "not-the-password"),
			chromedp.Click(chromedp.CSS("#sign-in")),
			chromedp.WaitVisible(chromedp.CSS("#error")),
		)
		if msg := b.text("#error"); !strings.Contains(msg, "不正确") {
			t.Fatalf("a wrong password shows %q, want that it is wrong", msg)
		}
		b.shot("login-error")
		b.signIn("demo", "demo-console-password")
		if who := b.text("#whoami"); who != "demo" {
			t.Fatalf("signed in as %q", who)
		}
		b.shot("home")
	})

	t.Run("rename 茶苗 and the bot says the new nickname", func(t *testing.T) {
		b := b.in(t)
		_, before := membership(t, m)
		b.open("/console/levels")
		b.shot("levels")
		b.do("rename the lowest level",
			chromedp.SetValue(chromedp.CSS(`input[name="membership.levels[0].nickname"]`), "茶芽"),
			chromedp.Click(chromedp.CSS("#save")),
			chromedp.WaitVisible(chromedp.CSS("#flash")),
		)
		if got, want := b.text("#version"), fmt.Sprint(before+1); got != want {
			t.Fatalf("version after saving = %s, want %s", got, want)
		}
		if ms, _ := membership(t, m); ms.Levels[0].Nickname != "茶芽" {
			t.Fatalf("stored nickname = %q", ms.Levels[0].Nickname)
		}
		b.shot("levels-saved")

		b.open("/console/preview")
		b.do("a new test shopper says 积分",
			chromedp.Click(chromedp.CSS("#new-shopper")),
			chromedp.WaitVisible(chromedp.CSS("#say-text")),
			chromedp.SetValue(chromedp.CSS("#say-text"), "积分"),
			chromedp.Click(chromedp.CSS("#say")),
		)
		b.waitFor("the bot's answer to 积分", `[...document.querySelectorAll("#chat .bubble.reply")].some(e => e.innerText.includes("茶芽，你现在有"))`)

		// Signing in earns points: the points message arrives in the phone
		// as WeChat received it, template id and keywords.
		b.do("the shopper signs in",
			chromedp.WaitVisible(chromedp.CSS("#say-text")),
			chromedp.SetValue(chromedp.CSS("#say-text"), "签到"),
			chromedp.Click(chromedp.CSS("#say")),
		)
		b.waitFor("the points template message in the phone",
			`[...document.querySelectorAll("#chat .bubble.template")].some(e => e.innerText.includes("TPL_POINTS"))`)
		b.shot("preview")
	})

	t.Run("a bad threshold is shown at its field and changes nothing", func(t *testing.T) {
		b := b.in(t)
		_, before := membership(t, m)
		b.open("/console/levels")
		const field = "membership.levels[2].min_amount_fen"
		b.do("set VIP below senior",
			chromedp.SetValue(chromedp.CSS(`input[name="`+field+`"]`), "100"),
			chromedp.Click(chromedp.CSS("#save")),
			chromedp.WaitVisible(chromedp.CSS(`p.err[data-for="`+field+`"]`)),
		)
		if msg := b.text(`p.err[data-for="` + field + `"]`); !strings.Contains(msg, "lower than the level below") {
			t.Fatalf("the error at %s says %q", field, msg)
		}
		if got := b.text("#version"); got != fmt.Sprint(before) {
			t.Fatalf("the page shows version %s after a refused change, want %d", got, before)
		}
		if ms, after := membership(t, m); after != before || ms.Levels[2].MinAmountFen != 300000 {
			t.Fatalf("after a refused change: version %d (was %d), VIP threshold %d", after, before, ms.Levels[2].MinAmountFen)
		}
		b.shot("levels-error")
	})

	t.Run("the funnel shows every stage", func(t *testing.T) {
		b := b.in(t)
		b.open("/console/funnel")
		b.do("wait for the chart", chromedp.WaitVisible(chromedp.CSS("#funnel-chart")))
		table := b.text("#funnel-table")
		for _, stage := range []string{"recognized", "card_scanned", "followed", "activated", "benefit_claimed", "first_repeat_order", "下单被识别", "首次复购"} {
			if !strings.Contains(table, stage) {
				t.Errorf("the funnel table lacks %s:\n%s", stage, table)
			}
		}
		for stage, want := range map[string]string{"recognized": "2", "followed": "1", "first_repeat_order": "1", "activated": "0"} {
			if got := b.text(`#funnel-chart g[data-stage="` + stage + `"] .count`); got != want {
				t.Errorf("the %s bar says %q, want %s", stage, got, want)
			}
		}
		b.shot("funnel")
	})

	t.Run("every other page", func(t *testing.T) {
		b := b.in(t)
		for _, p := range []struct{ path, name, want string }{
			{"/console/rituals", "rituals", "升级仪式"},
			{"/console/coupons", "coupons", "新人茶包"},
			{"/console/campaigns", "campaigns", "下次运行"},
			{"/console/leaderboard", "leaderboard", buyer},
			{"/console/members?q=" + buyer, "member", "消费¥320.00得积分"},
			{"/console/outbox", "outbox", "发送失败"},
			{"/console/versions", "versions", "console:demo"},
		} {
			b.open(p.path)
			if body := b.text("main"); !strings.Contains(body, p.want) {
				t.Errorf("%s does not show %q:\n%s", p.path, p.want, body)
			}
			b.shot(p.name)
		}
		b.do("a phone's screen", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)))
		b.open("/console/levels")
		b.shot("levels-phone")
		b.open("/console/preview")
		b.shot("preview-phone")
		b.do("back to a desktop's screen", chromedp.EmulateViewport(1280, 900))
	})

	t.Run("sign out", func(t *testing.T) {
		b := b.in(t)
		b.open("/console/")
		b.do("sign out", chromedp.Click(chromedp.CSS("#logout")), chromedp.WaitVisible(chromedp.CSS("#login-form")))
		b.open("/console/levels")
		if h := b.text("main h1"); h != "登录" {
			t.Fatalf("after signing out /console/levels shows %q", h)
		}
	})
}

func TestConsoleOperatorInBrowser(t *testing.T) {
	path := browserPath(t)
	m := startMain(t, models.DriverSQLite)
	b := newBrowser(t, path, m.URL())
	key := m.Config.Merchants[0].APIKey

	// A shopper who qualifies for 茶友: the ceremony opens, for the
	// operator to grant.
	const shopper = "oBrowserCeremony000000000001"
	sim(t, m, "follow", "--openid="+shopper)
	for i, body := range []string{
		`{"order_no":"OP-1","openid":"` + shopper + `","amount_fen":30000}`,
		`{"order_no":"OP-2","openid":"` + shopper + `","amount_fen":20000}`,
	} {
		if status, answer := post(t, m.URL()+"/api/v1/orders", key, body); status != 201 {
			t.Fatalf("order %d: %d %s", i+1, status, answer)
		}
	}

	b.open("/console/levels")
	b.signIn("operator", "demo-operator-password")
	_, before := membership(t, m)

	t.Run("reads settings but cannot change them", func(t *testing.T) {
		b := b.in(t)
		b.open("/console/levels")
		b.do("the form is read-only", chromedp.WaitVisible(chromedp.CSS("#read-only")))
		if n, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`document.querySelectorAll("#save").length`)); err != nil || n != 0 {
			t.Fatalf("an operator sees %d save buttons (%v)", n, err)
		}
		// Post the form anyway, as a hand-made request would.
		b.do("post the form regardless", chromedp.Evaluate[chromedp.Void](`document.querySelector("fieldset.sets").disabled = false;
			document.querySelector('input[name="membership.levels[0].nickname"]').value = "偷改";
			setTimeout(() => document.getElementById("settings-form").submit(), 0); null`))
		b.waitFor("the answer to the operator's change", `document.title.startsWith("没有权限")`)
		if msg := b.text("#error"); !strings.Contains(msg, "只有店主") {
			t.Fatalf("the operator's change got %q", msg)
		}
		b.shot("operator-forbidden")
		if ms, after := membership(t, m); after != before || ms.Levels[0].Nickname != "茶苗" {
			t.Fatalf("after the operator's attempt: version %d (was %d), nickname %q", after, before, ms.Levels[0].Nickname)
		}
	})

	t.Run("grants a ceremony", func(t *testing.T) {
		b := b.in(t)
		b.open("/console/rituals")
		b.shot("operator-rituals")
		b.do("grant the open ceremony",
			chromedp.Evaluate[chromedp.Void](`window.confirm = () => true; null`),
			chromedp.Click(chromedp.CSS(`#open-ceremonies + .scroll button`)),
			chromedp.WaitVisible(chromedp.CSS("#flash")),
		)
		if msg := b.text("#flash"); !strings.Contains(msg, "已手动完成仪式") {
			t.Fatalf("granting says %q", msg)
		}
		view, err := m.Club.MemberView(context.Background(), mustMerchant(t, m), shopper)
		if err != nil || view.Level.Key != "senior" {
			t.Fatalf("after the grant the shopper is %+v (%v), want senior", view.Level, err)
		}
	})
}

func mustMerchant(t *testing.T, m *Main) *ritual.Merchant {
	t.Helper()
	merchant, err := m.Club.Merchant(context.Background(), m.Config.Merchants[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	return merchant
}
