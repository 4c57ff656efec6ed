package steward

import (
	"errors"
	"fmt"
)

// Error codes. Each maps to one HTTP status and one CLI exit code in a single
// table (see http.ErrorStatus and cmd/steward), so that a caller learns the same
// thing whichever way it reaches Steward.
const (
	ECONFLICT     = "conflict"     // the object exists already or changed underneath
	EINTERNAL     = "internal"     // a fault in Steward or its store; detail is logged, never shown
	EINVALID      = "invalid"      // the input is malformed or breaks a rule
	ENOTFOUND     = "not_found"    // no such object
	EUNAUTHORIZED = "unauthorized" // no valid credential was presented
	EFORBIDDEN    = "forbidden"    // the credential is valid but not allowed to do this
	ETOOLARGE     = "too_large"    // the request body or batch is over its limit
	EUNAVAILABLE  = "unavailable"  // a dependency (the store) cannot be reached right now
	ENOTIMPL      = "not_implemented"
)

// Error is Steward's one application error. Code is machine-readable; Message is
// safe to show to the user who caused it. Errors that are not *Error are
// internal: their text is logged and the user sees a generic message.
type Error struct {
	Code    string
	Message string
}

// Error implements the error interface.
func (e *Error) Error() string {
	return fmt.Sprintf("steward error: code=%s message=%s", e.Code, e.Message)
}

// Is reports whether target is an *Error with the same code, so that
// errors.Is(err, &Error{Code: ENOTFOUND}) works through wrapping.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code && (t.Message == "" || t.Message == e.Message)
}

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code string, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the *Error in err's chain, EINTERNAL for any
// other non-nil error and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the user-facing message of the *Error in err's chain,
// or a generic message for internal errors so that no detail leaks.
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Message
	}
	return "Internal error."
}

// IsCode reports whether err carries the given code.
func IsCode(err error, code string) bool { return ErrorCode(err) == code }
