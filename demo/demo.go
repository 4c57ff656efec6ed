// Package demo generates a realistic demo organisation: people in teams with
// managers, the systems they run, the non-human identities that outnumber
// them about forty to one, credentials (metadata only), entitlements and
// grants, with the mess real estates have — unowned identities, owners who
// left, a team whose members all departed, keys older than a year that were
// never rotated, identities nobody uses, standing admin access.
//
// Generation is deterministic: the same Config yields the same rows, byte for
// byte, on every run and platform (math/rand/v2 PCG, integer arithmetic
// only). Rows are streamed in batches so that a million identities need no
// more memory than one batch and a few small per-person and per-team arrays.
//
// No generated value is a secret: credential fingerprints are HMACs of random
// bytes, and "AKIA…" style external ids are key ids, never key material.
package demo

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/stewardhq/steward"
)

// Defaults for Config.
const (
	DefaultPeople    = 2000
	DefaultNHI       = 80000
	DefaultSeed      = 1
	DefaultBatchSize = 10000
)

// defaultNow is the instant a zero Config.Now stands for, so that tests and
// benchmarks are reproducible without choosing one.
var defaultNow = time.Date(2026, time.January, 1, 0, 0, 0, 0, time.UTC)

// Config sizes and seeds a demo organisation. The zero Config is the default
// organisation: 2,000 people, 80,000 non-human identities, seed 1.
type Config struct {
	// People is the number of people (employees, including about 3% who
	// have left). Default 2000; between 10 and 1,000,000.
	People int
	// NHI is the number of non-human identities. Default 80000; at most
	// 100,000,000. Human identities (two or three accounts per person) come
	// on top.
	NHI int
	// Seed selects the organisation. Default 1 (0 means 1).
	Seed int64
	// Now is the instant the organisation is generated at: ages, last-used
	// times and expiries are relative to it. The zero time means
	// 2026-01-01T00:00:00Z, which keeps tests reproducible; a demo served to
	// people should pass the current time. It is truncated to the second, in
	// UTC.
	Now time.Time
	// BatchSize is the number of rows after which a batch is handed to emit.
	// Default 10000. A batch may run over by the rows that must travel
	// together: all teams with their managers, or one identity with its
	// credentials and grants.
	BatchSize int
}

// withDefaults returns c with its zero fields filled, or EINVALID.
func (c Config) withDefaults() (Config, error) {
	if c.People == 0 {
		c.People = DefaultPeople
	}
	if c.NHI == 0 {
		c.NHI = DefaultNHI
	}
	if c.Seed == 0 {
		c.Seed = DefaultSeed
	}
	if c.Now.IsZero() {
		c.Now = defaultNow
	}
	c.Now = c.Now.UTC().Truncate(time.Second)
	if c.BatchSize == 0 {
		c.BatchSize = DefaultBatchSize
	}
	switch {
	case c.People < 10 || c.People > 1_000_000:
		return c, steward.Errorf(steward.EINVALID, "demo people must be between 10 and 1,000,000; got %d.", c.People)
	case c.NHI < 0 || c.NHI > 100_000_000:
		return c, steward.Errorf(steward.EINVALID, "demo nhi must be between 1 and 100,000,000; got %d.", c.NHI)
	case c.BatchSize < 0:
		return c, steward.Errorf(steward.EINVALID, "demo batch size must be positive; got %d.", c.BatchSize)
	}
	return c, nil
}

// Summary counts the rows of a demo organisation, per table.
type Summary struct {
	Teams        int `json:"teams"`
	People       int `json:"people"`
	Systems      int `json:"systems"`
	Identities   int `json:"identities"` // human and non-human
	Credentials  int `json:"credentials"`
	Entitlements int `json:"entitlements"`
	Grants       int `json:"grants"`
	Batches      int `json:"batches"`
	// Admin is the e-mail address of the person Seed records as having
	// loaded the organisation; Generate leaves it empty.
	Admin string `json:"admin,omitempty"`
}

// Add counts the rows of one batch.
func (s *Summary) Add(b *steward.Bulk) {
	s.Teams += len(b.Teams)
	s.People += len(b.People)
	s.Systems += len(b.Systems)
	s.Identities += len(b.Identities)
	s.Credentials += len(b.Credentials)
	s.Entitlements += len(b.Entitlements)
	s.Grants += len(b.Grants)
	s.Batches++
}

