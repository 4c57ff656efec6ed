package http

import (
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/stewardhq/steward"
)

// defaultMaxImportBytes is the default of Server.MaxImportBytes: room for an
// export of about a million identities.
const defaultMaxImportBytes = 1 << 30

// importTimeout replaces the server's read and write timeouts for an import:
// those bound ordinary requests to a minute or two, while uploading and
// reconciling a large export can take longer.
const importTimeout = time.Hour

// uploadName names the request body in the positions of bad rows
// ("upload:12"), where a file import would name the file.
const uploadName = "upload"

// importSystem reconciles a system with an export file sent as the request
// body, like steward import: all or nothing, and a second import of the same
// file changes nothing. The body is streamed through the importer into the
// store, never held whole.
func (s *Server) importSystem(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	q, err := parseQuery(r, "format", "environment", "partial")
	if err != nil {
		return err
	}
	format := q.text("format")
	env := enumParam(q, "environment", steward.Environment.Validate)
	partial := q.boolPtr("partial")
	if q.err != nil {
		return q.err
	} else if format == "" {
		return steward.Errorf(steward.EINVALID, "Query parameter format is required: the format of the file in the body, such as aws-credential-report or jsonl.")
	}
	if s.Importer == nil {
		return steward.Errorf(steward.ENOTIMPL, "This server was started without an importer; use steward import instead.")
	}
	if r.ContentLength > s.maxImportBytes {
		return tooLargeImport(s.maxImportBytes)
	}
	// Refuse a wrong system before reading what may be a gigabyte.
	if _, err := s.Store.System(r.Context(), id); err != nil {
		return err
	}
	body := &uploadBody{r: http.MaxBytesReader(w, r.Body, s.maxImportBytes)}
	src, err := s.Importer(format, body, uploadName)
	if err != nil {
		return err
	}
	rc := http.NewResponseController(w)
	deadline := time.Now().Add(importTimeout)
	// Not every ResponseWriter can (a recorder in tests cannot); then the
	// server's own timeouts stay, which is safe, only shorter.
	_ = rc.SetReadDeadline(deadline)
	_ = rc.SetWriteDeadline(deadline)

	o := steward.SyncOptions{Source: "import:" + format, Environment: env}
	if partial != nil {
		o.Partial = *partial
	}
	res, err := s.Store.SyncSystem(r.Context(), id, src.Read(r.Context()), o)
	if err != nil {
		// A body that could not be read whole explains the error, however
		// the importer or the store reported it, and is the client's doing;
		// the store has rolled everything back.
		var tooLarge *http.MaxBytesError
		if errors.As(body.err, &tooLarge) {
			return tooLargeImport(tooLarge.Limit)
		} else if body.err != nil {
			return steward.Errorf(steward.EINVALID, "The upload could not be read to its end; nothing was changed.")
		}
		return err
	}
	return writeJSON(w, http.StatusOK, res)
}

func tooLargeImport(limit int64) error {
	return steward.Errorf(steward.ETOOLARGE, "The upload is over the limit of %d bytes; nothing was changed. Split the file, or import it with steward import.", limit)
}

// uploadBody remembers the first error reading the request body, which the
// importer and the store may wrap beyond recognition or report as a bad
// row.
type uploadBody struct {
	r   io.Reader
	err error
}

func (b *uploadBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF && b.err == nil {
		b.err = err
	}
	return n, err
}
