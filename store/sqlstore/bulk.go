package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/stewardhq/steward"
)

// bulkTable is one table of a Bulk: its columns and its rows as values.
type bulkTable struct {
	name string
	cols []string
	rows [][]any
}

// bulkTables validates b and turns it into rows, in an order that keeps
// references pointing backwards (foreign keys are deferred anyway): one
// table of rows for each kind b holds.
func bulkTables(b *steward.Bulk, now time.Time) ([]bulkTable, error) {
	var out []bulkTable
	for _, table := range []func() (bulkTable, error){
		func() (bulkTable, error) { return bulkTeams(b.Teams) },
		func() (bulkTable, error) { return bulkPeople(b.People) },
		func() (bulkTable, error) { return bulkSystems(b.Systems) },
		func() (bulkTable, error) { return bulkIdentities(b.Identities, b.Credentials, now) },
		func() (bulkTable, error) { return bulkCredentials(b.Credentials) },
		func() (bulkTable, error) { return bulkEntitlements(b.Entitlements) },
		func() (bulkTable, error) { return bulkGrants(b.Grants) },
	} {
		t, err := table()
		if err != nil {
			return nil, err
		}
		if len(t.rows) > 0 {
			out = append(out, t)
		}
	}
	return out, nil
}

// checkBulkRow checks row i of table: a bulk row carries its own id, and
// must be valid.
func checkBulkRow(table string, i int, id int64, validate func() error) error {
	if id <= 0 {
		return steward.Errorf(steward.EINVALID, "%s[%d]: a bulk row needs its id set.", table, i)
	}
	if err := validate(); err != nil {
		return steward.Errorf(steward.EINVALID, "%s[%d] (id %d): %s", table, i, id, steward.ErrorMessage(err))
	}
	return nil
}

func bulkTeams(in []steward.Team) (bulkTable, error) {
	t := bulkTable{name: "teams", cols: []string{"id", "name", "display_name", "manager_id", "created_at"}}
	for i := range in {
		r := &in[i]
		if err := checkBulkRow(t.name, i, r.ID, r.Validate); err != nil {
			return t, err
		}
		t.rows = append(t.rows, []any{r.ID, r.Name, r.DisplayName, idPtr(r.ManagerID), micro(r.CreatedAt)})
	}
	return t, nil
}

func bulkPeople(in []steward.Person) (bulkTable, error) {
	t := bulkTable{name: "people", cols: []string{"id", "external_id", "name", "email", "title", "team_id", "manager_id", "status", "departed_at", "created_at"}}
	for i := range in {
		r := &in[i]
		if err := checkBulkRow(t.name, i, r.ID, r.Validate); err != nil {
			return t, err
		}
		t.rows = append(t.rows, []any{r.ID, r.ExternalID, r.Name, r.Email, r.Title, idPtr(r.TeamID), idPtr(r.ManagerID), string(r.Status), microPtr(r.DepartedAt), micro(r.CreatedAt)})
	}
	return t, nil
}

func bulkSystems(in []steward.System) (bulkTable, error) {
	t := bulkTable{name: "systems", cols: []string{"id", "name", "kind", "description", "owner_team_id", "created_at"}}
	for i := range in {
		r := &in[i]
		if err := checkBulkRow(t.name, i, r.ID, r.Validate); err != nil {
			return t, err
		}
		t.rows = append(t.rows, []any{r.ID, r.Name, string(r.Kind), r.Description, idPtr(r.OwnerTeamID), micro(r.CreatedAt)})
	}
	return t, nil
}

