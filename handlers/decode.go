package handlers

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/wxclub/wxclub/ritual"
)

// maxAPIBody bounds a merchant-API request body.
const maxAPIBody = 1 << 20

// decodeJSON reads the body into v. Malformed JSON is EBADREQUEST; a field
// of the wrong type or one the endpoint does not know is EINVALID naming
// the field, so a shop sees exactly what to fix.
func decodeJSON(c *gin.Context, v any) error {
	body, err := readLimited(c.Request, maxAPIBody)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	err = dec.Decode(v)
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case err == nil:
		if dec.More() {
			return ritual.Errorf(ritual.EBADREQUEST, "the body holds more than one JSON value")
		}
		return nil
	case errors.As(err, &typeErr):
		return ritual.FieldErrorf(typeErr.Field, "must be a %s, got a JSON %s", jsonKind(typeErr.Type.Kind().String()), typeErr.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return ritual.FieldErrorf(field, "is not a field of this request")
	case errors.As(err, &syntaxErr), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return ritual.Errorf(ritual.EBADREQUEST, "the body is not valid JSON")
	case errors.As(err, new(*time.ParseError)):
		return ritual.FieldErrorf(badField(body, v), "must be a time in RFC 3339, such as 2026-11-24T10:00:00+08:00")
	default:
		// A value's own parser failed (a time that is not RFC 3339): find
		// which field by decoding them one at a time.
		return ritual.FieldErrorf(badField(body, v), "%v", err)
	}
}

// badField returns the first top-level field of body that does not decode
// into a fresh value of v's type on its own.
func badField(body []byte, v any) string {
	var fields map[string]json.RawMessage
	if json.Unmarshal(body, &fields) != nil {
		return ""
	}
	for name, raw := range fields {
		probe := reflect.New(reflect.TypeOf(v).Elem()).Interface()
		one, _ := json.Marshal(map[string]json.RawMessage{name: raw})
		if json.Unmarshal(one, probe) != nil {
			return name
		}
	}
	return ""
}

func jsonKind(goKind string) string {
	switch {
	case strings.HasPrefix(goKind, "int"), strings.HasPrefix(goKind, "uint"), strings.HasPrefix(goKind, "float"):
		return "number"
	case goKind == "struct":
		return "time in RFC 3339 (2026-11-24T10:00:00+08:00)"
	default:
		return goKind
	}
}

// created answers 201 for a new record and 200 for a resend of one.
func created(c *gin.Context, isNew bool, v any) {
	status := http.StatusOK
	if isNew {
		status = http.StatusCreated
	}
	c.JSON(status, v)
}