// Rows returns the total number of rows.
func (s Summary) Rows() int {
	return s.Teams + s.People + s.Systems + s.Identities + s.Credentials + s.Entitlements + s.Grants
}

// Generate builds the organisation described by cfg and hands it to emit one
// batch at a time.
//
// Every table's IDs start at 1 and rise in the order rows are emitted; a row
// refers only to rows of the same or an earlier batch. Within a batch, rows
// that refer to their own table (a person's manager) come after the row they
// refer to; the one cycle — a team's manager is a person, a person's team is
// a team — is closed inside the first batch, which holds every team with its
// manager. Rows come in this order: teams, people, systems, entitlements,
// human identities with their grants, then non-human identities, each
// followed by its credentials and grants.
//
// Generate reuses the batch's slices once emit returns, so emit must copy
// anything it keeps. It returns EINVALID for a bad cfg, or emit's error
// wrapped with the batch number.
func Generate(cfg Config, emit func(*steward.Bulk) error) error {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return err
	}
	g := newGenerator(cfg, emit)
	return g.run()
}

// Store is what Seed loads the organisation into.
type Store interface {
	steward.InventoryWriter
	steward.SelfRegistrar
}

// Seed loads the organisation described by cfg into s, one BulkLoad per
// batch, registers Steward's own identity (steward.SelfRegistrar) and
// returns what it loaded. The inventory must be empty: the demo chooses its
// own IDs, so a second Seed fails with ECONFLICT.
//
// In the demo's story its admin (Summary.Admin: the head of security, or
// the chief executive in an organisation without a security department)
// loaded the organisation and owns Steward's own identity, so that every event of a
// demo names a person, or Steward itself with its owner. The events name
// the admin through whoever ctx names ("local-admin:alice" for the local
// administrator who ran steward demo), or "demo" when it names nobody. On
// error the batches already loaded stay loaded; the Summary counts them.
func Seed(ctx context.Context, s Store, cfg Config) (Summary, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return Summary{}, fmt.Errorf("seed demo organisation: %w", err)
	}
	via := steward.ActorFrom(ctx)
	if via == "system" {
		via = "demo"
	}
	var sum Summary
	var admin context.Context // acting as the admin, once the organisation is planned
	var g *generator
	g = newGenerator(cfg, func(b *steward.Bulk) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if admin == nil {
			p := g.admin()
			sum.Admin = p.Email
			admin = steward.WithPrincipal(ctx, steward.Principal{Kind: steward.PrincipalPerson, Name: p.Email,
				PersonID: p.ID, Role: steward.RoleAdmin, Via: via})
		}
		if err := s.BulkLoad(admin, b); err != nil {
			return err
		}
		sum.Add(b)
		return nil
	})
	if err := g.run(); err != nil {
		return sum, fmt.Errorf("seed demo organisation: %w", err)
	}
	owner := g.admin().ID
	if admin == nil { // nothing was emitted: cannot be, Generate emits the teams first
		return sum, fmt.Errorf("seed demo organisation: nothing to load")
	}
	if _, err := s.RegisterSteward(admin, &owner); err != nil {
		return sum, fmt.Errorf("seed demo organisation: register Steward's own identity: %w", err)
	}
	return sum, nil
}

// admin returns the organisation's admin, who runs Steward in the demo's
// story: the head of security where the organisation has a security
// department, else its chief executive. Both are leaders, who never
// depart (planDepartures).
func (g *generator) admin() *person {
	for _, p := range g.people {
		if p.dept != nil && p.dept.key == "security" && *p.TeamID == g.teams[0].id && p.Status == steward.PersonActive {
			return p
		}
	}
	return g.people[0]
}

// generator holds the state of one Generate call: the random source, the
// batch being filled, and the small per-team, per-person and per-system
// tables that identities refer to. Identities themselves are never kept.
type generator struct {
	cfg  Config
	now  time.Time
	rng  *rand.Rand
	hist *rand.Rand // the history's own stream: see newHistoryRand
	emit func(*steward.Bulk) error
	b    steward.Bulk

	// starts are when the ownership gaps began, for the last batch, which
	// opens every gap the earlier ones deferred.
	starts []steward.GapStart
	last   bool // the next flush is the last

	teams       []*team   // by ID-1; teams[0] is the leadership team
	teamWeights []int     // cumulative NHI weight per team, for pickTeam
	people      []*person // by ID-1
	systems     []*system // by ID-1
	kindSystems [nhiKinds][]int
	kindWeights [nhiKinds][]int // cumulative, parallel to kindSystems
	bySystem    map[string]*system
	// named counts the identities of each team, system and kind, so that
	// their names are unique per system without remembering them.
	named []int32

	scrambleKey uint32 // turns identity IDs into unique opaque external ids
	fpKey       []byte // the demo's fingerprint key; fingerprints are of random bytes

	nextIdentity, nextCredential, nextEntitlement, nextGrant int64
	requests, exceptions                                     int64
	bots, batches                                            int
	picked                                                   []int64 // scratch for pickEntitlements
}

