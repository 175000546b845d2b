package metatest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"s3proxy/meta"
)

// versionsOf lists every version of bucket (one page at a time, limit per page) as
// "key@id" strings, "key@id*" for a delete marker, "+" appended to each key's latest.
func versionsOf(t *testing.T, s meta.MetaStore, bucket string, q meta.VersionListQuery) []string {
	t.Helper()
	ctx := ctxFor(t)
	var out []string
	for page := 0; page < 100; page++ {
		res, err := s.ListObjectVersions(ctx, bucket, q)
		if err != nil {
			t.Fatalf("ListObjectVersions(%+v): %v", q, err)
		}
		for _, v := range res.Versions {
			e := v.Key + "@" + v.VersionID
			if v.DeleteMarker {
				e += "*"
			}
			if v.IsLatest {
				e += "+"
			}
			out = append(out, e)
		}
		for _, p := range res.CommonPrefixes {
			out = append(out, p)
		}
		if !res.Truncated {
			return out
		}
		q.KeyMarker, q.VersionIDMarker = res.NextKeyMarker, res.NextVersionIDMarker
	}
	t.Fatal("ListObjectVersions never ends")
	return nil
}

// testObjectVersions: with versioning enabled a write keeps the version it replaces
// (its references too), a DELETE puts a delete marker in front, each version stays
// readable by id, removing a version uncovers the one below, and suspended versioning
// replaces only the null version.
func testObjectVersions(t *testing.T, h *harness) {
	ctx := ctxFor(t)
	s := h.newStore(t)
	mustBucket(t, ctx, s, "vb")
	c1, c2, c3 := newChunk(t, ctx, s, "one", "s"), newChunk(t, ctx, s, "two", "s"), newChunk(t, ctx, s, "three", "s")
	on := meta.WriteCondition{Versioning: meta.VersionsEnabled}
	put := func(key, vid string, c meta.Chunk, cond meta.WriteCondition) {
		t.Helper()
		o := obj("vb", key, "etag-"+vid, c)
		o.VersionID = vid
		if _, err := s.PutObject(ctx, o, cond); err != nil {
			t.Fatalf("PutObject(%s@%s): %v", key, vid, err)
		}
	}
	// A null version from before versioning, then two versions.
	put("k", "", c1, meta.WriteCondition{})
	put("k", "v2", c2, on)
	put("k", "v3", c3, on)
	wantRefs(t, ctx, s, map[int64]int64{c1.ID: 1, c2.ID: 1, c3.ID: 1})
	cur, err := s.GetObject(ctx, "vb", "k")
	if err != nil || cur.VersionID != "v3" || cur.ETag != "etag-v3" {
		t.Fatalf("GetObject = %s %q, %v; want v3", cur.VersionID, cur.ETag, err)
	}
	for vid, c := range map[string]meta.Chunk{"": c1, "v2": c2, "v3": c3} {
		o, err := s.GetObjectVersion(ctx, "vb", "k", vid)
		if err != nil || o.VersionID != vid || len(o.Manifest) != 1 || o.Manifest[0].ChunkID != c.ID || o.DeleteMarker {
			t.Errorf("GetObjectVersion(%q) = %+v, %v", vid, o, err)
		}
	}
	_, err = s.GetObjectVersion(ctx, "vb", "k", "nope")
	wantErr(t, "GetObjectVersion of a missing version", err, meta.ErrNotFound)
	if got, want := versionsOf(t, s, "vb", meta.VersionListQuery{}), []string{"k@v3+", "k@v2", "k@"}; !slices.Equal(got, want) {
		t.Errorf("versions = %v, want %v", got, want)
	}

	// Conditions on a noncurrent version's headers (its Object Lock state).
	held := map[string]string{"x-amz-object-lock-legal-hold": "ON"}
	wantErr(t, "SetVersionHeaders on a mismatch", s.SetVersionHeaders(ctx, "vb", "k", "v2", held, held), meta.ErrPreconditionFailed)
	wantErr(t, "SetVersionHeaders", s.SetVersionHeaders(ctx, "vb", "k", "v2", held, map[string]string{"x-amz-object-lock-legal-hold": ""}), nil)
	_, err = s.DeleteObjectVersion(ctx, "vb", "k", "v2", meta.VersionCondition{IfHeaders: map[string]string{"x-amz-object-lock-legal-hold": ""}})
	wantErr(t, "DeleteObjectVersion of a held version", err, meta.ErrPreconditionFailed)
	if o, err := s.GetObjectVersion(ctx, "vb", "k", "v2"); err != nil || o.Headers["x-amz-object-lock-legal-hold"] != "ON" {
		t.Errorf("headers set on a noncurrent version: %v %v", o.Headers, err)
	}
	wantErr(t, "SetVersionHeaders back", s.SetVersionHeaders(ctx, "vb", "k", "v2", nil, held), nil)
	wantErr(t, "SetVersionHeaders of the current version", s.SetVersionHeaders(ctx, "vb", "k", "v3", held, nil), meta.ErrNotFound)

	// A delete marker: no current version, every version still there.
	if _, err := s.PutDeleteMarker(ctx, meta.Object{Bucket: "vb", Key: "k", VersionID: "d4", Owner: "owner"}, on); err != nil {
		t.Fatal(err)
	}
	_, err = s.GetObject(ctx, "vb", "k")
	wantErr(t, "GetObject behind a delete marker", err, meta.ErrNotFound)
	if m, err := s.GetObjectVersion(ctx, "vb", "k", "d4"); err != nil || !m.DeleteMarker {
		t.Errorf("GetObjectVersion(marker) = %+v, %v", m, err)
	}
	if l, err := s.ListObjects(ctx, "vb", meta.ListQuery{}); err != nil || len(l.Objects) != 0 {
		t.Errorf("ListObjects behind a delete marker = %+v, %v", l.Objects, err)
	}
	wantRefs(t, ctx, s, map[int64]int64{c1.ID: 1, c2.ID: 1, c3.ID: 1})
	wantErr(t, "DeleteBucket with versions", s.DeleteBucket(ctx, "vb"), meta.ErrNotEmpty)
	if st, err := s.Stats(ctx); err != nil || st.Objects != 0 || st.Versions != 3 || st.VersionBytes != 11 || st.DeleteMarkers != 1 {
		t.Errorf("Stats behind a delete marker = %+v, %v; want 3 versions of 11 bytes and a marker", st, err)
	}

	// Removing the marker uncovers v3; removing v3 uncovers v2.
	if m, err := s.DeleteObjectVersion(ctx, "vb", "k", "d4", meta.VersionCondition{}); err != nil || !m.DeleteMarker {
		t.Fatalf("DeleteObjectVersion(marker) = %+v, %v", m, err)
	}
	if cur, err := s.GetObject(ctx, "vb", "k"); err != nil || cur.VersionID != "v3" || len(cur.Manifest) != 1 {
		t.Fatalf("after removing the marker GetObject = %+v, %v", cur, err)
	}
	if _, err := s.DeleteObjectVersion(ctx, "vb", "k", "v3", meta.VersionCondition{}); err != nil {
		t.Fatal(err)
	}
	wantRefs(t, ctx, s, map[int64]int64{c1.ID: 1, c2.ID: 1, c3.ID: 0})
	if cur, err := s.GetObject(ctx, "vb", "k"); err != nil || cur.VersionID != "v2" || cur.Manifest[0].ChunkID != c2.ID {
		t.Fatalf("after removing v3 GetObject = %+v, %v", cur, err)
	}
	_, err = s.DeleteObjectVersion(ctx, "vb", "k", "v3", meta.VersionCondition{})
	wantErr(t, "DeleteObjectVersion twice", err, meta.ErrNotFound)
	// Lifecycle's removal of a version it judged noncurrent spares it once it is current.
	_, err = s.DeleteObjectVersion(ctx, "vb", "k", "v2", meta.VersionCondition{OnlyNoncurrent: true})
	wantErr(t, "DeleteObjectVersion(onlyNoncurrent) of the current version", err, meta.ErrPreconditionFailed)

	// Suspended: the null version (noncurrent here) is replaced, v2 kept.
	off := meta.WriteCondition{Versioning: meta.VersionsSuspended}
	put("k", "", c3, off)
	wantRefs(t, ctx, s, map[int64]int64{c1.ID: 0, c2.ID: 1, c3.ID: 1})
	if got, want := versionsOf(t, s, "vb", meta.VersionListQuery{}), []string{"k@+", "k@v2"}; !slices.Equal(got, want) {
		t.Errorf("versions after a suspended PUT = %v, want %v", got, want)
	}
	// ... and a suspended DELETE replaces the current null version with a null marker.
	if _, err := s.PutDeleteMarker(ctx, meta.Object{Bucket: "vb", Key: "k", Owner: "owner"}, off); err != nil {
		t.Fatal(err)
	}
	wantRefs(t, ctx, s, map[int64]int64{c2.ID: 1, c3.ID: 0})
	if got, want := versionsOf(t, s, "vb", meta.VersionListQuery{}), []string{"k@*+", "k@v2"}; !slices.Equal(got, want) {
		t.Errorf("versions after a suspended DELETE = %v, want %v", got, want)
	}
	// Everything removed: the bucket can go.
	for _, vid := range []string{"", "v2"} {
		if _, err := s.DeleteObjectVersion(ctx, "vb", "k", vid, meta.VersionCondition{}); err != nil {
			t.Fatalf("DeleteObjectVersion(%q): %v", vid, err)
		}
	}
	wantRefs(t, ctx, s, map[int64]int64{c2.ID: 0})
	if err := s.DeleteBucket(ctx, "vb"); err != nil {
		t.Errorf("DeleteBucket once empty: %v", err)
	}
}

