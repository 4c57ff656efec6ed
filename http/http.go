// Package http serves Steward over HTTP: the REST API under /api/v1, the
// health and readiness probes, Prometheus metrics, the OpenAPI document that
// describes the API and, when one is given, the web UI.
//
// It translates between HTTP and the domain: query strings become
// steward.*Filter values, JSON bodies become domain objects, and
// steward.Error codes become HTTP statuses through the one table in the
// domain (steward.ErrorTable).
package http

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/stewardhq/steward"
)

// ErrorStatus returns the HTTP status for a steward error code from the one
// error table (steward.ErrorTable), and 500 for a code it does not know.
func ErrorStatus(code string) int { return steward.HTTPStatus(code) }

// StatusErrorCode is the inverse of ErrorStatus, for clients that receive a
// status without a JSON error body (from a proxy, say). It returns EINTERNAL
// for a status the table does not hold.
func StatusErrorCode(status int) string { return steward.CodeOfHTTPStatus(status) }

// ErrorResponse is the body of every error response:
// {"error": {"code": "...", "message": "..."}}.
type ErrorResponse struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the code and user-facing message of an error response.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// writeError writes err as a JSON error response. Internal errors are logged
// with their detail and shown as a generic message, so that nothing about the
// store or the code leaks to the caller.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code, msg := steward.ErrorCode(err), steward.ErrorMessage(err)
	if code == steward.EINTERNAL {
		s.logger.LogAttrs(r.Context(), slog.LevelError, "internal error",
			slog.String("method", r.Method), slog.String("route", infoFrom(r.Context()).route),
			slog.String("error", err.Error()))
	}
	if rec, ok := w.(*statusRecorder); ok && rec.wrote {
		// The response has begun; a second status cannot be sent. The error
		// is still worth knowing about.
		s.logger.LogAttrs(r.Context(), slog.LevelWarn, "error after response started",
			slog.String("route", infoFrom(r.Context()).route), slog.String("error", err.Error()))
		return
	}
	if code == steward.EUNAUTHORIZED {
		w.Header().Set("WWW-Authenticate", `Bearer realm="steward"`)
	}
	if code == steward.EUNAVAILABLE {
		SetRetryAfter(w)
	}
	if err := writeJSON(w, ErrorStatus(code), ErrorResponse{ErrorDetail{code, msg}}); err != nil {
		s.logger.LogAttrs(r.Context(), slog.LevelError, "write error response", slog.String("error", err.Error()))
	}
}

// RetryAfter is how long a client told 503 (code unavailable: the store is
// busy with another write, such as a long import, or cannot be reached)
// is asked to wait before it tries again.
const RetryAfter = 5 * time.Second

// SetRetryAfter sets the Retry-After header of a 503 answer (RetryAfter).
func SetRetryAfter(w http.ResponseWriter) {
	w.Header().Set("Retry-After", strconv.Itoa(int(RetryAfter/time.Second)))
}

// writeJSON writes v as a JSON response. It encodes before writing anything
// so that a value that cannot be encoded becomes a clean 500, not half a body.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode response: %w", err)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n')) // a failed write means the client has gone; nothing to do
	return nil
}

// writePage writes one page of a list. An empty page has "items": [] rather
// than null, as the OpenAPI document promises.
func writePage[T any](w http.ResponseWriter, p *steward.Page[T]) error {
	if p.Items == nil {
		p.Items = []T{}
	}
	return writeJSON(w, http.StatusOK, p)
}

// listPage ends a list handler: once the query's parameters have all
// parsed into f, it fetches the page and writes it.
func listPage[F, T any](w http.ResponseWriter, r *http.Request, q *listQuery, f F,
	fetch func(context.Context, F) (*steward.Page[T], error)) error {
	if q.err != nil {
		return q.err
	}
	page, err := fetch(r.Context(), f)
	if err != nil {
		return err
	}
	return writePage(w, page)
}

// maxBodyBytes bounds every request body; no object Steward accepts comes
// near it, and the bound stops a client from making the server buffer a
// large body.
const maxBodyBytes = 1 << 20

// decodeJSON reads a JSON object from the request body into v. It refuses
// other content types, bodies over maxBodyBytes (ETOOLARGE), fields v does
// not have, and anything after the object, so that a mistake in a request is
// reported instead of half-applied. Every failure is the client's: EINVALID
// or ETOOLARGE, never EINTERNAL.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	_, err := decodeJSONBody(w, r, v)
	return err
}

