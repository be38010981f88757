package handlers

import (
	_ "embed"

	"github.com/gin-gonic/gin"
)

// openAPIDoc describes the merchant API; a test holds it to the routes.
//
//go:embed openapi.json
var openAPIDoc []byte

// getOpenAPI answers GET /api/v1/openapi.json, without an API key.
func getOpenAPI(c *gin.Context) {
	c.Data(200, "application/json; charset=utf-8", openAPIDoc)
}
