package http

import (
	"errors"
	"io"
	"net/http"
	"os"
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
	q, err := parseQuery(r, "format", "environment", "partial", "full")
	if err != nil {
		return err
	}
	format := q.text("format")
	env := enumParam(q, "environment", steward.Environment.Validate)
	partial, full := q.boolPtr("partial"), q.boolPtr("full")
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
	rc := http.NewResponseController(w)
	deadline := time.Now().Add(importTimeout)
	// Not every ResponseWriter can (a recorder in tests cannot); then the
	// server's own timeouts stay, which is safe, only shorter.
	_ = rc.SetReadDeadline(deadline)
	_ = rc.SetWriteDeadline(deadline)

	// Spool the upload to a temporary file before the sync starts: a
	// first load holds the store's write lock (all of SQLite) until it
	// commits, and must not hold it while a slow client trickles its body;
	// and a sync may read its source twice.
	spool, err := os.CreateTemp("", "steward-import-*")
	if err != nil {
		return err
	}
	defer func() {
		spool.Close() // #nosec G104 -- only read from after the copy; a close error cannot lose data
		// A spool left behind holds the whole upload in TMPDIR: name it.
		if err := os.Remove(spool.Name()); err != nil {
			s.logger.WarnContext(r.Context(), "the spooled upload could not be removed; remove it by hand", "file", spool.Name(), "err", err)
		}
	}()
	if _, err := io.Copy(spool, http.MaxBytesReader(w, r.Body, s.maxImportBytes)); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return tooLargeImport(tooLarge.Limit)
		}
		return steward.Errorf(steward.EINVALID, "The upload could not be read to its end; nothing was changed.")
	}
	if _, err := spool.Seek(0, io.SeekStart); err != nil {
		return err
	}
	src, err := s.Importer(format, spool, uploadName)
	if err != nil {
		return err
	}

	o := steward.SyncOptions{Source: "import:" + format, Environment: env}
	if partial != nil {
		o.Partial = *partial
	}
	if full != nil {
		o.Full = *full
	}
	res, err := s.Store.SyncSystem(r.Context(), id, src, o)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, res)
}

func tooLargeImport(limit int64) error {
	return steward.Errorf(steward.ETOOLARGE, "The upload is over the limit of %d bytes; nothing was changed. Split the file, or import it with steward import.", limit)
}
