package sqlstore

import "strings"

// identityScope says which identities a follow-up of a write covers: the
// gap refresh (refreshGaps), the re-resolution of owners (reresolve) and
// the credential age (refreshCredentialAge). It is the union of what its
// terms select. Callers build it from the constructors below, which say
// what they mean ("the identities of this system", "those this run
// touched"); where renders it to SQL over identities x, the one place that
// holds that SQL, with placeholders for every value a caller gives.
type identityScope []identityTerm

// identityTerm is one way of selecting identities, and what it names.
type identityTerm struct {
	by   identitiesBy
	ids  []int64 // the id, range, system, team or teams it names
	keys []any   // the owner keys or team name it names
}

// identitiesBy is what an identityTerm selects identities by.
type identitiesBy int

const (
	byEvery           identitiesBy = iota // every identity
	byID                                  // one identity
	byIDs                                 // identities by id, a list the store made
	byIDRange                             // identities by id, from ids[0] to ids[1]
	bySystem                              // the identities of a system
	byTeam                                // the identities of a team
	byTeams                               // the identities of teams, a list the store made
	byTouched                             // the ids in the temporary table touched
	byOwnerTouched                        // owned by a person in the temporary table touched_people
	byOwnerTagTouched                     // whose owner tag names a person in touched_people
	byOwnerTag                            // whose owner tag is one of keys (normalised)
	byTeamTag                             // whose team tag is keys[0]
	byTeamTagOfTeams                      // whose team tag names one of teams ids
	byNoOwner                             // without an owner
	byNoTeam                              // without a team
	byTeamFromOwner                       // whose team came from their owner
	byTeamUndecided                       // whose team nothing stronger than the owner decided
)

// everyIdentity selects every identity.
func everyIdentity() identityScope { return identityScope{{by: byEvery}} }

// oneIdentity selects one identity.
func oneIdentity(id int64) identityScope { return identityScope{{by: byID, ids: []int64{id}}} }

// identityIDs selects identities by id: ids the store made itself, in
// chunks of a few hundred (refreshCredentialAgeOf).
func identityIDs(ids []int64) identityScope { return identityScope{{by: byIDs, ids: ids}} }

// identityRange selects the identities whose ids lie from lo to hi.
func identityRange(lo, hi int64) identityScope {
	return identityScope{{by: byIDRange, ids: []int64{lo, hi}}}
}

// systemIdentities selects the identities of one system.
func systemIdentities(systemID int64) identityScope {
	return identityScope{{by: bySystem, ids: []int64{systemID}}}
}

// teamIdentities selects the identities of one team.
func teamIdentities(teamID int64) identityScope {
	return identityScope{{by: byTeam, ids: []int64{teamID}}}
}

// teamsIdentities selects the identities of the teams ids (made by the
// store itself; none selects nothing).
func teamsIdentities(ids []int64) identityScope { return identityScope{{by: byTeams, ids: ids}} }

// touchedIdentities selects the identities whose ids a run wrote into the
// temporary table touched (writeTouched).
func touchedIdentities() identityScope { return identityScope{{by: byTouched}} }

// ownedByTouchedPeople selects the identities owned by the people whose
// ids a people sync wrote into the temporary table touched_people.
func ownedByTouchedPeople() identityScope { return identityScope{{by: byOwnerTouched}} }

// taggedWithTouchedPeople selects the identities whose owner tag names, by
// e-mail or external id, one of the people in touched_people.
func taggedWithTouchedPeople() identityScope { return identityScope{{by: byOwnerTagTouched}} }

// taggedWithOwner selects the identities whose owner tag is one of keys
// (normalised, steward.NormalizeOwnerKey).
func taggedWithOwner(keys ...string) identityScope {
	t := identityTerm{by: byOwnerTag, keys: make([]any, len(keys))}
	for i, k := range keys {
		t.keys[i] = k
	}
	return identityScope{t}
}

// taggedWithTeam selects the identities whose team tag names the team.
func taggedWithTeam(name string) identityScope {
	return identityScope{{by: byTeamTag, keys: []any{name}}}
}

