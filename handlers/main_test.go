package handlers_test

import (
	"testing"

	"github.com/wxclub/wxclub/models/modelstest"
)

func TestMain(m *testing.M) { modelstest.Main(m) }
