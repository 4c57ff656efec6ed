package main

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/stewardhq/steward"
)

// Aims from issue 2, shown beside the figures. They are the product's
// targets, not test assertions: the benchmark reports, it does not judge.
const (
	AimList = 50 * time.Millisecond // p95 of a filtered list page, any filter, any depth
	AimGet  = 5 * time.Millisecond  // p95 of a get by id
)

// Probe is one timed store call. Run draws its own random arguments from r
// (a random kind, owner, id…) so that samples are not one cached row.
type Probe struct {
	Name  string
	Table string // "identities" or "grants": whose id range the page cursors cut; "" for no depth
	Deep  bool   // also time pages at 50% and 99% of the id range
	// Cursor, when set, is the cursor of the page at a fraction of the
	// list (a sorted list's cursors carry its key, not an id). Default:
	// the id at that fraction of Table's range.
	Cursor func(frac float64) string
	Aim    time.Duration
	Run    func(ctx context.Context, r *rand.Rand, after string) (rows int, err error)
}

// Result is the latency distribution of one probe at one page depth.
type Result struct {
	Name, Page string
	N          int     // timed samples
	Rows       float64 // mean rows returned per call
	P50, P95   time.Duration
	P99, Max   time.Duration
	Aim        time.Duration
}

// Met reports whether the p95 is within the aim.
func (r Result) Met() bool { return r.Aim == 0 || r.P95 < r.Aim }

// Depth is a page position: the first page, or a cursor part-way through the
// ids. A cursor from steward.Cursor reaches any depth without walking there,
// which is what keyset pagination promises a client holding one.
type Depth struct {
	Name string
	Frac float64 // 0 for the first page
}

// Depths are where deep probes are timed; NoDepth is for gets.
var (
	Depths  = []Depth{{"first", 0}, {"50%", 0.5}, {"99%", 0.99}}
	NoDepth = Depth{"—", 0}
)