// bulkIdentities turns identities into rows. One without UpdatedAt gets its
// creation time, or now when that is not known either.
//
// The credential age of the batch's identities is computed from the
// batch's active credentials and written with them (an identity is new, so
// its credentials are all here); BulkLoad refreshes the age of the others
// whose credentials the batch adds (bulkCredentialOwners).
func bulkIdentities(in []steward.Identity, creds []steward.Credential, now time.Time) (bulkTable, error) {
	t := bulkTable{name: "identities", cols: []string{"id", "system_id", "external_id", "name", "kind", "environment", "criticality", "owner_id", "team_id", "status", "labels", "created_at", "last_used_at", "updated_at", "owner_source",
		"owner_by", "team_by", "owner_rule", "owner_hint", "team_hint", "oldest_credential_at"}}
	if len(in) == 0 {
		return t, nil
	}
	created, rotated := map[int64][]any{}, map[int64][]any{}
	for i := range creds {
		r := &creds[i]
		if r.Status == steward.CredentialDisabled {
			continue // a disabled key waits for removal, not rotation
		}
		created[r.IdentityID] = append(created[r.IdentityID], microPtr(r.CreatedAt))
		rotated[r.IdentityID] = append(rotated[r.IdentityID], microPtr(r.LastRotatedAt))
	}
	for i := range in {
		r := &in[i]
		if r.UpdatedAt.IsZero() && r.CreatedAt != nil {
			r.UpdatedAt = *r.CreatedAt
		} else if r.UpdatedAt.IsZero() {
			r.UpdatedAt = now
		}
		if err := checkBulkRow(t.name, i, r.ID, r.Validate); err != nil {
			return t, err
		}
		rs := ownerReason(r)
		t.rows = append(t.rows, []any{r.ID, r.SystemID, r.ExternalID, r.Name, string(r.Kind), string(r.Environment), string(r.Criticality),
			idPtr(r.OwnerID), idPtr(r.TeamID), string(r.Status), labelsJSON(r.Labels), microPtr(r.CreatedAt), microPtr(r.LastUsedAt), micro(r.UpdatedAt), string(ownerSource(r)),
			string(rs.OwnerBy), string(rs.TeamBy), rs.Rule, steward.NormalizeOwnerKey(rs.OwnerTag), rs.TeamTag, oldestOf(created[r.ID], rotated[r.ID])})
	}
	return t, nil
}

// bulkCredentials turns credentials into rows; one without a status is
// active.
func bulkCredentials(in []steward.Credential) (bulkTable, error) {
	t := bulkTable{name: "credentials", cols: []string{"id", "identity_id", "external_id", "kind", "status", "created_at", "last_rotated_at", "last_used_at", "expires_at", "fingerprint"}}
	for i := range in {
		r := &in[i]
		if r.Status == "" {
			r.Status = steward.CredentialActive
		}
		if err := checkBulkRow(t.name, i, r.ID, r.Validate); err != nil {
			return t, err
		}
		t.rows = append(t.rows, []any{r.ID, r.IdentityID, r.ExternalID, string(r.Kind), string(r.Status), microPtr(r.CreatedAt), microPtr(r.LastRotatedAt), microPtr(r.LastUsedAt), microPtr(r.ExpiresAt), r.Fingerprint})
	}
	return t, nil
}

func bulkEntitlements(in []steward.Entitlement) (bulkTable, error) {
	t := bulkTable{name: "entitlements", cols: []string{"id", "system_id", "name", "description", "privileged", "sensitivity", "created_at"}}
	for i := range in {
		r := &in[i]
		if err := checkBulkRow(t.name, i, r.ID, r.Validate); err != nil {
			return t, err
		}
		t.rows = append(t.rows, []any{r.ID, r.SystemID, r.Name, r.Description, r.Privileged, string(r.Sensitivity), micro(r.CreatedAt)})
	}
	return t, nil
}

func bulkGrants(in []steward.Grant) (bulkTable, error) {
	t := bulkTable{name: "grants", cols: []string{"id", "identity_id", "entitlement_id", "type", "granted_at", "expires_at", "granted_via"}}
	for i := range in {
		r := &in[i]
		if err := checkBulkRow(t.name, i, r.ID, r.Validate); err != nil {
			return t, err
		}
		t.rows = append(t.rows, []any{r.ID, r.IdentityID, r.EntitlementID, string(r.Type), micro(r.GrantedAt), microPtr(r.ExpiresAt), r.GrantedVia})
	}
	return t, nil
}

