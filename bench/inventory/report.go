package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Report is everything one run measured.
type Report struct {
	Config  Config
	Command string
	Machine Machine
	Date    time.Time
	Dialect string
	Engine  string // "SQLite 3.x" or "PostgreSQL 15.x"

	RawIdentities, RawGrants      Throughput // scratch tables, no secondary index
	Reference, Identities, Grants Throughput // BulkLoad calls only
	LoadWall                      time.Duration
	Optimize                      time.Duration
	SizeBytes                     int64
	Results                       []Result
	Stats                         Result
	PeakRSS                       int64
	CredentialRows                int        // loaded with the identities, in their BulkLoad calls
	Export                        Throughput // a CSV export of every identity
	ExportHeap                    int64      // the Go heap in use at most during it
	Reused                        bool       // -reuse: no load in this run
}

// Markdown writes the report as a Markdown section for bench/RESULTS.md.
func (r *Report) Markdown(w io.Writer) error {
	var b strings.Builder
	c, mc := r.Config, r.Machine
	identities := commas(r.Identities.Rows - r.CredentialRows)
	if r.Reused {
		identities = commas(c.Identities)
	}
	fmt.Fprintf(&b, "### %s: %s identities, %s grants\n\n", r.Engine, identities, commas(r.Grants.Rows))
	fmt.Fprintf(&b, "- Machine: %d CPUs (%s), %s RAM, %s/%s\n", mc.CPUs, mc.Model, bytesIEC(mc.RAMBytes), mc.OS, mc.Arch)
	fmt.Fprintf(&b, "- Date: %s; Go: %s\n", r.Date.Format("2006-01-02 15:04 MST"), mc.Go)
	fmt.Fprintf(&b, "- Command: `%s`\n", r.Command)
	fmt.Fprintf(&b, "- Organisation: %s people, %s teams, %s systems, %s entitlements; seed %d; %s rows per BulkLoad call\n\n",
		commas(c.People), commas(c.Teams), commas(c.Systems), commas(c.Entitlements), c.Seed, commas(c.Batch))

	if r.Reused {
		fmt.Fprintf(&b, "The database was loaded by an earlier run (-reuse): no load figures in this one.\n\n")
	} else {
		r.loadMarkdown(&b)
	}
	r.queriesMarkdown(&b)
	_, err := io.WriteString(w, b.String())
	return err
}

func (r *Report) loadMarkdown(b *strings.Builder) {
	raw := "prepared single-row INSERT in one transaction"
	if r.Dialect == "postgres" {
		raw = "COPY in one transaction"
	}
	fmt.Fprintf(b, "#### Load\n\n")
	fmt.Fprintf(b, "| step | rows | seconds | rows/s | of raw speed |\n|---|--:|--:|--:|--:|\n")
	row := func(name string, t Throughput, of string) {
		fmt.Fprintf(b, "| %s | %s | %.1f | %s | %s |\n", name, commas(t.Rows), t.Elapsed.Seconds(), commas(int(t.PerSecond())), of)
	}
	row("raw insert, identity-shaped scratch table (14 columns, "+raw+")", r.RawIdentities, "1.00")
	row("raw insert, grant-shaped scratch table (7 columns, "+raw+")", r.RawGrants, "1.00")
	row("BulkLoad: teams, people, systems, entitlements", r.Reference, "")
	row(fmt.Sprintf("BulkLoad: identities (rows: %s identities and %s credentials)", commas(r.Identities.Rows-r.CredentialRows), commas(r.CredentialRows)),
		r.Identities, ratio(r.Identities.PerSecond(), r.RawIdentities.PerSecond()))
	row("BulkLoad: grants", r.Grants, ratio(r.Grants.PerSecond(), r.RawGrants.PerSecond()))
	total := Throughput{Rows: r.Reference.Rows + r.Identities.Rows + r.Grants.Rows, Elapsed: r.Reference.Elapsed + r.Identities.Elapsed + r.Grants.Elapsed}
	// The raw engine would write the same rows in this many seconds.
	var rawSecs float64
	if v := r.RawIdentities.PerSecond(); v > 0 {
		rawSecs += float64(r.Reference.Rows+r.Identities.Rows) / v
	}
	if v := r.RawGrants.PerSecond(); v > 0 {
		rawSecs += float64(r.Grants.Rows) / v
	}
	row("**BulkLoad: total**", total, ratio(rawSecs, total.Elapsed.Seconds()))
	fmt.Fprintf(b, "\nWall time of the load, making the rows included: %.1f s. `Optimize` (ANALYZE) after it: %.2f s.\n\n",
		r.LoadWall.Seconds(), r.Optimize.Seconds())
}

func (r *Report) queriesMarkdown(b *strings.Builder) {
	fmt.Fprintf(b, "#### Queries (page size %d, times in ms)\n\n", 50)
	fmt.Fprintf(b, "| query | page | samples | rows/call | p50 | p95 | p99 | max | aim (p95) |\n|---|---|--:|--:|--:|--:|--:|--:|---|\n")
	for _, res := range r.Results {
		verdict := "met"
		if !res.Met() {
			verdict = "**missed**"
		}
		fmt.Fprintf(b, "| %s | %s | %d | %.1f | %s | %s | %s | %s | < %d ms: %s |\n", res.Name, res.Page, res.N, res.Rows,
			ms(res.P50), ms(res.P95), ms(res.P99), ms(res.Max), res.Aim.Milliseconds(), verdict)
	}
	fmt.Fprintf(b, "\n#### Other\n\n| what | value |\n|---|--:|\n")
	fmt.Fprintf(b, "| InventoryStats (what /metrics reads), %d samples | p50 %s ms, max %s ms |\n", r.Stats.N, ms(r.Stats.P50), ms(r.Stats.Max))
	if r.Export.Rows > 0 {
		fmt.Fprintf(b, "| CSV export of every identity (written nowhere) | %s rows in %.1f s, %s rows/s; Go heap in use at most %s |\n",
			commas(r.Export.Rows), r.Export.Elapsed.Seconds(), commas(int(r.Export.PerSecond())), bytesIEC(r.ExportHeap))
	}
	fmt.Fprintf(b, "| database size on disk | %s |\n", bytesIEC(r.SizeBytes))
	fmt.Fprintf(b, "| peak RSS of the benchmark process (VmHWM) | %s |\n", bytesIEC(r.PeakRSS))
}

func ms(d time.Duration) string {
	v := float64(d) / float64(time.Millisecond)
	switch {
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

func ratio(a, b float64) string {
	if b <= 0 {
		return ""
	}
	return strconv.FormatFloat(a/b, 'f', 2, 64)
}

// commas formats n with thousands separators: 1000000 -> 1,000,000.
func commas(n int) string {
	s := strconv.Itoa(n)
	if n < 0 {
		return "-" + commas(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func bytesIEC(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for v := n / unit; v >= unit; v /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
