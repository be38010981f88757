package emulator

import (
	"encoding/json"
	"fmt"
)

// Member card rules (doc/offiaccount/Cards_and_Offer/Membership_Cards and
// Card_coupons_error_code.html). A code exists once the shopper received
// the card, which the emulator learns from the user_get_card event it
// delivers (Event with CardId and UserCardCode):
//   - an unknown code: 40056 "不合法的Code码";
//   - a card_id that is not the code's card: 40073 "不合法的 cardid";
//   - a code the user deleted (user_del_card): 40127 "卡券被用户删除或转赠中";
//   - activate needs membership_number and code, updateuser needs code:
//     41011 "缺少必填字段";
//   - updateuser: bonus/balance set the total, add_bonus/add_balance
//     change it ("本次积分变动值，传负数代表减少"); bonus wins when both are
//     sent. The answer carries result_bonus, result_balance and openid.
type cardCode struct {
	code       string
	cardID     string
	openid     string
	deleted    bool
	activated  bool
	membership string
	bonus      int
	balance    int
}

// receiveCard records a card the shopper got. Callers hold e.mu.
func (a *account) receiveCard(openid, cardID, code string) {
	if cardID == "" || code == "" {
		return
	}
	a.cards[code] = &cardCode{code: code, cardID: cardID, openid: openid}
}

// deleteCard records that the shopper deleted the card from their wallet.
func (a *account) deleteCard(openid, code string) {
	if c, ok := a.cards[code]; ok && c.openid == openid {
		c.deleted = true
	}
}

// cardFor finds a code and checks it against the card_id sent, if any.
func (a *account) cardFor(code, cardID string) (*cardCode, *apiError) {
	if code == "" {
		return nil, wxErrf(codeMissingField, "(code)")
	}
	c, ok := a.cards[code]
	switch {
	case !ok:
		return nil, wxErr(codeInvalidCardCode)
	case cardID != "" && cardID != c.cardID:
		return nil, wxErr(codeInvalidCardID)
	case c.deleted:
		return nil, wxErr(codeCardDeleted)
	}
	return c, nil
}

type activateRequest struct {
	MembershipNumber string `json:"membership_number"`
	Code             string `json:"code"`
	CardID           string `json:"card_id"`
	InitBonus        *int   `json:"init_bonus"`
	InitBalance      *int   `json:"init_balance"`
}

// cardActivate serves POST /card/membercard/activate.
func (e *Emulator) cardActivate(a *account, c *call) (any, *apiError) {
	var req activateRequest
	payload, err := decodeCard(c, &req)
	if err != nil {
		return nil, err
	}
	if req.MembershipNumber == "" {
		return nil, wxErrf(codeMissingField, "(membership_number)")
	}
	card, err := a.cardFor(req.Code, req.CardID)
	if err != nil {
		return nil, err
	}
	card.activated, card.membership = true, req.MembershipNumber
	if req.InitBonus != nil {
		card.bonus = *req.InitBonus
	}
	if req.InitBalance != nil {
		card.balance = *req.InitBalance
	}
	e.deliverCard(a, card, payload)
	return okBody(), nil
}

type updateUserRequest struct {
	Code       string `json:"code"`
	CardID     string `json:"card_id"`
	Bonus      *int   `json:"bonus"`
	AddBonus   *int   `json:"add_bonus"`
	Balance    *int   `json:"balance"`
	AddBalance *int   `json:"add_balance"`
}

type updateUserResponse struct {
	errBody
	ResultBonus   int    `json:"result_bonus"`
	ResultBalance int    `json:"result_balance"`
	OpenID        string `json:"openid"`
}

// cardUpdateUser serves POST /card/membercard/updateuser.
func (e *Emulator) cardUpdateUser(a *account, c *call) (any, *apiError) {
	var req updateUserRequest
	payload, err := decodeCard(c, &req)
	if err != nil {
		return nil, err
	}
	card, err := a.cardFor(req.Code, req.CardID)
	if err != nil {
		return nil, err
	}
	card.bonus = applyChange(card.bonus, req.Bonus, req.AddBonus)
	card.balance = applyChange(card.balance, req.Balance, req.AddBalance)
	e.deliverCard(a, card, payload)
	return updateUserResponse{okBody(), card.bonus, card.balance, card.openid}, nil
}

// applyChange sets a total or adds to it.
func applyChange(cur int, set, add *int) int {
	switch {
	case set != nil:
		return *set
	case add != nil:
		return cur + *add
	}
	return cur
}

// decodeCard decodes the request into v and also keeps it as a map, the
// payload the shopper's inbox shows as received.
func decodeCard(c *call, v any) (map[string]any, *apiError) {
	if err := c.decode(v); err != nil {
		return nil, err
	}
	var payload map[string]any
	if err := json.Unmarshal(c.body, &payload); err != nil {
		return nil, wxErrf(codeDataFormat, "(%v)", err)
	}
	return payload, nil
}

// deliverCard puts a card update in the card holder's inbox. Callers hold
// e.mu.
func (e *Emulator) deliverCard(a *account, card *cardCode, payload map[string]any) {
	e.deliverToInbox(card.openid, InboxItem{Kind: "card_update", At: e.now(), AppID: a.cfg.AppID, Card: payload})
	e.log.Debug("card updated", "code", card.code, "bonus", card.bonus, "balance", card.balance,
		"membership", fmt.Sprint(card.membership))
}