// testListObjectVersions pages versions of many keys with every page size, prefix and
// delimiter against the order S3 gives: keys in byte order, newest version first.
func testListObjectVersions(t *testing.T, h *harness) {
	ctx := ctxFor(t)
	s := h.newStore(t)
	mustBucket(t, ctx, s, "lv")
	c := newChunk(t, ctx, s, "x", "s")
	on := meta.WriteCondition{Versioning: meta.VersionsEnabled}
	var want []string
	keys := []string{"a", "b/1", "b/2", "c", "d/x/1", "e"}
	for i, k := range keys {
		n := i%3 + 1 // 1 to 3 versions per key
		var vs []string
		for j := 0; j < n; j++ {
			o := obj("lv", k, "e", c)
			o.VersionID = fmt.Sprintf("v%d", j)
			if _, err := s.PutObject(ctx, o, on); err != nil {
				t.Fatal(err)
			}
			vs = append([]string{k + "@" + o.VersionID}, vs...)
		}
		if k == "c" { // a key whose latest is a delete marker
			if _, err := s.PutDeleteMarker(ctx, meta.Object{Bucket: "lv", Key: k, VersionID: "dm"}, on); err != nil {
				t.Fatal(err)
			}
			vs = append([]string{k + "@dm*"}, vs...)
		}
		vs[0] += "+"
		want = append(want, vs...)
	}
	for _, limit := range []int{1, 2, 3, 1000} {
		if got := versionsOf(t, s, "lv", meta.VersionListQuery{Limit: limit}); !slices.Equal(got, want) {
			t.Errorf("limit %d: versions = %v, want %v", limit, got, want)
		}
	}
	withPrefix := []string{}
	for _, v := range want {
		if v[0] == 'b' {
			withPrefix = append(withPrefix, v)
		}
	}
	if got := versionsOf(t, s, "lv", meta.VersionListQuery{Prefix: "b/", Limit: 1}); !slices.Equal(got, withPrefix) {
		t.Errorf("prefix b/: %v, want %v", got, withPrefix)
	}
	// With a delimiter: a page's versions, then its common prefixes.
	var wantDelim []string
	for _, v := range want {
		if v[0] != 'b' && v[0] != 'd' {
			wantDelim = append(wantDelim, v)
		}
	}
	wantDelim = append(wantDelim, "b/", "d/")
	if got := versionsOf(t, s, "lv", meta.VersionListQuery{Delimiter: "/"}); !slices.Equal(got, wantDelim) {
		t.Errorf("delimiter /: %v, want %v", got, wantDelim)
	}
	got := versionsOf(t, s, "lv", meta.VersionListQuery{Delimiter: "/", Limit: 2})
	slices.Sort(got)
	slices.Sort(wantDelim)
	if !slices.Equal(got, wantDelim) {
		t.Errorf("delimiter /, pages of 2: %v, want %v", got, wantDelim)
	}
	// A marker in the middle of a key's versions.
	res, err := s.ListObjectVersions(ctx, "lv", meta.VersionListQuery{KeyMarker: "c", VersionIDMarker: ptr("v0"), Limit: 1})
	if err != nil || len(res.Versions) != 1 || res.Versions[0].Key != "d/x/1" {
		t.Errorf("after c@v0: %+v, %v", res.Versions, err)
	}
	_, err = s.ListObjectVersions(ctx, "lv", meta.VersionListQuery{KeyMarker: "c", VersionIDMarker: ptr("nope")})
	wantErr(t, "a version marker naming no version", err, meta.ErrInvalid)
}

