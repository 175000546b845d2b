// Package metatest is the conformance suite every meta.MetaStore implementation (and
// decorator, such as a cache) must pass. It uses only the interface: no concrete types,
// no direct SQL, so a decorator over a store passes or fails on behaviour alone.
package metatest

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"s3proxy/meta"
)

// Option adjusts Run.
type Option func(*config)

type config struct {
	pair func(t *testing.T) (meta.MetaStore, meta.MetaStore)
}

// WithSharedPair supplies two independent stores (separate connections, as two processes
// would have) on one fresh database, for the cross-process tests: job claims and locks.
// Without it those tests run on a single store only.
func WithSharedPair(pair func(t *testing.T) (meta.MetaStore, meta.MetaStore)) Option {
	return func(c *config) { c.pair = pair }
}

// Run runs the suite. newStore must return a new, empty store for each call; the harness
// closes it (t.Cleanup) and removes its database.
func Run(t *testing.T, newStore func(t *testing.T) meta.MetaStore, opts ...Option) {
	var c config
	for _, o := range opts {
		o(&c)
	}
	h := &harness{newStore: newStore, cfg: c}
	tests := []struct {
		name string
		fn   func(t *testing.T, h *harness)
	}{
		{"Buckets", testBuckets},
		{"DeleteBucketNotEmpty", testDeleteBucketNotEmpty},
		{"DeleteBucketAbortsUploads", testDeleteBucketAbortsUploads},
		{"ConcurrentDeleteBucket", testConcurrentDeleteBucket},
		{"ConcurrentDeleteBucketAcrossStores", testConcurrentDeleteBucketAcrossStores},
		{"ObjectRoundTrip", testObjectRoundTrip},
		{"ObjectErrors", testObjectErrors},
		{"ConditionalWrites", testConditionalWrites},
		{"ConcurrentIfNoneMatch", testConcurrentIfNoneMatch},
		{"ConcurrentIfMatch", testConcurrentIfMatch},
		{"ConcurrentOverwrites", testConcurrentOverwrites},
		{"ConcurrentNewContent", testConcurrentNewContent},
		{"RefCounts", testRefCounts},
		{"RefCountsMultipart", testRefCountsMultipart},
		{"ConcurrentComplete", testConcurrentComplete},
		{"ConcurrentCompleteAcrossStores", testConcurrentCompleteAcrossStores},
		{"ReadYourWritesAcrossStores", testReadYourWritesAcrossStores},
		{"Chunks", testChunks},
		{"ConcurrentInsertChunk", testConcurrentInsertChunk},
		{"ChunkScopes", testChunkScopes},
		{"GC", testGC},
		{"GCRace", testGCRace},
		{"ObjectSHA256", testObjectSHA256},
		{"ListObjects", testListObjects},
		{"ListObjectsEmpty", testListObjectsEmpty},
		{"Uploads", testUploads},
		{"ListUploads", testListUploads},
		{"Jobs", testJobs},
		{"JobLeaseExpiry", testJobLeaseExpiry},
		{"ConcurrentClaim", testConcurrentClaim},
		{"ClaimAcrossStores", testClaimAcrossStores},
		{"NodesAndSettings", testNodesAndSettings},
		{"Locks", testLocks},
		{"LocksAcrossStores", testLocksAcrossStores},
		{"WritersAcrossStores", testWritersAcrossStores},
		{"CanceledContext", testCanceledContext},
		{"Stats", testStats},
		{"LargeManifest", testLargeManifest},
		{"InlineChunks", testInlineChunks},
		{"PutObjectIndexesNewChunk", testPutObjectIndexesNewChunk},
		{"BucketConfigs", testBucketConfigs},
		{"ConcurrentConfigAndDeleteBucket", testConcurrentConfigAndDeleteBucket},
		{"PinnedConditions", testPinnedConditions},
		{"PinnedDeleteRacingOverwrite", testPinnedDeleteRacingOverwrite},
		{"ObjectVersions", testObjectVersions},
		{"ListObjectVersions", testListObjectVersions},
		{"ConcurrentVersions", testConcurrentVersions},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, h) })
	}
}

