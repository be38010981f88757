package handlers_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/wxclub/wxclub/models"
	"github.com/wxclub/wxclub/models/modelstest"
	"github.com/wxclub/wxclub/ritual"
	"github.com/wxclub/wxclub/ritual/ritualtest"
)

// couponStart is 2026-11-24 10:00 in Shanghai, where each half starts.
var couponStart = time.Date(2026, 11, 24, 2, 0, 0, 0, time.UTC)

// buyer returns the openid of a new member of the merchant with key, who
// earned points with one order (1 point per yuan).
func (e *env) buyer(key string, points int64) string {
	e.t.Helper()
	openid := ritualtest.RandomID("o")
	body := fmt.Sprintf(`{"order_no":%q,"openid":%q,"amount_fen":%d}`, ritualtest.RandomID("O"), openid, points*100)
	if r := e.postJSON("/api/v1/orders", key, body); r.status != 201 {
		e.t.Fatalf("order: %d %s", r.status, r.body)
	}
	return openid
}

func (e *env) redeem(key, openid, body string) (response, map[string]any) {
	e.t.Helper()
	r := e.postJSON("/api/v1/members/"+openid+"/redemptions", key, body)
	return r, decode(e.t, r)
}

func errorField(body map[string]any) string {
	e, _ := body["error"].(map[string]any)
	field, _ := e["field"].(string)
	return field
}

func TestPostRedemption(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		clock.Set(couponStart)
		e := newEnv(t, db, clock, ritual.ModePlaintext, 5*time.Minute)
		openid := e.buyer(e.apiKey, 1000)

		body := `{"reward":"10元券","redemption_no":"SHOP-1"}`
		first, got := e.redeem(e.apiKey, openid, body)
		if first.status != 201 {
			t.Fatalf("new redemption: %d %s, want 201", first.status, first.body)
		}
		coupon, _ := got["coupon"].(map[string]any)
		reward, _ := got["reward"].(map[string]any)
		member, _ := got["member"].(map[string]any)
		if got["redemption_no"] != "SHOP-1" || got["points_spent"] != 300.0 || reward["key"] != "cash-10" || member["points"] != 700.0 {
			t.Fatalf("answer = %s", first.body)
		}
		code, _ := coupon["code"].(string)
		if len(code) != 10 || coupon["reward"] != "cash-10" || coupon["product"] != "全店满100减10" || coupon["value_fen"] != 1000.0 ||
			coupon["valid_from"] != "2026-11-24T02:00:00Z" || coupon["valid_until"] != "2026-12-24T02:00:00Z" || coupon["used_at"] != nil {
			t.Fatalf("coupon = %v, want code, product, value and the 30-day window", coupon)
		}

		again, _ := e.redeem(e.apiKey, openid, body)
		if again.status != 200 || again.body != first.body {
			t.Fatalf("resend: %d %s, want 200 and the first answer", again.status, again.body)
		}
		other, errBody := e.redeem(e.apiKey, openid, `{"reward":"紫砂小壶","redemption_no":"SHOP-1"}`)
		if other.status != 409 || errorCode(errBody) != ritual.ECONFLICT || errorField(errBody) != "redemption_no" {
			t.Fatalf("same redemption_no, other reward: %d %s, want 409 naming redemption_no", other.status, other.body)
		}

		cases := []struct {
			name, openid, body string
			status             int
			code, field        string
		}{
			{"not enough points", openid, `{"reward":"紫砂小壶","redemption_no":"B1"}`, 422, ritual.EINVALID, "reward"},
			{"gift only", openid, `{"reward":"新人茶包","redemption_no":"B2"}`, 422, ritual.EINVALID, "reward"},
			{"unknown reward", openid, `{"reward":"金条","redemption_no":"B3"}`, 404, ritual.ENOTFOUND, "reward"},
			{"no redemption_no", openid, `{"reward":"10元券"}`, 422, ritual.EINVALID, "redemption_no"},
			{"bad redemption_no", openid, `{"reward":"10元券","redemption_no":"no spaces"}`, 422, ritual.EINVALID, "redemption_no"},
			{"no reward", openid, `{"redemption_no":"B4"}`, 422, ritual.EINVALID, "reward"},
			{"reward not a string", openid, `{"reward":10,"redemption_no":"B5"}`, 422, ritual.EINVALID, "reward"},
			{"unknown field", openid, `{"reward":"10元券","redemption_no":"B6","points":300}`, 422, ritual.EINVALID, "points"},
			{"not JSON", openid, `{"reward":`, 400, ritual.EBADREQUEST, ""},
			{"unknown member", "o-nobody", `{"reward":"10元券","redemption_no":"B7"}`, 404, ritual.ENOTFOUND, "openid"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				r, body := e.redeem(e.apiKey, c.openid, c.body)
				if r.status != c.status || errorCode(body) != c.code || errorField(body) != c.field {
					t.Fatalf("%d %s, want %d %s naming %q", r.status, r.body, c.status, c.code, c.field)
				}
			})
		}
		if _, body := e.api("GET", "/api/v1/members/"+openid, e.apiKey); body["points"] != 700.0 {
			t.Fatalf("after the refusals the member has %v points, want 700", body["points"])
		}

		t.Run("another merchant's member", func(t *testing.T) {
			_, otherKey := e.seed(ritualtest.Merchant(ritual.ModePlaintext))
			r, body := e.redeem(otherKey, openid, `{"reward":"10元券","redemption_no":"B8"}`)
			if r.status != 404 || errorCode(body) != ritual.ENOTFOUND {
				t.Fatalf("%d %s, want 404", r.status, r.body)
			}
		})
		t.Run("out of stock", func(t *testing.T) {
			m := ritualtest.Merchant(ritual.ModePlaintext)
			m.Rewards[1].Stock = 0
			_, key := e.seed(m)
			buyer := e.buyer(key, 1000)
			r, body := e.redeem(key, buyer, `{"reward":"cash-10","redemption_no":"B9"}`)
			msg, _ := body["error"].(map[string]any)["message"].(string)
			if r.status != 422 || errorCode(body) != ritual.EINVALID || !strings.Contains(msg, "sold out") {
				t.Fatalf("%d %s, want 422 saying it is gone", r.status, r.body)
			}
		})
	})
}

