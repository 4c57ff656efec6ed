package sqlstore

import (
	"cmp"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stewardhq/steward"
)

// Reconciliation is set-based: the source's records are streamed into
// temporary staging tables (COPY on PostgreSQL), then compared with the live
// tables in SQL, so memory stays bounded however large the system. A digest
// of what the source last said of each row (content_hash) makes a re-sync
// touch only the rows that changed.
//
// Last-used times are observations, not changes anyone made: they are
// refreshed in bulk without events, and left out of the digests, so that a
// sync whose only news is usage writes no audit events.

// maxReported bounds how many unusable records one error lists.
const maxReported = 50

// stageBatch is how many staged rows are buffered before a COPY or INSERT.
const stageBatch = 5000

// maxBatchBytes bounds, beside stageBatch's count, what one batch of
// records or rows holds (by rowBytes and recordBytes): 5,000 records near
// the importers' limit of 1 MiB each would otherwise be gigabytes in one
// batch, and a sync holds a few batches at once.
const maxBatchBytes = 2 << 20

// rowBytes is about what a row to stage or load holds: its text, and a
// word for each other value.
func rowBytes(row []any) int {
	n := 0
	for _, v := range row {
		if s, ok := v.(string); ok {
			n += len(s)
		} else {
			n += 8
		}
	}
	return n
}

// recordBytes is about what a record holds: its text, and a little for the
// rest.
func recordBytes(r *steward.Record) int {
	n := 64 + len(r.Pos)
	switch {
	case r.Identity != nil:
		i := r.Identity
		n += len(i.ExternalID) + len(i.Name) + len(i.Owner) + len(i.Team)
		for k, v := range i.Labels {
			n += len(k) + len(v) + 16
		}
		for _, c := range i.Credentials {
			n += 64 + len(c.ExternalID) + len(c.Version)
		}
		for _, l := range i.Links {
			n += 16 + len(l.To)
		}
	case r.Entitlement != nil:
		n += len(r.Entitlement.Name) + len(r.Entitlement.Description)
	case r.Grant != nil:
		n += len(r.Grant.Identity) + len(r.Grant.Entitlement)
	}
	return n
}

// stageTables are the temporary tables a sync stages its stream in, with
// their columns.
//
// #nosec G101 -- table and column names (stage_credentials, hash), not credentials
var stageTables = map[string]string{
	"stage_identities": `external_id TEXT NOT NULL, name TEXT NOT NULL, kind TEXT NOT NULL, environment TEXT NOT NULL,
		criticality TEXT NOT NULL, status TEXT NOT NULL, labels TEXT, owner_hint TEXT NOT NULL, team_hint TEXT NOT NULL,
		created_at BIGINT, last_used_at BIGINT, hash TEXT NOT NULL, pos TEXT NOT NULL,
		owner_id BIGINT, team_id BIGINT, owner_source TEXT NOT NULL, owner_by TEXT NOT NULL, team_by TEXT NOT NULL, owner_rule TEXT NOT NULL,
		rsum BIGINT NOT NULL`,
	"stage_credentials": `identity_ext TEXT NOT NULL, external_id TEXT NOT NULL, kind TEXT NOT NULL, created_at BIGINT,
		last_rotated_at BIGINT, last_used_at BIGINT, expires_at BIGINT, hash TEXT NOT NULL, pos TEXT NOT NULL,
		status TEXT NOT NULL, version TEXT NOT NULL`,
	"stage_links": `identity_ext TEXT NOT NULL, kind TEXT NOT NULL, to_ref TEXT NOT NULL`,
	"stage_entitlements": `name TEXT NOT NULL, description TEXT NOT NULL, privileged BOOLEAN NOT NULL, sensitivity TEXT NOT NULL,
		hash TEXT NOT NULL, pos TEXT NOT NULL, rsum BIGINT NOT NULL`,
	"stage_grants": `identity_ext TEXT NOT NULL, entitlement TEXT NOT NULL, type TEXT NOT NULL, granted_at BIGINT,
		expires_at BIGINT, hash TEXT NOT NULL, pos TEXT NOT NULL, rsum BIGINT NOT NULL`,
	"stage_people": `external_id TEXT NOT NULL, name TEXT NOT NULL, email TEXT NOT NULL, title TEXT NOT NULL, team TEXT NOT NULL,
		manager TEXT NOT NULL, status TEXT NOT NULL, departed_at BIGINT, pos TEXT NOT NULL`,
	"resolved_grants": `identity_id BIGINT NOT NULL, entitlement_id BIGINT NOT NULL, type TEXT NOT NULL, granted_at BIGINT,
		expires_at BIGINT, hash TEXT NOT NULL, rsum BIGINT NOT NULL`,
	"touched": `id BIGINT PRIMARY KEY`,
	// What a sync's digest held and its stream did not bring back.
	"unseen_identities":   `id BIGINT PRIMARY KEY`,
	"unseen_entitlements": `id BIGINT PRIMARY KEY`,
	"unseen_grants":       `identity_id BIGINT NOT NULL, entitlement_id BIGINT NOT NULL, PRIMARY KEY (identity_id, entitlement_id)`,
	"owner_updates": `id BIGINT PRIMARY KEY, owner_id BIGINT, team_id BIGINT, owner_source TEXT NOT NULL,
		owner_by TEXT NOT NULL, team_by TEXT NOT NULL, owner_rule TEXT NOT NULL`,
	"touched_people": `id BIGINT PRIMARY KEY`,
	// The identities a delta run compares credentials and links of.
	"compared_identities": `id BIGINT PRIMARY KEY`,
}

// stageIndexes are the columns each staged table is indexed on.
//
// #nosec G101 -- table and column names (stage_credentials), not credentials
var stageIndexes = map[string]string{
	"stage_identities":   "external_id",
	"stage_credentials":  "identity_ext, external_id",
	"stage_links":        "identity_ext, kind, to_ref",
	"stage_entitlements": "name",
	"stage_grants":       "identity_ext, entitlement",
	"stage_people":       "external_id",
	"resolved_grants":    "identity_id, entitlement_id",
}

