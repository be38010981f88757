package handlers

import (
	"github.com/gin-gonic/gin"

	"github.com/wxclub/wxclub/ritual"
)

// postOrder answers POST /api/v1/orders: 201 with the order, the points it
// earned and the member; 200 with the same answer for a resend.
func (s *Server) postOrder(c *gin.Context) {
	var in ritual.OrderInput
	if err := decodeJSON(c, &in); err != nil {
		writeError(c, err)
		return
	}
	answer, isNew, err := s.club.RecordOrder(c.Request.Context(), merchantOf(c), in)
	if err != nil {
		writeError(c, err)
		return
	}
	created(c, isNew, answer)
}

// postRefund answers POST /api/v1/orders/:order_no/refunds.
func (s *Server) postRefund(c *gin.Context) {
	var in ritual.RefundInput
	if err := decodeJSON(c, &in); err != nil {
		writeError(c, err)
		return
	}
	in.OrderNo = c.Param("order_no")
	answer, isNew, err := s.club.RecordRefund(c.Request.Context(), merchantOf(c), in)
	if err != nil {
		writeError(c, err)
		return
	}
	created(c, isNew, answer)
}
