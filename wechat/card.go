package wechat

import (
	"context"
	"encoding/json"

	"github.com/silenceper/wechat/v2/util"

	"github.com/wxclub/wxclub/ritual"
)

// The member-card APIs (doc/offiaccount/Cards_and_Offer/Membership_Cards).
const (
	pathCardUpdateUser = "/card/membercard/updateuser"
	pathCardActivate   = "/card/membercard/activate"
)

var _ ritual.CardMessenger = (*Client)(nil)

// cardUpdateBody is updateuser's request. Bonus is always sent: it is the
// absolute balance, so 0 is a value, not an absence.
type cardUpdateBody struct {
	Code         string `json:"code"`
	CardID       string `json:"card_id"`
	Bonus        int64  `json:"bonus"`
	CustomField1 string `json:"custom_field_value1,omitempty"`
}

type cardUpdateResult struct {
	ResultBonus int64 `json:"result_bonus"`
}

// UpdateMemberCard sets the points balance and level nickname shown on the
// member's card. An empty Nickname leaves the card's field as it is. A
// failure is a *ritual.SendError, classified as for SendTemplate: an
// unknown code (40056) or a code of another card (40073) is SendFinal.
func (c *Client) UpdateMemberCard(ctx context.Context, m *ritual.Merchant, u ritual.CardUpdate) error {
	if m == nil {
		return sendErrorf(ritual.SendFinal, 0, "no merchant")
	}
	body := cardUpdateBody{Code: u.Code, CardID: u.CardID, Bonus: u.Bonus, CustomField1: u.Nickname}
	var res cardUpdateResult
	if err := c.call(ctx, m, "update member card", pathCardUpdateUser, body, &res); err != nil {
		c.log.Warn("member card not updated", "merchant", m.ID, "class", err.Class, "errcode", err.ErrCode)
		return err
	}
	c.log.Debug("member card updated", "merchant", m.ID, "errcode", 0, "result_bonus", res.ResultBonus)
	return nil
}

// cardActivateBody is activate's request.
type cardActivateBody struct {
	MembershipNumber string `json:"membership_number"`
	Code             string `json:"code"`
	CardID           string `json:"card_id"`
	InitBonus        int64  `json:"init_bonus"`
	InitCustomField1 string `json:"init_custom_field_value1,omitempty"`
}

// ActivateMemberCard activates the member's card with their membership
// number, opening balance and level nickname. A failure is a
// *ritual.SendError, classified as for SendTemplate.
func (c *Client) ActivateMemberCard(ctx context.Context, m *ritual.Merchant, a ritual.CardActivation) error {
	if m == nil {
		return sendErrorf(ritual.SendFinal, 0, "no merchant")
	}
	body := cardActivateBody{
		MembershipNumber: a.MembershipNumber, Code: a.Code, CardID: a.CardID,
		InitBonus: a.Bonus, InitCustomField1: a.Nickname,
	}
	if err := c.call(ctx, m, "activate member card", pathCardActivate, body, nil); err != nil {
		c.log.Warn("member card not activated", "merchant", m.ID, "class", err.Class, "errcode", err.ErrCode)
		return err
	}
	c.log.Debug("member card activated", "merchant", m.ID, "errcode", 0)
	return nil
}

// apiStatus is the part of an answer every WeChat API shares; a success
// may leave it out (qrcode/create does).
type apiStatus struct {
	ErrCode int    `json:"errcode"`
	ErrMsg  string `json:"errmsg"`
}

// call posts body to the WeChat API at path with merchant m's access token
// and, on success, decodes the answer into out (nil: nothing to read). It
// does for any JSON API what sendTemplate does for template messages: a
// refused token is dropped from the shared cache and the call retried once;
// every failure is a *ritual.SendError classified by classifySend. what
// names the call in errors.
func (c *Client) call(ctx context.Context, m *ritual.Merchant, what, path string, body, out any) *ritual.SendError {
	a := c.account(m)
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return sendErrorf(ritual.SendRetry, 0, "%s: gave up: %v", what, err)
		}
		token, err := a.oa.GetAccessTokenContext(ctx)
		if err != nil {
			return classifyToken(ctx, err)
		}
		status, serr := postAPI(ctx, what, path, token, body, out)
		switch {
		case serr != nil:
			return serr
		case status.ErrCode == 0:
			return nil
		case tokenRefused(status.ErrCode) && attempt == 1:
			c.log.Info("access token refused; fetching a new one", "merchant", m.ID, "errcode", status.ErrCode)
			if err := a.token.Refused(ctx, token); err != nil {
				// The retry meets the same token and fails the same way.
				c.log.Warn("refused access token not dropped", "merchant", m.ID, "err", err)
			}
			continue
		default:
			return classifySend(status.ErrCode, Redact(status.ErrMsg))
		}
	}
}

// postAPI makes one call with token and decodes errcode and errmsg, and
// out when errcode is 0.
func postAPI(ctx context.Context, what, path, token string, body, out any) (apiStatus, *ritual.SendError) {
	raw, err := util.PostJSONContext(ctx, WeChatOrigin+path+"?access_token="+token, body)
	if err != nil {
		return apiStatus{}, transportError(ctx, what, err)
	}
	undecodable := func(err error) *ritual.SendError {
		return sendErrorf(ritual.SendRetry, 0, "%s: undecodable answer %q: %s",
			what, Redact(truncate(string(raw), 200)), Redact(err.Error()))
	}
	var status apiStatus
	if err := json.Unmarshal(raw, &status); err != nil {
		return apiStatus{}, undecodable(err)
	}
	if status.ErrCode == 0 && out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return apiStatus{}, undecodable(err)
		}
	}
	return status, nil
}
