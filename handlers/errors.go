package handlers

import (
	"context"
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/wxclub/wxclub/ritual"
)

// statusOf maps domain error codes to HTTP statuses, in one place.
var statusOf = map[string]int{
	ritual.EBADREQUEST:   http.StatusBadRequest,
	ritual.EUNAUTHORIZED: http.StatusUnauthorized,
	ritual.EFORBIDDEN:    http.StatusForbidden,
	ritual.ENOTFOUND:     http.StatusNotFound,
	ritual.ECONFLICT:     http.StatusConflict,
	ritual.ETOOLARGE:     http.StatusRequestEntityTooLarge,
	ritual.EMEDIATYPE:    http.StatusUnsupportedMediaType,
	ritual.EINVALID:      http.StatusUnprocessableEntity,
	ritual.ERATELIMITED:  http.StatusTooManyRequests,
	ritual.EUNAVAILABLE:  http.StatusServiceUnavailable,
	ritual.EINTERNAL:     http.StatusInternalServerError,
}

// apiError is the body of every merchant-API error.
type apiError struct {
	Error apiErrorBody `json:"error"`
}

type apiErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

// writeError answers err as JSON. Internal errors are logged and answered
// with a generic message, so no detail of an outage reaches a client.
func writeError(c *gin.Context, err error) {
	if clientGone(c, err) {
		return
	}
	code := ritual.ErrorCode(err)
	status, ok := statusOf[code]
	if !ok {
		status = http.StatusInternalServerError
	}
	if status >= 500 {
		c.Error(err) // the request log reports it
	}
	c.AbortWithStatusJSON(status, apiError{Error: apiErrorBody{
		Code: code, Message: ritual.ErrorMessage(err), Field: ritual.ErrorField(err),
	}})
}

// statusFor returns the HTTP status for err, for answers that are not JSON.
func statusFor(err error) int {
	if status, ok := statusOf[ritual.ErrorCode(err)]; ok {
		return status
	}
	return http.StatusInternalServerError
}

// statusClientClosed is nginx's 499: the client went away before the
// answer, so there is no one to answer and nothing went wrong here.
const statusClientClosed = 499

// clientGone answers 499 when the client has gone away: whatever err says
// then (context canceled, a transaction database/sql already rolled back),
// the work was abandoned and rolled back, and no one is listening.
func clientGone(c *gin.Context, err error) bool {
	if !errors.Is(c.Request.Context().Err(), context.Canceled) {
		return false
	}
	c.AbortWithStatus(statusClientClosed)
	return true
}