type harness struct {
	newStore func(t *testing.T) meta.MetaStore
	cfg      config
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func randHex(t *testing.T, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// newChunk indexes a chunk for content (unique per call unless content repeats).
func newChunk(t *testing.T, ctx context.Context, s meta.MetaStore, content, scope string) meta.Chunk {
	t.Helper()
	c := meta.Chunk{UID: "uid-" + randHex(t, 8), SHA256: sha256.Sum256([]byte(content)), Size: int64(len(content)), Backend: "local"}
	got, _, err := s.InsertChunk(ctx, c, scope)
	if err != nil {
		t.Fatalf("InsertChunk: %v", err)
	}
	return got
}

func mustBucket(t *testing.T, ctx context.Context, s meta.MetaStore, name string) {
	t.Helper()
	if err := s.CreateBucket(ctx, meta.Bucket{Name: name, Owner: "owner"}); err != nil {
		t.Fatalf("CreateBucket(%s): %v", name, err)
	}
}

// obj builds an object whose manifest is one full extent per chunk.
func obj(bucket, key, etag string, chunks ...meta.Chunk) meta.Object {
	o := meta.Object{Bucket: bucket, Key: key, ETag: etag, Owner: "owner", Scope: "scope"}
	for _, c := range chunks {
		o.Manifest = append(o.Manifest, meta.Extent{ChunkID: c.ID, Length: c.Size})
		o.Size += c.Size
	}
	return o
}

func mustPut(t *testing.T, ctx context.Context, s meta.MetaStore, o meta.Object) {
	t.Helper()
	if _, err := s.PutObject(ctx, o, meta.WriteCondition{}); err != nil {
		t.Fatalf("PutObject(%s/%s): %v", o.Bucket, o.Key, err)
	}
}

func refs(t *testing.T, ctx context.Context, s meta.MetaStore, id int64) int64 {
	t.Helper()
	c, err := s.GetChunk(ctx, id)
	if err != nil {
		t.Fatalf("GetChunk(%d): %v", id, err)
	}
	if c.Refs == 0 && c.ZeroSince == nil {
		t.Errorf("chunk %d has Refs 0 but no ZeroSince", id)
	}
	if c.Refs > 0 && c.ZeroSince != nil {
		t.Errorf("chunk %d has Refs %d but ZeroSince %v", id, c.Refs, c.ZeroSince)
	}
	return c.Refs
}

func wantRefs(t *testing.T, ctx context.Context, s meta.MetaStore, want map[int64]int64) {
	t.Helper()
	for id, n := range want {
		if got := refs(t, ctx, s, id); got != n {
			t.Errorf("chunk %d: refs %d, want %d", id, got, n)
		}
	}
}

func wantErr(t *testing.T, what string, err, kind error) {
	t.Helper()
	if kind == nil {
		if err != nil {
			t.Errorf("%s: unexpected error %v", what, err)
		}
		return
	}
	if !errors.Is(err, kind) {
		t.Errorf("%s: error %v, want %v", what, err, kind)
	}
}

func testBuckets(t *testing.T, h *harness) {
	ctx := ctxFor(t)
	s := h.newStore(t)
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	created := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	if err := s.CreateBucket(ctx, meta.Bucket{Name: "beta", Owner: "ak1", Region: "us-east-1", Backend: "disk", CreatedAt: created}); err != nil {
		t.Fatal(err)
	}
	mustBucket(t, ctx, s, "alpha")
	wantErr(t, "duplicate CreateBucket", s.CreateBucket(ctx, meta.Bucket{Name: "beta", Owner: "ak2"}), meta.ErrAlreadyExists)
	b, err := s.GetBucket(ctx, "beta")
	if err != nil {
		t.Fatal(err)
	}
	if b.Name != "beta" || b.Owner != "ak1" || b.Region != "us-east-1" || b.Backend != "disk" || !b.CreatedAt.Equal(created) {
		t.Errorf("GetBucket = %+v", b)
	}
	_, err = s.GetBucket(ctx, "gamma")
	wantErr(t, "GetBucket missing", err, meta.ErrNotFound)
	list, err := s.ListBuckets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Name != "alpha" || list[1].Name != "beta" {
		t.Errorf("ListBuckets = %+v", list)
	}
	wantErr(t, "DeleteBucket missing", s.DeleteBucket(ctx, "gamma"), meta.ErrNotFound)
	wantErr(t, "DeleteBucket", s.DeleteBucket(ctx, "alpha"), nil)
	_, err = s.GetBucket(ctx, "alpha")
	wantErr(t, "GetBucket deleted", err, meta.ErrNotFound)
}

func testDeleteBucketNotEmpty(t *testing.T, h *harness) {
	ctx := ctxFor(t)
	s := h.newStore(t)
	mustBucket(t, ctx, s, "b")
	c := newChunk(t, ctx, s, "x", "scope")
	mustPut(t, ctx, s, obj("b", "k", "e", c))
	// An object keeps the bucket; an upload in progress beside it is left alone.
	if err := s.CreateUpload(ctx, meta.Upload{ID: "u0", Bucket: "b", Key: "k"}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutPart(ctx, "u0", meta.Part{Number: 1, Size: c.Size, ETag: "p", Extents: []meta.Extent{{PartNumber: 1, ChunkID: c.ID, Length: c.Size}}}); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "DeleteBucket with object", s.DeleteBucket(ctx, "b"), meta.ErrNotEmpty)
	if _, err := s.GetUpload(ctx, "b", "k", "u0"); err != nil {
		t.Errorf("upload after a refused DeleteBucket: %v", err)
	}
	wantRefs(t, ctx, s, map[int64]int64{c.ID: 2})
	if err := s.AbortUpload(ctx, "u0"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteObject(ctx, "b", "k", meta.WriteCondition{}); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "DeleteBucket emptied", s.DeleteBucket(ctx, "b"), nil)
	_, err := s.PutObject(ctx, obj("b", "k", "e", c), meta.WriteCondition{})
	wantErr(t, "PutObject into deleted bucket", err, meta.ErrNotFound)
	wantErr(t, "CreateUpload in deleted bucket", s.CreateUpload(ctx, meta.Upload{ID: "u2", Bucket: "b", Key: "k"}), meta.ErrNotFound)
	wantRefs(t, ctx, s, map[int64]int64{c.ID: 0})
}

// testDeleteBucketAbortsUploads: uploads in progress do not keep a bucket (S3 deletes it
// and its uploads); their parts' references are released as by AbortUpload, and every
// later use of them finds them gone.
func testDeleteBucketAbortsUploads(t *testing.T, h *harness) {
	ctx := ctxFor(t)
	s := h.newStore(t)
	mustBucket(t, ctx, s, "b")
	mustBucket(t, ctx, s, "keep")
	only := newChunk(t, ctx, s, "only in the upload", "scope")
	shared := newChunk(t, ctx, s, "also in an object", "scope")
	mustPut(t, ctx, s, obj("keep", "k", "e", shared))
	part := func(n int, c meta.Chunk) meta.Part {
		return meta.Part{Number: n, Size: c.Size, ETag: fmt.Sprintf("etag%d", n), Extents: []meta.Extent{{PartNumber: n, ChunkID: c.ID, Length: c.Size}}}
	}
	for _, id := range []string{"u1", "u2"} {
		if err := s.CreateUpload(ctx, meta.Upload{ID: id, Bucket: "b", Key: "k/" + id}); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []meta.Part{part(1, only), part(2, shared), part(3, only)} {
		if err := s.PutPart(ctx, "u1", p); err != nil {
			t.Fatal(err)
		}
	}
	// An upload in another bucket is not touched.
	if err := s.CreateUpload(ctx, meta.Upload{ID: "other", Bucket: "keep", Key: "k"}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutPart(ctx, "other", part(1, only)); err != nil {
		t.Fatal(err)
	}
	wantRefs(t, ctx, s, map[int64]int64{only.ID: 3, shared.ID: 2})
	wantErr(t, "DeleteBucket with uploads", s.DeleteBucket(ctx, "b"), nil)
	wantRefs(t, ctx, s, map[int64]int64{only.ID: 1, shared.ID: 1})
	for _, id := range []string{"u1", "u2"} {
		_, err := s.GetUpload(ctx, "b", "k/"+id, id)
		wantErr(t, "GetUpload "+id, err, meta.ErrNotFound)
		wantErr(t, "PutPart "+id, s.PutPart(ctx, id, part(4, only)), meta.ErrNotFound)
		_, _, err = s.ListParts(ctx, id, 0, 10)
		wantErr(t, "ListParts "+id, err, meta.ErrNotFound)
		o := obj("b", "k/"+id, "x-1", only)
		o.Manifest[0].PartNumber = 1
		_, err = s.CompleteUpload(ctx, id, o, meta.WriteCondition{})
		wantErr(t, "CompleteUpload "+id, err, meta.ErrNotFound)
		wantErr(t, "AbortUpload "+id, s.AbortUpload(ctx, id), meta.ErrNotFound)
	}
	if _, err := s.GetUpload(ctx, "keep", "k", "other"); err != nil {
		t.Errorf("upload of another bucket: %v", err)
	}
	st, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Uploads != 1 {
		t.Errorf("Stats.Uploads = %d after DeleteBucket, want 1", st.Uploads)
	}
	// The name is free again, with no upload of the old bucket in it.
	mustBucket(t, ctx, s, "b")
	res, err := s.ListUploads(ctx, "b", meta.UploadListQuery{Limit: 10})
	if err != nil || len(res.Uploads) != 0 {
		t.Errorf("ListUploads of the re-created bucket = %+v, %v", res, err)
	}
}

// deleteBucketRace runs PutPart and CompleteUpload on a bucket's uploads from several
// goroutines (spread over stores) while the bucket is deleted: each write either commits
// before the delete (a part is then released with its upload; a completed object keeps
// the bucket, ErrNotEmpty) or finds its upload gone (ErrNotFound), and the references add
// up either way.
func deleteBucketRace(t *testing.T, ctx context.Context, stores []meta.MetaStore) {
	s := stores[0]
	mustBucket(t, ctx, s, "b")
	c := newChunk(t, ctx, s, "racing part", "scope")
	const uploads = 6
	for i := range uploads {
		if err := s.CreateUpload(ctx, meta.Upload{ID: fmt.Sprintf("u%d", i), Bucket: "b", Key: fmt.Sprintf("k%d", i)}); err != nil {
			t.Fatal(err)
		}
		if err := s.PutPart(ctx, fmt.Sprintf("u%d", i), meta.Part{Number: 1, Size: c.Size, ETag: "e",
			Extents: []meta.Extent{{PartNumber: 1, ChunkID: c.ID, Length: c.Size}}}); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make([]error, uploads)
	completed := make([]bool, uploads)
	for i := range uploads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			st := stores[i%len(stores)]
			id := fmt.Sprintf("u%d", i)
			if i%2 == 0 {
				for n := 2; n <= 6 && errs[i] == nil; n++ {
					errs[i] = st.PutPart(ctx, id, meta.Part{Number: n, Size: c.Size, ETag: "e",
						Extents: []meta.Extent{{PartNumber: n, ChunkID: c.ID, Length: c.Size}}})
				}
				return
			}
			o := obj("b", fmt.Sprintf("k%d", i), "x-1", c)
			o.Manifest[0].PartNumber = 1
			_, errs[i] = st.CompleteUpload(ctx, id, o, meta.WriteCondition{})
			completed[i] = errs[i] == nil
		}()
	}
	var delErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		<-start
		delErr = stores[len(stores)-1].DeleteBucket(ctx, "b")
	}()
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil && !errors.Is(err, meta.ErrNotFound) {
			t.Errorf("write to upload %d: %v, want success or ErrNotFound", i, err)
		}
	}
	objects := 0
	for _, ok := range completed {
		if ok {
			objects++
		}
	}
	switch {
	case delErr == nil:
		if objects > 0 {
			t.Errorf("DeleteBucket succeeded although %d uploads completed first", objects)
		}
		wantRefs(t, ctx, s, map[int64]int64{c.ID: 0})
		if _, err := s.GetBucket(ctx, "b"); !errors.Is(err, meta.ErrNotFound) {
			t.Errorf("bucket after DeleteBucket: %v", err)
		}
	case errors.Is(delErr, meta.ErrNotEmpty):
		if objects == 0 {
			t.Errorf("DeleteBucket: %v, but no upload completed", delErr)
		}
		// The refused delete changed nothing: abort what is left and count.
		for i := range uploads {
			if err := s.AbortUpload(ctx, fmt.Sprintf("u%d", i)); err != nil && !errors.Is(err, meta.ErrNotFound) {
				t.Errorf("AbortUpload u%d: %v", i, err)
			}
		}
		wantRefs(t, ctx, s, map[int64]int64{c.ID: int64(objects)})
	default:
		t.Errorf("DeleteBucket: %v", delErr)
	}
	st, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Uploads != 0 {
		t.Errorf("Stats.Uploads = %d after the race, want 0", st.Uploads)
	}
}

func testConcurrentDeleteBucket(t *testing.T, h *harness) {
	for range 3 {
		deleteBucketRace(t, ctxFor(t), []meta.MetaStore{h.newStore(t)})
	}
}

func testConcurrentDeleteBucketAcrossStores(t *testing.T, h *harness) {
	for range 3 {
		a, b := h.pair(t)
		deleteBucketRace(t, ctxFor(t), []meta.MetaStore{a, b})
	}
}

func testObjectRoundTrip(t *testing.T, h *harness) {
	ctx := ctxFor(t)
	s := h.newStore(t)
	mustBucket(t, ctx, s, "b")
	c1 := newChunk(t, ctx, s, "hello ", "scope")
	c2 := newChunk(t, ctx, s, "world!", "scope")
	mod := time.Now().Add(-time.Minute).Truncate(time.Microsecond)
	in := meta.Object{
		Bucket: "b", Key: "dir/ключ 1", Size: 9, ETag: "abc-2",
		ContentType:  "text/plain",
		Headers:      map[string]string{"Content-Encoding": "gzip", "Cache-Control": "no-cache"},
		UserMeta:     map[string]string{"color": "blue", "ünï": "cødé"},
		Checksums:    map[string]string{"CRC32": "AAAAAA==", "SHA256": "x"},
		ChecksumType: "COMPOSITE",
		Parts: []meta.Part{
			{Number: 1, Size: 4, ETag: "p1", Checksums: map[string]string{"CRC32": "AQID"}},
			{Number: 2, Size: 5, ETag: "p2"},
		},
		Owner: "ak1", Scope: "ak1", ModTime: mod,
		Manifest: []meta.Extent{
			{PartNumber: 1, ChunkID: c1.ID, ChunkOffset: 2, Length: 4},
			{PartNumber: 2, ChunkID: c2.ID, ChunkOffset: 0, Length: 5},
		},
	}
	prev, err := s.PutObject(ctx, in, meta.WriteCondition{})
	if err != nil || prev != nil {
		t.Fatalf("PutObject = %v, %v", prev, err)
	}
	got, err := s.GetObject(ctx, "b", "dir/ключ 1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Bucket != in.Bucket || got.Key != in.Key || got.Size != in.Size || got.ETag != in.ETag ||
		got.ContentType != in.ContentType || got.ChecksumType != in.ChecksumType || got.Owner != in.Owner ||
		got.Scope != in.Scope || !got.ModTime.Equal(mod) || got.SHA256 != nil {
		t.Errorf("GetObject header = %+v", got)
	}
	for name, pair := range map[string][2]map[string]string{
		"Headers": {got.Headers, in.Headers}, "UserMeta": {got.UserMeta, in.UserMeta}, "Checksums": {got.Checksums, in.Checksums},
	} {
		if fmt.Sprint(pair[0]) != fmt.Sprint(pair[1]) {
			t.Errorf("%s = %v, want %v", name, pair[0], pair[1])
		}
	}
	if len(got.Parts) != 2 || got.Parts[0].Number != 1 || got.Parts[0].Size != 4 || got.Parts[0].ETag != "p1" ||
		got.Parts[0].Checksums["CRC32"] != "AQID" || got.Parts[1].ETag != "p2" {
		t.Errorf("Parts = %+v", got.Parts)
	}
	if len(got.Manifest) != 2 {
		t.Fatalf("Manifest = %+v", got.Manifest)
	}
	for i, e := range got.Manifest {
		want := in.Manifest[i]
		if e.PartNumber != want.PartNumber || e.ChunkID != want.ChunkID || e.ChunkOffset != want.ChunkOffset || e.Length != want.Length {
			t.Errorf("extent %d = %+v, want %+v", i, e, want)
		}
		if e.Chunk.ID != want.ChunkID || e.Chunk.UID == "" || e.Chunk.Backend != "local" {
			t.Errorf("extent %d chunk = %+v", i, e.Chunk)
		}
	}
	// Reference counts come from GetChunk (a manifest's chunk rows need not carry them).
	wantRefs(t, ctx, s, map[int64]int64{c1.ID: 1, c2.ID: 1})
	if got.Manifest[0].Chunk.SHA256 != c1.SHA256 || got.Manifest[1].Chunk.UID != c2.UID {
		t.Errorf("manifest chunks not filled from the index")
	}

	// Empty object, empty manifest.
	mustPut(t, ctx, s, meta.Object{Bucket: "b", Key: "empty", ETag: "d41d8cd98f00b204e9800998ecf8427e"})
	e, err := s.GetObject(ctx, "b", "empty")
	if err != nil || e.Size != 0 || len(e.Manifest) != 0 || e.Headers != nil && len(e.Headers) != 0 {
		t.Errorf("empty object = %+v, %v", e, err)
	}

	// Whole-content digests written with the object, on a new key and over it.
	for i, key := range []string{"digests", "digests"} {
		d := obj("b", key, fmt.Sprintf("d%d", i), c1)
		d.SHA256, d.MD5 = bytes.Repeat([]byte{byte(i + 1)}, 32), bytes.Repeat([]byte{byte(i + 7)}, 16)
		mustPut(t, ctx, s, d)
		got, err := s.GetObject(ctx, "b", key)
		if err != nil || !bytes.Equal(got.SHA256, d.SHA256) || !bytes.Equal(got.MD5, d.MD5) || got.ETag != d.ETag {
			t.Errorf("write %d with digests: GetObject = %+v, %v", i, got, err)
		}
	}
	if _, err := s.DeleteObject(ctx, "b", "digests", meta.WriteCondition{}); err != nil {
		t.Fatal(err)
	}

	// Overwrite returns the replaced object without its manifest.
	prev, err = s.PutObject(ctx, obj("b", "dir/ключ 1", "new", c2), meta.WriteCondition{})
	if err != nil || prev == nil || prev.ETag != "abc-2" || prev.Size != 9 || len(prev.Manifest) != 0 {
		t.Fatalf("overwrite PutObject = %+v, %v", prev, err)
	}
	del, err := s.DeleteObject(ctx, "b", "dir/ключ 1", meta.WriteCondition{})
	if err != nil || del.ETag != "new" || del.Key != "dir/ключ 1" {
		t.Errorf("DeleteObject = %+v, %v", del, err)
	}
	_, err = s.GetObject(ctx, "b", "dir/ключ 1")
	wantErr(t, "GetObject deleted", err, meta.ErrNotFound)
	_, err = s.DeleteObject(ctx, "b", "dir/ключ 1", meta.WriteCondition{})
	wantErr(t, "DeleteObject missing", err, meta.ErrNotFound)
}

func testObjectErrors(t *testing.T, h *harness) {
	ctx := ctxFor(t)
	s := h.newStore(t)
	mustBucket(t, ctx, s, "b")
	c := newChunk(t, ctx, s, "data", "scope")
	mustPut(t, ctx, s, obj("b", "k", "v1", c))
	missing := meta.Chunk{ID: c.ID + 1000, Size: 3}
	tests := []struct {
		name string
		o    meta.Object
		want error
	}{
		{"missing bucket", obj("nob", "k", "e", c), meta.ErrNotFound},
		{"missing chunk", obj("b", "k", "e", c, missing), meta.ErrConflict},
		{"size mismatch", meta.Object{Bucket: "b", Key: "k", Size: 10, Manifest: []meta.Extent{{ChunkID: c.ID, Length: 4}}}, meta.ErrInvalid},
		{"empty key", obj("b", "", "e", c), meta.ErrInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.PutObject(ctx, tc.o, meta.WriteCondition{})
			wantErr(t, "PutObject", err, tc.want)
			// A failed write changes nothing: the old version and its count stand.
			got, err := s.GetObject(ctx, "b", "k")
			if err != nil || got.ETag != "v1" {
				t.Errorf("after failed put: %+v, %v", got, err)
			}
			wantRefs(t, ctx, s, map[int64]int64{c.ID: 1})
		})
	}
	_, err := s.GetObject(ctx, "nob", "k")
	wantErr(t, "GetObject missing bucket", err, meta.ErrNotFound)
	_, err = s.GetObject(ctx, "b", "nok")
	wantErr(t, "GetObject missing key", err, meta.ErrNotFound)
}

func testConditionalWrites(t *testing.T, h *harness) {
	ctx := ctxFor(t)
	s := h.newStore(t)
	mustBucket(t, ctx, s, "b")
	c := newChunk(t, ctx, s, "data", "scope")
	mustPut(t, ctx, s, obj("b", "exists", "etag1", c))
	tests := []struct {
		name   string
		delete bool
		key    string
		cond   meta.WriteCondition
		want   error
	}{
		{"put if-none-match absent", false, "new", meta.WriteCondition{IfNoneMatchStar: true}, nil},
		{"put if-none-match present", false, "exists", meta.WriteCondition{IfNoneMatchStar: true}, meta.ErrPreconditionFailed},
		{"put if-match wrong", false, "exists", meta.WriteCondition{IfMatch: "nope"}, meta.ErrPreconditionFailed},
		{"put if-match missing key", false, "absent", meta.WriteCondition{IfMatch: "etag1"}, meta.ErrNotFound},
		{"put if-match quoted", false, "exists", meta.WriteCondition{IfMatch: `"etag1"`}, nil},
		{"put if-match star", false, "exists", meta.WriteCondition{IfMatch: "*"}, nil},
		{"delete if-match wrong", true, "exists", meta.WriteCondition{IfMatch: "nope"}, meta.ErrPreconditionFailed},
		{"delete if-match missing", true, "absent", meta.WriteCondition{IfMatch: "etag1"}, meta.ErrNotFound},
		{"delete if-match right", true, "exists", meta.WriteCondition{IfMatch: "etag1"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if tc.delete {
				_, err = s.DeleteObject(ctx, "b", tc.key, tc.cond)
			} else {
				_, err = s.PutObject(ctx, obj("b", tc.key, "etag1", c), tc.cond)
			}
			wantErr(t, tc.name, err, tc.want)
		})
	}
	// "new" was written once; "exists" was rewritten (same etag) twice and then deleted.
	wantRefs(t, ctx, s, map[int64]int64{c.ID: 1})
}

func testConcurrentIfNoneMatch(t *testing.T, h *harness) {
	ctx := ctxFor(t)
	s := h.newStore(t)
	mustBucket(t, ctx, s, "b")
	c := newChunk(t, ctx, s, "data", "scope")
	oneWriterWins(t, 10, func(i int) error {
		_, err := s.PutObject(ctx, obj("b", "race", fmt.Sprintf("writer-%d", i), c), meta.WriteCondition{IfNoneMatchStar: true})
		return err
	})
	wantRefs(t, ctx, s, map[int64]int64{c.ID: 1})
}

func testConcurrentIfMatch(t *testing.T, h *harness) {
	ctx := ctxFor(t)
	s := h.newStore(t)
	mustBucket(t, ctx, s, "b")
	c := newChunk(t, ctx, s, "data", "scope")
	mustPut(t, ctx, s, obj("b", "k", "v0", c))
	// Every writer expects v0 and writes its own ETag: only the first can match.
	oneWriterWins(t, 10, func(i int) error {
		_, err := s.PutObject(ctx, obj("b", "k", fmt.Sprintf("v%d", i+1), c), meta.WriteCondition{IfMatch: "v0"})
		return err
	})
	wantRefs(t, ctx, s, map[int64]int64{c.ID: 1})
}

// oneWriterWins runs n conditional writes at once: exactly one must succeed and every
// other must fail with ErrPreconditionFailed.
func oneWriterWins(t *testing.T, n int, write func(i int) error) {
	t.Helper()
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = write(i)
		}()
	}
	wg.Wait()
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, meta.ErrPreconditionFailed):
			t.Errorf("writer %d: %v", i, err)
		}
	}
	if won != 1 {
		t.Errorf("%d writers won, want exactly 1", won)
	}
}

