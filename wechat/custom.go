package wechat

import (
	"context"

	"github.com/wxclub/wxclub/ritual"
)

// pathCustomSend is the customer-service message API
// (doc/offiaccount/Customer_Service/Service_Center_messages.html).
const pathCustomSend = "/cgi-bin/message/custom/send"

type customText struct {
	Content string `json:"content"`
}

type customTextBody struct {
	ToUser  string     `json:"touser"`
	MsgType string     `json:"msgtype"`
	Text    customText `json:"text"`
}

// SendText sends a customer-service text message to openid from merchant
// m's official account. WeChat allows it only within 48 hours of the
// user's last message (45015 outside, 45047 over the count): those, and
// any other refusal, are SendFinal; 43004 (not following) is
// SendNotFollowing. A failure is a *ritual.SendError.
func (c *Client) SendText(ctx context.Context, m *ritual.Merchant, openid, text string) error {
	if m == nil {
		return sendErrorf(ritual.SendFinal, 0, "no merchant")
	}
	body := customTextBody{ToUser: openid, MsgType: "text", Text: customText{Content: text}}
	if err := c.post(ctx, m, "send customer-service text", pathCustomSend, body, nil); err != nil {
		c.log.Warn("customer-service text not sent", "merchant", m.ID, "class", err.Class, "errcode", err.ErrCode)
		return err
	}
	c.log.Debug("customer-service text sent", "merchant", m.ID, "errcode", 0)
	return nil
}
