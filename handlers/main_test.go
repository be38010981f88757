package handlers_test

import (
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/wxclub/wxclub/models/modelstest"
)

// TestMain runs gin in release mode, as cmd/wxclub does: the mode is
// process-global, so the program sets it, not handlers.New.
func TestMain(m *testing.M) {
	gin.SetMode(gin.ReleaseMode)
	modelstest.Main(m)
}
