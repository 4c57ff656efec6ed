package sqlstore

import (
	"context"
	"database/sql"
	"strconv"
	"strings"

	"github.com/stewardhq/steward"
)

// openGapsSince opens the task of every ownership gap of the inventory that
// has none, dated by starts (by identity and gap kind; the load's time for
// a gap without one), due steward.GapDue after, in one statement that
// inserts them in the order they began, so that task order is oldest
// first. It returns how many it opened, or EINVALID for a bad start. The
// gap conditions are the same as refreshGaps's: the store decides which
// gaps exist, starts only date them.
func (d *DB) openGapsSince(ctx context.Context, c *sql.Conn, starts []steward.GapStart) (int, error) {
	now := d.now()
	type key struct {
		id  int64
		gap steward.GapKind
	}
	seen := make(map[key]bool, len(starts))
	rows := make([][]any, 0, len(starts))
	for i, st := range starts {
		switch {
		case st.Gap.Validate() != nil:
			return 0, steward.Errorf(steward.EINVALID, "gap start %d (identity %d): %s", i, st.IdentityID, steward.ErrorMessage(st.Gap.Validate()))
		case st.At.IsZero():
			return 0, steward.Errorf(steward.EINVALID, "gap start %d (identity %d): at is required.", i, st.IdentityID)
		case st.At.After(now):
			return 0, steward.Errorf(steward.EINVALID, "gap start %d (identity %d) is at %s, after the load; a gap cannot begin in the future.", i, st.IdentityID, steward.FormatTime(st.At.UTC()))
		case seen[key{st.IdentityID, st.Gap}]:
			return 0, steward.Errorf(steward.EINVALID, "gap start %d: identity %d's %s gap is given twice.", i, st.IdentityID, st.Gap)
		}
		seen[key{st.IdentityID, st.Gap}] = true
		rows = append(rows, []any{st.IdentityID, string(st.Gap), micro(st.At)})
	}
	schema, suffix := "temp.", ""
	if d.pg {
		schema, suffix = "pg_temp.", " ON COMMIT DROP"
	}
	if _, err := c.ExecContext(ctx, `DROP TABLE IF EXISTS `+schema+`gap_starts`); err != nil { // #nosec G202 -- the temporary schema's name: the store's own names, never input; values are bound as parameters
		return 0, err
	}
	if _, err := c.ExecContext(ctx, `CREATE TEMP TABLE gap_starts (identity_id BIGINT NOT NULL, gap TEXT NOT NULL, at BIGINT NOT NULL, PRIMARY KEY (identity_id, gap))`+suffix); err != nil { // #nosec G202 -- a fixed ON COMMIT clause: the store's own names, never input; values are bound as parameters
		return 0, err
	}
	defer d.dropTempTable(ctx, c, "gap_starts")
	if err := d.copyRows(ctx, c, "gap_starts", []string{"identity_id", "gap", "at"}, rows); err != nil {
		return 0, err
	}
	if d.pg {
		if _, err := c.ExecContext(ctx, `ANALYZE gap_starts`); err != nil {
			return 0, err
		}
	}
	// Every value written into the statement is a program constant: a gap
	// kind or a number of microseconds.
	nowMicro := strconv.FormatInt(micro(now), 10)
	var parts []string
	for _, gap := range steward.GapKinds {
		g := `'` + string(gap) + `'`
		due := strconv.FormatInt(steward.GapDue[gap].Microseconds(), 10)
		parts = append(parts, `SELECT x.id AS id, x.team_id AS team_id, `+g+` AS gap, COALESCE(s.at, `+nowMicro+`) AS at, `+due+` AS due
			FROM identities x LEFT JOIN gap_starts s ON s.identity_id = x.id AND s.gap = `+g+`
			WHERE `+gapNHI+` AND `+gapCond[gap]+`
			AND NOT EXISTS (SELECT 1 FROM tasks k WHERE k.identity_id = x.id AND k.gap = `+g+` AND `+openGapTask+`)`)
	}
	// #nosec G202 -- the parts are the store's own SQL and the program constants above; nothing comes from input
	res, err := c.ExecContext(ctx, `INSERT INTO tasks (kind, gap, identity_id, team_id, status, opened_at, due_at)
		SELECT 'ownership_gap', g.gap, g.id, g.team_id, 'open', g.at, g.at + g.due FROM (`+strings.Join(parts, " UNION ALL ")+`) g
		ORDER BY g.at, g.id`)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// dropTempTable drops one temporary table after a step.
func (d *DB) dropTempTable(ctx context.Context, c *sql.Conn, name string) {
	schema := "temp."
	if d.pg {
		schema = "pg_temp."
	}
	_, _ = c.ExecContext(context.WithoutCancel(ctx), `DROP TABLE IF EXISTS `+schema+name) // #nosec G202 -- a temporary table of this file: the store's own names, never input; values are bound as parameters
}
