package wechat_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/wxclub/wxclub/ritual"
	"github.com/wxclub/wxclub/wechat/emulator"
)

// Every API the client calls recovers from one refused access token at the
// cost of one token fetch, and gives up on a second refusal: a merchant
// whose token lapsed loses no card update, QR code or reply, and a token
// WeChat keeps refusing does not loop.
func TestEveryAPIRefreshesARefusedTokenOnce(t *testing.T) {
	f := useEmulator(t, 0)
	m := f.merchant()
	ctx := context.Background()
	openid, cardID, code := f.cardHolder(m)
	if _, err := shared.emu.Say(ctx, m.OfficialAccount.AppID, openid, "积分"); err != nil {
		t.Fatal(err) // opens the customer-service window for SendText
	}
	tag, err := f.client.CreateTag(ctx, m, "茶友")
	if err != nil {
		t.Fatal(err) // also caches the token every case starts from
	}

	apis := []struct {
		name string
		path string
		call func(try int) error
	}{
		{"SendTemplate", pathSend, func(int) error {
			_, err := f.client.SendTemplate(ctx, m, pointsMessage(openid))
			return err
		}},
		{"UpdateMemberCard", pathCardUpdate, func(try int) error {
			return f.client.UpdateMemberCard(ctx, m, ritual.CardUpdate{CardID: cardID, Code: code, Bonus: int64(try)})
		}},
		{"ActivateMemberCard", pathCardActivate, func(try int) error {
			return f.client.ActivateMemberCard(ctx, m, ritual.CardActivation{
				CardID: cardID, Code: code, MembershipNumber: fmt.Sprintf("M%06d", try),
			})
		}},
		{"CreateQRCode", pathQRCreate, func(try int) error {
			_, err := f.client.CreateQRCode(ctx, m, ritual.QRRequest{Scene: fmt.Sprintf("claim:%d", try)})
			return err
		}},
		{"SendText", "/cgi-bin/message/custom/send", func(int) error {
			return f.client.SendText(ctx, m, openid, "你有 739 积分")
		}},
		{"CreateTag", "/cgi-bin/tags/create", func(try int) error {
			_, err := f.client.CreateTag(ctx, m, fmt.Sprintf("茶友%d", try))
			return err
		}},
		{"Tags", "/cgi-bin/tags/get", func(int) error {
			_, err := f.client.Tags(ctx, m)
			return err
		}},
		{"TagUsers", pathTagsBatchTag, func(int) error {
			return f.client.TagUsers(ctx, m, tag.ID, []string{openid})
		}},
	}
	for i, api := range apis {
		t.Run(api.name, func(t *testing.T) {
			t.Run("refused once", func(t *testing.T) {
				shared.emu.AddFault(emulator.Fault{Path: api.path, ErrCode: 40001})
				tokens, calls := shared.calls.count(pathToken), shared.calls.count(api.path)
				if err := api.call(2 * i); err != nil {
					t.Fatalf("with a refused token: %v, want it retried with a fresh one", err)
				}
				if got := shared.calls.count(pathToken) - tokens; got != 1 {
					t.Errorf("%d token fetches, want 1 refresh", got)
				}
				if got := shared.calls.count(api.path) - calls; got != 2 {
					t.Errorf("%d calls, want the refused one and one retry", got)
				}
			})
			t.Run("refused twice", func(t *testing.T) {
				shared.emu.AddFault(emulator.Fault{Path: api.path, Count: 2, ErrCode: 42001})
				tokens, calls := shared.calls.count(pathToken), shared.calls.count(api.path)
				se := sendError(t, api.call(2*i+1))
				if se.Class != ritual.SendRetry || se.ErrCode != 42001 {
					t.Errorf("got %s/%d, want retry/42001: %v", se.Class, se.ErrCode, se)
				}
				if got := shared.calls.count(pathToken) - tokens; got != 1 {
					t.Errorf("%d token fetches, want 1 refresh", got)
				}
				if got := shared.calls.count(api.path) - calls; got != 2 {
					t.Errorf("%d calls, want 2: a fresh token refused is not retried again", got)
				}
			})
		})
	}
}
