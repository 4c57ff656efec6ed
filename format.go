package steward

import (
	"strconv"
	"time"
)

// How Steward writes numbers, ages and times for people. The web UI and the
// CLI both use these, so that a count, an age or a time reads the same on a
// page and in a terminal.

// GroupThousands writes n with a comma between each group of three digits:
// 1234567 is "1,234,567". Counts in an inventory of a million identities are
// read at a glance only when grouped.
func GroupThousands(n int64) string {
	// uint64 holds the magnitude of math.MinInt64, which -n would overflow.
	u := uint64(n) // #nosec G115 -- on purpose: two's complement, negated below for a negative n (see the comment above)
	neg := n < 0
	if neg {
		u = -u
	}
	s := strconv.FormatUint(u, 10)
	out := make([]byte, 0, len(s)+len(s)/3+1)
	if neg {
		out = append(out, '-')
	}
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}

// AgeDaysLimit is the longest age HumanAge writes in days. Up to it, days
// are what rotation and idleness policies count ("rotate every 90 days");
// beyond it, "412 days" is harder to read than "1 year 1 month".
const AgeDaysLimit = 90 * 24 * time.Hour

// HumanAge says how long it is between two instants, in the largest units a
// person reads easily, rounded down: "under a minute", "5 minutes",
// "3 hours", "1 day", "90 days", then calendar years and months: "3 months",
// "1 year 1 month", "6 years". The order of the arguments does not matter.
// Years and months are counted on the calendar in UTC, so that an age does
// not depend on the reader's time zone.
func HumanAge(from, to time.Time) string {
	if to.Before(from) {
		from, to = to, from
	}
	d := to.Sub(from)
	switch {
	case d < time.Minute:
		return "under a minute"
	case d < time.Hour:
		return plural(int64(d/time.Minute), "minute")
	case d < 24*time.Hour:
		return plural(int64(d/time.Hour), "hour")
	case d <= AgeDaysLimit:
		return plural(int64(d/(24*time.Hour)), "day")
	}
	months := wholeMonths(from.UTC(), to.UTC())
	years, months := months/12, months%12
	switch {
	case years == 0:
		return plural(months, "month")
	case months == 0:
		return plural(years, "year")
	}
	return plural(years, "year") + " " + plural(months, "month")
}

// wholeMonths counts the calendar months from from to to (to >= from),
// rounded down. A month from a day the next month lacks ends on that
// month's last day: January 31 to February 28 is one month.
func wholeMonths(from, to time.Time) int64 {
	n := int64(to.Year()-from.Year())*12 + int64(to.Month()-from.Month())
	if n > 0 && addMonths(from, n).After(to) {
		n--
	}
	return n
}

// addMonths adds n calendar months to t, ending on the month's last day
// where the day does not exist (January 31 plus one month is February 28 or
// 29, not March 3 as time.AddDate would have it).
func addMonths(t time.Time, n int64) time.Time {
	y, m, d := t.Date()
	total := int64(y)*12 + int64(m-1) + n
	y2, m2 := int(total/12), time.Month(total%12+1)
	if last := time.Date(y2, m2+1, 0, 0, 0, 0, 0, time.UTC).Day(); d > last {
		d = last
	}
	return time.Date(y2, m2, d, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
}

func plural(n int64, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return strconv.FormatInt(n, 10) + " " + unit + "s"
}

// RelativeTime says when t is as seen from now: "just now", "3 days ago",
// "1 year 2 months ago", "in 5 hours". The age is HumanAge's.
func RelativeTime(now, t time.Time) string {
	age := HumanAge(t, now)
	switch {
	case age == "under a minute":
		return "just now"
	case t.After(now):
		return "in " + age
	}
	return age + " ago"
}

// TimeLayout is how Steward writes an exact time: to the minute, with the
// zone, because a time without its zone is a guess for a reader elsewhere.
const TimeLayout = "2006-01-02 15:04 MST"

// FormatTime writes t in its own location with TimeLayout, such as
// "2026-01-02 15:04 UTC" or "2026-01-02 16:04 CET". Convert t first
// (t.In(loc), t.UTC()) to choose the zone shown.
func FormatTime(t time.Time) string { return t.Format(TimeLayout) }
