package steward

import (
	"errors"
	"fmt"
)

// Error codes. Each maps to one HTTP status and one CLI exit code in a single
// table (ErrorTable), so that a caller learns the same thing whichever way it
// reaches Steward: the API, the web UI and the CLI all read it.
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
	// EMETHOD is HTTP's own: the path exists, but not with the request's
	// method. It is in the table so that every code a client can receive has
	// its row.
	EMETHOD = "method_not_allowed"
	// EMISDIRECTED refuses a request for a host name that is not Steward's
	// own (HTTP 421 Misdirected Request), so that a page that rebinds its
	// DNS name to Steward's address cannot read Steward's answers.
	EMISDIRECTED = "misdirected"
)

// Exit codes of the steward command. Scripts tell a missing object from a
// refused token by them without parsing text.
const (
	ExitOK           = 0
	ExitInternal     = 1
	ExitInvalid      = 2 // bad flags, arguments or input
	ExitNotFound     = 3
	ExitUnauthorized = 4 // no valid token, or not allowed
	ExitConflict     = 5
	ExitUnavailable  = 6 // the store or server cannot be reached
	ExitAuditBroken  = 7 // steward audit verify found a broken chain (a *ChainError, not a code)
)

// ErrorClass is one row of the error table: a code, the HTTP status the API
// and the web UI answer it with, and the exit code of the CLI.
type ErrorClass struct {
	Code       string
	HTTPStatus int
	ExitCode   int
}

// ErrorTable is the one table from error code to HTTP status and exit code.
// The statuses are plain ints so that the domain needs no HTTP package.
var ErrorTable = []ErrorClass{
	{EINVALID, 400, ExitInvalid},
	{EUNAUTHORIZED, 401, ExitUnauthorized},
	{EFORBIDDEN, 403, ExitUnauthorized},
	{ENOTFOUND, 404, ExitNotFound},
	{EMETHOD, 405, ExitInvalid},
	{ECONFLICT, 409, ExitConflict},
	{ETOOLARGE, 413, ExitInvalid},
	{EMISDIRECTED, 421, ExitInvalid},
	{EINTERNAL, 500, ExitInternal},
	{ENOTIMPL, 501, ExitInternal},
	{EUNAVAILABLE, 503, ExitUnavailable},
}

// errorClass returns the row of code, or the row of EINTERNAL for a code the
// table does not hold: an unknown code is a fault in Steward.
func errorClass(code string) ErrorClass {
	var internal ErrorClass
	for _, c := range ErrorTable {
		if c.Code == code {
			return c
		} else if c.Code == EINTERNAL {
			internal = c
		}
	}
	return internal
}

// HTTPStatus returns the HTTP status of an error code (500 for a code the
// table does not hold).
func HTTPStatus(code string) int { return errorClass(code).HTTPStatus }

// ExitCode returns the steward command's exit code for an error code
// (ExitInternal for a code the table does not hold).
func ExitCode(code string) int { return errorClass(code).ExitCode }

// CodeOfHTTPStatus is the inverse of HTTPStatus, for clients that receive a
// status without a JSON error body (from a proxy, say): the first code with
// that status, or EINTERNAL for a status the table does not hold.
func CodeOfHTTPStatus(status int) string {
	for _, c := range ErrorTable {
		if c.HTTPStatus == status {
			return c.Code
		}
	}
	return EINTERNAL
}

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

// FailureText is how a failure is kept for people to read, such as a
// request's last fulfilment error: "code: message" for Steward's errors
// (what a connector returns), else the error's own text.
func FailureText(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code + ": " + e.Message
	}
	return err.Error()
}

// IsCode reports whether err carries the given code.
func IsCode(err error, code string) bool { return ErrorCode(err) == code }