// BulkLoad inserts every row of b in one transaction with one audit event.
// SQLite uses prepared inserts; PostgreSQL uses COPY.
func (d *DB) BulkLoad(ctx context.Context, b *steward.Bulk) error {
	tables, err := bulkTables(b, d.now())
	if err != nil {
		return err
	}
	if b.DeferGaps && len(b.GapStarts) > 0 {
		return steward.Errorf(steward.EINVALID, "A batch that defers its gaps cannot open them with their starts; set GapStarts on the last batch only.")
	}
	if len(tables) == 0 && len(b.GapStarts) == 0 {
		return nil
	}
	counts := map[string]int{}
	for _, t := range tables {
		counts[t.name] = len(t.rows)
	}
	data := steward.InventoryLoaded{Source: b.Source, Rows: counts}
	err = d.bulkTx(ctx, func(c *sql.Conn) error {
		for _, t := range tables {
			if err := d.copyRows(ctx, c, t.name, t.cols, t.rows); err != nil {
				return err
			}
			if d.pg {
				// Rows carry their own ids; move the identity sequence past
				// them so that later single inserts do not collide.
				if _, err := c.ExecContext(ctx, `SELECT setval(pg_get_serial_sequence($1, 'id'), (SELECT max(id) FROM `+t.name+`))`, t.name); err != nil { // #nosec G202 -- t.name is a table of the bulk load's fixed list: the store's own names, never input; values are bound as parameters
					return fmt.Errorf("advance %s id: %w", t.name, err)
				}
			}
		}
		// Rows loaded outside a sync: no digest may vouch for them, and a
		// sync running meanwhile, which read one before, must not write it
		// back (forgetDigest). A bulk load is for seeding a deployment, so
		// every system with a digest is marked, not the ones it wrote.
		if _, err := c.ExecContext(ctx, `INSERT INTO sync_dirty (system_id, ref) SELECT DISTINCT system_id, 0 FROM sync_digests`); err != nil {
			return err
		}
		if err := d.dropEveryDigest(ctx, c); err != nil {
			return err
		}
		if err := d.refreshCredentialAgeOf(ctx, c, bulkCredentialOwners(b)); err != nil {
			return err
		}
		if err := d.analyzeLoaded(ctx, c, tables); err != nil {
			return err
		}
		// The one summary event stands for the gap tasks too.
		quiet := &eventSink{d: d, c: c, quiet: true}
		var opened, closed int
		if len(b.GapStarts) > 0 {
			// A load with its history opens every gap, this batch's and
			// those deferred by the batches before, dated when they began.
			n, err := d.openGapsSince(ctx, c, b.GapStarts)
			if err != nil {
				return err
			}
			opened = n
		}
		for _, sc := range bulkGapScopes(b) {
			gaps, err := d.refreshGapsOf(ctx, c, quiet, sc.fresh, sc.identities)
			if err != nil {
				return err
			}
			opened, closed = opened+gaps.opened, closed+gaps.closed
		}
		data.GapsOpened, data.GapsClosed = opened, closed
		return d.appendEvent(ctx, c, steward.ActionInventoryLoaded, steward.ObjectInventory, "", data)
	})
	if isUnique(err) {
		return steward.Errorf(steward.ECONFLICT, "The batch repeats an id or a unique key, or one is taken already.")
	} else if isForeignKey(err) {
		return steward.Errorf(steward.ENOTFOUND, "A row of the batch refers to one that does not exist.")
	}
	return err
}

// analyzeLoaded refreshes, on PostgreSQL, the statistics of each table
// that this load outgrew: one whose statistics count fewer rows than the
// load wrote into it (a new database's first batches). Planned as if those
// tables were empty, the gap refresh that follows read every person for
// each identity of a 25,000-row batch: 8 s instead of milliseconds.
func (d *DB) analyzeLoaded(ctx context.Context, c *sql.Conn, tables []bulkTable) error {
	if !d.pg {
		return nil
	}
	for _, t := range tables {
		if len(t.rows) < 1000 {
			continue
		}
		if err := d.analyzeIfBehind(ctx, c, t.name, len(t.rows), 1); err != nil {
			return err
		}
	}
	return nil
}

// analyzeIfBehind analyses table, on PostgreSQL, when the rows a step just
// wrote are at least 1/fraction of the rows its statistics count (or it was
// never analysed): the table has outgrown what the planner believes.
func (d *DB) analyzeIfBehind(ctx context.Context, q querier, table string, wrote, fraction int) error {
	if !d.pg {
		return nil
	}
	var counted float64
	if err := q.QueryRowContext(ctx, `SELECT reltuples FROM pg_class WHERE oid = $1::regclass`, table).Scan(&counted); err != nil {
		return err
	}
	if counted >= float64(wrote*fraction) { // -1: never analysed
		return nil
	}
	_, err := q.ExecContext(ctx, `ANALYZE `+table) // #nosec G202 -- table is a table the caller wrote: the store's own names, never input; values are bound as parameters
	return err
}

// bulkCredentialOwners returns the identities, not loaded by b, whose
// credentials b adds: bulkTables could not compute their credential age.
func bulkCredentialOwners(b *steward.Bulk) []int64 {
	loaded := make(map[int64]bool, len(b.Identities))
	for _, x := range b.Identities {
		loaded[x.ID] = true
	}
	var out []int64
	for _, c := range b.Credentials {
		if !loaded[c.IdentityID] {
			loaded[c.IdentityID] = true
			out = append(out, c.IdentityID)
		}
	}
	return out
}

// gapScope is a set of identities whose gap tasks to refresh; fresh: none
// of them can have a task to close.
type gapScope struct {
	identities identityScope
	fresh      bool
}