func TestGetCoupons(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		clock.Set(couponStart)
		e := newEnv(t, db, clock, ritual.ModePlaintext, 5*time.Minute)
		openid := e.buyer(e.apiKey, 3000)

		status, body := e.api("GET", "/api/v1/members/"+openid+"/coupons", e.apiKey)
		if list, ok := body["coupons"].([]any); status != 200 || !ok || len(list) != 0 {
			t.Fatalf("no coupons yet: %d %v, want 200 and an empty list", status, body)
		}
		e.redeem(e.apiKey, openid, `{"reward":"cash-10","redemption_no":"L1"}`)
		clock.Advance(time.Hour)
		e.redeem(e.apiKey, openid, `{"reward":"teapot","redemption_no":"L2"}`)

		status, body = e.api("GET", "/api/v1/members/"+openid+"/coupons", e.apiKey)
		list, _ := body["coupons"].([]any)
		if status != 200 || len(list) != 2 {
			t.Fatalf("%d %v, want 200 and two coupons", status, body)
		}
		newest, _ := list[0].(map[string]any)
		if newest["reward"] != "teapot" || newest["product"] != "宜兴紫砂小壶一只" || newest["value_fen"] != 16800.0 ||
			newest["valid_from"] != "2026-11-24T03:00:00Z" || newest["valid_until"] != "2027-01-23T03:00:00Z" || newest["used_at"] != nil {
			t.Fatalf("newest coupon = %v, want the teapot with its 60-day window", newest)
		}
		if status, body := e.api("GET", "/api/v1/members/o-nobody/coupons", e.apiKey); status != 404 || errorCode(body) != ritual.ENOTFOUND {
			t.Fatalf("unknown member: %d %v, want 404", status, body)
		}
		_, otherKey := e.seed(ritualtest.Merchant(ritual.ModePlaintext))
		if status, body := e.api("GET", "/api/v1/members/"+openid+"/coupons", otherKey); status != 404 {
			t.Fatalf("another merchant's member: %d %v, want 404", status, body)
		}
	})
}

func TestUseCouponAPI(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		clock.Set(couponStart)
		e := newEnv(t, db, clock, ritual.ModePlaintext, 5*time.Minute)
		openid := e.buyer(e.apiKey, 1000)
		code := func(no string) string {
			_, body := e.redeem(e.apiKey, openid, `{"reward":"cash-10","redemption_no":"`+no+`"}`)
			c, _ := body["coupon"].(map[string]any)["code"].(string)
			return c
		}
		use := func(key, code string) (int, map[string]any) {
			return e.api("POST", "/api/v1/coupons/"+code+"/use", key)
		}
		first, second := code("U1"), code("U2")

		_, otherKey := e.seed(ritualtest.Merchant(ritual.ModePlaintext))
		if status, body := use(otherKey, first); status != 404 || errorCode(body) != ritual.ENOTFOUND {
			t.Fatalf("another merchant's key: %d %v, want 404", status, body)
		}
		if status, body := use(e.apiKey, "ZZZZZZZZZZ"); status != 404 || errorCode(body) != ritual.ENOTFOUND {
			t.Fatalf("unknown code: %d %v, want 404", status, body)
		}

		clock.Advance(30 * time.Minute)
		status, body := use(e.apiKey, first)
		if status != 200 || body["code"] != first || body["product"] != "全店满100减10" || body["used_at"] != "2026-11-24T02:30:00Z" {
			t.Fatalf("first use: %d %v, want 200 with the coupon used now", status, body)
		}
		status, body = use(e.apiKey, first)
		msg, _ := body["error"].(map[string]any)["message"].(string)
		if status != 409 || errorCode(body) != ritual.ECONFLICT || !strings.Contains(msg, "2026-11-24 10:30") {
			t.Fatalf("reuse: %d %v, want 409 saying when it was used", status, body)
		}

		clock.Set(couponStart.Add(-time.Minute))
		if status, body := use(e.apiKey, second); status != 422 || errorCode(body) != ritual.EINVALID {
			t.Fatalf("before the window: %d %v, want 422", status, body)
		}
		clock.Set(couponStart.AddDate(0, 0, 30))
		status, body = use(e.apiKey, second)
		msg, _ = body["error"].(map[string]any)["message"].(string)
		if status != 422 || !strings.Contains(msg, "from 2026-11-24 10:00 until 2026-12-24 10:00") {
			t.Fatalf("after the window: %d %v, want 422 stating the window", status, body)
		}
		clock.Set(couponStart.AddDate(0, 0, 30).Add(-time.Second))
		if status, body := use(e.apiKey, second); status != 200 {
			t.Fatalf("in the window's last second: %d %v, want 200", status, body)
		}
	})
}

