// Package export writes the deterministic JSONL exports of one large system
// that the import benchmarks read (bench/importsync, bench/writelatency).
package export

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"time"
)

// Gen writes deterministic JSONL exports. Identity i is "svc-<i>"; a change
// fraction f renames the identities i%m==1, drops i%m==2, adds as many new
// ones, and moves the grants of i%m==3 to other entitlements, m = 1/(f/3).
// One identity in ten names no owner; the others name one of 20,000 people
// (person-0 … person-19999).
type Gen struct {
	Identities, Grants, Entitlements int
	Seed                             uint64
}

// Write writes the export with the fraction change of it changed to path
// and returns how many records it holds.
func (g Gen) Write(path string, change float64) (int, error) {
	f, err := os.Create(path) // #nosec G304 -- the export file a benchmark asks for
	if err != nil {
		return 0, err
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	n := 0
	// #nosec G104 -- a bufio.Writer keeps its first error, and Flush below returns it
	line := func(s string) { w.WriteString(s); w.WriteByte('\n'); n++ }
	for e := 0; e < g.Entitlements; e++ {
		line(fmt.Sprintf(`{"entitlement":{"name":"role-%d","privileged":%t}}`, e, e%50 == 0))
	}
	every := 0
	if change > 0 {
		every = int(3 / change) // a third of the change each: renamed, removed, regranted
	}
	kinds := []string{"service_account", "api_key", "token", "secret", "certificate", "workload", "bot"}
	envs := []string{"prod", "staging", "dev"}
	perIdentity := g.Grants / g.Identities
	extra := g.Grants % g.Identities
	for i := 0; i < g.Identities; i++ {
		name := fmt.Sprintf("svc-%d", i)
		if every > 0 && i%every == 1 {
			name += "-renamed"
		}
		if every > 0 && i%every == 2 {
			continue // removed from the system
		}
		kind := kinds[i%len(kinds)]
		created := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Minute).Format(time.RFC3339)
		owner := ""
		if i%10 != 0 {
			owner = fmt.Sprintf(`,"owner":"person-%d"`, i%20000)
		}
		line(fmt.Sprintf(`{"identity":{"external_id":"svc-%d","name":%q,"kind":%q,"environment":%q,"created_at":%q,"labels":{"app":"app-%d"}%s}}`,
			i, name, kind, envs[i%3], created, i%500, owner))
		r := rand.New(rand.NewPCG(g.Seed, uint64(i))) // #nosec G404 -- a benchmark's export file, reproducible from its seed
		k := perIdentity
		if i < extra {
			k++
		}
		start := r.IntN(g.Entitlements)
		if every > 0 && i%every == 3 {
			start = (start + g.Entitlements/2) % g.Entitlements // every grant of it moves
		}
		for j := 0; j < k; j++ {
			line(fmt.Sprintf(`{"grant":{"identity":"svc-%d","entitlement":"role-%d"}}`, i, (start+j*7919)%g.Entitlements))
		}
	}
	if every > 0 {
		for i := g.Identities; i < g.Identities+g.Identities/every; i++ {
			line(fmt.Sprintf(`{"identity":{"external_id":"svc-%d","kind":"bot"}}`, i))
			line(fmt.Sprintf(`{"grant":{"identity":"svc-%d","entitlement":"role-%d"}}`, i, i%g.Entitlements))
		}
	}
	if err := w.Flush(); err != nil {
		return n, err
	}
	return n, f.Close()
}