// createTemp creates the named temporary tables, empty, for this
// transaction, replacing any left by an earlier step on this connection.
func (d *DB) createTemp(ctx context.Context, c *sql.Conn, names ...string) error {
	for _, n := range names {
		schema, suffix := "temp.", ""
		if d.pg {
			schema, suffix = "pg_temp.", " ON COMMIT DROP"
		}
		if _, err := c.ExecContext(ctx, `DROP TABLE IF EXISTS `+schema+n); err != nil { // #nosec G202 -- n is a staging table of stageTables: the store's own names, never input; values are bound as parameters
			return err
		}
		if _, err := c.ExecContext(ctx, `CREATE TEMP TABLE `+n+` (`+stageTables[n]+`)`+suffix); err != nil { // #nosec G202 -- n and its columns come from stageTables: the store's own names, never input; values are bound as parameters
			return fmt.Errorf("create %s: %w", n, err)
		}
	}
	return nil
}

// indexStage indexes loaded staging tables and, on PostgreSQL, analyses them
// (autovacuum never sees temporary tables, and the planner needs the sizes).
func (d *DB) indexStage(ctx context.Context, c *sql.Conn, names ...string) error {
	for _, n := range names {
		if _, err := c.ExecContext(ctx, `CREATE INDEX `+n+`_key ON `+n+` (`+stageIndexes[n]+`)`); err != nil { // #nosec G202 -- n and its key come from stageIndexes: the store's own names, never input; values are bound as parameters
			return fmt.Errorf("index %s: %w", n, err)
		}
		if d.pg {
			if _, err := c.ExecContext(ctx, `ANALYZE `+n); err != nil { // #nosec G202 -- n is a staging table of stageTables: the store's own names, never input; values are bound as parameters
				return err
			}
		}
	}
	return nil
}

// dropTemp drops temporary tables after a step (on PostgreSQL they would go
// at commit anyway; SQLite's live as long as the connection).
func (d *DB) dropTemp(ctx context.Context, c *sql.Conn, names ...string) {
	schema := "temp."
	if d.pg {
		schema = "pg_temp."
	}
	for _, n := range names {
		_, _ = c.ExecContext(context.WithoutCancel(ctx), `DROP TABLE IF EXISTS `+schema+n) // #nosec G202 -- n is a staging table of stageTables: the store's own names, never input; values are bound as parameters
	}
}

// stager buffers staged rows per table and flushes them in batches (for
// people syncs; SyncSystem pipelines its staging in stageRecords).
type stager struct {
	d    *DB
	c    *sql.Conn
	cols map[string][]string
	rows map[string][][]any
}

func (s *stager) add(ctx context.Context, table string, row ...any) error {
	s.rows[table] = append(s.rows[table], row)
	if len(s.rows[table]) >= stageBatch {
		return s.flush(ctx, table)
	}
	return nil
}

func (s *stager) flush(ctx context.Context, tables ...string) error {
	if len(tables) == 0 {
		for t := range s.rows {
			tables = append(tables, t)
		}
	}
	for _, t := range tables {
		if err := s.d.copyRows(ctx, s.c, t, s.cols[t], s.rows[t]); err != nil {
			return err
		}
		s.rows[t] = s.rows[t][:0]
	}
	return nil
}

