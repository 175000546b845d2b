package translate

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"s3proxy/meta"
)

func TestValidBucketName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"abc", true}, {"my-bucket.v2", true}, {"ab", false}, {"a" + string(make([]byte, 63)), false},
		{"Upper", false}, {"under_score", false}, {"-start", false}, {"end-", false}, {"dot..dot", false},
		{"dot.-dash", false}, {"192.168.1.1", false}, {"xn--punycode", false}, {"bucket-s3alias", false},
		{"sthree-x", false}, {"ok123", true},
	}
	for _, tc := range tests {
		if got := ValidBucketName(tc.name); got != tc.ok {
			t.Errorf("ValidBucketName(%q) = %v", tc.name, got)
		}
	}
}

func TestRangeResolve(t *testing.T) {
	tests := []struct {
		name      string
		r         Range
		size      int64
		off, n    int64
		whole     bool // answered with the whole object (200)
		wantRange bool // InvalidRange expected
	}{
		{"first byte", Range{Start: 0, End: 0}, 10, 0, 1, false, false},
		{"middle", Range{Start: 2, End: 5}, 10, 2, 4, false, false},
		{"open end", Range{Start: 7, End: -1}, 10, 7, 3, false, false},
		{"end past size", Range{Start: 7, End: 100}, 10, 7, 3, false, false},
		{"start at size", Range{Start: 10, End: -1}, 10, 0, 0, false, true},
		{"suffix", Range{IsSuffix: true, Suffix: 3}, 10, 7, 3, false, false},
		{"suffix larger than object", Range{IsSuffix: true, Suffix: 30}, 10, 0, 10, false, false},
		{"suffix zero", Range{IsSuffix: true, Suffix: 0}, 10, 0, 0, false, true},
		{"empty object", Range{Start: 0, End: -1}, 0, 0, 0, false, true},
		{"first byte of empty object", Range{Start: 0, End: 0}, 0, 0, 0, false, true},
		{"suffix of empty object", Range{IsSuffix: true, Suffix: 1}, 0, 0, 0, true, false},
		{"suffix zero of empty object", Range{IsSuffix: true, Suffix: 0}, 0, 0, 0, false, true},
	}
	for _, tc := range tests {
		off, n, whole, err := tc.r.resolve(tc.size)
		var te *Error
		if tc.wantRange {
			if !errors.As(err, &te) || te.Code != CodeInvalidRange {
				t.Errorf("%s: want InvalidRange, got %v", tc.name, err)
			}
			continue
		}
		if err != nil || off != tc.off || n != tc.n || whole != tc.whole {
			t.Errorf("%s: got %d,%d,%v,%v want %d,%d,%v", tc.name, off, n, whole, err, tc.off, tc.n, tc.whole)
		}
	}
}

func TestPartRange(t *testing.T) {
	single := meta.Object{Size: 1234}
	multi := meta.Object{Size: 30, Parts: []meta.Part{{Number: 1, Size: 10}, {Number: 2, Size: 15}, {Number: 3, Size: 5}}}
	tests := []struct {
		name    string
		o       meta.Object
		n       int
		off, ln int64
		count   string // ActualPartCount of an InvalidPartNumber; "" for success
	}{
		{"single-part object, part 1", single, 1, 0, 1234, ""},
		{"single-part object, part 2", single, 2, 0, 0, "1"},
		{"multipart, first", multi, 1, 0, 10, ""},
		{"multipart, last", multi, 3, 25, 5, ""},
		{"multipart, beyond the last", multi, 4, 0, 0, "3"},
	}
	for _, tc := range tests {
		off, ln, _, err := partRange(tc.o, tc.n)
		if tc.count != "" {
			var te *Error
			if !errors.As(err, &te) || te.Code != CodeInvalidPartNumber || te.Extra["ActualPartCount"] != tc.count ||
				te.Extra["PartNumberRequested"] != strconv.Itoa(tc.n) {
				t.Errorf("%s: got %v (%+v), want InvalidPartNumber of %s parts", tc.name, err, te, tc.count)
			}
			continue
		}
		if err != nil || off != tc.off || ln != tc.ln {
			t.Errorf("%s: got %d,%d,%v want %d,%d", tc.name, off, ln, err, tc.off, tc.ln)
		}
	}
}

func TestConditions(t *testing.T) {
	mod := time.Date(2026, 1, 2, 3, 4, 5, 600, time.UTC)
	before, after := mod.Add(-time.Hour), mod.Add(time.Hour)
	same := mod.Truncate(time.Second)
	info := ObjectInfo{ETag: "abc", LastModified: mod}
	tests := []struct {
		name string
		c    Conditions
		get  string // code on GET ("" ok)
		copy string // code on a copy source
	}{
		{"none", Conditions{}, "", ""},
		{"if-match hit", Conditions{IfMatch: `"abc"`}, "", ""},
		{"if-match list", Conditions{IfMatch: `"x", "abc"`}, "", ""},
		{"if-match star", Conditions{IfMatch: `*`}, "", ""},
		{"if-match miss", Conditions{IfMatch: `"x"`}, CodePreconditionFailed, CodePreconditionFailed},
		{"if-none-match hit", Conditions{IfNoneMatch: `"abc"`}, CodeNotModified, CodePreconditionFailed},
		{"if-none-match miss", Conditions{IfNoneMatch: `"x"`}, "", ""},
		{"modified since before", Conditions{IfModifiedSince: &before}, "", ""},
		{"modified since after", Conditions{IfModifiedSince: &after}, CodeNotModified, CodePreconditionFailed},
		{"modified since same second", Conditions{IfModifiedSince: &same}, CodeNotModified, CodePreconditionFailed},
		{"unmodified since after", Conditions{IfUnmodifiedSince: &after}, "", ""},
		{"unmodified since before", Conditions{IfUnmodifiedSince: &before}, CodePreconditionFailed, CodePreconditionFailed},
		{"if-match wins over unmodified", Conditions{IfMatch: `"abc"`, IfUnmodifiedSince: &before}, "", ""},
		{"none-match miss wins over modified", Conditions{IfNoneMatch: `"x"`, IfModifiedSince: &after}, "", ""},
	}
	for _, tc := range tests {
		for _, mode := range []struct {
			get  bool
			want string
		}{{true, tc.get}, {false, tc.copy}} {
			err := tc.c.check(info, mode.get)
			got := ""
			var te *Error
			if errors.As(err, &te) {
				got = te.Code
			}
			if got != mode.want {
				t.Errorf("%s (get=%v): got %q want %q", tc.name, mode.get, got, mode.want)
			}
		}
	}
}

