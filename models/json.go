package models

import (
	"encoding/json"
	"fmt"
)

// toJSON encodes a value stored as a JSON column; "" for nil.
func toJSON(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("models: encode %T: %w", v, err)
	}
	if string(b) == "null" {
		return "", nil
	}
	return string(b), nil
}

// fromJSON decodes a JSON column into v unless it is empty.
func fromJSON(s string, v any) error {
	if s == "" {
		return nil
	}
	if err := json.Unmarshal([]byte(s), v); err != nil {
		return fmt.Errorf("models: decode %T: %w", v, err)
	}
	return nil
}
