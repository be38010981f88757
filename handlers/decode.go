package handlers

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/wxclub/wxclub/ritual"
)

// maxAPIBody bounds a merchant-API request body.
const maxAPIBody = 1 << 20

// requireJSON guards the merchant API's writes: a POST or PUT whose body is
// not declared JSON is 415 before anything reads it. A form or text/plain
// body that happens to parse as JSON is refused, not guessed at.
func requireJSON(c *gin.Context) {
	if c.Request.Method == http.MethodPost || c.Request.Method == http.MethodPut {
		if err := jsonContentType(c.Request); err != nil {
			writeError(c, err)
			return
		}
	}
	c.Next()
}

// jsonContentType accepts Content-Type application/json, with parameters
// but no charset other than UTF-8 (JSON is UTF-8, RFC 8259), and no
// Content-Type only for a request without a body (POST .../use).
func jsonContentType(r *http.Request) error {
	header := r.Header.Get("Content-Type")
	if header == "" {
		if r.ContentLength == 0 {
			return nil
		}
		return ritual.Errorf(ritual.EMEDIATYPE, "the body has no Content-Type; send it as application/json")
	}
	mediaType, params, err := mime.ParseMediaType(header)
	if err != nil || mediaType != "application/json" {
		return ritual.Errorf(ritual.EMEDIATYPE, "Content-Type is %q; the body must be application/json", header)
	}
	if charset, ok := params["charset"]; ok && !strings.EqualFold(charset, "utf-8") {
		return ritual.Errorf(ritual.EMEDIATYPE, "charset is %q; JSON is read as UTF-8 only", charset)
	}
	return nil
}

// readJSON reads a JSON body of at most limit bytes and refuses one that
// is not valid Unicode: encoding/json would store each bad byte, and each
// unpaired surrogate escape, as U+FFFD, changing what the shop sent.
func readJSON(r *http.Request, limit int64) ([]byte, error) {
	body, err := readLimited(r, limit)
	if err != nil {
		return nil, err
	}
	return body, validUnicode(body)
}

// validUnicode returns EBADREQUEST, saying where, when body holds bytes
// that are not UTF-8 or a \u escape of half a surrogate pair.
func validUnicode(body []byte) error {
	for i := 0; i < len(body); {
		r, size := utf8.DecodeRune(body[i:])
		if r == utf8.RuneError && size == 1 {
			return ritual.Errorf(ritual.EBADREQUEST, "the body is not valid UTF-8 (byte %d)", i)
		}
		if body[i] != '\\' {
			i += size
			continue
		}
		// A backslash only means something inside a string, where it
		// escapes the next character (always ASCII in valid JSON); the
		// JSON decoder rejects it elsewhere.
		hi, ok := hexEscape(body, i)
		switch {
		case !ok:
			i++
			if i < len(body) && body[i] < utf8.RuneSelf {
				i++
			}
		case hi >= 0xD800 && hi < 0xDC00:
			if lo, ok := hexEscape(body, i+6); !ok || lo < 0xDC00 || lo >= 0xE000 {
				return ritual.Errorf(ritual.EBADREQUEST, "the body escapes half a surrogate pair, \\u%04X, that is no character (byte %d)", hi, i)
			}
			i += 12
		case hi >= 0xDC00 && hi < 0xE000:
			return ritual.Errorf(ritual.EBADREQUEST, "the body escapes half a surrogate pair, \\u%04X, that is no character (byte %d)", hi, i)
		default:
			i += 6
		}
	}
	return nil
}

// hexEscape returns the code unit of the \uXXXX escape at body[i:].
func hexEscape(body []byte, i int) (rune, bool) {
	if i+6 > len(body) || body[i] != '\\' || body[i+1] != 'u' {
		return 0, false
	}
	n, err := strconv.ParseUint(string(body[i+2:i+6]), 16, 16)
	return rune(n), err == nil
}

// decodeJSON reads the body into v. Malformed JSON, or JSON that is not
// valid Unicode, is EBADREQUEST; a field of the wrong type or one the
// endpoint does not know is EINVALID naming the field, so a shop sees
// exactly what to fix.
func decodeJSON(c *gin.Context, v any) error {
	body, err := readJSON(c.Request, maxAPIBody)
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
		// Decode stops after the first value; anything but space after it
		// (another value, a stray "}") makes the body something else.
		if _, err := dec.Token(); !errors.Is(err, io.EOF) {
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
