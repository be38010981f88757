package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/wxclub/wxclub/models/modelstest"
)

// TestShopperJourney drives one buyer through the whole funnel with the
// emulator's shopper client: order → card → scan → activate → gift →
// coupon → repeat order, and checks what the shopper and the merchant see.
func TestShopperJourney(t *testing.T) {
	for _, driver := range modelstest.Drivers() {
		t.Run(driver, func(t *testing.T) {
			m := startMain(t, driver)
			key := m.Config.Merchants[0].APIKey
			merchant := m.Config.Merchants[0].ID
			const phone, shopper = "13955550001", "--openid=oJourney000000000000000000001"

			if status, body := post(t, m.URL()+"/api/v1/orders", key, `{"order_no":"J-1","phone":"`+phone+`","amount_fen":20000}`); status != 201 {
				t.Fatalf("order: %d %s", status, body)
			}
			var card struct {
				Code, Scene string
				QR          struct {
					ImageURL string `json:"image_url"`
				}
				Lines []string
			}
			getJSON(t, m.URL()+"/api/v1/members/"+phone+"/card", key, &card)
			if card.Scene != "claim:"+card.Code || !strings.Contains(card.QR.ImageURL, "showqrcode?ticket=") || len(card.Lines) != 3 {
				t.Fatalf("card = %+v", card)
			}
			if !strings.Contains(card.Lines[0], "会员") || !strings.Contains(card.Lines[1], "新人茶包") || !strings.Contains(card.Lines[2], card.Code) {
				t.Fatalf("card lines = %q: you are a member / a benefit waits / activate", card.Lines)
			}

			if got := sim(t, m, "scan", card.Scene, shopper); !strings.Contains(got, "你已经是") || !strings.Contains(got, "后4位") {
				t.Fatalf("scanning the card printed %q", got)
			}
			got := sim(t, m, "say", phone[7:], shopper)
			if !strings.Contains(got, "激活成功") || !strings.Contains(got, "券码") {
				t.Fatalf("activation printed %q", got)
			}
			waitFor(t, "the gift message", func() bool {
				return strings.Contains(sim(t, m, "inbox", "--json", shopper), `"template_id":"TPL_GIFT"`)
			})

			var coupons struct {
				Coupons []struct{ Code, Reward string }
			}
			getJSON(t, m.URL()+"/api/v1/members/oJourney000000000000000000001/coupons", key, &coupons)
			if len(coupons.Coupons) != 1 {
				t.Fatalf("coupons = %+v, want the gift pack's", coupons)
			}
			if status, body := post(t, m.URL()+"/api/v1/coupons/"+coupons.Coupons[0].Code+"/use", key, ``); status != 200 {
				t.Fatalf("using the gift coupon: %d %s", status, body)
			}
			if got := sim(t, m, "say", "兑换 10元券", shopper); !strings.Contains(got, "全店满100减10") {
				t.Fatalf("redeeming printed %q, want the product stated", got)
			}
			if status, body := post(t, m.URL()+"/api/v1/orders", key, `{"order_no":"J-2","openid":"oJourney000000000000000000001","amount_fen":8800}`); status != 201 {
				t.Fatalf("repeat order: %d %s", status, body)
			}

			var funnel struct {
				Stages []struct {
					Stage   string
					Members int
				}
			}
			getJSON(t, m.URL()+"/api/v1/funnel?from=2000-01-01&to=2100-01-01", key, &funnel)
			for _, s := range funnel.Stages {
				if s.Members != 1 {
					t.Errorf("funnel stage %s: %d members, want 1 (the shopper reached every stage)", s.Stage, s.Members)
				}
			}

			invite := sim(t, m, "say", "邀请", shopper)
			_, link, ok := strings.Cut(invite, "/qr/"+merchant+"/ref:")
			if !ok {
				t.Fatalf("邀请 printed %q, want the invitation's QR link", invite)
			}
			link = strings.Fields(link)[0]
			for _, tc := range []struct {
				scene  string
				status int
			}{{"ref:" + link, http.StatusFound}, {card.Scene, http.StatusNotFound}} {
				resp, err := noRedirect.Get(m.URL() + "/qr/" + merchant + "/" + tc.scene)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != tc.status || (tc.status == http.StatusFound) != strings.Contains(resp.Header.Get("Location"), "showqrcode") {
					t.Fatalf("QR link %s: %d → %q, want %d (a card's code has no public link)", tc.scene, resp.StatusCode, resp.Header.Get("Location"), tc.status)
				}
			}
		})
	}
}

var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func getJSON(t *testing.T, url, key string, out any) {
	t.Helper()
	if err := json.Unmarshal([]byte(get(t, url, key)), out); err != nil {
		t.Fatal(err)
	}
}
