package handlers

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/wxclub/wxclub/ritual"
)

// Merchants finds the merchant a request is for: by the id in a webhook's
// path, or by the API key a shop sends. Every request but the health checks
// starts here, so Ready, whether merchants can be found at all (the database
// answers), is what /readyz reports.
type Merchants interface {
	// Merchant returns the merchant with id; ENOTFOUND if there is none.
	Merchant(ctx context.Context, id string) (*ritual.Merchant, error)
	// MerchantByAPIKey returns the merchant whose API key is key;
	// EUNAUTHORIZED if no merchant has it.
	MerchantByAPIKey(ctx context.Context, key string) (*ritual.Merchant, error)
	// Ready returns an error while the store of merchants does not answer.
	Ready(ctx context.Context) error
}

var _ Merchants = (*ritual.Directory)(nil)

// requestIDHeader carries the request id in and out.
const requestIDHeader = "X-Request-Id"

// requestLog writes one line per request. It logs the route pattern, never
// the query string or body: those hold signatures, openids and messages.
func requestLog(log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		id := c.GetHeader(requestIDHeader)
		if id == "" || len(id) > 64 {
			id = newRequestID()
		}
		c.Header(requestIDHeader, id)
		c.Set("request_id", id)
		c.Next()
		level := slog.LevelInfo
		if c.Writer.Status() >= 500 {
			level = slog.LevelError
		}
		attrs := []any{
			"request_id", id, "method", c.Request.Method, "route", c.FullPath(),
			"status", c.Writer.Status(), "duration_ms", time.Since(start).Milliseconds(),
		}
		if merchant := c.Param("merchant"); merchant != "" {
			attrs = append(attrs, "merchant", merchant)
		}
		if openid := c.GetString(openIDKey); openid != "" {
			attrs = append(attrs, "openid", openid) // only when log.openids is on
		}
		if len(c.Errors) > 0 {
			attrs = append(attrs, "err", c.Errors.Last().Error())
		}
		log.Log(c.Request.Context(), level, "request", attrs...)
	}
}

func newRequestID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// recoverPanic turns a panic into a 500 and a log line, and keeps serving.
func recoverPanic(log *slog.Logger) gin.HandlerFunc {
	return gin.CustomRecovery(func(c *gin.Context, recovered any) {
		log.ErrorContext(c.Request.Context(), "panic", "panic", fmt.Sprint(recovered), "route", c.FullPath())
		c.AbortWithStatus(http.StatusInternalServerError)
	})
}

// merchantKey is where authenticate leaves the caller's merchant.
const merchantKey = "merchant"

// authenticate returns the middleware that resolves
// "Authorization: Bearer <api_key>" to a merchant.
func authenticate(merchants Merchants) gin.HandlerFunc {
	return func(c *gin.Context) {
		const prefix = "Bearer "
		header := c.GetHeader("Authorization")
		if len(header) <= len(prefix) || header[:len(prefix)] != prefix {
			c.Header("WWW-Authenticate", `Bearer realm="wxclub"`)
			writeError(c, ritual.Errorf(ritual.EUNAUTHORIZED, "send the merchant API key as 'Authorization: Bearer <api_key>'"))
			return
		}
		m, err := merchants.MerchantByAPIKey(c.Request.Context(), header[len(prefix):])
		if err != nil {
			c.Header("WWW-Authenticate", `Bearer realm="wxclub", error="invalid_token"`)
			writeError(c, err)
			return
		}
		c.Set(merchantKey, m)
		c.Next()
	}
}

// merchantOf returns the merchant authenticate found.
func merchantOf(c *gin.Context) *ritual.Merchant {
	return c.MustGet(merchantKey).(*ritual.Merchant)
}