func TestSliceManifest(t *testing.T) {
	m := []meta.Extent{{ChunkID: 1, ChunkOffset: 0, Length: 10}, {ChunkID: 2, ChunkOffset: 5, Length: 10}, {ChunkID: 3, Length: 4}}
	tests := []struct {
		name   string
		off, n int64
		want   []meta.Extent
	}{
		{"whole", 0, 24, []meta.Extent{{PartNumber: 7, ChunkID: 1, Length: 10}, {PartNumber: 7, ChunkID: 2, ChunkOffset: 5, Length: 10}, {PartNumber: 7, ChunkID: 3, Length: 4}}},
		{"inside one", 2, 3, []meta.Extent{{PartNumber: 7, ChunkID: 1, ChunkOffset: 2, Length: 3}}},
		{"across", 8, 5, []meta.Extent{{PartNumber: 7, ChunkID: 1, ChunkOffset: 8, Length: 2}, {PartNumber: 7, ChunkID: 2, ChunkOffset: 5, Length: 3}}},
		{"last byte", 23, 1, []meta.Extent{{PartNumber: 7, ChunkID: 3, ChunkOffset: 3, Length: 1}}},
	}
	for _, tc := range tests {
		got := sliceManifest(m, tc.off, tc.n, 7)
		if len(got) != len(tc.want) {
			t.Errorf("%s: got %+v", tc.name, got)
			continue
		}
		for i := range got {
			g, w := got[i], tc.want[i]
			if g.PartNumber != w.PartNumber || g.ChunkID != w.ChunkID || g.ChunkOffset != w.ChunkOffset || g.Length != w.Length {
				t.Errorf("%s[%d]: got %+v want %+v", tc.name, i, got[i], tc.want[i])
			}
		}
	}
}

func TestBucketCache(t *testing.T) {
	now := time.Unix(1000, 0)
	c := newBucketCache(func() time.Time { return now })
	if _, ok := c.get("b"); ok {
		t.Fatal("empty cache hit")
	}
	c.put(meta.Bucket{Name: "b", Owner: "ak"})
	if got, ok := c.get("b"); !ok || got.Owner != "ak" {
		t.Fatalf("get after put: %+v %v", got, ok)
	}
	now = now.Add(bucketCacheTTL + time.Millisecond)
	if _, ok := c.get("b"); ok {
		t.Fatal("entry outlived its TTL")
	}
	c.put(meta.Bucket{Name: "b"})
	c.forget("b")
	if _, ok := c.get("b"); ok {
		t.Fatal("forgotten entry still served")
	}
}

// Upload ids never start with "-" or "_": on a command line the first reads as an option.
func TestNewUploadID(t *testing.T) {
	seen := map[string]bool{}
	start := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	prev := ""
	for i := range 20000 {
		id := newUploadID(start.Add(time.Duration(i) * time.Microsecond))
		if len(id) != 32 || id[0] == '-' || id[0] == '_' || seen[id] || !validUploadID(id) {
			t.Fatalf("upload id %q", id)
		}
		// Ids sort as their uploads were initiated.
		if id <= prev {
			t.Fatalf("upload id %q sorts before the earlier %q", id, prev)
		}
		seen[id], prev = true, id
	}
	for _, tc := range []struct {
		id string
		ok bool
	}{
		{"0123456789abcdefABCDEFGHIJKLMNOP", true},
		{"xKQnW2P-3PIMV_ec6sbajNouAea-4ePB", true}, // the wholly random ids of earlier versions
		{"invalid_uploadId_marker", false},
		{"8b6e2f3c-4f0a-4c9e-9b1d-2d7c1f0e5a42", false}, // a UUID
		{"0123456789abcdefABCDEFGHIJKLMN/P", false},
	} {
		if got := validUploadID(tc.id); got != tc.ok {
			t.Errorf("validUploadID(%q) = %v", tc.id, got)
		}
	}
}

func TestPreconditionNamesTheCondition(t *testing.T) {
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	info := ObjectInfo{ETag: "abc", LastModified: now}
	past, future := now.Add(-time.Hour), now.Add(time.Hour)
	for _, tc := range []struct {
		c    Conditions
		want string
	}{
		{Conditions{IfMatch: `"other"`}, "If-Match"},
		{Conditions{IfUnmodifiedSince: &past}, "If-Unmodified-Since"},
		{Conditions{IfNoneMatch: `"abc"`}, "If-None-Match"},
		{Conditions{IfModifiedSince: &future}, "If-Modified-Since"},
	} {
		var te *Error
		if err := tc.c.check(info, false); !errors.As(err, &te) || te.Code != CodePreconditionFailed || te.Extra["Condition"] != tc.want {
			t.Errorf("%+v: %v, want PreconditionFailed naming %s", tc.c, err, tc.want)
		}
	}
}