// TestMerchantErrorsInEnglish: the merchant API answers refusals in one
// language, English like the rest of the API, with a stable code and the
// field named — never the shopper's Chinese or the storage's "find member:
// not found".
func TestMerchantErrorsInEnglish(t *testing.T) {
	clock := &ritualtest.Clock{}
	modelstest.ForEachDB(t, clock.Now, func(t *testing.T, db *models.DB) {
		clock.Set(couponStart)
		m := ritualtest.Merchant(ritual.ModePlaintext)
		m.Rewards = append(m.Rewards, ritual.Reward{Key: "gone", Name: "售罄券", Product: "招牌奶茶一杯", ValueFen: 1800, PointsPrice: 50, Stock: 0, ValidDays: 7})
		e := newEnv(t, db, clock, ritual.ModePlaintext, 5*time.Minute)
		_, key := e.seed(m)
		openid := e.buyer(key, 2400)
		if r, _ := e.redeem(key, openid, `{"reward":"teapot","redemption_no":"E0"}`); r.status != 201 {
			t.Fatalf("first teapot: %d %s", r.status, r.body)
		}
		_, body := e.redeem(key, openid, `{"reward":"cash-10","redemption_no":"E1"}`)
		coupon, _ := body["coupon"].(map[string]any)["code"].(string)
		if status, body := e.api("POST", "/api/v1/coupons/"+coupon+"/use", key); status != 200 {
			t.Fatalf("use: %d %v", status, body)
		}

		redeem := func(openid, reward string) func() (int, map[string]any) {
			return func() (int, map[string]any) {
				r, body := e.redeem(key, openid, `{"reward":"`+reward+`","redemption_no":"`+ritualtest.RandomID("E")+`"}`)
				return r.status, body
			}
		}
		cases := []struct {
			name        string
			do          func() (int, map[string]any)
			status      int
			code, field string
			says        string
		}{
			{"too few points", redeem(openid, "10元券"), 422, ritual.EINVALID, "reward", `not enough points: reward "10元券" costs 300 points, the member can spend 100 (200 short)`},
			{"unknown reward", redeem(openid, "金条"), 404, ritual.ENOTFOUND, "reward", `no reward has the key or name "金条"`},
			{"sold out", redeem(openid, "售罄券"), 422, ritual.EINVALID, "reward", `reward "售罄券" is sold out`},
			{"over the limit", redeem(openid, "teapot"), 422, ritual.EINVALID, "reward", `reward "紫砂小壶" allows 1 per member and the member already holds 1`},
			{"gift only", redeem(openid, "新人茶包"), 422, ritual.EINVALID, "reward", `reward "新人茶包" is a gift and cannot be redeemed with points`},
			{"unknown member", redeem("o-nobody", "10元券"), 404, ritual.ENOTFOUND, "openid", "no member has this openid or mobile number"},
			{"unknown member's coupons", func() (int, map[string]any) { return e.api("GET", "/api/v1/members/o-nobody/coupons", key) }, 404, ritual.ENOTFOUND, "openid", "no member has this openid or mobile number"},
			{"used coupon", func() (int, map[string]any) { return e.api("POST", "/api/v1/coupons/"+coupon+"/use", key) }, 409, ritual.ECONFLICT, "code", "coupon " + coupon + " was used at 2026-11-24 10:00"},
			{"unknown coupon", func() (int, map[string]any) { return e.api("POST", "/api/v1/coupons/ZZZZZZZZZZ/use", key) }, 404, ritual.ENOTFOUND, "code", "no coupon has the code ZZZZZZZZZZ"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				status, body := c.do()
				msg, _ := body["error"].(map[string]any)["message"].(string)
				if status != c.status || errorCode(body) != c.code || errorField(body) != c.field || msg != c.says {
					t.Fatalf("%d %v, want %d %s naming %q saying %q", status, body, c.status, c.code, c.field, c.says)
				}
			})
		}
	})
}
