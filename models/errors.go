package models

import (
	"errors"
	"fmt"

	"gorm.io/gorm"

	"github.com/wxclub/wxclub/ritual"
)

// translate turns a storage error into a ritual error where one applies and
// wraps the rest with what was being done. what reads like "find member".
func translate(err error, what string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, gorm.ErrRecordNotFound):
		return ritual.Errorf(ritual.ENOTFOUND, "%s: not found", what)
	case errors.Is(err, gorm.ErrDuplicatedKey):
		return ritual.Errorf(ritual.ECONFLICT, "%s: already exists", what)
	default:
		return fmt.Errorf("models: %s: %w", what, err)
	}
}
