package handlers

import (
	"context"

	"github.com/gin-gonic/gin"

	"github.com/wxclub/wxclub/ritual"
)

// Orders records what shops sell and refund. A resend with the same number
// gets the first answer and created=false; another order or refund under
// that number is ECONFLICT.
type Orders interface {
	// RecordOrder records a paid order: the buyer (found by openid or
	// phone, made a member if new) earns points and their level is
	// re-evaluated.
	RecordOrder(ctx context.Context, m *ritual.Merchant, in ritual.OrderInput) (answer *ritual.OrderAnswer, created bool, err error)
	// RecordRefund takes back the points the refunded part earned; more
	// than is left of the order is EINVALID.
	RecordRefund(ctx context.Context, m *ritual.Merchant, in ritual.RefundInput) (answer *ritual.RefundAnswer, created bool, err error)
}

var _ Orders = (*ritual.Shop)(nil)

// ordersAPI answers /api/v1/orders and its refunds.
type ordersAPI struct {
	orders Orders
}

// postOrder answers POST /api/v1/orders: 201 with the order, the points it
// earned and the member; 200 with the same answer for a resend.
func (h *ordersAPI) postOrder(c *gin.Context) {
	var in ritual.OrderInput
	if err := decodeJSON(c, &in); err != nil {
		writeError(c, err)
		return
	}
	answer, isNew, err := h.orders.RecordOrder(c.Request.Context(), merchantOf(c), in)
	if err != nil {
		writeError(c, err)
		return
	}
	created(c, isNew, answer)
}

// postRefund answers POST /api/v1/orders/:order_no/refunds.
func (h *ordersAPI) postRefund(c *gin.Context) {
	var in ritual.RefundInput
	if err := decodeJSON(c, &in); err != nil {
		writeError(c, err)
		return
	}
	in.OrderNo = c.Param("order_no")
	answer, isNew, err := h.orders.RecordRefund(c.Request.Context(), merchantOf(c), in)
	if err != nil {
		writeError(c, err)
		return
	}
	created(c, isNew, answer)
}