// decodeJSONBody is decodeJSON that also returns the body, for handlers
// that need more of it than v holds (which fields were sent at all).
func decodeJSONBody(w http.ResponseWriter, r *http.Request, v any) ([]byte, error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return nil, steward.Errorf(steward.EINVALID, "Content-Type must be application/json.")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, steward.Errorf(steward.ETOOLARGE, "Request body is over the limit of %d bytes.", tooLarge.Limit)
		}
		return nil, steward.Errorf(steward.EINVALID, "Request body could not be read.")
	}
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 {
		return nil, steward.Errorf(steward.EINVALID, "Request body is empty; send a JSON object.")
	} else if trimmed[0] != '{' {
		return nil, steward.Errorf(steward.EINVALID, "Request body must be a JSON object.")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return nil, jsonError(body, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		line, col := position(body, dec.InputOffset())
		return nil, steward.Errorf(steward.EINVALID, "Request body has data after the JSON object, at line %d, column %d.", line, col)
	}
	return body, nil
}

// requireFields returns EINVALID unless the JSON object body (already
// decoded without error) has every field of names, null or not. Routes that
// replace state use it, so that a field left out by mistake is reported
// rather than taken as a request to clear it.
func requireFields(body []byte, names ...string) error {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		return steward.Errorf(steward.EINVALID, "Request body must be a JSON object.")
	}
	for _, name := range names {
		if _, ok := fields[name]; !ok {
			return steward.Errorf(steward.EINVALID, "Request body needs field %s (send null to clear it); it needs all of: %s.",
				name, strings.Join(names, ", "))
		}
	}
	return nil
}

// jsonError turns a decoding error into an EINVALID that says where and what
// is wrong in terms of the request, not of Go types.
func jsonError(body []byte, err error) error {
	var (
		syntax    *json.SyntaxError
		typ       *json.UnmarshalTypeError
		timeParse *time.ParseError
	)
	switch {
	case errors.As(err, &syntax):
		line, col := position(body, syntax.Offset-1) // Offset is just past the bad byte
		return steward.Errorf(steward.EINVALID, "Request body is not valid JSON at line %d, column %d: %s.", line, col, syntax.Error())
	case errors.Is(err, io.ErrUnexpectedEOF):
		return steward.Errorf(steward.EINVALID, "Request body ends in the middle of the JSON object.")
	case errors.As(err, &typ):
		line, col := position(body, typ.Offset)
		if typ.Field == "" {
			return steward.Errorf(steward.EINVALID, "Request body must be a JSON object.")
		}
		return steward.Errorf(steward.EINVALID, "Field %s must be %s, not %s (line %d, column %d).", typ.Field, jsonType(typ.Type), typ.Value, line, col)
	case errors.As(err, &timeParse):
		return steward.Errorf(steward.EINVALID, "Times must be RFC 3339, such as 2025-01-31T12:00:00Z; got %s.", timeParse.Value)
	}
	const unknown = "json: unknown field "
	if msg := err.Error(); len(msg) > len(unknown) && msg[:len(unknown)] == unknown {
		return steward.Errorf(steward.EINVALID, "Request body has unknown field %s; /openapi.json lists the fields of each request.", msg[len(unknown):])
	}
	return steward.Errorf(steward.EINVALID, "Request body is not valid: %s.", err.Error())
}

// jsonType names a Go type as the JSON value a client must send.
func jsonType(t reflect.Type) string {
	if t == reflect.TypeFor[time.Time]() {
		return "an RFC 3339 time"
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer in range"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Pointer:
		return jsonType(t.Elem())
	}
	return "another type"
}

// position returns the 1-based line and column of byte offset off in b.
func position(b []byte, off int64) (line, col int) {
	off = min(max(off, 0), int64(len(b)))
	before := b[:off]
	line = bytes.Count(before, []byte("\n")) + 1
	col = int(off) - (bytes.LastIndexByte(before, '\n') + 1) + 1
	return line, col
}

// pathID returns the {id} path value of r. Ids are positive 64-bit integers;
// anything else is EINVALID rather than a lookup that cannot succeed.
func pathID(r *http.Request) (int64, error) {
	return parseID("id", r.PathValue("id"))
}

// parseID parses a positive 64-bit id named name.
func parseID(name, s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, steward.Errorf(steward.EINVALID, "%s must be a positive integer below 2^63; got %q.", name, truncate(s, 64))
	}
	return id, nil
}

// truncate shortens s to at most n bytes for echoing back in an error
// message, so that a huge bad value does not make a huge response.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