// bulkGapScopes selects the identities whose ownership gaps a bulk load can
// open or heal: those it loads, and those of the teams its active people
// join; none for a batch that defers its gaps. The loaded ones are fresh:
// an identity already in their id range is one the load did not change, and
// a person it loads cannot own an identity loaded before it.
func bulkGapScopes(b *steward.Bulk) []gapScope {
	if b.DeferGaps {
		return nil // a later batch opens them with their history
	}
	var out []gapScope
	// With GapStarts every missing gap is already open, dated.
	if len(b.Identities) > 0 && len(b.GapStarts) == 0 {
		lo, hi := b.Identities[0].ID, b.Identities[0].ID
		for _, x := range b.Identities {
			lo, hi = min(lo, x.ID), max(hi, x.ID)
		}
		out = append(out, gapScope{identityRange(lo, hi), true})
	}
	var teams []int64
	for _, p := range b.People {
		if p.TeamID != nil && p.Status == steward.PersonActive {
			teams = append(teams, *p.TeamID)
		}
	}
	if len(teams) > 0 {
		slices.Sort(teams)
		out = append(out, gapScope{teamsIdentities(slices.Compact(teams)), false})
	}
	return out
}

// Optimize refreshes the planner's statistics after a large load, so that
// filtered lists and counts choose the right index. On SQLite it reads every
// index in full (about a second at a million identities): a sampled ANALYZE
// makes every status value look rare and picks bad plans for the gap counts.
// SQLite keeps sqlite_stat1's figures only (see stat1Only).
func (d *DB) Optimize(ctx context.Context) error {
	if d.pg {
		_, err := d.write.ExecContext(ctx, `ANALYZE`)
		return err
	}
	return d.bulkTx(ctx, func(c *sql.Conn) error {
		if _, err := c.ExecContext(ctx, `ANALYZE`); err != nil {
			return err
		}
		return stat1Only(ctx, c)
	})
}

// stat1Only empties SQLite's sqlite_stat4, which ANALYZE fills: the
// planner then has sqlite_stat1's figures (rows per index key) and no
// samples of values. modernc.org/sqlite is built with SQLITE_ENABLE_STAT4,
// and with samples a statement whose plan might depend on a value bound to
// it (almost any lookup through an index that is not unique) is compiled
// again at its first step after every new binding: a prepared statement
// saves nothing, and preparing was a third of an access request's CPU.
// The inventory's pages and counts do not need the samples: the store
// decides what drives a page from counts it makes itself (fewMatches,
// fewGapsMax) and hides the rest from the planner; bench/RESULTS.md has the
// timings with and without ("Prepared statements", 2026-12-04).
//
// The table is dropped rather than emptied, so that every connection
// reads the statistics again (a change of schema), and made again empty
// by ANALYZE sqlite_schema, which also reloads this connection's.
func stat1Only(ctx context.Context, c *sql.Conn) error {
	for _, s := range []string{`DROP TABLE IF EXISTS sqlite_stat4`, `ANALYZE sqlite_schema`} {
		if _, err := c.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("statistics: %w", err)
		}
	}
	return nil
}

// dropStat4 empties sqlite_stat4 of a SQLite database analysed by an
// earlier Steward, which kept the samples (see stat1Only).
func (d *DB) dropStat4(ctx context.Context) error {
	var samples bool
	err := d.read.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE name = 'sqlite_stat4')`).Scan(&samples)
	if err == nil && samples {
		err = d.read.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM sqlite_stat4)`).Scan(&samples)
	}
	if err != nil || !samples {
		return err
	}
	return d.bulkTx(ctx, func(c *sql.Conn) error { return stat1Only(ctx, c) })
}

// ownerReason is what a bulk-loaded identity records of why it has its
// owner: what the batch says, or, for an owner and team given without a
// reason, that they were set by hand (as its owner source says). The
// reason's tags are kept as the identity's owner and team tags, as a sync
// keeps what its source says: a later re-resolution (a rules change, a
// people sync) decides from them again instead of dropping an owner that
// a tag decided.
func ownerReason(i *steward.Identity) steward.OwnerReason {
	if i.OwnerReason != (steward.OwnerReason{}) || ownerSource(i) != steward.OwnerExplicit {
		return i.OwnerReason
	}
	var r steward.OwnerReason
	if i.OwnerID != nil {
		r.OwnerBy = steward.BasisExplicit
	}
	if i.TeamID != nil {
		r.TeamBy = steward.BasisExplicit
	}
	return r
}

// ownerSource is how a bulk-loaded identity got its owner when the row does
// not say: loaded rows carry assignments made elsewhere (the demo, an export
// of another tool), which count as explicit.
func ownerSource(i *steward.Identity) steward.OwnerSource {
	if i.OwnerSource != "" {
		return i.OwnerSource
	}
	if i.OwnerID != nil || i.TeamID != nil {
		return steward.OwnerExplicit
	}
	return steward.OwnerNone
}