// Probes returns the store calls the benchmark times.
func Probes(s steward.Store, org *Org, sz Sizes) []Probe {
	pick := func(r *rand.Rand, n int) int64 { return int64(r.IntN(n) + 1) }
	grants := func(ctx context.Context, f steward.GrantFilter) (int, error) {
		p, err := s.Grants(ctx, f)
		if err != nil {
			return 0, err
		}
		return len(p.Items), nil
	}
	list := func(name string, filter func(r *rand.Rand) steward.IdentityFilter) Probe {
		return Probe{Name: "identities " + name, Table: "identities", Deep: true, Aim: AimList,
			Run: func(ctx context.Context, r *rand.Rand, after string) (int, error) {
				f := filter(r)
				f.After = after
				p, err := s.Identities(ctx, f)
				if err != nil {
					return 0, err
				}
				return len(p.Items), nil
			}}
	}
	// The open gap list, first page only: the number of gap tasks is not
	// known in advance, so there is no id range to cut deeper pages from.
	gaps := func(name string, filter func(r *rand.Rand) steward.GapFilter) Probe {
		return Probe{Name: "gaps " + name, Aim: AimList, Run: func(ctx context.Context, r *rand.Rand, after string) (int, error) {
			p, err := s.Gaps(ctx, filter(r))
			if err != nil {
				return 0, err
			}
			return len(p.Items), nil
		}}
	}
	kind := func(r *rand.Rand) steward.IdentityKind {
		return steward.IdentityKinds[r.IntN(len(steward.IdentityKinds))]
	}
	env := func(r *rand.Rand) steward.Environment { return steward.Environments[r.IntN(len(steward.Environments))] }
	status := func(r *rand.Rand) steward.IdentityStatus {
		return steward.IdentityStatuses[r.IntN(len(steward.IdentityStatuses))]
	}
	// sorted times pages of identities in an order, with a filter; deep
	// pages start at a key part-way through the key's range.
	sorted := func(name string, sort steward.IdentitySort, filter func(r *rand.Rand) steward.IdentityFilter) Probe {
		p := list(name, func(r *rand.Rand) steward.IdentityFilter {
			f := filter(r)
			f.Sort = sort
			return f
		})
		p.Cursor = func(frac float64) string { return sortCursor(sort, frac) }
		return p
	}
	none := func(*rand.Rand) steward.IdentityFilter { return steward.IdentityFilter{} }
	count := func(name string, filter func(r *rand.Rand) steward.IdentityFilter) Probe {
		return Probe{Name: "count " + name, Aim: AimList, Run: func(ctx context.Context, r *rand.Rand, _ string) (int, error) {
			n, err := s.CountIdentities(ctx, filter(r))
			if err != nil {
				return 0, err
			}
			return int(n.N), nil
		}}
	}
	word := func(r *rand.Rand) string { w := CommonWords(); return w[r.IntN(len(w))] }
	ages := []Probe{
		sorted("sort name", steward.SortByName, none),
		sorted("sort -name", steward.SortByNameDesc, none),
		sorted("sort created", steward.SortByCreated, none),
		sorted("sort -last_used", steward.SortByLastUsedDesc, none),
		sorted("sort last_used", steward.SortByLastUsed, none),
		sorted("sort credential_age", steward.SortByCredentialAge, none),
		sorted("sort -credential_age", steward.SortByCredentialAgeDesc, none),
		sorted("sort credential_age+system", steward.SortByCredentialAge, func(r *rand.Rand) steward.IdentityFilter {
			return steward.IdentityFilter{SystemID: pick(r, sz.Systems)}
		}),
		sorted("sort name+team", steward.SortByName, func(r *rand.Rand) steward.IdentityFilter {
			return steward.IdentityFilter{TeamID: pick(r, sz.Teams)}
		}),
		sorted("sort -credential_age+owner", steward.SortByCredentialAgeDesc, func(r *rand.Rand) steward.IdentityFilter {
			return steward.IdentityFilter{OwnerID: pick(r, sz.People)}
		}),
		sorted("sort last_used+kind", steward.SortByLastUsed, func(r *rand.Rand) steward.IdentityFilter {
			return steward.IdentityFilter{Kind: kind(r)}
		}),
		sorted("sort name+q common word", steward.SortByName, func(r *rand.Rand) steward.IdentityFilter {
			return steward.IdentityFilter{Query: word(r)}
		}),
		sorted("sort credential_age+credential older than 3 years", steward.SortByCredentialAge, func(r *rand.Rand) steward.IdentityFilter {
			return steward.IdentityFilter{CredentialOlderThan: 3 * 365}
		}),
		sorted("sort -created+gap", steward.SortByCreatedDesc, func(r *rand.Rand) steward.IdentityFilter {
			return steward.IdentityFilter{Gap: steward.GapKinds[r.IntN(len(steward.GapKinds))]}
		}),
		list("credential older than 1 year", func(r *rand.Rand) steward.IdentityFilter {
			return steward.IdentityFilter{CredentialOlderThan: 365}
		}),
		list("credential older than 4.5 years (few)", func(r *rand.Rand) steward.IdentityFilter {
			return steward.IdentityFilter{CredentialOlderThan: 1640}
		}),
		list("unused for 90 days", func(r *rand.Rand) steward.IdentityFilter { return steward.IdentityFilter{UnusedFor: 90} }),
		list("never used", func(r *rand.Rand) steward.IdentityFilter { return steward.IdentityFilter{NeverUsed: true} }),
		list("system+credential older than 1 year", func(r *rand.Rand) steward.IdentityFilter {
			return steward.IdentityFilter{SystemID: pick(r, sz.Systems), CredentialOlderThan: 365}
		}),
		list("owner+unused for 90 days", func(r *rand.Rand) steward.IdentityFilter {
			return steward.IdentityFilter{OwnerID: pick(r, sz.People), UnusedFor: 90}
		}),
		count("(no filter)", none),
		count("kind", func(r *rand.Rand) steward.IdentityFilter { return steward.IdentityFilter{Kind: kind(r)} }),
		count("system", func(r *rand.Rand) steward.IdentityFilter {
			return steward.IdentityFilter{SystemID: pick(r, sz.Systems)}
		}),
		count("owner", func(r *rand.Rand) steward.IdentityFilter { return steward.IdentityFilter{OwnerID: pick(r, sz.People)} }),
		count("q common word", func(r *rand.Rand) steward.IdentityFilter { return steward.IdentityFilter{Query: word(r)} }),
		count("q rare (1 match)", func(r *rand.Rand) steward.IdentityFilter {
			return steward.IdentityFilter{Query: org.RareFragment(pick(r, sz.Identities))}
		}),
		count("gap", func(r *rand.Rand) steward.IdentityFilter {
			return steward.IdentityFilter{Gap: steward.GapKinds[r.IntN(len(steward.GapKinds))]}
		}),
		count("credential older than 1 year", func(r *rand.Rand) steward.IdentityFilter {
			return steward.IdentityFilter{CredentialOlderThan: 365}
		}),
		count("never used+kind", func(r *rand.Rand) steward.IdentityFilter {
			return steward.IdentityFilter{NeverUsed: true, Kind: kind(r)}
		}),
	}
	return append([]Probe{
		list("(no filter)", func(r *rand.Rand) steward.IdentityFilter { return steward.IdentityFilter{} }),
		list("kind", func(r *rand.Rand) steward.IdentityFilter { return steward.IdentityFilter{Kind: kind(r)} }),
		list("system", func(r *rand.Rand) steward.IdentityFilter {
			return steward.IdentityFilter{SystemID: pick(r, sz.Systems)}
		}),
		list("owner", func(r *rand.Rand) steward.IdentityFilter {
			return steward.IdentityFilter{OwnerID: pick(r, sz.People)}
		}),
		list("team", func(r *rand.Rand) steward.IdentityFilter { return steward.IdentityFilter{TeamID: pick(r, sz.Teams)} }),
		list("environment", func(r *rand.Rand) steward.IdentityFilter { return steward.IdentityFilter{Environment: env(r)} }),
		list("status", func(r *rand.Rand) steward.IdentityFilter { return steward.IdentityFilter{Status: status(r)} }),
		list("q common word", func(r *rand.Rand) steward.IdentityFilter {
			w := CommonWords()
			return steward.IdentityFilter{Query: w[r.IntN(len(w))]}
		}),
		list("q rare (1 match)", func(r *rand.Rand) steward.IdentityFilter {
			return steward.IdentityFilter{Query: org.RareFragment(pick(r, sz.Identities))}
		}),
		list("gap", func(r *rand.Rand) steward.IdentityFilter {
			return steward.IdentityFilter{Gap: steward.GapKinds[r.IntN(len(steward.GapKinds))]}
		}),
		list("gap+q common word", func(r *rand.Rand) steward.IdentityFilter {
			w := CommonWords()
			return steward.IdentityFilter{Gap: steward.GapKinds[r.IntN(len(steward.GapKinds))], Query: w[r.IntN(len(w))]}
		}),
		list("gap+team", func(r *rand.Rand) steward.IdentityFilter {
			return steward.IdentityFilter{Gap: steward.GapKinds[r.IntN(len(steward.GapKinds))], TeamID: pick(r, sz.Teams)}
		}),
		list("system+status", func(r *rand.Rand) steward.IdentityFilter {
			return steward.IdentityFilter{SystemID: pick(r, sz.Systems), Status: status(r)}
		}),
		list("kind+environment", func(r *rand.Rand) steward.IdentityFilter {
			return steward.IdentityFilter{Kind: kind(r), Environment: env(r)}
		}),
		gaps("(Ownership page)", func(r *rand.Rand) steward.GapFilter { return steward.GapFilter{} }),
		gaps("kind", func(r *rand.Rand) steward.GapFilter {
			return steward.GapFilter{Gap: steward.GapKinds[r.IntN(len(steward.GapKinds))]}
		}),
		gaps("team", func(r *rand.Rand) steward.GapFilter { return steward.GapFilter{TeamID: pick(r, sz.Teams)} }),
		{Name: "grants by identity", Aim: AimList, Run: func(ctx context.Context, r *rand.Rand, after string) (int, error) {
			return grants(ctx, steward.GrantFilter{IdentityID: pick(r, sz.Identities)})
		}},
		{Name: "grants by entitlement", Table: "grants", Deep: true, Aim: AimList, Run: func(ctx context.Context, r *rand.Rand, after string) (int, error) {
			return grants(ctx, steward.GrantFilter{EntitlementID: pick(r, sz.Entitlements), ListOptions: steward.ListOptions{After: after}})
		}},
		{Name: "grants by type", Table: "grants", Deep: true, Aim: AimList, Run: func(ctx context.Context, r *rand.Rand, after string) (int, error) {
			t := steward.GrantTypes[r.IntN(len(steward.GrantTypes))]
			return grants(ctx, steward.GrantFilter{Type: t, ListOptions: steward.ListOptions{After: after}})
		}},
		{Name: "get identity by id", Aim: AimGet, Run: func(ctx context.Context, r *rand.Rand, after string) (int, error) {
			_, err := s.Identity(ctx, pick(r, sz.Identities))
			return 1, err
		}},
		{Name: "get entitlement by id", Aim: AimGet, Run: func(ctx context.Context, r *rand.Rand, after string) (int, error) {
			_, err := s.Entitlement(ctx, pick(r, sz.Entitlements))
			return 1, err
		}},
	}, ages...)
}

