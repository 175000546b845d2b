package lifecycle

import (
	"encoding/base64"
	"fmt"
	"reflect"
	"regexp"
	"testing"
	"time"
)

func utc(y int, m time.Month, d, h, min int) time.Time {
	return time.Date(y, m, d, h, min, 0, 0, time.UTC)
}

func TestDueAfter(t *testing.T) {
	tokyo := time.FixedZone("JST", 9*3600)
	for _, tc := range []struct {
		name string
		mod  time.Time
		days int
		want time.Time
	}{
		// S3's documented example: created 2014-01-15 10:30 UTC, a 3-day rule.
		{"S3's example", utc(2014, 1, 15, 10, 30), 3, utc(2014, 1, 19, 0, 0)},
		{"written at midnight", utc(2014, 1, 15, 0, 0), 3, utc(2014, 1, 19, 0, 0)},
		{"written a nanosecond before midnight", utc(2014, 1, 15, 23, 59).Add(59*time.Second + 999999999), 3, utc(2014, 1, 19, 0, 0)},
		{"one day", utc(2026, 3, 1, 12, 0), 1, utc(2026, 3, 3, 0, 0)},
		{"across a month", utc(2026, 1, 30, 8, 0), 3, utc(2026, 2, 3, 0, 0)},
		{"across a leap day", utc(2028, 2, 27, 8, 0), 2, utc(2028, 3, 1, 0, 0)},
		{"across a year", utc(2025, 12, 31, 23, 0), 1, utc(2026, 1, 2, 0, 0)},
		// 2026-01-15 08:00 in Tokyo is 2026-01-14 23:00 UTC: the UTC day counts.
		{"local time zone", time.Date(2026, 1, 15, 8, 0, 0, 0, tokyo), 1, utc(2026, 1, 16, 0, 0)},
		{"many days", utc(2026, 1, 1, 0, 0), 3650, utc(2035, 12, 31, 0, 0)},
	} {
		if got := DueAfter(tc.mod, tc.days); !got.Equal(tc.want) || got.Location() != time.UTC {
			t.Errorf("%s: DueAfter(%v, %d) = %v, want %v", tc.name, tc.mod, tc.days, got, tc.want)
		}
	}
}

func i64(v int64) *int64 { return &v }

func TestRuleDue(t *testing.T) {
	mod := utc(2026, 5, 10, 15, 0)
	date := utc(2026, 6, 1, 0, 0)
	for _, tc := range []struct {
		name         string
		r            Rule
		expires      bool
		expiresAt    time.Time
		aborts       bool
		abortsAt     time.Time
		disabledRule bool
	}{
		{name: "days", r: Rule{Status: Enabled, Expiration: &Expiration{Days: 30}}, expires: true, expiresAt: utc(2026, 6, 10, 0, 0)},
		{name: "date", r: Rule{Status: Enabled, Expiration: &Expiration{Date: date}}, expires: true, expiresAt: date},
		{name: "delete markers only", r: Rule{Status: Enabled, Expiration: &Expiration{ExpiredObjectDeleteMarker: new(true)}}},
		{name: "abort", r: Rule{Status: Enabled, AbortIncompleteMultipartUpload: &AbortIncompleteMultipartUpload{DaysAfterInitiation: 7}},
			aborts: true, abortsAt: utc(2026, 5, 18, 0, 0)},
		{name: "both", r: Rule{Status: Enabled, Expiration: &Expiration{Days: 1}, AbortIncompleteMultipartUpload: &AbortIncompleteMultipartUpload{DaysAfterInitiation: 2}},
			expires: true, expiresAt: utc(2026, 5, 12, 0, 0), aborts: true, abortsAt: utc(2026, 5, 13, 0, 0)},
		{name: "disabled", r: Rule{Status: Disabled, Expiration: &Expiration{Days: 1}, AbortIncompleteMultipartUpload: &AbortIncompleteMultipartUpload{DaysAfterInitiation: 2}}},
		{name: "noncurrent only", r: Rule{Status: Enabled, NoncurrentVersionExpiration: &NoncurrentVersionExpiration{NoncurrentDays: 1}}},
	} {
		at, ok := tc.r.ExpiresAt(mod)
		if ok != tc.expires || !at.Equal(tc.expiresAt) || tc.r.Expires() != tc.expires {
			t.Errorf("%s: ExpiresAt = %v, %v; want %v, %v", tc.name, at, ok, tc.expiresAt, tc.expires)
		}
		at, ok = tc.r.AbortsAt(mod)
		if ok != tc.aborts || !at.Equal(tc.abortsAt) || tc.r.Aborts() != tc.aborts {
			t.Errorf("%s: AbortsAt = %v, %v; want %v, %v", tc.name, at, ok, tc.abortsAt, tc.aborts)
		}
	}
}