func testConcurrentOverwrites(t *testing.T, h *harness) {
	ctx := ctxFor(t)
	s := h.newStore(t)
	mustBucket(t, ctx, s, "b")
	const n = 8
	chunks := make([]meta.Chunk, n)
	for i := range chunks {
		chunks[i] = newChunk(t, ctx, s, fmt.Sprintf("content %d", i), "scope")
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 5 {
				// Two keys so writers interleave over shared chunks.
				o := obj("b", fmt.Sprintf("k%d", j%2), "e", chunks[i], chunks[(i+1)%n])
				if _, err := s.PutObject(ctx, o, meta.WriteCondition{}); err != nil {
					t.Errorf("PutObject: %v", err)
				}
				if _, err := s.GetObject(ctx, "b", o.Key); err != nil {
					t.Errorf("GetObject: %v", err)
				}
			}
		}()
	}
	wg.Wait()
	var total int64
	for _, c := range chunks {
		total += refs(t, ctx, s, c.ID)
	}
	if total != 4 { // two objects of two extents each
		t.Errorf("total refs %d after concurrent overwrites, want 4", total)
	}
}

// testConcurrentNewContent: writers PUT new content (chunks indexed by the PutObject
// itself, as an upload does), some of it shared, and DELETE, all over a few keys; at the
// end every chunk's count is exactly the number of extents naming it.
func testConcurrentNewContent(t *testing.T, h *harness) {
	ctx := ctxFor(t)
	s := h.newStore(t)
	mustBucket(t, ctx, s, "b")
	const writers, rounds = 6, 12
	var mu sync.Mutex
	ids := map[int64]bool{}
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range rounds {
				key := fmt.Sprintf("k%d", (w+r)%3)
				if r%5 == 4 {
					if _, err := s.DeleteObject(ctx, "b", key, meta.WriteCondition{}); err != nil && !errors.Is(err, meta.ErrNotFound) {
						t.Errorf("DeleteObject: %v", err)
					}
					continue
				}
				// Every third round writes content another writer writes too.
				content := fmt.Sprintf("writer %d round %d", w, r)
				if r%3 == 0 {
					content = fmt.Sprintf("shared %d", r)
				}
				sum := sha256.Sum256([]byte(content))
				o := meta.Object{Bucket: "b", Key: key, Size: int64(len(content)), ETag: content, Owner: "owner", Scope: "scope",
					ModTime: time.Now(), Manifest: []meta.Extent{{PartNumber: 1, Length: int64(len(content)), NewChunkScope: "scope",
						Chunk: meta.Chunk{UID: "uid-" + randHex(t, 8), SHA256: sum, Size: int64(len(content)), Backend: "local"}}}}
				if _, err := s.PutObject(ctx, o, meta.WriteCondition{}); err != nil {
					t.Errorf("PutObject: %v", err)
					continue
				}
				mu.Lock()
				ids[o.Manifest[0].ChunkID] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	want := map[int64]int64{}
	for id := range ids {
		want[id] = 0
	}
	for k := range 3 {
		o, err := s.GetObject(ctx, "b", fmt.Sprintf("k%d", k))
		if errors.Is(err, meta.ErrNotFound) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range o.Manifest {
			want[e.ChunkID]++
		}
	}
	wantRefs(t, ctx, s, want)
}

func testRefCounts(t *testing.T, h *harness) {
	ctx := ctxFor(t)
	s := h.newStore(t)
	mustBucket(t, ctx, s, "b")
	mustBucket(t, ctx, s, "b2")
	a := newChunk(t, ctx, s, "aaaa", "scope")
	b := newChunk(t, ctx, s, "bbbb", "scope")
	steps := []struct {
		name string
		do   func() error
		want map[int64]int64
	}{
		{"fresh chunks", func() error { return nil }, map[int64]int64{a.ID: 0, b.ID: 0}},
		{"put", func() error { _, err := s.PutObject(ctx, obj("b", "k1", "e", a), meta.WriteCondition{}); return err }, map[int64]int64{a.ID: 1, b.ID: 0}},
		{"overwrite", func() error { _, err := s.PutObject(ctx, obj("b", "k1", "e", b), meta.WriteCondition{}); return err }, map[int64]int64{a.ID: 0, b.ID: 1}},
		{"copy to another bucket", func() error {
			src, err := s.GetObject(ctx, "b", "k1")
			if err != nil {
				return err
			}
			src.Bucket, src.Key = "b2", "copy"
			_, err = s.PutObject(ctx, src, meta.WriteCondition{})
			return err
		}, map[int64]int64{a.ID: 0, b.ID: 2}},
		{"chunk twice in one manifest", func() error {
			_, err := s.PutObject(ctx, obj("b", "k2", "e", a, a, b), meta.WriteCondition{})
			return err
		}, map[int64]int64{a.ID: 2, b.ID: 3}},
		{"overwrite with same manifest", func() error {
			_, err := s.PutObject(ctx, obj("b", "k2", "e", a, a, b), meta.WriteCondition{})
			return err
		}, map[int64]int64{a.ID: 2, b.ID: 3}},
		{"delete twice-referencing object", func() error { _, err := s.DeleteObject(ctx, "b", "k2", meta.WriteCondition{}); return err }, map[int64]int64{a.ID: 0, b.ID: 2}},
		{"delete original", func() error { _, err := s.DeleteObject(ctx, "b", "k1", meta.WriteCondition{}); return err }, map[int64]int64{a.ID: 0, b.ID: 1}},
		{"failed conditional put changes nothing", func() error {
			_, err := s.PutObject(ctx, obj("b2", "copy", "e", a), meta.WriteCondition{IfNoneMatchStar: true})
			if errors.Is(err, meta.ErrPreconditionFailed) {
				return nil
			}
			return fmt.Errorf("want precondition failed, got %v", err)
		}, map[int64]int64{a.ID: 0, b.ID: 1}},
		{"delete copy", func() error { _, err := s.DeleteObject(ctx, "b2", "copy", meta.WriteCondition{}); return err }, map[int64]int64{a.ID: 0, b.ID: 0}},
	}
	for _, st := range steps {
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		for id, n := range st.want {
			if got := refs(t, ctx, s, id); got != n {
				t.Errorf("after %s: chunk %d refs %d, want %d", st.name, id, got, n)
			}
		}
	}
	ca, _ := s.GetChunk(ctx, a.ID)
	if ca.ZeroSince == nil || time.Since(*ca.ZeroSince) > time.Minute {
		t.Errorf("ZeroSince of released chunk = %v", ca.ZeroSince)
	}
}

func testRefCountsMultipart(t *testing.T, h *harness) {
	ctx := ctxFor(t)
	s := h.newStore(t)
	mustBucket(t, ctx, s, "b")
	p1 := newChunk(t, ctx, s, "part one", "scope")
	p1b := newChunk(t, ctx, s, "part one again", "scope")
	p2 := newChunk(t, ctx, s, "part two", "scope")
	p3 := newChunk(t, ctx, s, "part three", "scope")
	part := func(n int, c meta.Chunk) meta.Part {
		return meta.Part{Number: n, Size: c.Size, ETag: fmt.Sprintf("etag%d", n),
			Extents: []meta.Extent{{PartNumber: n, ChunkID: c.ID, Length: c.Size}}}
	}
	if err := s.CreateUpload(ctx, meta.Upload{ID: "up1", Bucket: "b", Key: "big"}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []meta.Part{part(1, p1), part(2, p2), part(3, p3)} {
		if err := s.PutPart(ctx, "up1", p); err != nil {
			t.Fatal(err)
		}
	}
	wantRefs(t, ctx, s, map[int64]int64{p1.ID: 1, p2.ID: 1, p3.ID: 1})
	// A re-sent part replaces the earlier one and releases its chunk.
	if err := s.PutPart(ctx, "up1", part(1, p1b)); err != nil {
		t.Fatal(err)
	}
	wantRefs(t, ctx, s, map[int64]int64{p1.ID: 0, p1b.ID: 1})
	// Complete with parts 1 and 2 only: part 3 is released; the others move to the object.
	o := obj("b", "big", "x-2", p1b, p2)
	o.Manifest[0].PartNumber, o.Manifest[1].PartNumber = 1, 2
	if _, err := s.CompleteUpload(ctx, "up1", o, meta.WriteCondition{}); err != nil {
		t.Fatal(err)
	}
	wantRefs(t, ctx, s, map[int64]int64{p1.ID: 0, p1b.ID: 1, p2.ID: 1, p3.ID: 0})
	_, err := s.CompleteUpload(ctx, "up1", o, meta.WriteCondition{})
	wantErr(t, "CompleteUpload twice", err, meta.ErrNotFound)
	wantErr(t, "PutPart after complete", s.PutPart(ctx, "up1", part(4, p3)), meta.ErrNotFound)
	wantErr(t, "AbortUpload after complete", s.AbortUpload(ctx, "up1"), meta.ErrNotFound)

	// Abort releases every part.
	if err := s.CreateUpload(ctx, meta.Upload{ID: "up2", Bucket: "b", Key: "big"}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []meta.Part{part(1, p2), part(2, p3), part(3, p3)} {
		if err := s.PutPart(ctx, "up2", p); err != nil {
			t.Fatal(err)
		}
	}
	wantRefs(t, ctx, s, map[int64]int64{p2.ID: 2, p3.ID: 2})
	if err := s.AbortUpload(ctx, "up2"); err != nil {
		t.Fatal(err)
	}
	wantRefs(t, ctx, s, map[int64]int64{p2.ID: 1, p3.ID: 0})
	_, err = s.CompleteUpload(ctx, "up2", obj("b", "big", "e", p2), meta.WriteCondition{})
	wantErr(t, "CompleteUpload after abort", err, meta.ErrNotFound)

	// Complete over an existing object releases the replaced manifest; a failed condition
	// leaves the upload and its parts in place.
	if err := s.CreateUpload(ctx, meta.Upload{ID: "up3", Bucket: "b", Key: "big"}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutPart(ctx, "up3", part(1, p3)); err != nil {
		t.Fatal(err)
	}
	_, err = s.CompleteUpload(ctx, "up3", obj("b", "big", "e", p3), meta.WriteCondition{IfNoneMatchStar: true})
	wantErr(t, "CompleteUpload if-none-match", err, meta.ErrPreconditionFailed)
	_, err = s.CompleteUpload(ctx, "up3", obj("b", "other", "e", p3), meta.WriteCondition{})
	wantErr(t, "CompleteUpload wrong key", err, meta.ErrInvalid)
	wantRefs(t, ctx, s, map[int64]int64{p3.ID: 1})
	prev, err := s.CompleteUpload(ctx, "up3", obj("b", "big", "e3", p3), meta.WriteCondition{IfMatch: "x-2"})
	if err != nil || prev == nil || prev.ETag != "x-2" {
		t.Fatalf("CompleteUpload over object = %+v, %v", prev, err)
	}
	wantRefs(t, ctx, s, map[int64]int64{p1b.ID: 0, p2.ID: 0, p3.ID: 1})
}

func testChunks(t *testing.T, h *harness) {
	ctx := ctxFor(t)
	s := h.newStore(t)
	sum := sha256.Sum256([]byte("content"))
	in := meta.Chunk{UID: "u-1", SHA256: sum, MD5: [16]byte{1, 2, 3}, Size: 7, Backend: "disk", Node: "n1"}
	c, created, err := s.InsertChunk(ctx, in, "ak1")
	if err != nil || !created {
		t.Fatalf("InsertChunk = %v, %v", created, err)
	}
	if c.ID == 0 || c.UID != "u-1" || c.SHA256 != sum || c.MD5 != in.MD5 || c.Size != 7 || c.Backend != "disk" ||
		c.Node != "n1" || c.Refs != 0 || c.ZeroSince == nil || c.CreatedAt.IsZero() || c.Corrupt {
		t.Errorf("InsertChunk returned %+v", c)
	}
	again, created, err := s.InsertChunk(ctx, meta.Chunk{UID: "u-2", SHA256: sum, Size: 7, Backend: "disk"}, "ak1")
	if err != nil || created || again.ID != c.ID || again.UID != "u-1" {
		t.Errorf("InsertChunk duplicate = %+v, %v, %v", again, created, err)
	}
	_, _, err = s.InsertChunk(ctx, meta.Chunk{UID: "u-1", SHA256: sha256.Sum256([]byte("other")), Size: 5}, "ak1")
	wantErr(t, "InsertChunk reusing a uid", err, meta.ErrAlreadyExists)

	for name, get := range map[string]func() (meta.Chunk, error){
		"GetChunk":   func() (meta.Chunk, error) { return s.GetChunk(ctx, c.ID) },
		"ChunkByUID": func() (meta.Chunk, error) { return s.ChunkByUID(ctx, "u-1") },
		"FindChunk":  func() (meta.Chunk, error) { return s.FindChunk(ctx, sum, "") },
	} {
		got, err := get()
		if err != nil || got.ID != c.ID || got.SHA256 != sum {
			t.Errorf("%s = %+v, %v", name, got, err)
		}
	}
	_, err = s.GetChunk(ctx, c.ID+100)
	wantErr(t, "GetChunk missing", err, meta.ErrNotFound)
	_, err = s.ChunkByUID(ctx, "nope")
	wantErr(t, "ChunkByUID missing", err, meta.ErrNotFound)
	_, err = s.FindChunk(ctx, sha256.Sum256([]byte("nope")), "")
	wantErr(t, "FindChunk missing", err, meta.ErrNotFound)

	if err := s.MoveChunk(ctx, c.ID, "s3", "", "u-9"); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkChunkCorrupt(ctx, c.ID, true); err != nil {
		t.Fatal(err)
	}
	got, _ := s.ChunkByUID(ctx, "u-9")
	if got.ID != c.ID || got.Backend != "s3" || got.Node != "" || !got.Corrupt {
		t.Errorf("after move and mark corrupt: %+v", got)
	}
	if err := s.MarkChunkCorrupt(ctx, c.ID, false); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetChunk(ctx, c.ID); got.Corrupt {
		t.Errorf("corrupt flag not cleared")
	}
	wantErr(t, "MoveChunk missing", s.MoveChunk(ctx, c.ID+100, "s3", "", "u-x"), meta.ErrNotFound)
	wantErr(t, "MarkChunkCorrupt missing", s.MarkChunkCorrupt(ctx, c.ID+100, true), meta.ErrNotFound)

	// ListChunks paging and filters; ObjectsUsingChunk.
	mustBucket(t, ctx, s, "b1")
	mustBucket(t, ctx, s, "b2")
	var ids []int64
	ids = append(ids, c.ID)
	for i := range 6 {
		cc := newChunk(t, ctx, s, fmt.Sprintf("chunk %d", i), "ak1")
		if i%2 == 0 {
			if err := s.MoveChunk(ctx, cc.ID, "s3", "", cc.UID); err != nil {
				t.Fatal(err)
			}
		}
		ids = append(ids, cc.ID)
	}
	mustPut(t, ctx, s, obj("b1", "x", "e", meta.Chunk{ID: ids[1], Size: 7}, meta.Chunk{ID: ids[2], Size: 7}))
	mustPut(t, ctx, s, obj("b1", "y", "e", meta.Chunk{ID: ids[2], Size: 7}))
	mustPut(t, ctx, s, obj("b2", "z", "e", meta.Chunk{ID: ids[3], Size: 7}))
	var all []int64
	for after := int64(0); ; {
		page, err := s.ListChunks(ctx, meta.ChunkQuery{AfterID: after, Limit: 3})
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		if len(page) > 3 {
			t.Fatalf("ListChunks returned %d > limit", len(page))
		}
		for _, c := range page {
			all = append(all, c.ID)
		}
		after = page[len(page)-1].ID
	}
	if !slices.Equal(all, ids) {
		t.Errorf("ListChunks paged = %v, want %v", all, ids)
	}
	filtered := func(q meta.ChunkQuery) []int64 {
		page, err := s.ListChunks(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		var out []int64
		for _, c := range page {
			out = append(out, c.ID)
		}
		return out
	}
	if got := filtered(meta.ChunkQuery{Backend: "s3", Limit: 100}); !slices.Equal(got, []int64{c.ID, ids[1], ids[3], ids[5]}) {
		t.Errorf("ListChunks backend=s3 = %v", got)
	}
	if got := filtered(meta.ChunkQuery{Bucket: "b1", Limit: 100}); !slices.Equal(got, []int64{ids[1], ids[2]}) {
		t.Errorf("ListChunks bucket=b1 = %v", got)
	}
	if got := filtered(meta.ChunkQuery{Bucket: "b1", Backend: "s3", Limit: 100}); !slices.Equal(got, []int64{ids[1]}) {
		t.Errorf("ListChunks bucket=b1 backend=s3 = %v", got)
	}
	users, err := s.ObjectsUsingChunk(ctx, ids[2], 10)
	if err != nil || len(users) != 2 || users[0].Key != "x" || users[1].Key != "y" || users[0].Bucket != "b1" {
		t.Errorf("ObjectsUsingChunk = %+v, %v", users, err)
	}
	if users, err := s.ObjectsUsingChunk(ctx, ids[2], 1); err != nil || len(users) != 1 {
		t.Errorf("ObjectsUsingChunk limit 1 = %+v, %v", users, err)
	}
	if users, err := s.ObjectsUsingChunk(ctx, ids[4], 10); err != nil || len(users) != 0 {
		t.Errorf("ObjectsUsingChunk unused = %+v, %v", users, err)
	}
}

func testConcurrentInsertChunk(t *testing.T, h *harness) {
	ctx := ctxFor(t)
	s := h.newStore(t)
	sum := sha256.Sum256([]byte("same content"))
	const n = 10
	type result struct {
		c       meta.Chunk
		created bool
		err     error
	}
	res := make([]result, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, created, err := s.InsertChunk(ctx, meta.Chunk{UID: fmt.Sprintf("uid-%d", i), SHA256: sum, Size: 12}, fmt.Sprintf("scope-%d", i%3))
			res[i] = result{c, created, err}
		}()
	}
	wg.Wait()
	created := 0
	for i, r := range res {
		if r.err != nil {
			t.Fatalf("insert %d: %v", i, r.err)
		}
		if r.created {
			created++
		}
		if r.c.ID != res[0].c.ID {
			t.Errorf("insert %d got chunk %d, insert 0 got %d", i, r.c.ID, res[0].c.ID)
		}
	}
	if created != 1 {
		t.Errorf("%d inserts created the chunk, want 1", created)
	}
	for i := range 3 {
		if _, err := s.FindChunk(ctx, sum, fmt.Sprintf("scope-%d", i)); err != nil {
			t.Errorf("scope-%d not recorded: %v", i, err)
		}
	}
}

func testChunkScopes(t *testing.T, h *harness) {
	ctx := ctxFor(t)
	s := h.newStore(t)
	sum := sha256.Sum256([]byte("secret"))
	if _, _, err := s.InsertChunk(ctx, meta.Chunk{UID: "a", SHA256: sum, Size: 6}, "alice"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		scope string
		want  error
	}{{"alice", nil}, {"", nil}, {"bob", meta.ErrNotFound}}
	for _, tc := range tests {
		_, err := s.FindChunk(ctx, sum, tc.scope)
		wantErr(t, "FindChunk scope "+tc.scope, err, tc.want)
	}
	// Bob uploading the same content himself earns the right to find it.
	c, created, err := s.InsertChunk(ctx, meta.Chunk{UID: "b", SHA256: sum, Size: 6}, "bob")
	if err != nil || created {
		t.Fatalf("InsertChunk by bob = %v, %v", created, err)
	}
	if got, err := s.FindChunk(ctx, sum, "bob"); err != nil || got.ID != c.ID {
		t.Errorf("FindChunk bob after upload = %+v, %v", got, err)
	}
}

func testGC(t *testing.T, h *harness) {
	ctx := ctxFor(t)
	s := h.newStore(t)
	mustBucket(t, ctx, s, "b")
	old := newChunk(t, ctx, s, "old", "scope")
	used := newChunk(t, ctx, s, "used", "scope")
	mustPut(t, ctx, s, obj("b", "k", "e", used))
	time.Sleep(20 * time.Millisecond)
	cutoff := time.Now()
	time.Sleep(20 * time.Millisecond)
	young := newChunk(t, ctx, s, "young", "scope")

	cands, err := s.GCCandidates(ctx, cutoff, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(cands) != 1 || cands[0].ID != old.ID {
		t.Fatalf("GCCandidates = %+v, want only %d", cands, old.ID)
	}
	if cands, _ := s.GCCandidates(ctx, time.Now().Add(time.Second), 1); len(cands) != 1 {
		t.Errorf("GCCandidates limit 1 returned %d", len(cands))
	}
	for _, tc := range []struct {
		name string
		id   int64
		want bool
	}{
		{"referenced", used.ID, false},
		{"too young", young.ID, false},
		{"candidate", old.ID, true},
		{"already deleted", old.ID, false},
	} {
		got, err := s.DeleteChunkIfUnreferenced(ctx, tc.id, cutoff)
		if err != nil || got != tc.want {
			t.Errorf("DeleteChunkIfUnreferenced %s = %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
	_, err = s.GetChunk(ctx, old.ID)
	wantErr(t, "GetChunk collected", err, meta.ErrNotFound)
	_, err = s.FindChunk(ctx, old.SHA256, "scope")
	wantErr(t, "FindChunk collected", err, meta.ErrNotFound)
	// A put referencing a collected chunk fails and changes nothing.
	_, err = s.PutObject(ctx, obj("b", "k", "e2", old, used), meta.WriteCondition{})
	wantErr(t, "PutObject with collected chunk", err, meta.ErrConflict)
	if o, err := s.GetObject(ctx, "b", "k"); err != nil || o.ETag != "e" {
		t.Errorf("object after failed put = %+v, %v", o, err)
	}
	wantRefs(t, ctx, s, map[int64]int64{used.ID: 1})
	// The content can be indexed again afterwards.
	if _, created, err := s.InsertChunk(ctx, meta.Chunk{UID: "again", SHA256: old.SHA256, Size: 3}, "scope"); err != nil || !created {
		t.Errorf("re-insert after GC = %v, %v", created, err)
	}
}

func testGCRace(t *testing.T, h *harness) {
	ctx := ctxFor(t)
	s := h.newStore(t)
	mustBucket(t, ctx, s, "b")
	c1 := newChunk(t, ctx, s, "one", "scope")
	c2 := newChunk(t, ctx, s, "two", "scope")
	time.Sleep(20 * time.Millisecond)
	cutoff := time.Now()
	cands, err := s.GCCandidates(ctx, cutoff, 100)
	if err != nil || len(cands) != 2 {
		t.Fatalf("GCCandidates = %+v, %v", cands, err)
	}
	// After the candidates were listed: a reference is added to c1, and c2 is looked up
	// again by an uploader (dedup hit) who is about to reference it.
	mustPut(t, ctx, s, obj("b", "k", "e", c1))
	if _, created, err := s.InsertChunk(ctx, meta.Chunk{UID: "dup", SHA256: c2.SHA256, Size: c2.Size}, "scope"); err != nil || created {
		t.Fatalf("InsertChunk dedup hit = %v, %v", created, err)
	}
	for _, c := range cands {
		deleted, err := s.DeleteChunkIfUnreferenced(ctx, c.ID, cutoff)
		if err != nil || deleted {
			t.Errorf("DeleteChunkIfUnreferenced(%d) = %v, %v; want kept", c.ID, deleted, err)
		}
	}
	mustPut(t, ctx, s, obj("b", "k2", "e", c2))
	wantRefs(t, ctx, s, map[int64]int64{c1.ID: 1, c2.ID: 1})

	// Concurrently: GC deleting while writers reference. Every put either succeeds (and the
	// chunk survives) or fails with ErrConflict (and the chunk is gone).
	for round := range 5 {
		c := newChunk(t, ctx, s, fmt.Sprintf("racy %d", round), "scope")
		time.Sleep(5 * time.Millisecond)
		cut := time.Now()
		var wg sync.WaitGroup
		var putErr error
		var deleted bool
		wg.Add(2)
		go func() {
			defer wg.Done()
			_, putErr = s.PutObject(ctx, obj("b", fmt.Sprintf("r%d", round), "e", c), meta.WriteCondition{})
		}()
		go func() {
			defer wg.Done()
			deleted, _ = s.DeleteChunkIfUnreferenced(ctx, c.ID, cut)
		}()
		wg.Wait()
		switch {
		case putErr == nil && deleted:
			t.Fatalf("round %d: put succeeded and chunk was deleted", round)
		case putErr == nil:
			wantRefs(t, ctx, s, map[int64]int64{c.ID: 1})
		case errors.Is(putErr, meta.ErrConflict) && deleted:
			if _, err := s.GetObject(ctx, "b", fmt.Sprintf("r%d", round)); !errors.Is(err, meta.ErrNotFound) {
				t.Errorf("round %d: object exists after its chunk was collected", round)
			}
		default:
			t.Errorf("round %d: put %v, deleted %v", round, putErr, deleted)
		}
	}
}

func testObjectSHA256(t *testing.T, h *harness) {
	ctx := ctxFor(t)
	s := h.newStore(t)
	mustBucket(t, ctx, s, "b")
	c := newChunk(t, ctx, s, "whole", "scope")
	o := obj("b", "k", "etag-1", c)
	o.Scope = "alice"
	mustPut(t, ctx, s, o)
	sum := sha256.Sum256([]byte("whole"))
	_, err := s.FindObjectBySHA256(ctx, sum, "")
	wantErr(t, "FindObjectBySHA256 before hashing", err, meta.ErrNotFound)
	md := md5.Sum([]byte("whole"))
	wantErr(t, "SetObjectDigests stale etag", s.SetObjectDigests(ctx, "b", "k", "etag-0", sum[:], md[:]), meta.ErrPreconditionFailed)
	wantErr(t, "SetObjectDigests missing", s.SetObjectDigests(ctx, "b", "nok", "etag-1", sum[:], md[:]), meta.ErrNotFound)
	wantErr(t, "SetObjectDigests bad sum", s.SetObjectDigests(ctx, "b", "k", "etag-1", sum[:5], md[:]), meta.ErrInvalid)
	wantErr(t, "SetObjectDigests bad md5", s.SetObjectDigests(ctx, "b", "k", "etag-1", sum[:], md[:5]), meta.ErrInvalid)
	// The hash job records the SHA-256 alone; an instant upload adds the MD5 later, and
	// a job that runs again (a lease that expired) keeps it.
	for i, tc := range []struct {
		md5, want []byte
	}{{nil, nil}, {md[:], md[:]}, {nil, md[:]}} {
		if err := s.SetObjectDigests(ctx, "b", "k", "etag-1", sum[:], tc.md5); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetObject(ctx, "b", "k")
		if err != nil || string(got.SHA256) != string(sum[:]) || string(got.MD5) != string(tc.want) {
			t.Errorf("step %d: GetObject SHA256 = %x, MD5 = %x, %v; want MD5 %x", i, got.SHA256, got.MD5, err, tc.want)
		}
	}
	for _, tc := range []struct {
		scope string
		want  error
	}{{"", nil}, {"alice", nil}, {"bob", meta.ErrNotFound}} {
		f, err := s.FindObjectBySHA256(ctx, sum, tc.scope)
		wantErr(t, "FindObjectBySHA256 scope "+tc.scope, err, tc.want)
		if err == nil && (f.Key != "k" || len(f.Manifest) != 1 || f.Manifest[0].Chunk.ID != c.ID) {
			t.Errorf("FindObjectBySHA256 = %+v", f)
		}
	}
	// Overwriting drops the hash with the old version.
	mustPut(t, ctx, s, obj("b", "k", "etag-2", c))
	_, err = s.FindObjectBySHA256(ctx, sum, "")
	wantErr(t, "FindObjectBySHA256 after overwrite", err, meta.ErrNotFound)
}

// listingKeys covers prefixes, delimiters, multibyte UTF-8 and bytes above and below '/'.
func listingKeys() []string {
	return []string{
		"a", "a.b", "a/", "a/b", "a/b/c", "a/b/d", "a/c", "a0", "a~", "a\u007f",
		"b", "b/x/y", "b/x/z", "bb/1",
		"c/ü/1", "c/ü/2", "c/üx", "c/é", "é", "é/x", "éa",
		"日本/語", "日本/x", "日本語", "\U0001F600/x", "\U0001F600y",
		"z/", "z//", "z//x", "zz",
	}
}

// reference computes a listing page from the full key set by the contract's rules.
func reference(keys []string, q meta.ListQuery) (objs, cps []string, truncated bool, next string) {
	limit := q.Limit
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	var entries []string
	isCP := map[string]bool{}
	for _, k := range keys {
		if !strings.HasPrefix(k, q.Prefix) {
			continue
		}
		e := k
		if q.Delimiter != "" {
			if i := strings.Index(k[len(q.Prefix):], q.Delimiter); i >= 0 {
				e = k[:len(q.Prefix)+i+len(q.Delimiter)]
				isCP[e] = true
			}
		}
		if e <= q.After || (len(entries) > 0 && entries[len(entries)-1] == e) {
			continue
		}
		entries = append(entries, e)
	}
	if len(entries) > limit {
		truncated = true
		entries = entries[:limit]
	}
	for _, e := range entries {
		if isCP[e] {
			cps = append(cps, e)
		} else {
			objs = append(objs, e)
		}
	}
	if len(entries) > 0 {
		next = entries[len(entries)-1]
	}
	return
}

func testListObjects(t *testing.T, h *harness) {
	ctx := ctxFor(t)
	s := h.newStore(t)
	mustBucket(t, ctx, s, "b")
	mustBucket(t, ctx, s, "other")
	c := newChunk(t, ctx, s, "x", "scope")
	keys := listingKeys()
	sort.Strings(keys) // byte order
	for _, k := range keys {
		mustPut(t, ctx, s, obj("b", k, "e-"+k, c))
	}
	mustPut(t, ctx, s, obj("other", "a/b", "e", c)) // must not leak into b's listing

	check := func(t *testing.T, q meta.ListQuery) meta.ListResult {
		t.Helper()
		res, err := s.ListObjects(ctx, "b", q)
		if err != nil {
			t.Fatalf("ListObjects(%+v): %v", q, err)
		}
		wo, wc, wt, wn := reference(keys, q)
		var gotKeys []string
		for _, o := range res.Objects {
			gotKeys = append(gotKeys, o.Key)
			if o.ETag != "e-"+o.Key || o.Size != 1 || len(o.Manifest) != 0 || o.Bucket != "b" {
				t.Errorf("listed object %+v", o)
			}
		}
		if !slices.Equal(gotKeys, wo) || !slices.Equal(res.CommonPrefixes, wc) || res.Truncated != wt || res.NextAfter != wn {
			t.Errorf("ListObjects(%#v)\n got keys %q prefixes %q truncated %v next %q\nwant keys %q prefixes %q truncated %v next %q",
				q, gotKeys, res.CommonPrefixes, res.Truncated, res.NextAfter, wo, wc, wt, wn)
		}
		return res
	}
	// Explicit edge cases.
	for _, q := range []meta.ListQuery{
		{},
		{Delimiter: "/"},
		{Prefix: "a/", Delimiter: "/"},
		{Prefix: "a", Delimiter: "/"},
		{Delimiter: "/", After: "a/"},    // After equal to a common prefix skips it
		{Delimiter: "/", After: "a/b/c"}, // After inside a common prefix
		{Delimiter: "/", After: "a"},
		{Prefix: "c/", Delimiter: "ü"},
		{Prefix: "日本", Delimiter: "/"},
		{Delimiter: "/x"},
		{Prefix: "z/", Delimiter: "/"},
		{Prefix: "nothing"},
		{Prefix: "a", After: "b"},
		{Prefix: "b", After: "a"},
		{After: "\U0001F600/x"},
		{Limit: 1},
		{Delimiter: "/", Limit: 1},
	} {
		check(t, q)
	}
	// Page through every combination with small limits, following NextAfter.
	for _, prefix := range []string{"", "a", "a/", "c/", "é", "z/"} {
		for _, delim := range []string{"", "/", "ü", "b/", "//"} {
			for _, limit := range []int{1, 2, 3, 1000} {
				q := meta.ListQuery{Prefix: prefix, Delimiter: delim, Limit: limit}
				for pages := 0; ; pages++ {
					if pages > len(keys)+1 {
						t.Fatalf("listing %#v does not terminate", q)
					}
					res := check(t, q)
					if !res.Truncated {
						break
					}
					q.After = res.NextAfter
				}
			}
		}
	}
}

func testListObjectsEmpty(t *testing.T, h *harness) {
	ctx := ctxFor(t)
	s := h.newStore(t)
	mustBucket(t, ctx, s, "b")
	for _, q := range []meta.ListQuery{{}, {Delimiter: "/"}, {Prefix: "x", After: "y", Limit: 1}} {
		res, err := s.ListObjects(ctx, "b", q)
		if err != nil || len(res.Objects) != 0 || len(res.CommonPrefixes) != 0 || res.Truncated || res.NextAfter != "" {
			t.Errorf("ListObjects(empty, %+v) = %+v, %v", q, res, err)
		}
	}
}

func testUploads(t *testing.T, h *harness) {
	ctx := ctxFor(t)
	s := h.newStore(t)
	mustBucket(t, ctx, s, "b")
	init := time.Now().Add(-2 * time.Hour).Truncate(time.Millisecond)
	u := meta.Upload{
		ID: "upload-1", Bucket: "b", Key: "big/file", Owner: "ak1", Scope: "ak1", ContentType: "video/mp4",
		Headers: map[string]string{"Cache-Control": "max-age=1"}, UserMeta: map[string]string{"a": "b"},
		ChecksumAlgo: "CRC64NVME", ChecksumType: "FULL_OBJECT", Initiated: init,
	}
	if err := s.CreateUpload(ctx, u); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "CreateUpload duplicate id", s.CreateUpload(ctx, u), meta.ErrAlreadyExists)
	wantErr(t, "CreateUpload missing bucket", s.CreateUpload(ctx, meta.Upload{ID: "x", Bucket: "nob", Key: "k"}), meta.ErrNotFound)
	got, err := s.GetUpload(ctx, "b", "big/file", "upload-1")
	if err != nil || got.ID != u.ID || got.Owner != "ak1" || got.ContentType != "video/mp4" || got.Headers["Cache-Control"] != "max-age=1" ||
		got.UserMeta["a"] != "b" || got.ChecksumAlgo != "CRC64NVME" || got.ChecksumType != "FULL_OBJECT" || !got.Initiated.Equal(init) {
		t.Errorf("GetUpload = %+v, %v", got, err)
	}
	_, err = s.GetUpload(ctx, "b", "other/key", "upload-1")
	wantErr(t, "GetUpload wrong key", err, meta.ErrNotFound)
	_, err = s.GetUpload(ctx, "b", "big/file", "nope")
	wantErr(t, "GetUpload missing", err, meta.ErrNotFound)

	var chunks []meta.Chunk
	for i := range 7 {
		chunks = append(chunks, newChunk(t, ctx, s, fmt.Sprintf("part %d", i), "ak1"))
	}
	// Parts put out of order; part 5 built from two extents (UploadPartCopy).
	for _, n := range []int{3, 1, 2, 5, 4} {
		p := meta.Part{Number: n, Size: chunks[n].Size, ETag: fmt.Sprintf("e%d", n), Checksums: map[string]string{"CRC32": fmt.Sprint(n)},
			Extents: []meta.Extent{{PartNumber: n, ChunkID: chunks[n].ID, Length: chunks[n].Size}}}
		if n == 5 {
			p.Extents = []meta.Extent{{PartNumber: 5, ChunkID: chunks[5].ID, Length: 2}, {PartNumber: 5, ChunkID: chunks[6].ID, ChunkOffset: 2, Length: 4}}
			p.Size = 6
		}
		if err := s.PutPart(ctx, "upload-1", p); err != nil {
			t.Fatalf("PutPart %d: %v", n, err)
		}
	}
	for _, tc := range []struct {
		name string
		p    meta.Part
		id   string
		want error
	}{
		{"missing upload", meta.Part{Number: 1, Size: 6, Extents: []meta.Extent{{ChunkID: chunks[0].ID, Length: 6}}}, "nope", meta.ErrNotFound},
		{"part number 0", meta.Part{Number: 0}, "upload-1", meta.ErrInvalid},
		{"part number 10001", meta.Part{Number: 10001}, "upload-1", meta.ErrInvalid},
		{"missing chunk", meta.Part{Number: 9, Size: 1, Extents: []meta.Extent{{ChunkID: chunks[6].ID + 99, Length: 1}}}, "upload-1", meta.ErrConflict},
	} {
		wantErr(t, "PutPart "+tc.name, s.PutPart(ctx, tc.id, tc.p), tc.want)
	}
	var numbers []int
	after := 0
	for {
		parts, truncated, err := s.ListParts(ctx, "upload-1", after, 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(parts) > 2 {
			t.Fatalf("ListParts returned %d parts for limit 2", len(parts))
		}
		for _, p := range parts {
			numbers = append(numbers, p.Number)
			if p.ETag != fmt.Sprintf("e%d", p.Number) || p.Checksums["CRC32"] != fmt.Sprint(p.Number) || len(p.Extents) == 0 ||
				p.Extents[0].Chunk.ID != p.Extents[0].ChunkID || p.Extents[0].Chunk.UID == "" || p.LastModified.IsZero() {
				t.Errorf("ListParts part %+v", p)
			}
			if p.Number == 5 && (len(p.Extents) != 2 || p.Extents[1].ChunkOffset != 2 || p.Extents[1].Chunk.ID != chunks[6].ID || p.Size != 6) {
				t.Errorf("part 5 extents = %+v", p.Extents)
			}
		}
		if !truncated {
			break
		}
		after = parts[len(parts)-1].Number
	}
	if !slices.Equal(numbers, []int{1, 2, 3, 4, 5}) {
		t.Errorf("ListParts paged = %v", numbers)
	}
	_, _, err = s.ListParts(ctx, "nope", 0, 10)
	wantErr(t, "ListParts missing upload", err, meta.ErrNotFound)

	if err := s.CreateUpload(ctx, meta.Upload{ID: "upload-2", Bucket: "b", Key: "fresh"}); err != nil {
		t.Fatal(err)
	}
	stale, err := s.StaleUploads(ctx, time.Now().Add(-time.Hour), 10)
	if err != nil || len(stale) != 1 || stale[0].ID != "upload-1" {
		t.Errorf("StaleUploads = %+v, %v", stale, err)
	}
	// Concurrent re-sends of one part number: one part, one reference in the end.
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := chunks[i%2]
			err := s.PutPart(ctx, "upload-2", meta.Part{Number: 1, Size: c.Size, ETag: "x", Extents: []meta.Extent{{ChunkID: c.ID, Length: c.Size}}})
			if err != nil {
				t.Errorf("concurrent PutPart: %v", err)
			}
		}()
	}
	wg.Wait()
	parts, _, err := s.ListParts(ctx, "upload-2", 0, 10)
	if err != nil || len(parts) != 1 {
		t.Fatalf("ListParts after concurrent PutPart = %+v, %v", parts, err)
	}
	if r0, r1 := refs(t, ctx, s, chunks[0].ID), refs(t, ctx, s, chunks[1].ID); r0+r1 != 2 { // one each from upload-1's part 1 and upload-2's part 1
		t.Errorf("refs after concurrent PutPart: %d + %d, want 2", r0, r1)
	}
}

func testListUploads(t *testing.T, h *harness) {
	ctx := ctxFor(t)
	s := h.newStore(t)
	mustBucket(t, ctx, s, "b")
	mustBucket(t, ctx, s, "other")
	type up struct{ key, id string }
	ups := []up{{"a/1", "u1"}, {"a/1", "u2"}, {"a/2", "u3"}, {"b", "u4"}, {"b", "u5"}, {"c/x/y", "u6"}, {"ü/1", "u7"}}
	for _, u := range ups {
		if err := s.CreateUpload(ctx, meta.Upload{ID: u.id, Bucket: "b", Key: u.key}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateUpload(ctx, meta.Upload{ID: "u0", Bucket: "other", Key: "a/1"}); err != nil {
		t.Fatal(err)
	}
	render := func(r meta.UploadListResult) string {
		var parts []string
		for _, u := range r.Uploads {
			parts = append(parts, u.Key+"#"+u.ID)
		}
		for _, p := range r.CommonPrefixes {
			parts = append(parts, "P:"+p)
		}
		return fmt.Sprintf("%s trunc=%v next=%s#%s", strings.Join(parts, ","), r.Truncated, r.NextKeyMarker, r.NextUploadIDMarker)
	}
	for _, tc := range []struct {
		q    meta.UploadListQuery
		want string
	}{
		{meta.UploadListQuery{}, "a/1#u1,a/1#u2,a/2#u3,b#u4,b#u5,c/x/y#u6,ü/1#u7 trunc=false next=ü/1#u7"},
		{meta.UploadListQuery{Delimiter: "/"}, "b#u4,b#u5,P:a/,P:c/,P:ü/ trunc=false next=ü/#"},
		{meta.UploadListQuery{Prefix: "a/"}, "a/1#u1,a/1#u2,a/2#u3 trunc=false next=a/2#u3"},
		{meta.UploadListQuery{Limit: 2}, "a/1#u1,a/1#u2 trunc=true next=a/1#u2"},
		{meta.UploadListQuery{KeyMarker: "a/1", UploadIDMarker: "u1", Limit: 2}, "a/1#u2,a/2#u3 trunc=true next=a/2#u3"},
		{meta.UploadListQuery{KeyMarker: "a/1", Limit: 2}, "a/2#u3,b#u4 trunc=true next=b#u4"},
		{meta.UploadListQuery{KeyMarker: "a/", Delimiter: "/"}, "b#u4,b#u5,P:c/,P:ü/ trunc=false next=ü/#"},
		{meta.UploadListQuery{Prefix: "c/", Delimiter: "/"}, "P:c/x/ trunc=false next=c/x/#"},
		{meta.UploadListQuery{Prefix: "zzz"}, " trunc=false next=#"},
	} {
		res, err := s.ListUploads(ctx, "b", tc.q)
		if err != nil {
			t.Fatal(err)
		}
		if got := render(res); got != tc.want {
			t.Errorf("ListUploads(%+v)\n got %s\nwant %s", tc.q, got, tc.want)
		}
	}
	// Paging one at a time with a delimiter visits every entry once.
	var seen []string
	q := meta.UploadListQuery{Delimiter: "/", Limit: 1}
	for i := 0; i < 20; i++ {
		res, err := s.ListUploads(ctx, "b", q)
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range res.Uploads {
			seen = append(seen, u.ID)
		}
		seen = append(seen, res.CommonPrefixes...)
		if !res.Truncated {
			break
		}
		q.KeyMarker, q.UploadIDMarker = res.NextKeyMarker, res.NextUploadIDMarker
	}
	if want := []string{"a/", "u4", "u5", "c/", "ü/"}; !slices.Equal(seen, want) {
		t.Errorf("paged ListUploads = %v, want %v", seen, want)
	}
}

func testJobs(t *testing.T, h *harness) {
	ctx := ctxFor(t)
	s := h.newStore(t)
	_, err := s.Claim(ctx, nil, time.Minute)
	wantErr(t, "Claim on empty queue", err, meta.ErrNotFound)
	now := time.Now()
	if err := s.Enqueue(ctx, "hash", "second", now.Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := s.Enqueue(ctx, "hash", "first", now.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.Enqueue(ctx, "hash", "later", now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.Enqueue(ctx, "abort", "other kind", time.Time{}); err != nil {
		t.Fatal(err)
	}
	j, err := s.Claim(ctx, []string{"hash"}, time.Minute)
	if err != nil || j.Payload != "first" || j.State != "running" || j.Attempts != 1 || j.LeaseUntil == nil || j.Kind != "hash" {
		t.Fatalf("Claim = %+v, %v", j, err)
	}
	j2, err := s.Claim(ctx, []string{"hash"}, time.Minute)
	if err != nil || j2.Payload != "second" {
		t.Fatalf("second Claim = %+v, %v", j2, err)
	}
	_, err = s.Claim(ctx, []string{"hash"}, time.Minute)
	wantErr(t, "Claim with only future jobs", err, meta.ErrNotFound)
	j3, err := s.Claim(ctx, []string{"abort", "other"}, time.Minute)
	if err != nil || j3.Kind != "abort" {
		t.Fatalf("Claim abort = %+v, %v", j3, err)
	}
	st, _ := s.Stats(ctx)
	if st.Jobs["running"] != 3 || st.Jobs["pending"] != 1 {
		t.Errorf("job stats = %v", st.Jobs)
	}
	// Finish: done; retry (pending again with the error kept); failed.
	if err := s.Finish(ctx, j.ID, "", time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Finish(ctx, j2.ID, "boom", time.Now().Add(-time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if err := s.Finish(ctx, j3.ID, "fatal", time.Time{}); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "Finish missing", s.Finish(ctx, j3.ID+100, "", time.Time{}), meta.ErrNotFound)
	retry, err := s.Claim(ctx, nil, time.Minute)
	if err != nil || retry.ID != j2.ID || retry.Attempts != 2 || retry.LastError != "boom" {
		t.Errorf("Claim retried job = %+v, %v", retry, err)
	}
	st, _ = s.Stats(ctx)
	if st.Jobs["done"] != 1 || st.Jobs["failed"] != 1 || st.Jobs["running"] != 1 || st.Jobs["pending"] != 1 {
		t.Errorf("job stats = %v", st.Jobs)
	}
}

func testJobLeaseExpiry(t *testing.T, h *harness) {
	ctx := ctxFor(t)
	s := h.newStore(t)
	if err := s.Enqueue(ctx, "k", "p", time.Time{}); err != nil {
		t.Fatal(err)
	}
	const lease = 300 * time.Millisecond
	start := time.Now()
	j, err := s.Claim(ctx, []string{"k"}, lease)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Claim(ctx, []string{"k"}, time.Minute)
	if time.Since(start) >= lease {
		// A starved machine (CI beside other work) took longer than the lease for two
		// claims: the second may rightly have taken the job over, so nothing is judged.
		t.Logf("two claims took %v, longer than the %v lease: not judged", time.Since(start), lease)
		return
	}
	wantErr(t, "Claim while leased", err, meta.ErrNotFound)
	time.Sleep(time.Until(start.Add(lease + 30*time.Millisecond)))
	// The worker crashed: its job is taken up again once the lease expires.
	again, err := s.Claim(ctx, []string{"k"}, time.Minute)
	if err != nil || again.ID != j.ID || again.Attempts != 2 {
		t.Errorf("Claim after lease expiry = %+v, %v", again, err)
	}
}

func claimAll(t *testing.T, ctx context.Context, stores []meta.MetaStore, jobs int) {
	t.Helper()
	for i := range jobs {
		if err := stores[0].Enqueue(ctx, "k", fmt.Sprint(i), time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	claimed := map[int64]int{}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := stores[w%len(stores)]
			for {
				j, err := s.Claim(ctx, []string{"k"}, time.Minute)
				if errors.Is(err, meta.ErrNotFound) {
					return
				}
				if err != nil {
					t.Errorf("Claim: %v", err)
					return
				}
				mu.Lock()
				claimed[j.ID]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(claimed) != jobs {
		t.Errorf("%d distinct jobs claimed, want %d", len(claimed), jobs)
	}
	for id, n := range claimed {
		if n != 1 {
			t.Errorf("job %d claimed %d times", id, n)
		}
	}
}

func testConcurrentClaim(t *testing.T, h *harness) {
	ctx := ctxFor(t)
	claimAll(t, ctx, []meta.MetaStore{h.newStore(t)}, 40)
}

func (h *harness) pair(t *testing.T) (meta.MetaStore, meta.MetaStore) {
	if h.cfg.pair == nil {
		t.Skip("no WithSharedPair harness: cross-store behaviour not tested")
	}
	return h.cfg.pair(t)
}

func testClaimAcrossStores(t *testing.T, h *harness) {
	ctx := ctxFor(t)
	a, b := h.pair(t)
	claimAll(t, ctx, []meta.MetaStore{a, b}, 40)
}

func testNodesAndSettings(t *testing.T, h *harness) {
	ctx := ctxFor(t)
	s := h.newStore(t)
	hb := time.Now().Truncate(time.Millisecond)
	for _, n := range []meta.Node{{ID: "n2", Address: "10.0.0.2:9000", Heartbeat: hb}, {ID: "n1", Address: "old:1", Heartbeat: hb}, {ID: "n1", Address: "10.0.0.1:9000", Heartbeat: hb.Add(time.Second)}} {
		if err := s.Heartbeat(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	nodes, err := s.ListNodes(ctx)
	if err != nil || len(nodes) != 2 || nodes[0].ID != "n1" || nodes[0].Address != "10.0.0.1:9000" || !nodes[0].Heartbeat.Equal(hb.Add(time.Second)) || nodes[1].ID != "n2" {
		t.Errorf("ListNodes = %+v, %v", nodes, err)
	}
	v, err := s.GetOrCreateSetting(ctx, "secret", "first")
	if err != nil || v != "first" {
		t.Errorf("GetOrCreateSetting = %q, %v", v, err)
	}
	v, err = s.GetOrCreateSetting(ctx, "secret", "second")
	if err != nil || v != "first" {
		t.Errorf("GetOrCreateSetting again = %q, %v", v, err)
	}
	// Concurrent first calls agree on one value.
	vals := make([]string, 8)
	var wg sync.WaitGroup
	for i := range vals {
		wg.Add(1)
		go func() {
			defer wg.Done()
			vals[i], _ = s.GetOrCreateSetting(ctx, "race", fmt.Sprint(i))
		}()
	}
	wg.Wait()
	for _, v := range vals {
		if v != vals[0] || v == "" {
			t.Errorf("concurrent GetOrCreateSetting returned %q", vals)
			break
		}
	}
}

func lockSteps(t *testing.T, ctx context.Context, a, b meta.MetaStore) {
	t.Helper()
	try := func(s meta.MetaStore, owner string, ttl time.Duration, want bool) {
		t.Helper()
		got, err := s.TryLock(ctx, "gc", owner, ttl)
		if err != nil || got != want {
			t.Errorf("TryLock(%s) = %v, %v; want %v", owner, got, err, want)
		}
	}
	try(a, "alice", time.Minute, true)
	try(b, "bob", time.Minute, false)
	try(a, "alice", 60*time.Millisecond, true) // re-taking extends (here: shortens) it
	if err := b.Unlock(ctx, "gc", "bob"); err != nil {
		t.Errorf("Unlock by non-owner: %v", err)
	}
	try(b, "bob", time.Minute, false) // still alice's
	time.Sleep(100 * time.Millisecond)
	try(b, "bob", time.Minute, true) // alice's lock expired
	try(a, "alice", time.Minute, false)
	if err := b.Unlock(ctx, "gc", "bob"); err != nil {
		t.Fatal(err)
	}
	try(a, "alice", time.Minute, true)
	try(b, "bob-other-lock", time.Minute, false)
	if got, err := b.TryLock(ctx, "other", "bob", time.Minute); err != nil || !got {
		t.Errorf("independent lock name: %v, %v", got, err)
	}
}

func testLocks(t *testing.T, h *harness) {
	ctx := ctxFor(t)
	s := h.newStore(t)
	lockSteps(t, ctx, s, s)
	// Concurrent contenders: exactly one wins.
	const n = 10
	wins := make([]bool, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := s.TryLock(ctx, "contended", fmt.Sprintf("owner-%d", i), time.Minute)
			if err != nil {
				t.Errorf("TryLock: %v", err)
			}
			wins[i] = ok
		}()
	}
	wg.Wait()
	count := 0
	for _, w := range wins {
		if w {
			count++
		}
	}
	if count != 1 {
		t.Errorf("%d owners took the lock, want 1", count)
	}
}

func testLocksAcrossStores(t *testing.T, h *harness) {
	ctx := ctxFor(t)
	a, b := h.pair(t)
	lockSteps(t, ctx, a, b)
}

func testStats(t *testing.T, h *harness) {
	ctx := ctxFor(t)
	s := h.newStore(t)
	st, err := s.Stats(ctx)
	if err != nil || st.Objects != 0 || st.Chunks != 0 || st.LogicalBytes != 0 || st.StoredBytes != 0 || st.Uploads != 0 {
		t.Errorf("Stats on empty store = %+v, %v", st, err)
	}
	mustBucket(t, ctx, s, "b")
	c := newChunk(t, ctx, s, "0123456789", "scope")
	newChunk(t, ctx, s, "abc", "scope")
	mustPut(t, ctx, s, obj("b", "k1", "e", c))
	mustPut(t, ctx, s, obj("b", "k2", "e", c, c))
	if err := s.CreateUpload(ctx, meta.Upload{ID: "u", Bucket: "b", Key: "k3"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Enqueue(ctx, "hash", "", time.Time{}); err != nil {
		t.Fatal(err)
	}
	st, err = s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := meta.Stats{Objects: 2, LogicalBytes: 30, Chunks: 2, StoredBytes: 13, Uploads: 1}
	if st.Objects != want.Objects || st.LogicalBytes != want.LogicalBytes || st.Chunks != want.Chunks ||
		st.StoredBytes != want.StoredBytes || st.Uploads != want.Uploads || st.Jobs["pending"] != 1 {
		t.Errorf("Stats = %+v, want %+v and 1 pending job", st, want)
	}
}

func testLargeManifest(t *testing.T, h *harness) {
	ctx := ctxFor(t)
	s := h.newStore(t)
	mustBucket(t, ctx, s, "b")
	const parts = 1000
	const extents = 10000
	chunks := make([]meta.Chunk, parts)
	for i := range chunks {
		chunks[i] = newChunk(t, ctx, s, fmt.Sprintf("part %05d", i), "scope")
	}
	o := meta.Object{Bucket: "b", Key: "huge", ETag: "x-1000"}
	for i := range extents {
		c := chunks[i%parts]
		o.Manifest = append(o.Manifest, meta.Extent{PartNumber: i%parts + 1, ChunkID: c.ID, ChunkOffset: 1, Length: c.Size - 1})
		o.Size += c.Size - 1
	}
	start := time.Now()
	mustPut(t, ctx, s, o)
	putTook := time.Since(start)
	start = time.Now()
	got, err := s.GetObject(ctx, "b", "huge")
	getTook := time.Since(start)
	if err != nil || len(got.Manifest) != extents || got.Size != o.Size {
		t.Fatalf("GetObject huge: %d extents, %v", len(got.Manifest), err)
	}
	for i, e := range got.Manifest {
		if e.ChunkID != o.Manifest[i].ChunkID || e.Chunk.ID != e.ChunkID || e.Chunk.UID != chunks[i%parts].UID {
			t.Fatalf("extent %d = %+v", i, e)
		}
	}
	wantRefs(t, ctx, s, map[int64]int64{chunks[0].ID: extents / parts, chunks[parts-1].ID: extents / parts})
	start = time.Now()
	if _, err := s.DeleteObject(ctx, "b", "huge", meta.WriteCondition{}); err != nil {
		t.Fatal(err)
	}
	delTook := time.Since(start)
	t.Logf("%d-extent manifest over %d chunks: put %v, get %v, delete %v", extents, parts, putTook, getTook, delTook)
	if putTook > 5*time.Second || getTook > 5*time.Second || delTook > 5*time.Second {
		t.Errorf("large manifest too slow: put %v get %v delete %v", putTook, getTook, delTook)
	}
	wantRefs(t, ctx, s, map[int64]int64{chunks[0].ID: 0, chunks[parts-1].ID: 0})
}

func testWritersAcrossStores(t *testing.T, h *harness) {
	ctx := ctxFor(t)
	a, b := h.pair(t)
	mustBucket(t, ctx, a, "b")
	c := newChunk(t, ctx, a, "shared", "scope")
	const writers, keys = 8, 10
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := []meta.MetaStore{a, b}[w%2]
			for k := range keys {
				// Every writer writes every key: the stores contend on rows and on the chunk.
				if _, err := s.PutObject(ctx, obj("b", fmt.Sprintf("k%d", k), fmt.Sprintf("w%d", w), c, c), meta.WriteCondition{}); err != nil {
					t.Errorf("writer %d key %d: %v", w, k, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	wantRefs(t, ctx, b, map[int64]int64{c.ID: 2 * keys})
	res, err := b.ListObjects(ctx, "b", meta.ListQuery{})
	if err != nil || len(res.Objects) != keys {
		t.Errorf("ListObjects after concurrent writers = %d objects, %v", len(res.Objects), err)
	}
}

func testCanceledContext(t *testing.T, h *harness) {
	ctx := ctxFor(t)
	s := h.newStore(t)
	mustBucket(t, ctx, s, "b")
	c := newChunk(t, ctx, s, "x", "scope")
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	_, err := s.PutObject(canceled, obj("b", "k", "e", c), meta.WriteCondition{})
	wantErr(t, "PutObject with canceled context", err, context.Canceled)
	_, err = s.GetObject(canceled, "b", "k")
	if err == nil {
		t.Errorf("GetObject with canceled context succeeded")
	}
	_, err = s.GetObject(ctx, "b", "k")
	wantErr(t, "GetObject after canceled put", err, meta.ErrNotFound)
	wantRefs(t, ctx, s, map[int64]int64{c.ID: 0})
}

// completeRace completes one upload from several goroutines spread over stores: exactly
// one succeeds, the others find the upload gone, and references are counted once.
func completeRace(t *testing.T, ctx context.Context, stores []meta.MetaStore) {
	s := stores[0]
	mustBucket(t, ctx, s, "b")
	c1 := newChunk(t, ctx, s, "race part 1", "scope")
	c2 := newChunk(t, ctx, s, "race part 2", "scope")
	if err := s.CreateUpload(ctx, meta.Upload{ID: "race", Bucket: "b", Key: "k"}); err != nil {
		t.Fatal(err)
	}
	for i, c := range []meta.Chunk{c1, c2} {
		p := meta.Part{Number: i + 1, Size: c.Size, ETag: "e", Extents: []meta.Extent{{PartNumber: i + 1, ChunkID: c.ID, Length: c.Size}}}
		if err := s.PutPart(ctx, "race", p); err != nil {
			t.Fatal(err)
		}
	}
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			o := obj("b", "k", fmt.Sprintf("etag-%d-2", i), c1, c2)
			o.Manifest[0].PartNumber, o.Manifest[1].PartNumber = 1, 2
			_, errs[i] = stores[i%len(stores)].CompleteUpload(ctx, "race", o, meta.WriteCondition{})
		}()
	}
	close(start)
	wg.Wait()
	wins := 0
	winner := ""
	for i, err := range errs {
		switch {
		case err == nil:
			wins++
			winner = fmt.Sprintf("etag-%d-2", i)
		case !errors.Is(err, meta.ErrNotFound):
			t.Errorf("CompleteUpload %d: %v, want success or ErrNotFound", i, err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d CompleteUpload calls succeeded, want exactly 1", wins)
	}
	wantRefs(t, ctx, s, map[int64]int64{c1.ID: 1, c2.ID: 1})
	for i, st := range stores {
		got, err := st.GetObject(ctx, "b", "k")
		if err != nil || got.ETag != winner || len(got.Manifest) != 2 {
			t.Errorf("store %d: GetObject after the race = %+v, %v; want ETag %s", i, got, err, winner)
		}
	}
	if _, err := s.GetUpload(ctx, "b", "k", "race"); !errors.Is(err, meta.ErrNotFound) {
		t.Errorf("upload still present after completion: %v", err)
	}
}

func testConcurrentComplete(t *testing.T, h *harness) {
	completeRace(t, ctxFor(t), []meta.MetaStore{h.newStore(t)})
}

func testConcurrentCompleteAcrossStores(t *testing.T, h *harness) {
	a, b := h.pair(t)
	completeRace(t, ctxFor(t), []meta.MetaStore{a, b})
}

// testReadYourWritesAcrossStores writes through one store and reads through the other
// (two nodes): each read sees the write that returned before it, including one the
// reader had looked up (and a cache may have kept) just before.
func testReadYourWritesAcrossStores(t *testing.T, h *harness) {
	ctx := ctxFor(t)
	a, b := h.pair(t)
	_, err := b.GetBucket(ctx, "b")
	wantErr(t, "GetBucket before create", err, meta.ErrNotFound)
	_, err = b.GetObject(ctx, "b", "k")
	wantErr(t, "GetObject before create", err, meta.ErrNotFound)
	mustBucket(t, ctx, a, "b")
	if got, err := b.GetBucket(ctx, "b"); err != nil || got.Owner != "owner" {
		t.Fatalf("GetBucket after create = %+v, %v", got, err)
	}
	c1 := newChunk(t, ctx, a, "first version", "scope")
	c2 := newChunk(t, ctx, a, "second version", "scope")
	getETag := func(what string, s meta.MetaStore) (meta.Object, string) {
		t.Helper()
		o, err := s.GetObject(ctx, "b", "k")
		if errors.Is(err, meta.ErrNotFound) {
			return o, "<none>"
		}
		if err != nil {
			t.Fatalf("%s: GetObject: %v", what, err)
		}
		return o, o.ETag
	}
	steps := []struct {
		name  string
		write func() error
		want  string
	}{
		{"put", func() error { _, err := a.PutObject(ctx, obj("b", "k", "v1", c1), meta.WriteCondition{}); return err }, "v1"},
		{"overwrite", func() error { _, err := a.PutObject(ctx, obj("b", "k", "v2", c2), meta.WriteCondition{}); return err }, "v2"},
		{"set digests", func() error { return a.SetObjectDigests(ctx, "b", "k", "v2", c2.SHA256[:], c2.MD5[:]) }, "v2"},
		{"delete", func() error { _, err := a.DeleteObject(ctx, "b", "k", meta.WriteCondition{}); return err }, "<none>"},
		{"put again", func() error { _, err := a.PutObject(ctx, obj("b", "k", "v3", c1), meta.WriteCondition{}); return err }, "v3"},
		{"complete upload", func() error {
			if err := a.CreateUpload(ctx, meta.Upload{ID: "ryw", Bucket: "b", Key: "k"}); err != nil {
				return err
			}
			p := meta.Part{Number: 1, Size: c2.Size, ETag: "p", Extents: []meta.Extent{{PartNumber: 1, ChunkID: c2.ID, Length: c2.Size}}}
			if err := a.PutPart(ctx, "ryw", p); err != nil {
				return err
			}
			o := obj("b", "k", "v4-1", c2)
			o.Manifest[0].PartNumber = 1
			_, err := a.CompleteUpload(ctx, "ryw", o, meta.WriteCondition{})
			return err
		}, "v4-1"},
	}
	for _, st := range steps {
		getETag("before "+st.name, b) // a cache in b may now hold the old version
		if err := st.write(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		for range 2 { // a miss, then possibly a hit
			if o, got := getETag("after "+st.name, b); got != st.want {
				t.Errorf("after %s: read through the other store gives ETag %s, want %s", st.name, got, st.want)
			} else if st.name == "set sha256" && !bytes.Equal(o.SHA256, c2.SHA256[:]) {
				t.Errorf("after %s: SHA256 = %x", st.name, o.SHA256)
			}
		}
	}
	// Chunk changes show in the other store's manifests.
	chunkSteps := []struct {
		name  string
		write func() error
		check func(c meta.Chunk) bool
	}{
		{"move", func() error { return a.MoveChunk(ctx, c2.ID, "elsewhere", "n9", "moved-uid") },
			func(c meta.Chunk) bool { return c.Backend == "elsewhere" && c.Node == "n9" && c.UID == "moved-uid" }},
		{"mark corrupt", func() error { return a.MarkChunkCorrupt(ctx, c2.ID, true) }, func(c meta.Chunk) bool { return c.Corrupt }},
		{"clear corrupt", func() error { return a.MarkChunkCorrupt(ctx, c2.ID, false) }, func(c meta.Chunk) bool { return !c.Corrupt }},
	}
	for _, st := range chunkSteps {
		for range 3 { // warm any cache: object, then its chunks
			getETag("before "+st.name, b)
		}
		if err := st.write(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		for range 2 {
			o, _ := getETag("after "+st.name, b)
			if len(o.Manifest) != 1 || !st.check(o.Manifest[0].Chunk) {
				t.Errorf("after %s: manifest chunk through the other store = %+v", st.name, o.Manifest)
			}
		}
	}
	// Bucket deletion.
	if _, err := a.DeleteObject(ctx, "b", "k", meta.WriteCondition{}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.GetBucket(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	if err := a.DeleteBucket(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	_, err = b.GetBucket(ctx, "b")
	wantErr(t, "GetBucket after delete", err, meta.ErrNotFound)
}

// testInlineChunks: an inline chunk's bytes come back with every read of the chunk
// (the manifest of GetObject, twice so a cache serves the second, GetChunk, FindChunk,
// ListChunks), an empty one reads as empty bytes, a blob chunk carries none, a size that
// disagrees with the bytes is refused, and moving the chunk to a backend drops them.
func testInlineChunks(t *testing.T, h *harness) {
	s := h.newStore(t)
	ctx := ctxFor(t)
	mustBucket(t, ctx, s, "inl")
	data := []byte("inline bytes " + randHex(t, 8))
	insert := func(content []byte) meta.Chunk {
		t.Helper()
		c, created, err := s.InsertChunk(ctx, meta.Chunk{UID: "uid-" + randHex(t, 8), SHA256: sha256.Sum256(content),
			Size: int64(len(content)), Backend: meta.InlineBackend, Data: content}, "scope")
		if err != nil || !created {
			t.Fatalf("InsertChunk inline: created=%v, %v", created, err)
		}
		return c
	}
	c := insert(data)
	empty := insert([]byte{})
	blob := newChunk(t, ctx, s, "a blob "+randHex(t, 8), "scope")
	if st, err := s.Stats(ctx); err != nil || st.Chunks != 3 || st.InlineChunks != 2 || st.InlineBytes != int64(len(data)) {
		t.Errorf("Stats: %d chunks, %d inline holding %d bytes (%v); want 3, 2, %d", st.Chunks, st.InlineChunks, st.InlineBytes, err, len(data))
	}
	mustPut(t, ctx, s, obj("inl", "k", "e1", c, empty, blob))
	check := func(what string, got meta.Chunk, want []byte) {
		t.Helper()
		if !bytes.Equal(got.Data, want) || (want != nil && got.Data == nil) || (want == nil && got.Data != nil) {
			t.Errorf("%s: Data %q, want %q", what, got.Data, want)
		}
	}
	for i := 0; i < 2; i++ {
		o, err := s.GetObject(ctx, "inl", "k")
		if err != nil {
			t.Fatal(err)
		}
		check("GetObject extent 0", o.Manifest[0].Chunk, data)
		check("GetObject extent 1 (empty)", o.Manifest[1].Chunk, []byte{})
		check("GetObject extent 2 (blob)", o.Manifest[2].Chunk, nil)
	}
	got, err := s.GetChunk(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	check("GetChunk", got, data)
	if got, err = s.FindChunk(ctx, sha256.Sum256(data), "scope"); err != nil {
		t.Fatal(err)
	}
	check("FindChunk", got, data)
	cs, err := s.ListChunks(ctx, meta.ChunkQuery{Backend: meta.InlineBackend, Limit: 10})
	if err != nil || len(cs) != 2 {
		t.Fatalf("ListChunks of the inline backend: %d chunks, %v", len(cs), err)
	}
	check("ListChunks", cs[0], data)
	_, _, err = s.InsertChunk(ctx, meta.Chunk{UID: "uid-" + randHex(t, 8), SHA256: sha256.Sum256([]byte("x")),
		Size: 2, Backend: meta.InlineBackend, Data: []byte("x")}, "scope")
	wantErr(t, "InsertChunk with a size that disagrees with its bytes", err, meta.ErrInvalid)
	wantErr(t, "MoveChunk into the index", s.MoveChunk(ctx, blob.ID, meta.InlineBackend, "", "uid"), meta.ErrInvalid)
	if err := s.MoveChunk(ctx, c.ID, "local", "", "moved-"+randHex(t, 8)); err != nil {
		t.Fatal(err)
	}
	o, err := s.GetObject(ctx, "inl", "k")
	if err != nil {
		t.Fatal(err)
	}
	if m := o.Manifest[0].Chunk; m.Backend != "local" || m.Data != nil {
		t.Errorf("after MoveChunk to a backend: backend %q, Data %q", m.Backend, m.Data)
	}

	// PutObject indexes a new inline chunk (ChunkID 0) in its own transaction: found
	// again by content (no second row for the same bytes), with the writer's scope and one
	// reference per object; a write whose condition fails indexes nothing.
	fresh := []byte("fresh inline " + randHex(t, 8))
	newExtent := func(scope string) meta.Extent {
		return meta.Extent{Length: int64(len(fresh)), NewChunkScope: scope, Chunk: meta.Chunk{UID: "uid-" + randHex(t, 8),
			SHA256: sha256.Sum256(fresh), Size: int64(len(fresh)), Backend: meta.InlineBackend, Data: fresh}}
	}
	put := func(key, scope string, cond meta.WriteCondition) error {
		_, err := s.PutObject(ctx, meta.Object{Bucket: "inl", Key: key, Size: int64(len(fresh)), ETag: "f", Owner: "owner",
			Manifest: []meta.Extent{newExtent(scope)}}, cond)
		return err
	}
	wantErr(t, "PutObject with a failing condition", put("k", "s1", meta.WriteCondition{IfNoneMatchStar: true}), meta.ErrPreconditionFailed)
	if _, err := s.FindChunk(ctx, sha256.Sum256(fresh), ""); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("a write that failed its condition indexed its chunk: %v", err)
	}
	for _, k := range []string{"f1", "f2"} {
		if err := put(k, "s1", meta.WriteCondition{}); err != nil {
			t.Fatalf("PutObject with a new inline chunk: %v", err)
		}
	}
	if err := put("f3", "s2", meta.WriteCondition{}); err != nil {
		t.Fatal(err)
	}
	fc, err := s.FindChunk(ctx, sha256.Sum256(fresh), "s2")
	if err != nil {
		t.Fatalf("FindChunk in the second writer's scope: %v", err)
	}
	check("FindChunk of a chunk PutObject indexed", fc, fresh)
	if _, err := s.FindChunk(ctx, sha256.Sum256(fresh), "s3"); !errors.Is(err, meta.ErrNotFound) {
		t.Errorf("FindChunk in a scope that never wrote the content: %v", err)
	}
	wantRefs(t, ctx, s, map[int64]int64{fc.ID: 3})
	for _, k := range []string{"f1", "f2", "f3"} {
		o, err := s.GetObject(ctx, "inl", k)
		if err != nil || o.Manifest[0].ChunkID != fc.ID {
			t.Fatalf("%s: %v, manifest %+v; want chunk %d", k, err, o.Manifest, fc.ID)
		}
		check(k, o.Manifest[0].Chunk, fresh)
	}
}

// testPutObjectIndexesNewChunk: a blob chunk given to PutObject with ChunkID 0 is indexed
// in the write's transaction and written back into the caller's extent; the same content
// under another uid is deduplicated (the write-back names the indexed copy); content
// indexed as a copy marked corrupt fails the write with ErrCorruptChunk, changing nothing.
func testPutObjectIndexesNewChunk(t *testing.T, h *harness) {
	s := h.newStore(t)
	ctx := ctxFor(t)
	mustBucket(t, ctx, s, "nc")
	content := []byte("new blob " + randHex(t, 8))
	put := func(key, uid string) meta.Extent {
		t.Helper()
		m := []meta.Extent{{Length: int64(len(content)), NewChunkScope: "sc", Chunk: meta.Chunk{UID: uid,
			SHA256: sha256.Sum256(content), Size: int64(len(content)), Backend: "local", Node: "n1"}}}
		if _, err := s.PutObject(ctx, meta.Object{Bucket: "nc", Key: key, Size: int64(len(content)), ETag: "e", Owner: "owner",
			Manifest: m}, meta.WriteCondition{}); err != nil {
			t.Fatalf("PutObject %s: %v", key, err)
		}
		return m[0]
	}
	first := put("a", "uid-first-"+randHex(t, 4))
	if first.ChunkID == 0 || first.Chunk.ID != first.ChunkID || first.Chunk.Node != "n1" {
		t.Fatalf("write-back after indexing: %+v", first)
	}
	second := put("b", "uid-second-"+randHex(t, 4))
	if second.ChunkID != first.ChunkID || second.Chunk.UID != first.Chunk.UID {
		t.Errorf("same content under a new uid: chunk %d (%s), want the indexed %d (%s)",
			second.ChunkID, second.Chunk.UID, first.ChunkID, first.Chunk.UID)
	}
	wantRefs(t, ctx, s, map[int64]int64{first.ChunkID: 2})
	if _, err := s.FindChunk(ctx, sha256.Sum256(content), "sc"); err != nil {
		t.Errorf("FindChunk in the writer's scope: %v", err)
	}
	if err := s.MarkChunkCorrupt(ctx, first.ChunkID, true); err != nil {
		t.Fatal(err)
	}
	m := []meta.Extent{{Length: int64(len(content)), NewChunkScope: "sc", Chunk: meta.Chunk{UID: "uid-third-" + randHex(t, 4),
		SHA256: sha256.Sum256(content), Size: int64(len(content)), Backend: "local"}}}
	_, err := s.PutObject(ctx, meta.Object{Bucket: "nc", Key: "c", Size: int64(len(content)), ETag: "e", Owner: "owner",
		Manifest: m}, meta.WriteCondition{})
	wantErr(t, "PutObject of content indexed as a copy marked corrupt", err, meta.ErrCorruptChunk)
	if _, err := s.GetObject(ctx, "nc", "c"); !errors.Is(err, meta.ErrNotFound) {
		t.Errorf("the refused write left an object: %v", err)
	}
	wantRefs(t, ctx, s, map[int64]int64{first.ChunkID: 2})
}