// sortCursor is the cursor of a page frac of the way through an order:
// for a time, that fraction of the organisation's five years (Identities
// makes its times within them); for a name, that fraction of the alphabet.
func sortCursor(sort steward.IdentitySort, frac float64) string {
	if sort.Desc() {
		frac = 1 - frac
	}
	c := steward.SortCursor{Sort: sort}
	if sort.Desc() {
		c.ID = math.MaxInt64 // after every identity at the key, going down
	}
	if sort.Key() == steward.SortByName {
		c.Key = string(rune('a' + int(frac*25))) // #nosec G115 -- frac is in [0, 1): a letter from a to y
	} else {
		span := 5 * 365 * 24 * time.Hour
		c.Key = strconv.FormatInt(Epoch.Add(-span).Add(time.Duration(frac*float64(span))).UnixMicro(), 10)
	}
	return c.Encode()
}

// Sample times p at one page: a few untimed warm-up calls, then up to
// samples timed calls, stopping early (after at least five) once budget is
// spent, so that a slow query reports fewer samples instead of stalling
// the run.
func Sample(ctx context.Context, p Probe, d Depth, after string, samples int, budget time.Duration, r *rand.Rand) (Result, error) {
	for range min(samples, 5) {
		if _, err := p.Run(ctx, r, after); err != nil {
			return Result{}, fmt.Errorf("%s (%s page): %w", p.Name, d.Name, err)
		}
	}
	times := make([]time.Duration, 0, samples)
	rows := 0
	start := time.Now()
	for len(times) < samples && (len(times) < 5 || time.Since(start) < budget) {
		t0 := time.Now()
		n, err := p.Run(ctx, r, after)
		times = append(times, time.Since(t0))
		if err != nil {
			return Result{}, fmt.Errorf("%s (%s page): %w", p.Name, d.Name, err)
		}
		rows += n
	}
	res := Distribution(times)
	res.Name, res.Page, res.Aim = p.Name, d.Name, p.Aim
	res.Rows = float64(rows) / float64(len(times))
	return res, nil
}

// Distribution returns the nearest-rank percentiles of times.
func Distribution(times []time.Duration) Result {
	if len(times) == 0 {
		return Result{}
	}
	s := slices.Clone(times)
	slices.Sort(s)
	at := func(q float64) time.Duration { return s[max(0, int(math.Ceil(q*float64(len(s))))-1)] }
	return Result{N: len(s), P50: at(0.50), P95: at(0.95), P99: at(0.99), Max: s[len(s)-1]}
}
