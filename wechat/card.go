package wechat

import (
	"context"

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
	if err := c.post(ctx, m, "update member card", pathCardUpdateUser, body, &res); err != nil {
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
	if err := c.post(ctx, m, "activate member card", pathCardActivate, body, nil); err != nil {
		c.log.Warn("member card not activated", "merchant", m.ID, "class", err.Class, "errcode", err.ErrCode)
		return err
	}
	c.log.Debug("member card activated", "merchant", m.ID, "errcode", 0)
	return nil
}
