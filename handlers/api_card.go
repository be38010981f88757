package handlers

import (
	"context"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/wxclub/wxclub/ritual"
)

// Cards is the membership card a shop prints or sends, and the QR codes
// members are sent in chat.
type Cards interface {
	// Card returns the card of a member recognized from an order.
	Card(ctx context.Context, m *ritual.Merchant, openidOrPhone string, permanent bool) (ritual.CardView, error)
	// QRImage returns where the image of a member's invitation QR code
	// (scene "ref:<code>") is; ENOTFOUND for an unknown code and for every
	// other scene, card codes included; ERATELIMITED past the limits per
	// client address and per merchant.
	QRImage(ctx context.Context, merchantID, scene, address string) (string, error)
}

var _ Cards = (*ritual.Cards)(nil)

// cardsAPI answers /api/v1/members/:openid/card and the QR links.
type cardsAPI struct {
	cards Cards
}

// getCard answers GET /api/v1/members/:openid/card?permanent=true: what
// the merchant prints on the membership card or sends the buyer.
func (h *cardsAPI) getCard(c *gin.Context) {
	permanent, _ := strconv.ParseBool(c.Query("permanent"))
	card, err := h.cards.Card(c.Request.Context(), merchantOf(c), c.Param("openid"), permanent)
	if err != nil {
		writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, card)
}

// getQR answers GET /qr/:merchant/:scene, the link a member gets in chat
// for their invitation code: a redirect to WeChat's QR image. Requests are
// counted against the peer's address, as console sign-ins are:
// X-Forwarded-For is not trusted, anyone can write it.
func (h *cardsAPI) getQR(c *gin.Context) {
	url, err := h.cards.QRImage(c.Request.Context(), c.Param("merchant"), c.Param("scene"), c.RemoteIP())
	if err != nil {
		writeError(c, err)
		return
	}
	c.Redirect(http.StatusFound, url)
}
