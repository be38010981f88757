package ritual

import (
	"errors"
	"fmt"
	"unicode/utf8"
)

// Error codes. Adapters map them to transport statuses in one table
// (handlers/errors.go); anything else is an internal error whose message is
// never shown to a user.
const (
	ECONFLICT     = "conflict"     // the request contradicts what is stored (409)
	EINTERNAL     = "internal"     // a bug or an outage (500)
	EINVALID      = "invalid"      // the request is well-formed but its values are wrong (422)
	EBADREQUEST   = "bad_request"  // the request cannot be parsed (400)
	ENOTFOUND     = "not_found"    // no such thing for this merchant (404)
	EUNAUTHORIZED = "unauthorized" // missing or wrong credentials (401)
	EFORBIDDEN    = "forbidden"    // credentials fine, signature or policy not (403)
	EUNAVAILABLE  = "unavailable"  // a dependency is down; try again later (503)
	ETOOLARGE     = "too_large"    // the body is over the limit (413)
	EMEDIATYPE    = "media_type"   // the body is not in the media type the endpoint takes (415)
	EDUPLICATE    = "duplicate"    // the same key was seen before; not an error for callers that dedupe
	ERATELIMITED  = "rate_limited" // slow down (429)
)

// Error is a domain error: a code an adapter can act on and a message a user
// can read. Field names the offending input, in the caller's own terms
// ("amount_fen", "membership.levels[1].min_orders"), when there is one.
type Error struct {
	Code    string
	Field   string
	Message string
}

// Error implements error.
func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("ritual: %s: %s: %s", e.Code, e.Field, e.Message)
	}
	return fmt.Sprintf("ritual: %s: %s", e.Code, e.Message)
}

// Errorf returns an *Error with the given code and formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// FieldErrorf returns an EINVALID *Error about one field.
func FieldErrorf(field, format string, args ...any) *Error {
	return &Error{Code: EINVALID, Field: field, Message: fmt.Sprintf(format, args...)}
}

// bounded is an input field, its value and the most characters it may
// hold: the size of the column that keeps it.
type bounded struct {
	field, value string
	max          int
}

// checkLengths returns an error of code naming the first field whose value
// has more than its max characters. Characters, because MySQL sizes a
// varchar in them: a value that passes fits its column on every database,
// instead of failing on MySQL ("Data too long", a 500 WeChat retries) and
// being stored whole on SQLite. The message names the field too, for
// answers that carry no field of their own (the webhook's plain text).
func checkLengths(code string, fields ...bounded) error {
	for _, f := range fields {
		if n := utf8.RuneCountInString(f.value); n > f.max {
			return &Error{Code: code, Field: f.field, Message: fmt.Sprintf("%s is %d characters long; at most %d are accepted", f.field, n, f.max)}
		}
	}
	return nil
}

// ErrorCode returns the code of the *Error in err's chain, EINTERNAL for any
// other error and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the user-facing message of err: the *Error's message,
// or a generic sentence for internal errors so that no detail leaks.
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

// ErrorField returns the offending field named by err, if any.
func ErrorField(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Field
	}
	return ""
}

// Prefix returns err with its Field prefixed by path, so nested validation
// names the full key ("merchants[0]." + "membership.period_days").
func Prefix(path string, err error) error {
	var e *Error
	if err == nil || !errors.As(err, &e) {
		return err
	}
	cp := *e
	if cp.Field == "" {
		cp.Field = path
	} else {
		cp.Field = path + "." + cp.Field
	}
	return &cp
}