// taggedWithTeams selects the identities whose team tag names one of the
// teams ids (made by the store itself).
func taggedWithTeams(ids []int64) identityScope {
	return identityScope{{by: byTeamTagOfTeams, ids: ids}}
}

// withoutOwner selects the identities that have no owner.
func withoutOwner() identityScope { return identityScope{{by: byNoOwner}} }

// withoutTeam selects the identities that have no team.
func withoutTeam() identityScope { return identityScope{{by: byNoTeam}} }

// teamFromOwner selects the identities whose team is their owner's.
func teamFromOwner() identityScope { return identityScope{{by: byTeamFromOwner}} }

// teamUndecided selects the identities whose team no tag, rule or person
// decided: none, or their owner's.
func teamUndecided() identityScope { return identityScope{{by: byTeamUndecided}} }

// or is the union of s and more.
func (s identityScope) or(more ...identityScope) identityScope {
	out := append(identityScope{}, s...)
	for _, m := range more {
		out = append(out, m...)
	}
	return out
}

// ofIDs reports whether the scope names its identities by id only (one, a
// list, or the table touched): few of them, as a rule, to be looked up one
// by one rather than found by walking a table (refreshGapsOf).
func (s identityScope) ofIDs() bool {
	for _, t := range s {
		if t.by != byID && t.by != byIDs && t.by != byTouched {
			return false
		}
	}
	return len(s) > 0
}

// where renders the scope as an SQL condition over identities x, to be
// put in parentheses, and the values of its placeholders in order. Lists
// of ids are written out (int64List): they are the store's own integers,
// and a chunk of a few hundred placeholders would only add binding work.
func (s identityScope) where() (string, []any) {
	parts := make([]string, len(s))
	var args []any
	for i, t := range s {
		var cond string
		switch t.by {
		case byEvery:
			cond = `1 = 1`
		case byID:
			cond, args = `x.id = ?`, append(args, t.ids[0])
		case byIDs:
			cond = `x.id IN (` + int64List(t.ids) + `)`
		case byIDRange:
			cond, args = `x.id BETWEEN ? AND ?`, append(args, t.ids[0], t.ids[1])
		case bySystem:
			cond, args = `x.system_id = ?`, append(args, t.ids[0])
		case byTeam:
			cond, args = `x.team_id = ?`, append(args, t.ids[0])
		case byTeams:
			cond = `x.team_id IN (` + int64List(t.ids) + `)`
		case byTouched:
			cond = `x.id IN (SELECT id FROM touched)`
		case byOwnerTouched:
			cond = `x.owner_id IN (SELECT id FROM touched_people)`
		case byOwnerTagTouched:
			cond = `(x.owner_hint <> '' AND x.owner_hint IN (SELECT lower(trim(p.email)) FROM people p WHERE p.id IN (SELECT id FROM touched_people)
				UNION SELECT lower(trim(p.external_id)) FROM people p WHERE p.id IN (SELECT id FROM touched_people)))`
		case byOwnerTag:
			if len(t.keys) == 0 {
				cond = `1 = 0`
				break
			}
			cond, args = `(x.owner_hint <> '' AND x.owner_hint IN (?`+strings.Repeat(`, ?`, len(t.keys)-1)+`))`, append(args, t.keys...)
		case byTeamTag:
			cond, args = `x.team_hint = ?`, append(args, t.keys[0])
		case byTeamTagOfTeams:
			cond = `(x.team_hint <> '' AND x.team_hint IN (SELECT t.name FROM teams t WHERE t.id IN (` + int64List(t.ids) + `)))`
		case byNoOwner:
			cond = `x.owner_id IS NULL`
		case byNoTeam:
			cond = `x.team_id IS NULL`
		case byTeamFromOwner:
			cond = `x.team_by = 'owner_team'`
		case byTeamUndecided:
			cond = `x.team_by IN ('', 'owner_team')`
		default:
			panic("sqlstore: unknown identity scope")
		}
		parts[i] = cond
	}
	return strings.Join(parts, ` OR `), args
}
