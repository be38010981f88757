package models_test

import (
	"testing"

	"github.com/wxclub/wxclub/models/modelstest"
)

// TestMain drops the MySQL database this package's tests created.
func TestMain(m *testing.M) { modelstest.Main(m) }