func newGenerator(cfg Config, emit func(*steward.Bulk) error) *generator {
	seed := uint64(cfg.Seed) // #nosec G115 -- a seed: its bits are what matters, a negative one is as good as any
	// The second word is the seed xored with "STEWARD!".
	rng := rand.New(rand.NewPCG(seed, seed^0x5354455741524421)) // #nosec G404 -- the demo organisation is drawn from a seed so that it is the same every time
	g := &generator{
		cfg:         cfg,
		now:         cfg.Now,
		rng:         rng,
		hist:        newHistoryRand(cfg.Seed),
		emit:        emit,
		bySystem:    map[string]*system{},
		fpKey:       []byte("steward-demo-fingerprint-key"),
		scrambleKey: rng.Uint32(),
	}
	g.b.Source = fmt.Sprintf("demo seed=%d people=%d nhi=%d", cfg.Seed, cfg.People, cfg.NHI)
	return g
}

func (g *generator) run() error {
	g.planOrganisation()
	if err := g.emitOrganisation(); err != nil {
		return err
	}
	if err := g.emitSystems(); err != nil {
		return err
	}
	g.planHistory()
	if err := g.emitHumans(); err != nil {
		return err
	}
	for range g.cfg.NHI {
		g.addNHI()
		if err := g.flushIfFull(); err != nil {
			return err
		}
	}
	g.last = true
	return g.flush()
}

// flushIfFull emits the batch once it holds BatchSize rows. It is called
// only between rows that may be split apart.
func (g *generator) flushIfFull() error {
	if g.b.Len() < g.cfg.BatchSize {
		return nil
	}
	return g.flush()
}

// flush emits the batch, if any, and empties it for reuse. Every batch but
// the last defers its ownership gaps; the last opens them all, each dated
// when it began.
func (g *generator) flush() error {
	if g.b.Len() == 0 && !(g.last && len(g.starts) > 0) {
		return nil
	}
	g.b.DeferGaps, g.b.GapStarts = !g.last, nil
	if g.last {
		g.b.GapStarts = g.starts
	}
	g.batches++
	if err := g.emit(&g.b); err != nil {
		return fmt.Errorf("demo batch %d: %w", g.batches, err)
	}
	clear(g.b.Identities) // drop the label maps and pointers of the last batch
	g.b.Teams, g.b.People, g.b.Systems = g.b.Teams[:0], g.b.People[:0], g.b.Systems[:0]
	g.b.Identities, g.b.Credentials = g.b.Identities[:0], g.b.Credentials[:0]
	g.b.Entitlements, g.b.Grants = g.b.Entitlements[:0], g.b.Grants[:0]
	return nil
}

// Random helpers. Only integer arithmetic is used so that output does not
// depend on how a platform rounds or fuses floating-point operations.

// pct returns true p times in a hundred.
func (g *generator) pct(p int) bool { return g.rng.IntN(100) < p }

// between returns a duration in [lo, hi], in whole seconds.
func (g *generator) between(lo, hi time.Duration) time.Duration {
	l, h := int64(lo/time.Second), int64(hi/time.Second)
	if h <= l {
		return time.Duration(l) * time.Second
	}
	return time.Duration(l+g.rng.Int64N(h-l+1)) * time.Second
}

// ago returns the instant d before now.
func (g *generator) ago(d time.Duration) time.Time { return g.now.Add(-d) }

// after returns an instant in [t, now], or t if t is after now.
func (g *generator) after(t time.Time) time.Time {
	if !t.Before(g.now) {
		return t
	}
	return t.Add(g.between(0, g.now.Sub(t)))
}

func pick[T any](g *generator, s []T) T { return s[g.rng.IntN(len(s))] }

func ptr[T any](v T) *T { return &v }

const (
	day  = 24 * time.Hour
	year = 365 * day
)