func ptr(s string) *string { return &s }

// testConcurrentVersions: writers of new versions, delete markers and removals by id
// racing on one key (over two stores when the harness has a shared pair) lose no
// version and leave every reference counted once.
func testConcurrentVersions(t *testing.T, h *harness) {
	ctx := ctxFor(t)
	a, b := h.pair(t)
	mustBucket(t, ctx, a, "cv")
	c := newChunk(t, ctx, a, "shared content", "s")
	on := meta.WriteCondition{Versioning: meta.VersionsEnabled}
	const writers, each = 6, 5
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := []meta.MetaStore{a, b}[w%2]
			for i := range each {
				vid := fmt.Sprintf("w%d-%d", w, i)
				var err error
				if (w+i)%3 == 2 {
					_, err = s.PutDeleteMarker(ctx, meta.Object{Bucket: "cv", Key: "k", VersionID: vid}, on)
				} else {
					o := obj("cv", "k", "e", c)
					o.VersionID = vid
					_, err = s.PutObject(ctx, o, on)
				}
				if err != nil {
					t.Errorf("writer %d: %v", w, err)
				}
			}
		}()
	}
	wg.Wait()
	all := versionsOf(t, a, "cv", meta.VersionListQuery{})
	objects, markers, latest := 0, 0, 0
	for _, v := range all {
		if strings.Contains(v, "*") {
			markers++
		} else {
			objects++
		}
		if strings.HasSuffix(v, "+") {
			latest++
		}
	}
	if len(all) != writers*each || latest != 1 {
		t.Fatalf("%d versions (%d latest), want %d (1): %v", len(all), latest, writers*each, all)
	}
	wantRefs(t, ctx, a, map[int64]int64{c.ID: int64(objects)})
	// Removing every version by id, concurrently, from both stores.
	var ids []string
	for _, v := range all {
		_, id, _ := strings.Cut(strings.TrimRight(v, "*+"), "@")
		ids = append(ids, id)
	}
	for i, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := []meta.MetaStore{a, b}[i%2].DeleteObjectVersion(ctx, "cv", "k", id, meta.VersionCondition{}); err != nil {
				t.Errorf("DeleteObjectVersion(%s): %v", id, err)
			}
		}()
	}
	wg.Wait()
	if left := versionsOf(t, a, "cv", meta.VersionListQuery{}); len(left) != 0 {
		t.Errorf("versions left: %v", left)
	}
	wantRefs(t, ctx, a, map[int64]int64{c.ID: 0})
	if _, err := a.GetObject(ctx, "cv", "k"); !errors.Is(err, meta.ErrNotFound) {
		t.Errorf("GetObject after removing every version: %v", err)
	}
}
