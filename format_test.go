package steward_test

import (
	"math"
	"testing"
	"time"

	"github.com/stewardhq/steward"
)

func TestGroupThousands(t *testing.T) {
	t.Parallel()
	tests := []struct {
		n    int64
		want string
	}{
		{0, "0"},
		{7, "7"},
		{999, "999"},
		{1000, "1,000"},
		{12345, "12,345"},
		{123456, "123,456"},
		{1234567, "1,234,567"},
		{1000000000, "1,000,000,000"},
		{-1, "-1"},
		{-1000, "-1,000"},
		{-123456, "-123,456"},
		{math.MaxInt64, "9,223,372,036,854,775,807"},
		{math.MinInt64, "-9,223,372,036,854,775,808"},
	}
	for _, tt := range tests {
		if got := steward.GroupThousands(tt.n); got != tt.want {
			t.Errorf("GroupThousands(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}

func TestHumanAge(t *testing.T) {
	t.Parallel()
	day := 24 * time.Hour
	base := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		from, to time.Time
		want     string
	}{
		{"same instant", base, base, "under a minute"},
		{"seconds", base, base.Add(59 * time.Second), "under a minute"},
		{"a minute", base, base.Add(time.Minute), "1 minute"},
		{"minutes", base, base.Add(59*time.Minute + 59*time.Second), "59 minutes"},
		{"an hour", base, base.Add(time.Hour), "1 hour"},
		{"hours", base, base.Add(23*time.Hour + 59*time.Minute), "23 hours"},
		{"a day", base, base.Add(day), "1 day"},
		{"days", base, base.Add(45*day + 3*time.Hour), "45 days"},
		{"90 days is still days", base, base.Add(90 * day), "90 days"},
		{"past 90 days: months", base, base.Add(90*day + time.Hour), "2 months"},
		{"three calendar months", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 4, 2, 0, 0, 0, 0, time.UTC), "3 months"},
		{"a day short of a year", time.Date(2025, 3, 10, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 9, 0, 0, 0, 0, time.UTC), "11 months"},
		{"a year", time.Date(2025, 3, 10, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC), "1 year"},
		{"412 days", base, base.Add(412 * day), "1 year 1 month"},
		{"years and months", time.Date(2019, 11, 20, 8, 0, 0, 0, time.UTC), time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC), "6 years 6 months"},
		{"whole years", time.Date(2016, 6, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC), "10 years"},
		{"month end to shorter month end", time.Date(2025, 10, 31, 0, 0, 0, 0, time.UTC), time.Date(2026, 2, 28, 0, 0, 0, 0, time.UTC), "4 months"},
		{"leap day to the next year", time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC), time.Date(2025, 2, 28, 0, 0, 0, 0, time.UTC), "1 year"},
		{"an hour short of a month count", time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC), time.Date(2026, 5, 15, 11, 0, 0, 0, time.UTC), "3 months"},
		{"order does not matter", base.Add(412 * day), base, "1 year 1 month"},
		{"zone does not matter", time.Date(2026, 1, 1, 0, 30, 0, 0, time.FixedZone("CET", 3600)), time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC), "4 months"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := steward.HumanAge(tt.from, tt.to); got != tt.want {
				t.Errorf("HumanAge(%v, %v) = %q, want %q", tt.from, tt.to, got, tt.want)
			}
		})
	}
}

func TestRelativeTime(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	tests := []struct {
		t    time.Time
		want string
	}{
		{now, "just now"},
		{now.Add(-30 * time.Second), "just now"},
		{now.Add(30 * time.Second), "just now"},
		{now.Add(-time.Minute), "1 minute ago"},
		{now.Add(-23 * time.Hour), "23 hours ago"},
		{now.Add(-3 * day), "3 days ago"},
		{now.Add(-412 * day), "1 year 1 month ago"},
		{now.Add(2 * time.Hour), "in 2 hours"},
		{now.Add(60 * day), "in 60 days"},
		{now.Add(400 * day), "in 1 year 1 month"},
	}
	for _, tt := range tests {
		if got := steward.RelativeTime(now, tt.t); got != tt.want {
			t.Errorf("RelativeTime(now, now%+v) = %q, want %q", tt.t.Sub(now), got, tt.want)
		}
	}
}

func TestFormatTime(t *testing.T) {
	t.Parallel()
	tests := []struct {
		t    time.Time
		want string
	}{
		{time.Date(2026, 1, 2, 15, 4, 59, 0, time.UTC), "2026-01-02 15:04 UTC"},
		{time.Date(2026, 1, 2, 16, 4, 0, 0, time.FixedZone("CET", 3600)), "2026-01-02 16:04 CET"},
		{time.Date(2026, 1, 2, 20, 34, 0, 0, time.FixedZone("", 5*3600+1800)), "2026-01-02 20:34 +0530"},
	}
	for _, tt := range tests {
		if got := steward.FormatTime(tt.t); got != tt.want {
			t.Errorf("FormatTime(%v) = %q, want %q", tt.t, got, tt.want)
		}
	}
}