// digest is the content hash of what a source said of a row.
func digest(v any) string {
	b, _ := json.Marshal(v) // plain structs of strings, bools and times
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// The content hashes of the rows a record becomes: staged syncs and first
// loads must agree on them, or a first load's rows would look changed to
// the next sync.
func identityDigest(i *steward.SourceIdentity, owner string) string {
	return digest(stagedIdentity{i.Name, i.Kind, i.Environment, i.Criticality, i.Status, i.Labels, owner, i.Team, i.CreatedAt, i.Links})
}

// credentialDigest covers the status and version only when a source says
// them, so that the digests of credentials written before they existed
// stay the same.
func credentialDigest(cr *steward.SourceCredential) string {
	v := []any{cr.Kind, cr.CreatedAt, cr.LastRotatedAt, cr.ExpiresAt}
	if cr.Status == steward.CredentialDisabled || cr.Version != "" {
		v = append(v, credentialStatus(cr), cr.Version)
	}
	return digest(v)
}

// credentialStatus is the status a staged credential is written with: a
// source that does not say means active.
func credentialStatus(cr *steward.SourceCredential) steward.CredentialStatus {
	if cr.Status == "" {
		return steward.CredentialActive
	}
	return cr.Status
}

func entitlementDigest(e *steward.SourceEntitlement) string {
	return digest([]any{e.Description, e.Privileged, e.Sensitivity})
}

// grantDigest is digest([]any{g.Type, g.GrantedAt, g.ExpiresAt}), the
// content hash of a grant, written without reflection: grants are most of
// a large system's records.
func grantDigest(g *steward.SourceGrant) string {
	b := make([]byte, 0, 96)
	b = append(b, `["`...)
	for _, c := range []byte(g.Type) {
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return digest([]any{g.Type, g.GrantedAt, g.ExpiresAt}) // needs JSON's escapes
		}
	}
	b = append(b, g.Type...)
	b = append(b, '"')
	for _, t := range []*time.Time{g.GrantedAt, g.ExpiresAt} {
		b = append(b, ',')
		if t == nil {
			b = append(b, "null"...)
			continue
		}
		j, err := t.MarshalJSON()
		if err != nil {
			return digest([]any{g.Type, g.GrantedAt, g.ExpiresAt}) // as json.Marshal fails
		}
		b = append(b, j...)
	}
	b = append(b, ']')
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// problems collects the records a run cannot use. It reports them in the
// order of their positions in the source, whatever order they were found in
// (while streaming, by a check in SQL at the end, by a first load or a
// staged sync), and the first maxReported of them: so that every path
// reports one source the same way.
type problems struct {
	n     int
	lines []string // the earliest by position, once pruned
}

func (p *problems) add(msg string) {
	p.n++
	p.lines = append(p.lines, msg)
	if len(p.lines) >= 4*maxReported {
		p.prune()
	}
}

// prune keeps the first maxReported problems by position.
func (p *problems) prune() {
	slices.SortStableFunc(p.lines, func(a, b string) int { return comparePos(problemPos(a), problemPos(b)) })
	p.lines = p.lines[:min(len(p.lines), maxReported)]
}

func (p *problems) err() error {
	if p.n == 0 {
		return nil
	}
	p.prune()
	more := ""
	if p.n > len(p.lines) {
		more = fmt.Sprintf("\n  … and %d more", p.n-len(p.lines))
	}
	return steward.Errorf(steward.EINVALID, "%d record(s) cannot be used; nothing was changed:\n  %s%s", p.n, strings.Join(p.lines, "\n  "), more)
}

// recordPos is where a problem is: the name of its source and its line
// ("report.csv:12: …"). ok is false when the problem names no line.
type recordPos struct {
	name string
	line int
	ok   bool
}

// problemPos reads the position that starts a problem's message.
func problemPos(msg string) recordPos {
	pos, _, found := strings.Cut(msg, ": ")
	i := strings.LastIndexByte(pos, ':')
	if !found || i < 0 {
		return recordPos{}
	}
	line, err := strconv.Atoi(pos[i+1:])
	if err != nil {
		return recordPos{}
	}
	return recordPos{pos[:i], line, true}
}

// comparePos orders positions by source, then line; problems without a
// line go last, in the order they came.
func comparePos(a, b recordPos) int {
	switch {
	case !a.ok || !b.ok:
		return cmp.Compare(btoi(!a.ok), btoi(!b.ok))
	case a.name != b.name:
		return strings.Compare(a.name, b.name)
	}
	return cmp.Compare(a.line, b.line)
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// collect records a stream error: EINVALID errors are bad records to report
// with the others; anything else ends the run.
func (p *problems) collect(err error) error {
	if steward.ErrorCode(err) == steward.EINVALID {
		p.add(steward.ErrorMessage(err))
		return nil
	}
	return err
}

// checkStage runs a query that selects (pos, msg) pairs of bad staged rows
// and reports the first maxReported by position, and how many there are.
func (d *DB) checkStage(ctx context.Context, c *sql.Conn, p *problems, query string, args ...any) error {
	listed := 0
	rows, err := c.QueryContext(ctx, d.q(`SELECT pos, msg FROM (`+query+`) q ORDER BY length(pos), pos LIMIT `+fmt.Sprint(maxReported)), args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var pos, msg string
		if err := rows.Scan(&pos, &msg); err != nil {
			return err
		}
		p.add(pos + ": " + msg)
		listed++
	}
	if err := rows.Err(); err != nil || listed < maxReported {
		return err
	}
	var total int
	if err := c.QueryRowContext(ctx, d.q(`SELECT count(*) FROM (`+query+`) q`), args...).Scan(&total); err != nil {
		return err
	}
	p.n += total - listed
	return nil
}

// checkRepeats reports every staged row of table that repeats the key cols
// of a row before it in the source (by position), as "POS: WHAT is listed
// more than once", where what is an SQL expression over the table's
// columns: each line after the first of a key, as a first load reports
// them. The groups are found through the stage's index on the key; the
// rows of a group are ranked only when there is one.
func (d *DB) checkRepeats(ctx context.Context, c *sql.Conn, p *problems, table, what string, cols ...string) error {
	keys := strings.Join(cols, ", ")
	var total int64
	err := c.QueryRowContext(ctx, `SELECT CAST(coalesce(sum(n - 1), 0) AS BIGINT) FROM (SELECT count(*) AS n FROM `+table+ // #nosec G202 -- a staging table and its key columns: the store's own names, never input; values are bound as parameters
		` GROUP BY `+keys+` HAVING count(*) > 1) g`).Scan(&total)
	if err != nil || total == 0 {
		return err
	}
	groups := `SELECT ` + keys + ` FROM ` + table + ` GROUP BY ` + keys + ` HAVING count(*) > 1`
	in := cols[0] + ` IN (` + groups + `)`
	if len(cols) > 1 {
		in = `(` + keys + `) IN (` + groups + `)`
	}
	ranked := `SELECT s.*, row_number() OVER (PARTITION BY ` + keys + ` ORDER BY length(pos), pos) AS nth FROM ` + table + ` s WHERE ` + in
	before := p.n
	if err := d.checkStage(ctx, c, p, `SELECT pos, `+what+` || ' is listed more than once' AS msg FROM (`+ranked+`) r WHERE nth > 1`); err != nil {
		return err
	}
	p.n = before + int(total) // checkStage counted the listed ones, or all
	return nil
}

// anyRow reports whether query selects a row.
func (d *DB) anyRow(ctx context.Context, c *sql.Conn, query string, args ...any) (bool, error) {
	var one int
	err := c.QueryRowContext(ctx, d.q(`SELECT 1 FROM (`+query+`) q LIMIT 1`), args...).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// repeatPos selects, for a group (aliased s) of staged records that share
// the key cols, the position of the last of them. A people sync, whose
// positions are the people's ids, names each person listed twice once this
// way; a system sync names every repeating line (checkRepeats). Positions
// of one source share their "file:" prefix, so the longer is the later
// line, and of equal length the greater (min(pos) named "f:2" of lines 2
// and 3). It runs only for the groups reported, through the stage's index
// on the key.
func (d *DB) repeatPos(table string, cols ...string) string {
	last := `substr(max(printf('%08d', length(r.pos)) || r.pos), 9)`
	if d.pg {
		last = `substr(max(lpad(length(r.pos)::text, 8, '0') || r.pos), 9)`
	}
	match := make([]string, len(cols))
	for i, c := range cols {
		match[i] = `r.` + c + ` = s.` + c
	}
	return `(SELECT ` + last + ` FROM ` + table + ` r WHERE ` + strings.Join(match, ` AND `) + `)`
}

// eventSink collects the per-object events of a long write and appends
// them to the audit chain at its end (flush). Appending takes the chain's
// head row, which every writer needs: held from the first change of a sync
// until its commit, it would stall every other write for the whole sync.
// A quiet sink (a first load, whose one summary event stands for its rows)
// only counts.
type eventSink struct {
	d       *DB
	c       querier
	quiet   bool
	n       int
	pending []pendingEvent
}

type pendingEvent struct {
	action               steward.Action
	objectType, objectID string
	data                 any
}

func (e *eventSink) emit(ctx context.Context, action steward.Action, objectType string, id int64, data any) error {
	e.n++
	if e.quiet {
		return nil
	}
	e.pending = append(e.pending, pendingEvent{action, objectType, idStr(id), data})
	if len(e.pending) >= maxPendingEvents {
		// A run this large holds the head from here on rather than its
		// events in memory.
		return e.flush(ctx)
	}
	return nil
}

// maxPendingEvents bounds the events a run holds in memory before it
// appends them.
const maxPendingEvents = 20000

// flush appends the collected events in the order they were emitted.
func (e *eventSink) flush(ctx context.Context) error {
	if err := e.d.appendEvents(ctx, e.c, e.pending); err != nil {
		return err
	}
	e.pending = nil
	return nil
}

type stagedIdentity struct {
	Name        string                 `json:"name"`
	Kind        steward.IdentityKind   `json:"kind"`
	Environment steward.Environment    `json:"environment"`
	Criticality steward.Level          `json:"criticality"`
	Status      steward.IdentityStatus `json:"status"`
	Labels      map[string]string      `json:"labels,omitempty"`
	Owner       string                 `json:"owner,omitempty"`
	Team        string                 `json:"team,omitempty"`
	CreatedAt   *time.Time             `json:"created_at,omitempty"`
	Links       []steward.SourceLink   `json:"links,omitempty"`
}

// SyncSystem reconciles one system with what a source reads.
func (d *DB) SyncSystem(ctx context.Context, systemID int64, src steward.Source, o steward.SyncOptions) (*steward.SyncResult, error) {
	if o.Environment == "" {
		o.Environment = steward.EnvProd
	} else if err := o.Environment.Validate(); err != nil {
		return nil, err
	}
	// A first load on SQLite runs with foreign key checks off, and that
	// must be decided before its transaction begins.
	load := !o.Partial && !d.noFirstLoad
	if load && !d.pg {
		var err error
		if load, err = d.systemEmpty(ctx, d.read, systemID); err != nil {
			return nil, d.storeErr(err)
		}
	}
	started := d.now()
	res, err := d.syncSystem(ctx, systemID, src, o, load, false)
retry:
	for tries := 1; err != nil && tries <= 4; tries++ {
		switch {
		case errors.Is(err, errNotEmpty):
			// Written to since it was found empty: a sync like any other.
			res, err = d.syncSystem(ctx, systemID, src, o, false, false)
		case errors.Is(err, errCompareAll):
			// Only a full comparison can name the line at fault; read again.
			d.logger.Info("sync digest cannot place a problem; comparing every record", "system_id", systemID)
			o.Full = true
			res, err = d.syncSystem(ctx, systemID, src, o, false, false)
		case errors.Is(err, errRestage):
			// Another sync of the system committed while this one staged.
			// If that keeps happening, the last try holds the write lock
			// throughout.
			d.logger.Info("another sync of the system committed while this one staged; starting over", "system_id", systemID)
			res, err = d.syncSystem(ctx, systemID, src, o, false, tries >= 2)
		default:
			break retry
		}
	}
	if err != nil {
		d.recordFailure(ctx, o.Source, &systemID, started, err)
	}
	return res, err
}

// recordFailure writes a failed run into sync_runs, with what went wrong,
// in a short transaction of its own: the run's was rolled back. A run
// stopped by its caller (cancelled) or of a system that does not exist is
// not recorded, and a failure to record is only logged.
func (d *DB) recordFailure(ctx context.Context, source string, systemID *int64, started time.Time, failure error) {
	if errors.Is(failure, context.Canceled) || errors.Is(failure, context.DeadlineExceeded) || steward.ErrorCode(failure) == steward.ENOTFOUND {
		return
	}
	msg := failure.Error() // an internal error's detail is for the operator
	var se *steward.Error
	if errors.As(failure, &se) {
		msg = se.Message
	}
	if len(msg) > 4000 {
		msg = strings.ToValidUTF8(msg[:4000], "") + " …"
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if _, err := d.write.ExecContext(ctx, d.q(`INSERT INTO sync_runs (source, system_id, started_at, finished_at, result, error) VALUES (?, ?, ?, ?, '{}', ?)`),
		source, idPtr(systemID), micro(started), micro(d.now()), msg); err != nil {
		d.logger.Warn("recording a failed sync failed", "source", source, "err", err)
	}
}

// errNotEmpty ends a run that was to be a first load with foreign key
// checks off, when the system turns out to hold rows after all.
var errNotEmpty = errors.New("the system is no longer empty")

// errCompareAll ends a run that skipped unchanged records and found that one
// of them has become wrong (a grant whose identity the source no longer
// lists): the run is rolled back and repeated comparing every record.
var errCompareAll = errors.New("compare every record")

// syncTables are the temporary tables of a system sync.
var syncTables = []string{"stage_identities", "stage_credentials", "stage_entitlements", "stage_grants", "resolved_grants", "touched", "stage_links"}

// laterTables are temporary tables a system sync creates only when a step
// needs them; dropped with syncTables.
var laterTables = []string{"compared_identities"}

// syncSystem runs one sync. load: a first load is allowed, and on SQLite
// runs without foreign key checks. locked: the run holds the write lock
// throughout, as it did before stagedTx.
//
// On SQLite a sync that stages its records (any but a first load) reads,
// parses, stages and checks them before it takes the write lock, and holds
// it only to apply them (stagedTx): for a 1% re-sync of a million
// identities, the 3 s of writing rather than the whole run. A sync of the
// same system that commits in between makes it start over (errRestage),
// since what it skipped as unchanged may have changed. A first load writes
// as it reads, under the lock throughout; and a sync inside a unit of work
// runs in the unit's transaction. PostgreSQL has no lock on the whole
// database: a sync there is one transaction.
func (d *DB) syncSystem(ctx context.Context, systemID int64, src steward.Source, o steward.SyncOptions, load, locked bool) (*steward.SyncResult, error) {
	s := &systemSync{d: d, systemID: systemID, src: src, o: o, load: load, res: &steward.SyncResult{}, started: d.now(), lap: d.laps("sync")}
	var err error
	if !d.pg && !load && !locked && d.unitOf(ctx) == nil {
		s.staged = true
		err = d.stagedTx(ctx, func(c *sql.Conn) error {
			s.c = c
			return s.steps(ctx, s.open, s.stage, s.writeUnseen, s.check)
		}, func(*sql.Conn) error {
			s.lap("turn to write")
			return s.steps(ctx, s.unchanged, s.apply, s.saveDigest, s.finish)
		}, func(*sql.Conn) { s.closeTemp(ctx) })
	} else {
		err = d.bulkTxFK(ctx, !load || d.pg, func(c *sql.Conn) error {
			s.c = c
			defer s.closeTemp(ctx)
			return s.run(ctx)
		})
	}
	if err != nil {
		return nil, err
	}
	s.lap("committed")
	return s.res, nil
}

// errRestage ends a sync that staged its records while another sync of the
// same system committed: it starts over, reading what that one left.
var errRestage = errors.New("another sync of the system committed while this one staged")

// systemSync is one run of syncSystem, in its transaction: what its steps
// read and hand on to the next.
type systemSync struct {
	d        *DB
	c        *sql.Conn
	systemID int64
	src      steward.Source
	o        steward.SyncOptions
	load     bool // a first load is allowed
	staged   bool // stages outside its write transaction (stagedTx): it reads what others commit meanwhile
	res      *steward.SyncResult
	started  time.Time
	lap      func(step string)

	sys       *steward.System
	digestCtx string      // what the digest was taken under (digestContext)
	dg        *syncDigest // nil: every record is compared
	dirty     *dirtyRows  // what was written outside a sync since the last
	records   iter.Seq2[steward.Record, error]
	resolver  *ownerResolver
	bad       problems

	lastRun int64          // the system's last sync_runs row when the run began
	first   bool           // the system had no identities: one summary event stands for the rest
	ev      *eventSink     // the run's events
	touched map[int64]bool // identities whose owner or gaps may have changed; nil after a first load
}

// run reads the system's digest and opens the source, then either loads
// an empty system straight into the live tables (a first load) or stages
// the records and reconciles them with what the system holds, all in one
// transaction.
func (s *systemSync) run(ctx context.Context) error {
	if err := s.open(ctx); err != nil {
		return err
	}
	if s.load {
		empty, err := s.d.systemEmpty(ctx, s.c, s.systemID)
		if err != nil {
			return err
		}
		if !empty && !s.d.pg {
			return errNotEmpty
		}
		if empty {
			return s.loadFirst(ctx)
		}
	}
	return s.steps(ctx, s.stage, s.writeUnseen, s.check, s.apply, s.saveDigest, s.finish)
}

// open reads the system, its digest and the last run of it, creates the
// staging tables and opens the source.
func (s *systemSync) open(ctx context.Context) error {
	var err error
	if s.sys, err = s.d.systemIn(ctx, s.c, s.systemID); err != nil {
		return err
	}
	if err := s.c.QueryRowContext(ctx, s.d.q(`SELECT COALESCE(MAX(id), 0) FROM sync_runs WHERE system_id = ?`), s.systemID).Scan(&s.lastRun); err != nil {
		return err
	}
	if err := s.d.createTemp(ctx, s.c, syncTables...); err != nil {
		return err
	}
	if s.d.pg {
		// A sync joins a few thousand staged or touched rows to tables of
		// millions, whose pages a server that syncs them keeps in memory.
		// At the default cost of a random page (4) PostgreSQL read the
		// whole of identities for them instead of looking each up: the gap
		// refresh of a 1% re-sync of a million, 0.55 s.
		if _, err := s.c.ExecContext(ctx, `SET LOCAL random_page_cost = 1.1`); err != nil {
			return err
		}
	} else {
		// The staging tables live in SQLite's temporary database, whose
		// page cache is 2 MiB by default; 8 MiB for this run (closeTemp
		// sets it back). A larger main cache bought little speed for a lot
		// of memory.
		if _, err := s.c.ExecContext(ctx, `PRAGMA temp.cache_size = -8000`); err != nil {
			return err
		}
	}
	if err := s.readDigest(ctx); err != nil {
		return err
	}
	if err := s.openSource(ctx); err != nil {
		return err
	}
	s.lap("digest loaded")
	return nil
}

// closeTemp drops the run's temporary tables and gives SQLite's temporary
// database its default cache again.
func (s *systemSync) closeTemp(ctx context.Context) {
	s.d.dropTemp(ctx, s.c, append(append(syncTables, unseenTables...), laterTables...)...)
	if !s.d.pg {
		_, _ = s.c.ExecContext(context.WithoutCancel(ctx), `PRAGMA temp.cache_size = -2000`)
	}
}

// unchanged makes sure, at the start of a sync's write transaction that
// staged before it (stagedTx), that no other sync of the system has
// committed since it read the digest: its digest would be out of date, and
// the records it skipped as unchanged might not be. errRestage if one has.
func (s *systemSync) unchanged(ctx context.Context) error {
	var last int64
	if err := s.c.QueryRowContext(ctx, s.d.q(`SELECT COALESCE(MAX(id), 0) FROM sync_runs WHERE system_id = ?`), s.systemID).Scan(&last); err != nil {
		return err
	}
	if last != s.lastRun {
		return errRestage
	}
	return nil
}

// steps runs the steps of a run in order, up to the first that fails.
func (s *systemSync) steps(ctx context.Context, steps ...func(context.Context) error) error {
	for _, step := range steps {
		if err := step(ctx); err != nil {
			return err
		}
	}
	return nil
}

// readDigest reads what was written outside a sync since the last (for a
// whole sync) and the digest that lets a sync skip unchanged records
// (neither for a partial source, the digest not for a full comparison).
// Marks written outside syncs are read before the digest: a mark written
// in between is left for the next sync, whatever this one reads.
func (s *systemSync) readDigest(ctx context.Context) error {
	s.digestCtx = digestContext(s.o)
	s.dirty = &dirtyRows{}
	var err error
	if !s.o.Partial {
		if s.dirty, err = s.d.readDirty(ctx, s.c, s.systemID); err != nil {
			return err
		}
	}
	if !s.o.Full && !s.o.Partial {
		var par querier // see loadDigest
		if s.staged {
			par = s.d.read
		}
		if s.dg, err = s.d.loadDigest(ctx, s.c, par, s.systemID, s.digestCtx); err != nil {
			return err
		}
		if s.dg != nil && !s.dirty.apply(s.dg) {
			s.d.logger.Info("written outside a sync since the last; comparing every record", "system_id", s.systemID)
			s.dg = nil
		}
	}
	return nil
}

// openSource opens the source's stream, skipping what the digest vouches
// for when the source can, and reads what owner resolution needs.
func (s *systemSync) openSource(ctx context.Context) error {
	s.records = s.src.Read(ctx)
	if sk, ok := s.src.(steward.Skipper); ok && s.dg != nil {
		s.records = sk.ReadSkipping(ctx, s.dg.skip)
	}
	var err error
	s.resolver, err = s.d.newOwnerResolver(ctx, s.c)
	return err
}

// loadFirst writes an empty system's records straight into the live tables
// (DB.loadFirst), saves their digest and finishes the run with one summary
// event for its rows.
func (s *systemSync) loadFirst(ctx context.Context) error {
	fresh, fits, err := s.d.loadFirst(ctx, s.c, s.sys, s.records, s.o, s.res, &s.bad, s.resolver)
	if err != nil {
		return err
	}
	if err := s.bad.err(); err != nil {
		return err
	}
	s.lap("records loaded")
	if err := s.d.saveRenewed(ctx, s.c, s.systemID, s.digestCtx, nil, fresh, fits); err != nil {
		return err
	}
	if err := s.d.clearDirty(ctx, s.c, s.dirty); err != nil {
		return err
	}
	s.lap("digest saved")
	s.first, s.ev = true, &eventSink{d: s.d, c: s.c, quiet: true}
	if err := s.d.insertLinks(ctx, s.c, s.ev, s.res, s.systemID, s.d.now()); err != nil {
		return err
	}
	return s.finish(ctx)
}

// stage loads the records the digest does not vouch for into the staging
// tables (stageRecords) and indexes them.
func (s *systemSync) stage(ctx context.Context) error {
	if err := s.d.stageRecords(ctx, s.c, s.records, s.o, s.res, &s.bad, s.sys, s.resolver, s.dg); err != nil {
		return err
	}
	s.lap("records staged")
	if err := s.d.indexStage(ctx, s.c, "stage_identities", "stage_credentials", "stage_entitlements", "stage_grants", "stage_links"); err != nil {
		return err
	}
	s.lap("stage indexed")
	return nil
}

// writeUnseen writes, in a run that skipped unchanged records, the rows
// the digest held and the stream did not bring back: only they can have
// gone.
func (s *systemSync) writeUnseen(ctx context.Context) error {
	if s.dg == nil {
		return nil
	}
	if err := s.d.writeUnseen(ctx, s.c, s.dg); err != nil {
		return err
	}
	s.lap("unseen written")
	return nil
}

// check reports every problem across the records at once, and nothing is
// written if there is one. A skipped record that has become wrong ends
// the run (errCompareAll) for one that compares every record.
func (s *systemSync) check(ctx context.Context) error {
	if err := s.d.checkRecords(ctx, s.c, s.systemID, s.o, s.dg != nil, &s.bad); err != nil {
		return err
	}
	if err := s.bad.err(); err != nil {
		return err
	}
	if s.dg != nil {
		if err := s.d.checkSkipped(ctx, s.c, s.dg); err != nil {
			return err
		}
	}
	s.lap("records checked")
	return nil
}

// apply writes the staged records into the live tables (syncRun). A
// system that had no identities gets one summary event for them.
func (s *systemSync) apply(ctx context.Context) error {
	var one int
	err := s.c.QueryRowContext(ctx, s.d.q(`SELECT 1 FROM identities WHERE system_id = ? LIMIT 1`), s.systemID).Scan(&one)
	s.first = errors.Is(err, sql.ErrNoRows)
	if err != nil && !s.first {
		return err
	}
	s.ev = &eventSink{d: s.d, c: s.c, quiet: s.first}
	run := &syncRun{d: s.d, c: s.c, sys: s.sys, o: s.o, first: s.first, delta: s.dg != nil, res: s.res, ev: s.ev, touched: map[int64]bool{}, now: s.d.now(), lap: s.lap}
	s.touched = run.touched
	return run.apply(ctx)
}

// saveDigest renews the digest after a whole sync. The rows a partial
// source wrote are not in the digest, and a whole sync must compare them:
// the digest goes, and the next whole sync compares everything.
func (s *systemSync) saveDigest(ctx context.Context) error {
	if s.o.Partial {
		if err := s.d.forgetDigest(ctx, s.c, s.systemID); err != nil {
			return err
		}
	} else if err := s.d.renewDigest(ctx, s.c, s.systemID, s.digestCtx, s.dg, s.res.Records-s.dg.seenCountOrZero()); err != nil {
		return err
	} else if err := s.d.clearDirty(ctx, s.c, s.dirty); err != nil {
		return err
	}
	s.lap("digest saved")
	return nil
}

// finish ends a system sync's transaction: the links that waited for its
// identities, the gap tasks of the identities it touched (of the whole
// system after a first load), its events, and the record of the run.
func (s *systemSync) finish(ctx context.Context) error {
	d, c, res, ev := s.d, s.c, s.res, s.ev
	// The links of other systems that wait for an identity this run
	// brought in are resolved; each gets its event even after a first
	// load, since those rows are not the load's own.
	rv := ev
	if ev.quiet {
		rv = &eventSink{d: d, c: c}
	}
	if err := d.resolveLinks(ctx, c, rv, res, s.systemID); err != nil {
		return err
	}
	scope := touchedIdentities()
	if s.first {
		scope = systemIdentities(s.systemID)
	} else if err := d.writeTouched(ctx, c, "touched", s.touched); err != nil {
		return err
	}
	gaps, err := d.refreshGapsOf(ctx, c, ev, s.first, scope)
	if err != nil {
		return err
	}
	res.GapsOpened, res.GapsClosed = gaps.opened, gaps.closed
	s.lap("gaps refreshed")
	res.Events = ev.n
	if s.first {
		res.Events = 0 // the summary event below stands for them
	}
	if err := ev.flush(ctx); err != nil {
		return err
	}
	if rv != ev {
		res.Events += rv.n
		if err := rv.flush(ctx); err != nil {
			return err
		}
	}
	s.lap("events appended")
	if changed(res) {
		if err := d.appendEvent(ctx, c, steward.ActionSystemSynced, steward.ObjectSystem, idStr(s.systemID), steward.SystemSynced{
			Source: s.o.Source, Partial: s.o.Partial, FirstLoad: s.first, Result: res}); err != nil {
			return err
		}
		res.Events++
	}
	return d.recordRun(ctx, c, s.o.Source, &s.systemID, s.started, res)
}

// changed reports whether a run changed anything.
func changed(r *steward.SyncResult) bool {
	return r.IdentitiesCreated+r.IdentitiesUpdated+r.IdentitiesRemoved+r.CredentialsRotated+r.CredentialsChanged+
		r.EntitlementsChanged+r.GrantsCreated+r.GrantsUpdated+r.GrantsRemoved+r.OwnersChanged+r.LinksChanged+
		r.PeopleCreated+r.PeopleUpdated+r.PeopleDeparted+r.GapsOpened+r.GapsClosed > 0
}

func (d *DB) recordRun(ctx context.Context, c *sql.Conn, source string, systemID *int64, started time.Time, res *steward.SyncResult) error {
	b, _ := json.Marshal(res)
	_, err := c.ExecContext(ctx, d.q(`INSERT INTO sync_runs (source, system_id, started_at, finished_at, result) VALUES (?, ?, ?, ?, ?)`),
		source, idPtr(systemID), micro(started), micro(d.now()), string(b))
	return err
}

func (d *DB) systemIn(ctx context.Context, q querier, id int64) (*steward.System, error) {
	s, err := scanSystem(q.QueryRowContext(ctx, d.q(systemSelect+` WHERE x.id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, steward.Errorf(steward.ENOTFOUND, "system %d does not exist.", id)
	}
	return &s, err
}

var stageCols = map[string][]string{
	"stage_identities":   {"external_id", "name", "kind", "environment", "criticality", "status", "labels", "owner_hint", "team_hint", "created_at", "last_used_at", "hash", "pos", "owner_id", "team_id", "owner_source", "owner_by", "team_by", "owner_rule", "rsum"},
	"stage_credentials":  {"identity_ext", "external_id", "kind", "created_at", "last_rotated_at", "last_used_at", "expires_at", "hash", "pos", "status", "version"},
	"stage_links":        {"identity_ext", "kind", "to_ref"},
	"stage_entitlements": {"name", "description", "privileged", "sensitivity", "hash", "pos", "rsum"},
	"stage_grants":       {"identity_ext", "entitlement", "type", "granted_at", "expires_at", "hash", "pos", "rsum"},
}

// stageBatchOf is one batch of rows for one staging table.
type stageBatchOf struct {
	table string
	rows  [][]any
}

// stageRecords normalises each record and loads it into the staging tables.
// Reading and parsing the source runs in its own goroutine (stageReader),
// beside the inserts, so that on two cores neither waits for the other.
// Each identity's owner and team are resolved there, as it is staged (see
// ownerResolver), so that new rows go in with their owner rather than being
// updated a second time.
//
// A record the digest dg holds is unchanged since the last whole sync: it is
// marked seen and not staged.
func (d *DB) stageRecords(ctx context.Context, c *sql.Conn, records iter.Seq2[steward.Record, error], o steward.SyncOptions, res *steward.SyncResult, bad *problems,
	sys *steward.System, resolver *ownerResolver, dg *syncDigest) error {
	st := &stageReader{o: o, res: res, bad: bad, sys: sys, resolver: resolver, dg: dg,
		batches: make(chan stageBatchOf, 4), done: make(chan struct{}), buf: map[string][][]any{}, size: map[string]int{}}
	go st.read(records)
	var err error
	for b := range st.batches {
		if err == nil {
			if err = d.copyRows(ctx, c, b.table, stageCols[b.table], b.rows); err != nil {
				close(st.done) // stop the reader; drain what it already sent
			}
		}
	}
	if err != nil {
		return err
	}
	if st.fatal == nil && dg != nil && st.skipped+st.marked != dg.seenCount() {
		// Every entry marked seen was marked by a skip whose record came
		// back (Skipped) or by see. A source that skips what it was not
		// told it could, or drops what it was, would make rows look gone.
		return fmt.Errorf("the source left %d records unread, and Steward allowed %d", st.skipped, dg.seenCount()-st.marked)
	}
	return st.fatal
}

// stageReader is the reading goroutine of stageRecords: it turns records
// into staged rows and hands them over in batches, one table at a time.
type stageReader struct {
	o        steward.SyncOptions
	res      *steward.SyncResult
	bad      *problems
	sys      *steward.System
	resolver *ownerResolver
	dg       *syncDigest

	batches chan stageBatchOf  // to the writer; closed when the reader ends
	done    chan struct{}      // closed by the writer when it has failed
	buf     map[string][][]any // rows waiting for their batch, per table
	size    map[string]int     // rowBytes of buf, per table

	fatal           error // what ended the stream, if anything did
	skipped, marked int   // records yielded skipped; entries see marked first
}

// read stages every record of the stream, then sends what is left. It
// stops early when the stream fails or the writer has.
func (st *stageReader) read(records iter.Seq2[steward.Record, error]) {
	defer close(st.batches)
	for r, err := range records {
		if err != nil {
			if st.fatal = st.bad.collect(err); st.fatal != nil {
				return
			}
			continue
		}
		if !st.record(&r) {
			return
		}
	}
	for t := range st.buf {
		if len(st.buf[t]) > 0 && !st.send(t) {
			return
		}
	}
}

// record stages one record, or counts it skipped, or reports it. false:
// the writer has stopped.
func (st *stageReader) record(r *steward.Record) bool {
	st.res.Records++
	if r.Skipped() {
		if st.dg == nil { // nobody told the source it could
			st.bad.add(r.Pos + ": the source left this record unread.")
			return true
		}
		// Marked seen already, by the skip that let it through.
		st.skipped++
		return true
	}
	if err := r.Normalize(st.o.Environment); err != nil {
		st.bad.add(steward.ErrorMessage(steward.AtPos(r.Pos, err)))
		return true
	}
	sum := r.Sum
	if sum == 0 {
		sum = recordSum(*r)
	}
	if st.dg != nil {
		if found, again := st.dg.see(sum); found {
			if again {
				// Its first line was skipped, and has no position to
				// report: only a run that compares every record can say
				// which lines repeat it.
				st.fatal = errCompareAll
				return false
			} else {
				st.marked++
			}
			return true
		}
	}
	rsum := int64(sum) // #nosec G115 -- a 64-bit hash kept in a BIGINT column: the bits are kept, the sign means nothing
	switch {
	case r.Identity != nil:
		return st.identity(r, rsum)
	case r.Entitlement != nil:
		e := r.Entitlement
		return st.add("stage_entitlements", e.Name, e.Description, e.Privileged, string(e.Sensitivity),
			entitlementDigest(e), r.Pos, rsum)
	case r.Grant != nil:
		g := r.Grant
		return st.add("stage_grants", g.Identity, g.Entitlement, string(g.Type), microPtr(g.GrantedAt), microPtr(g.ExpiresAt),
			grantDigest(g), r.Pos, rsum)
	}
	return true
}

// identity stages an identity record: the identity with its owner and team
// resolved, its credentials and its links.
func (st *stageReader) identity(r *steward.Record, rsum int64) bool {
	i := r.Identity
	owner := steward.NormalizeOwnerKey(i.Owner)
	h := identityDigest(i, owner)
	to := st.resolver.resolveIdentity(st.sys, i, owner)
	ok := st.add("stage_identities", i.ExternalID, i.Name, string(i.Kind), string(i.Environment), string(i.Criticality),
		string(i.Status), labelsJSON(i.Labels), owner, i.Team, microPtr(i.CreatedAt), microPtr(i.LastUsedAt), h, r.Pos,
		idPtr(to.OwnerID), idPtr(to.TeamID), string(to.Source), string(to.OwnerBy), string(to.TeamBy), to.Rule, rsum)
	for _, cr := range i.Credentials {
		ok = ok && st.add("stage_credentials", i.ExternalID, cr.ExternalID, string(cr.Kind), microPtr(cr.CreatedAt),
			microPtr(cr.LastRotatedAt), microPtr(cr.LastUsedAt), microPtr(cr.ExpiresAt),
			credentialDigest(&cr), r.Pos, string(credentialStatus(&cr)), cr.Version)
	}
	for _, l := range i.Links {
		ok = ok && st.add("stage_links", i.ExternalID, string(l.Kind), l.To)
	}
	return ok
}

// add queues one row of table t, and sends the table's batch once it is
// full. false: the writer has stopped.
func (st *stageReader) add(t string, row ...any) bool {
	st.buf[t] = append(st.buf[t], row)
	st.size[t] += rowBytes(row)
	return len(st.buf[t]) < stageBatch && st.size[t] < maxBatchBytes || st.send(t)
}

// send hands table t's queued rows to the writer. false: the writer has
// stopped.
func (st *stageReader) send(t string) bool {
	select {
	case st.batches <- stageBatchOf{t, st.buf[t]}:
		st.buf[t], st.size[t] = make([][]any, 0, stageBatch), 0
		return true
	case <-st.done:
		return false
	}
}

// checkRecords reports what is wrong across records: keys listed more than
// once and grants that name an identity or entitlement nobody lists.
//
// Every line that repeats a key is reported, at its position, as a first
// load reports it. A delta run (the stage holds only what changed since the
// digest) cannot: the line it skipped as unchanged has no position, and may
// be the later one. So a repeat in a delta run, within the stage or of a
// record that came back unchanged, ends it with errCompareAll, and the run
// that compares every record reports it. (A record repeated byte for byte
// ends the delta run as it is staged: stageReader.record.)
func (d *DB) checkRecords(ctx context.Context, c *sql.Conn, systemID int64, o steward.SyncOptions, delta bool, bad *problems) error {
	repeats := []struct {
		table, what string
		cols        []string
	}{
		{"stage_identities", `'identity ' || external_id`, []string{"external_id"}},
		{"stage_entitlements", `'entitlement ' || name`, []string{"name"}},
		{"stage_grants", `'grant of ' || entitlement || ' to ' || identity_ext`, []string{"identity_ext", "entitlement"}},
	}
	if delta {
		queries := []string{
			`SELECT s.pos FROM stage_identities s
			CROSS JOIN identities x WHERE x.system_id = ? AND x.external_id = s.external_id
			AND x.status <> 'removed' AND NOT EXISTS (SELECT 1 FROM unseen_identities u WHERE u.id = x.id)`,
			`SELECT s.pos FROM stage_entitlements s
			CROSS JOIN entitlements e WHERE e.system_id = ? AND e.name = s.name
			AND NOT EXISTS (SELECT 1 FROM unseen_entitlements u WHERE u.id = e.id)`,
			`SELECT s.pos FROM stage_grants s
			CROSS JOIN identities x CROSS JOIN entitlements e CROSS JOIN grants g
			WHERE x.system_id = ? AND x.external_id = s.identity_ext AND e.system_id = x.system_id AND e.name = s.entitlement
			AND g.identity_id = x.id AND g.entitlement_id = e.id
			AND NOT EXISTS (SELECT 1 FROM unseen_grants u WHERE u.identity_id = x.id AND u.entitlement_id = e.id)`,
		}
		for _, q := range queries {
			if found, err := d.anyRow(ctx, c, q, systemID); err != nil || found {
				return cmp.Or(err, errCompareAll)
			}
		}
		for _, r := range repeats {
			keys := strings.Join(r.cols, ", ")
			if found, err := d.anyRow(ctx, c, `SELECT 1 FROM `+r.table+` GROUP BY `+keys+` HAVING count(*) > 1`); err != nil || found {
				return cmp.Or(err, errCompareAll)
			}
		}
	} else {
		for _, r := range repeats {
			if err := d.checkRepeats(ctx, c, bad, r.table, r.what, r.cols...); err != nil {
				return err
			}
		}
	}
	// A partial source may grant to identities and entitlements that
	// earlier syncs brought in; a whole snapshot must list them itself,
	// unless (delta) their records came back unchanged.
	liveIdentity, liveEntitlement := "", ""
	var args []any
	if delta {
		liveIdentity = ` AND NOT EXISTS (SELECT 1 FROM identities x WHERE x.system_id = ? AND x.external_id = s.identity_ext AND x.status <> 'removed'
			AND NOT EXISTS (SELECT 1 FROM unseen_identities u WHERE u.id = x.id))`
		liveEntitlement = ` AND NOT EXISTS (SELECT 1 FROM entitlements e WHERE e.system_id = ? AND e.name = s.entitlement
			AND NOT EXISTS (SELECT 1 FROM unseen_entitlements u WHERE u.id = e.id))`
		args = []any{systemID}
	} else if o.Partial {
		liveIdentity = ` AND NOT EXISTS (SELECT 1 FROM identities x WHERE x.system_id = ? AND x.external_id = s.identity_ext AND x.status <> 'removed')`
		liveEntitlement = ` AND NOT EXISTS (SELECT 1 FROM entitlements e WHERE e.system_id = ? AND e.name = s.entitlement)`
		args = []any{systemID}
	}
	if err := d.checkStage(ctx, c, bad, `SELECT s.pos AS pos, 'grant names identity ' || s.identity_ext || ', which is not listed' AS msg
		FROM stage_grants s WHERE NOT EXISTS (SELECT 1 FROM stage_identities i WHERE i.external_id = s.identity_ext)`+liveIdentity, args...); err != nil {
		return err
	}
	return d.checkStage(ctx, c, bad, `SELECT s.pos AS pos, 'grant names entitlement ' || s.entitlement || ', which is not listed' AS msg
		FROM stage_grants s WHERE NOT EXISTS (SELECT 1 FROM stage_entitlements e WHERE e.name = s.entitlement)`+liveEntitlement, args...)
}

// writeTouched stores the ids a run touched, for owner resolution and the
// gap refresh to scope their queries with.
func (d *DB) writeTouched(ctx context.Context, c *sql.Conn, table string, ids map[int64]bool) error {
	rows := make([][]any, 0, len(ids))
	for id := range ids {
		rows = append(rows, []any{id})
	}
	return d.copyRows(ctx, c, table, []string{"id"}, rows)
}

// int64List renders ids as a SQL list for IN (…); NULL for none, which
// matches nothing. Only for small sets of ids the store made itself.
func int64List(ids []int64) string {
	if len(ids) == 0 {
		return "NULL"
	}
	var b strings.Builder
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(idStr(id))
	}
	return b.String()
}
