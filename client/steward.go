package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/stewardhq/steward"
)

// MaxAnswerBytes bounds what one answer may be: a list page of the largest
// size is a few megabytes, so an answer beyond this is not a Steward
// server's, and reading it whole would only use up memory.
const MaxAnswerBytes = 64 << 20

// DefaultTimeout bounds one call of a client that New made with its own
// http.Client, and the wait for the headers of an answer of one that
// NewStreaming made.
const DefaultTimeout = 60 * time.Second

// New returns a client of the Steward server at server, an http or https
// URL, that sends token as its bearer token (no Authorization header when
// token is empty: the open routes need none). hc may be nil for a client
// with DefaultTimeout. It returns EINVALID for a server that is not an
// http(s) URL.
func New(server, token string, hc *http.Client) (*ClientWithResponses, error) {
	if hc == nil {
		hc = &http.Client{Timeout: DefaultTimeout}
	}
	return newClient(server, token, limitedDoer{hc})
}

// NewStreaming returns a client like New's for the operations whose answer
// is a stream, such as the CSV export (ExportIdentities): call their raw
// method, which returns the *http.Response with its body unread, pass it
// to CheckResponse, and read the body as it arrives. Its answers are not
// cut at MaxAnswerBytes, and hc may be nil for a client with no bound on
// the whole call (an export lasts as long as it has rows), only on the
// wait for the answer's headers (DefaultTimeout).
func NewStreaming(server, token string, hc *http.Client) (*ClientWithResponses, error) {
	if hc == nil {
		hc = &http.Client{Transport: &http.Transport{Proxy: http.ProxyFromEnvironment, ResponseHeaderTimeout: DefaultTimeout}}
	}
	return newClient(server, token, hc)
}

func newClient(server, token string, doer HttpRequestDoer) (*ClientWithResponses, error) {
	u, err := url.Parse(server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, steward.Errorf(steward.EINVALID, "server %q is not an http(s) URL.", server)
	}
	return NewClientWithResponses(strings.TrimRight(server, "/"),
		WithHTTPClient(doer),
		WithRequestEditorFn(func(ctx context.Context, req *http.Request) error {
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			req.Header.Set("Accept", "application/json")
			return nil
		}))
}

// limitedDoer cuts every answer body at MaxAnswerBytes.
type limitedDoer struct{ hc *http.Client }

func (d limitedDoer) Do(req *http.Request) (*http.Response, error) {
	resp, err := d.hc.Do(req)
	if err != nil {
		return nil, err
	}
	resp.Body = limitedBody{io.LimitReader(resp.Body, MaxAnswerBytes), resp.Body}
	return resp, nil
}

type limitedBody struct {
	io.Reader
	io.Closer
}

// Response is what every generated answer type has.
type Response interface {
	StatusCode() int
	Status() string
	GetBody() []byte
}

// Check returns the outcome of one call, given the answer and the error of
// a generated ...WithResponse method: nil for a 2xx answer; the server's
// own error, a *steward.Error with its code and message, for an error
// answer; EUNAVAILABLE when the server cannot be reached or answers an
// error that is not Steward's; and a plain error (EINTERNAL) when the
// request cannot be made or a 2xx answer cannot be decoded as the document
// says.
func Check[R Response](r R, err error) error {
	if err != nil {
		return callError(err)
	}
	if code := r.StatusCode(); code >= 200 && code < 300 {
		return nil
	}
	return answerError(r.GetBody(), r.Status())
}

// maxErrorBytes bounds what CheckResponse reads of an error answer: a
// Steward error is a short JSON object.
const maxErrorBytes = 1 << 20

// CheckResponse is Check for the raw methods, which return the
// *http.Response (as a NewStreaming client's callers use them): nil for a
// 2xx answer, whose body it leaves unread for the caller to read and
// close; for an error answer it reads and closes the body and returns the
// error as Check does.
func CheckResponse(resp *http.Response, err error) error {
	if err != nil {
		return callError(err)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBytes))
	return answerError(body, resp.Status)
}

// callError is the error of a call that got no answer.
func callError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return steward.Errorf(steward.EUNAVAILABLE, "cannot reach the Steward server at %s: %v", origin(ue.URL), ue.Err)
	}
	return fmt.Errorf("calling the Steward server: %w", err)
}

// answerError is the error of an error answer: the server's own, or
// EUNAVAILABLE naming the status when the answer is not Steward's.
func answerError(body []byte, status string) error {
	var e struct {
		Error steward.Error `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error.Code != "" {
		return &e.Error
	}
	return steward.Errorf(steward.EUNAVAILABLE, "the Steward server answered %s", status)
}

// origin is the scheme and host of a URL, without the path and query a
// message does not need.
func origin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return raw
	}
	return u.Scheme + "://" + u.Host
}

// Ptr returns a pointer to v, for the optional fields of parameters and
// bodies.
func Ptr[T any](v T) *T { return &v }
