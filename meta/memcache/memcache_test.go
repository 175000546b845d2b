package memcache

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"s3proxy/meta"
	"s3proxy/meta/gormstore"
	"s3proxy/meta/metatest"
)

func openSQLite(t *testing.T) *gormstore.Store {
	t.Helper()
	s, err := gormstore.Open(context.Background(), filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// The conformance suite through the cache: every read-after-write the suite checks must
// hold with GetObject served from memory. (No shared pair: two caches over one database
// is the set-up this cache must never be used in.)
func TestConformance(t *testing.T) {
	metatest.Run(t, func(t *testing.T) meta.MetaStore { return New(openSQLite(t), Options{}) })
}

func TestEveryMethodClassified(t *testing.T) {
	overridden := []string{
		"GetObject", "PutObject", "DeleteObject", "SetObjectDigests", "CompleteUpload",
		"DeleteBucket", "MoveChunk", "MarkChunkCorrupt", "PutDeleteMarker", "DeleteObjectVersion",
	}
	// Pass-throughs: reads not cached, and writes that change no cached object: buckets
	// are created empty; a new chunk, a part or an upload is in no manifest yet; a chunk
	// deleted as unreferenced is in no live object's manifest; reference counts are not
	// part of GetObject's contract.
	passThrough := []string{
		"CreateBucket", "GetBucket", "ListBuckets", "ListObjects", "FindObjectBySHA256",
		"GetObjectVersion", "ListObjectVersions", "SetVersionHeaders", // noncurrent versions are not cached
		"InsertChunk", "FindChunk", "GetChunk", "ChunkByUID", "ListChunks", "GCCandidates",
		"DeleteChunkIfUnreferenced", "ObjectsUsingChunk",
		"CreateUpload", "GetUpload", "PutPart", "ListParts", "ListUploads", "AbortUpload", "StaleUploads",
		"Enqueue", "Claim", "Finish", "Heartbeat", "ListNodes", "GetOrCreateSetting", "TryLock", "Unlock",
		"Stats", "Ping", "Close",
		// Bucket configurations are not cached; DeleteBucket (overridden) drops them.
		"GetBucketConfig", "PutBucketConfig", "DeleteBucketConfig", "ListBucketConfigs",
	}
	metatest.CheckEveryMethodClassified(t, "Store", overridden, passThrough)
}

// fixture stores bucket b with one object k of one chunk, through the cache.
func fixture(t *testing.T, c *Store) meta.Chunk {
	t.Helper()
	ctx := context.Background()
	if err := c.CreateBucket(ctx, meta.Bucket{Name: "b", Owner: "o", Backend: "local"}); err != nil {
		t.Fatal(err)
	}
	ch, _, err := c.InsertChunk(ctx, meta.Chunk{UID: "u1", SHA256: [32]byte{1}, Size: 3, Backend: "local"}, "s")
	if err != nil {
		t.Fatal(err)
	}
	put(t, c, "k", "e1", ch)
	return ch
}

func put(t *testing.T, c *Store, key, etag string, ch meta.Chunk) {
	t.Helper()
	o := meta.Object{Bucket: "b", Key: key, Size: 3, ETag: etag, Owner: "o", Scope: "s",
		Manifest: []meta.Extent{{PartNumber: 1, ChunkID: ch.ID, Length: 3}}}
	if _, err := c.PutObject(context.Background(), o, meta.WriteCondition{}); err != nil {
		t.Fatal(err)
	}
}

func TestHitsAndInvalidation(t *testing.T) {
	ctx := context.Background()
	c := New(openSQLite(t), Options{})
	ch := fixture(t, c)
	for range 3 {
		o, err := c.GetObject(ctx, "b", "k")
		if err != nil || o.ETag != "e1" {
			t.Fatalf("GetObject = %q, %v", o.ETag, err)
		}
	}
	if h, m := c.Counters(); h != 2 || m != 1 {
		t.Fatalf("hits, misses = %d, %d; want 2, 1", h, m)
	}
	// A hit hands out a copy: changing it does not change the cache.
	o, _ := c.GetObject(ctx, "b", "k")
	o.Manifest[0].Length = 99
	if again, _ := c.GetObject(ctx, "b", "k"); again.Manifest[0].Length != 3 {
		t.Fatal("a caller's change to a returned object reached the cache")
	}

	steps := []struct {
		name  string
		write func() error
		want  string // ETag after the write, "" for not found
	}{
		{"overwrite", func() error { put(t, c, "k", "e2", ch); return nil }, "e2"},
		{"digests", func() error {
			return c.SetObjectDigests(ctx, "b", "k", "e2", make([]byte, 32), make([]byte, 16))
		}, "e2"},
		{"delete", func() error { _, err := c.DeleteObject(ctx, "b", "k", meta.WriteCondition{}); return err }, ""},
		{"recreate", func() error { put(t, c, "k", "e3", ch); return nil }, "e3"},
	}
	for _, st := range steps {
		if err := st.write(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		o, err := c.GetObject(ctx, "b", "k")
		switch {
		case st.want == "" && !errors.Is(err, meta.ErrNotFound):
			t.Fatalf("after %s: GetObject = %q, %v; want not found", st.name, o.ETag, err)
		case st.want != "" && (err != nil || o.ETag != st.want):
			t.Fatalf("after %s: GetObject = %q, %v; want %q", st.name, o.ETag, err, st.want)
		}
		if st.name == "digests" && len(o.SHA256) != 32 {
			t.Fatalf("after %s: SHA256 not visible", st.name)
		}
	}

	// A chunk's new location reaches cached manifests at once.
	if err := c.MoveChunk(ctx, ch.ID, "other", "", "u2"); err != nil {
		t.Fatal(err)
	}
	if o, err := c.GetObject(ctx, "b", "k"); err != nil || o.Manifest[0].Chunk.UID != "u2" || o.Manifest[0].Chunk.Backend != "other" {
		t.Fatalf("after MoveChunk: %+v, %v", o.Manifest, err)
	}
	if err := c.MarkChunkCorrupt(ctx, ch.ID, true); err != nil {
		t.Fatal(err)
	}
	if o, err := c.GetObject(ctx, "b", "k"); err != nil || !o.Manifest[0].Chunk.Corrupt {
		t.Fatalf("after MarkChunkCorrupt: %+v, %v", o.Manifest, err)
	}
}

func TestTTLAndBounds(t *testing.T) {
	ctx := context.Background()
	inner := openSQLite(t)
	var now atomic.Int64
	now.Store(time.Now().UnixNano())
	c := New(inner, Options{MaxEntries: 2, MaxExtents: 1, TTL: time.Second, Now: func() time.Time { return time.Unix(0, now.Load()) }})
	ch := fixture(t, c)

	// A change behind the cache's back (another process) is seen once the TTL passes.
	if _, err := c.GetObject(ctx, "b", "k"); err != nil {
		t.Fatal(err)
	}
	o := meta.Object{Bucket: "b", Key: "k", Size: 3, ETag: "behind", Owner: "o", Manifest: []meta.Extent{{PartNumber: 1, ChunkID: ch.ID, Length: 3}}}
	if _, err := inner.PutObject(ctx, o, meta.WriteCondition{}); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.GetObject(ctx, "b", "k"); got.ETag != "e1" {
		t.Fatalf("within the TTL: %q, want the cached e1", got.ETag)
	}
	now.Add(int64(2 * time.Second))
	if got, _ := c.GetObject(ctx, "b", "k"); got.ETag != "behind" {
		t.Fatalf("after the TTL: %q, want behind", got.ETag)
	}

	// At most MaxEntries entries; manifests longer than MaxExtents are not cached.
	for _, k := range []string{"x", "y", "z"} {
		_, _ = c.GetObject(ctx, "b", k) // negative entries count too
	}
	if n := len(c.entries); n > 2 {
		t.Fatalf("%d entries, bound is 2", n)
	}
	long := meta.Object{Bucket: "b", Key: "long", Size: 6, ETag: "l", Owner: "o",
		Manifest: []meta.Extent{{PartNumber: 1, ChunkID: ch.ID, Length: 3}, {PartNumber: 1, ChunkID: ch.ID, Length: 3}}}
	if _, err := c.PutObject(ctx, long, meta.WriteCondition{}); err != nil {
		t.Fatal(err)
	}
	_, _ = c.GetObject(ctx, "b", "long")
	if _, ok := c.entries[objKey{"b", "long"}]; ok {
		t.Fatal("a manifest longer than MaxExtents was cached")
	}
}

// TestInlineBytesBound: the inline chunk bytes held by cached manifests stay within
// MaxInlineBytes, evicting older entries, and an object over the bound alone is served
// but not cached.
func TestInlineBytesBound(t *testing.T) {
	ctx := context.Background()
	c := New(openSQLite(t), Options{MaxInlineBytes: 250})
	fixture(t, c)
	for i, size := range []int{100, 100, 100, 300} {
		data := bytes.Repeat([]byte{byte('a' + i)}, size)
		ch, _, err := c.InsertChunk(ctx, meta.Chunk{UID: fmt.Sprint("inl", i), SHA256: sha256.Sum256(data), Size: int64(size),
			Backend: meta.InlineBackend, Data: data}, "s")
		if err != nil {
			t.Fatal(err)
		}
		key := fmt.Sprint("i", i)
		o := meta.Object{Bucket: "b", Key: key, Size: int64(size), ETag: "e", Owner: "o",
			Manifest: []meta.Extent{{ChunkID: ch.ID, Length: int64(size)}}}
		if _, err := c.PutObject(ctx, o, meta.WriteCondition{}); err != nil {
			t.Fatal(err)
		}
		got, err := c.GetObject(ctx, "b", key)
		if err != nil || !bytes.Equal(got.Manifest[0].Chunk.Data, data) {
			t.Fatalf("%s: %d inline bytes, %v", key, len(got.Manifest[0].Chunk.Data), err)
		}
		var held int64
		for _, e := range c.entries {
			held += e.obj.InlineBytes()
		}
		if held != c.inline || held > 250 {
			t.Fatalf("after %s: entries hold %d inline bytes, counted %d, bound 250", key, held, c.inline)
		}
	}
	if _, ok := c.entries[objKey{"b", "i3"}]; ok {
		t.Error("an object over MaxInlineBytes by itself was cached")
	}
}

// slowStore delays GetObject so that a write can commit between the cache's miss and its
// fill: the fill must then not store the value read before the write.
type slowStore struct {
	meta.MetaStore
	read, release chan struct{}
}

func (s *slowStore) GetObject(ctx context.Context, bucket, key string) (meta.Object, error) {
	o, err := s.MetaStore.GetObject(ctx, bucket, key)
	s.read <- struct{}{}
	<-s.release
	return o, err
}

func TestFillRacingWrite(t *testing.T) {
	ctx := context.Background()
	inner := openSQLite(t)
	c := New(inner, Options{})
	ch := fixture(t, c)
	c.invalidate("b", "k")
	slow := &slowStore{MetaStore: inner, read: make(chan struct{}), release: make(chan struct{})}
	c.MetaStore = slow

	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if o, err := c.GetObject(ctx, "b", "k"); err != nil || o.ETag != "e1" {
			t.Errorf("racing read = %q, %v; want the old e1 (it read before the write)", o.ETag, err)
		}
	}()
	<-slow.read // the reader has the old row
	c.MetaStore = inner
	put(t, c, "k", "e2", ch) // commits and invalidates while the reader is between read and fill
	close(slow.release)
	wg.Wait()
	if o, err := c.GetObject(ctx, "b", "k"); err != nil || o.ETag != "e2" {
		t.Fatalf("after the racing fill: %q, %v; want e2 (the old row must not have been stored)", o.ETag, err)
	}
}

// Disable hands the store over to other writers: nothing is answered from memory or filled
// until Enable, which starts empty.
func TestDisableEnable(t *testing.T) {
	ctx := context.Background()
	inner := openSQLite(t)
	c := New(inner, Options{})
	ch := fixture(t, c)
	get := func() string {
		t.Helper()
		o, err := c.GetObject(ctx, "b", "k")
		if err != nil {
			t.Fatal(err)
		}
		return o.ETag
	}
	get() // cached
	c.Disable()
	// Another writer (straight to the store, as another serve process would).
	other := meta.Object{Bucket: "b", Key: "k", Size: 3, ETag: "other", Owner: "o", Scope: "s",
		Manifest: []meta.Extent{{PartNumber: 1, ChunkID: ch.ID, Length: 3}}}
	if _, err := inner.PutObject(ctx, other, meta.WriteCondition{}); err != nil {
		t.Fatal(err)
	}
	if e := get(); e != "other" {
		t.Fatalf("disabled cache answered %q", e)
	}
	other.ETag = "other2"
	if _, err := inner.PutObject(ctx, other, meta.WriteCondition{}); err != nil {
		t.Fatal(err)
	}
	if e := get(); e != "other2" {
		t.Fatalf("disabled cache filled an entry: %q", e)
	}
	hits, _ := c.Counters()
	c.Enable()
	if get() != "other2" || get() != "other2" {
		t.Fatal("enabled cache lost the store's value")
	}
	if h, _ := c.Counters(); h != hits+1 {
		t.Fatalf("hits after Enable: %d, want %d", h, hits+1)
	}
}

// A write leaves what it wrote in the cache: the next read is a hit, and it is what the
// store itself returns.
func TestWriteThrough(t *testing.T) {
	ctx := context.Background()
	inner := openSQLite(t)
	c := New(inner, Options{})
	if err := c.CreateBucket(ctx, meta.Bucket{Name: "b", Owner: "o", Backend: "local"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutObject(ctx, metatest.NewInlineObject("k", "e1", "hello"), meta.WriteCondition{}); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetObject(ctx, "b", "k")
	if h, m := c.Counters(); err != nil || h != 1 || m != 0 {
		t.Fatalf("read after write: %v; hits, misses = %d, %d; want a hit", err, h, m)
	}
	want, err := inner.GetObject(ctx, "b", "k")
	if err != nil {
		t.Fatal(err)
	}
	gc, wc := got.Manifest[0].Chunk, want.Manifest[0].Chunk
	if got.ETag != want.ETag || got.Size != want.Size || !got.ModTime.Equal(want.ModTime) || got.UserMeta["m"] != want.UserMeta["m"] ||
		got.Owner != want.Owner || got.Manifest[0].ChunkID != want.Manifest[0].ChunkID ||
		gc.ID != wc.ID || gc.UID != wc.UID || gc.Backend != wc.Backend || gc.SHA256 != wc.SHA256 || !bytes.Equal(gc.Data, wc.Data) {
		t.Errorf("cached after write:\n %+v\nstore:\n %+v", got, want)
	}
	if _, err := c.DeleteObject(ctx, "b", "k", meta.WriteCondition{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetObject(ctx, "b", "k"); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
	if h, m := c.Counters(); h != 2 || m != 0 {
		t.Fatalf("read after delete: hits, misses = %d, %d; want a second hit", h, m)
	}
	// A failed write stores nothing.
	if _, err := c.PutObject(ctx, metatest.NewInlineObject("k", "e2", "x"), meta.WriteCondition{IfMatch: "nope"}); err == nil {
		t.Fatal("conditional write on a missing key succeeded")
	}
	if _, err := c.GetObject(ctx, "b", "k"); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("after a failed write: %v", err)
	}
}

// Two writes of a key whose post-commit steps cross: the first to commit finishes last.
// It must not leave its (older) object in the cache.
func TestWriteThroughRace(t *testing.T) {
	ctx := context.Background()
	inner := openSQLite(t)
	hold := metatest.NewHoldPut(inner, "first")
	c := New(hold, Options{})
	if err := c.CreateBucket(ctx, meta.Bucket{Name: "b", Owner: "o", Backend: "local"}); err != nil {
		t.Fatal(err)
	}
	hold.Cross(t, ctx, c, c)
	if o, err := c.GetObject(ctx, "b", "k"); err != nil || o.ETag != "second" {
		t.Fatalf("after crossing writes: %q, %v; want second (the store's current version)", o.ETag, err)
	}
}
