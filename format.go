package steward

import (
	"strconv"
	"time"
)

// FormatCount writes n with a comma between each group of three digits,
// as people read large numbers: 1,234,567.
func FormatCount(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := n < 0
	if neg {
		s = s[1:]
	}
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

// daysPerMonth is the mean length of a month in the Gregorian calendar.
const daysPerMonth = 365.2425 / 12

// FormatAge says how long d is in the largest units a person compares it
// by: minutes and hours below a day, days up to 90 days (policies count in
// days: "rotate every 90 days"), and beyond that months, or years and
// months: "45 days", "4 months", "1 year 2 months". Months are the
// calendar's mean month, rounded to the nearest. A negative d is as long
// as its absolute value.
func FormatAge(d time.Duration) string {
	if d < 0 {
		d = -d
	}
	switch {
	case d < time.Minute:
		return "less than a minute"
	case d < time.Hour:
		return plural(int64(d/time.Minute), "minute")
	case d < 24*time.Hour:
		return plural(int64(d/time.Hour), "hour")
	case d <= 90*24*time.Hour:
		return plural(int64(d/(24*time.Hour)), "day")
	}
	months := int64(d.Hours()/24/daysPerMonth + 0.5)
	years, months := months/12, months%12
	switch {
	case years == 0:
		return plural(months, "month")
	case months == 0:
		return plural(years, "year")
	}
	return plural(years, "year") + " " + plural(months, "month")
}

func plural(n int64, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return FormatCount(n) + " " + unit + "s"
}

// TimeLayout is how times are written for people: to the second, with the
// zone they are in, so that a time read from a terminal in one zone is not
// taken for another's.
const TimeLayout = "2006-01-02 15:04:05 MST"

// FormatTime writes t in loc (UTC when nil) with TimeLayout.
func FormatTime(t time.Time, loc *time.Location) string {
	if loc == nil {
		loc = time.UTC
	}
	return t.In(loc).Format(TimeLayout)
}