func TestFilterSelects(t *testing.T) {
	tags := map[string]string{"env": "tmp", "owner": "", "team": "a b"}
	for _, tc := range []struct {
		name    string
		f       Filter
		key     string
		size    int64
		keySize bool
		tags    bool
		upload  bool
	}{
		{"empty filter", Filter{}, "any/key", 0, true, true, true},
		{"prefix hit", Filter{Prefix: "logs/"}, "logs/2026/a", 5, true, true, true},
		{"prefix miss", Filter{Prefix: "logs/"}, "log/a", 5, false, true, false},
		{"prefix is case-sensitive", Filter{Prefix: "Logs/"}, "logs/a", 5, false, true, false},
		{"greater than: equal is not greater", Filter{SizeGreaterThan: i64(100)}, "k", 100, false, true, false},
		{"greater than: hit", Filter{SizeGreaterThan: i64(100)}, "k", 101, true, true, false},
		{"less than: equal is not less", Filter{SizeLessThan: i64(100)}, "k", 100, false, true, false},
		{"less than: hit", Filter{SizeLessThan: i64(100)}, "k", 0, true, true, false},
		{"range", Filter{SizeGreaterThan: i64(10), SizeLessThan: i64(20)}, "k", 15, true, true, false},
		{"tag hit", Filter{Tags: []Tag{{"env", "tmp"}}}, "k", 1, true, true, false},
		{"tag with another value", Filter{Tags: []Tag{{"env", "prod"}}}, "k", 1, true, false, false},
		{"tag absent", Filter{Tags: []Tag{{"gone", ""}}}, "k", 1, true, false, false},
		{"tag with an empty value", Filter{Tags: []Tag{{"owner", ""}}}, "k", 1, true, true, false},
		{"all tags needed", Filter{Tags: []Tag{{"env", "tmp"}, {"team", "a b"}}}, "k", 1, true, true, false},
		{"one of two tags", Filter{Tags: []Tag{{"env", "tmp"}, {"team", "b"}}}, "k", 1, true, false, false},
		{"prefix and tag", Filter{Prefix: "a/", Tags: []Tag{{"env", "tmp"}}}, "a/x", 1, true, true, false},
	} {
		if got := tc.f.SelectsKeySize(tc.key, tc.size); got != tc.keySize {
			t.Errorf("%s: SelectsKeySize = %v", tc.name, got)
		}
		if got := tc.f.SelectsTags(tags); got != tc.tags {
			t.Errorf("%s: SelectsTags = %v", tc.name, got)
		}
		if got := tc.f.SelectsUpload(tc.key); got != tc.upload {
			t.Errorf("%s: SelectsUpload = %v", tc.name, got)
		}
		if tc.f.NeedsTags() != (len(tc.f.Tags) > 0) {
			t.Errorf("%s: NeedsTags", tc.name)
		}
	}
}

func TestScanPrefixes(t *testing.T) {
	rules := func(ps ...string) []Rule {
		var rs []Rule
		for _, p := range ps {
			rs = append(rs, Rule{Filter: Filter{Prefix: p}})
		}
		return rs
	}
	for _, tc := range []struct {
		prefixes []string
		want     []string
	}{
		{nil, nil},
		{[]string{"logs/"}, []string{"logs/"}},
		{[]string{"tmp/", "logs/", "logs/old/", "logs/"}, []string{"logs/", "tmp/"}},
		{[]string{"a", "ab", "b"}, []string{"a", "b"}},
		{[]string{"logs/", ""}, []string{""}},
	} {
		if got := ScanPrefixes(rules(tc.prefixes...)); fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("ScanPrefixes(%q) = %q, want %q", tc.prefixes, got, tc.want)
		}
	}
}

func TestEncodeDecode(t *testing.T) {
	in := Configuration{
		TransitionDefaultMinimumObjectSize: "varies_by_storage_class",
		Rules: []Rule{
			{ID: "days", Status: Enabled, Filter: Filter{Prefix: "logs/", Tags: []Tag{{"a", "1"}, {"b", ""}}, SizeGreaterThan: i64(0), SizeLessThan: i64(1 << 40)},
				Form: Form{And: true, Prefix: true}, Expiration: &Expiration{Days: 30},
				AbortIncompleteMultipartUpload: &AbortIncompleteMultipartUpload{DaysAfterInitiation: 2}},
			{ID: "date", Status: Disabled, Form: Form{LegacyPrefix: true}, Expiration: &Expiration{Date: utc(2030, 1, 1, 0, 0)}},
			{ID: "versions", Status: Enabled,
				Expiration:                   &Expiration{ExpiredObjectDeleteMarker: new(false)},
				NoncurrentVersionExpiration:  &NoncurrentVersionExpiration{NoncurrentDays: 3, NewerNoncurrentVersions: 2},
				NoncurrentVersionTransitions: []NoncurrentVersionTransition{{NoncurrentDays: 30, StorageClass: "GLACIER"}}},
		},
	}
	s, err := in.Encode()
	if err != nil {
		t.Fatal(err)
	}
	out, err := Decode(s)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Errorf("round trip:\n got %+v\nwant %+v\nstored %s", out, in, s)
	}
	for _, bad := range []string{"", "{", `{"v":2,"rules":[]}`, `{"rules":[]}`} {
		if _, err := Decode(bad); err == nil {
			t.Errorf("Decode(%q) succeeded", bad)
		}
	}
}

func TestNewRuleID(t *testing.T) {
	uuid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	seen := map[string]bool{}
	for range 100 {
		id := NewRuleID()
		raw, err := base64.StdEncoding.DecodeString(id)
		if len(id) != 48 || err != nil || !uuid.Match(raw) {
			t.Fatalf("NewRuleID() = %q (%q, %v): want the base64 of a UUID, 48 characters", id, raw, err)
		}
		if seen[id] {
			t.Fatalf("NewRuleID repeated %q", id)
		}
		seen[id] = true
	}
}
