package dedup_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"path/filepath"
	"testing"
	"time"

	"s3proxy/backends"
	"s3proxy/backends/mem"
	"s3proxy/dedup"
	"s3proxy/dedup/digest"
	"s3proxy/meta"
	"s3proxy/meta/gormstore"
)

// newEngine keeps every body in the blob store (no inline chunks): its tests look at blobs.
func newEngine(t *testing.T) (*dedup.Engine, meta.MetaStore, backends.BlobStore) {
	t.Helper()
	return newEngineInline(t, -1)
}

func newEngineInline(t *testing.T, inlineMax int64) (*dedup.Engine, meta.MetaStore, backends.BlobStore) {
	t.Helper()
	ctx := context.Background()
	ms, err := gormstore.Open(ctx, filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ms.Close() })
	store := mem.New("mem")
	e, err := dedup.New(dedup.Config{Meta: ms, Stores: map[string]backends.BlobStore{"mem": store}, DefaultBackend: "mem", Node: "n1", InlineMax: inlineMax})
	if err != nil {
		t.Fatal(err)
	}
	if err := ms.CreateBucket(ctx, meta.Bucket{Name: "bkt", Owner: "ak"}); err != nil {
		t.Fatal(err)
	}
	return e, ms, store
}

func countBlobs(t *testing.T, s backends.BlobStore) int {
	t.Helper()
	n := 0
	if err := s.List(context.Background(), "", func(backends.Info) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

// put ingests data and commits it as bucket/key.
func put(t *testing.T, e *dedup.Engine, ms meta.MetaStore, key string, data []byte) *dedup.Ingested {
	t.Helper()
	ctx := context.Background()
	ing, err := e.Ingest(ctx, dedup.IngestInput{Body: bytes.NewReader(data), Expect: digest.Expect{Size: int64(len(data))}, Scope: "ak"})
	if err != nil {
		t.Fatal(err)
	}
	err = e.Settle(ctx, ing, func(c meta.Chunk) error {
		_, err := ms.PutObject(ctx, meta.Object{Bucket: "bkt", Key: key, Size: int64(len(data)), ETag: "e", ModTime: time.Now(),
			Manifest: []meta.Extent{{ChunkID: c.ID, Length: int64(len(data))}}}, meta.WriteCondition{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return ing
}

func TestIngestDeduplicatesAndGCCollects(t *testing.T) {
	e, ms, store := newEngine(t)
	ctx := context.Background()
	data := bytes.Repeat([]byte("content"), 1000)
	first := put(t, e, ms, "a", data)
	second := put(t, e, ms, "b", data)
	if first.Deduplicated || !second.Deduplicated || first.Chunk.ID != second.Chunk.ID {
		t.Fatalf("dedup: first %+v second %+v", first.Deduplicated, second.Deduplicated)
	}
	if n := countBlobs(t, store); n != 1 {
		t.Fatalf("%d blobs for one content", n)
	}
	if sum := sha256.Sum256(data); first.Sums.SHA256 != sum {
		t.Fatal("sha256 mismatch")
	}
	// Still referenced by b: nothing collected even with zero grace.
	if _, err := ms.DeleteObject(ctx, "bkt", "a", meta.WriteCondition{}); err != nil {
		t.Fatal(err)
	}
	res, err := e.GC(ctx, 0, nil)
	if err != nil || res.Chunks != 0 || countBlobs(t, store) != 1 {
		t.Fatalf("gc with a live reference: %+v %v", res, err)
	}
	if _, err := ms.DeleteObject(ctx, "bkt", "b", meta.WriteCondition{}); err != nil {
		t.Fatal(err)
	}
	// Within the grace period the chunk stays (an instant upload may still want it).
	res, err = e.GC(ctx, time.Hour, nil)
	if err != nil || res.Chunks != 0 || countBlobs(t, store) != 1 {
		t.Fatalf("gc inside grace: %+v %v", res, err)
	}
	time.Sleep(10 * time.Millisecond)
	res, err = e.GC(ctx, time.Millisecond, nil)
	if err != nil || res.Chunks != 1 || res.Bytes != int64(len(data)) || countBlobs(t, store) != 0 {
		t.Fatalf("gc after grace: %+v %v blobs %d", res, err, countBlobs(t, store))
	}
	if _, err := ms.GetChunk(ctx, first.Chunk.ID); !errors.Is(err, meta.ErrNotFound) {
		t.Fatalf("index entry survived: %v", err)
	}
}

func TestGCSweepsOrphanBlobs(t *testing.T) {
	e, _, store := newEngine(t)
	ctx := context.Background()
	// A blob written but never indexed: what a crash between write and index leaves.
	if err := store.Put(ctx, dedup.NewUID(), bytes.NewReader([]byte("orphan")), 6, backends.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	res, err := e.GC(ctx, time.Hour, nil)
	if err != nil || res.Orphans != 0 {
		t.Fatalf("young orphan swept: %+v %v", res, err)
	}
	time.Sleep(10 * time.Millisecond)
	res, err = e.GC(ctx, time.Millisecond, nil)
	if err != nil || res.Orphans != 1 || countBlobs(t, store) != 0 {
		t.Fatalf("orphan not swept: %+v %v", res, err)
	}
}

func TestIngestMismatchStoresNothing(t *testing.T) {
	e, ms, store := newEngine(t)
	ctx := context.Background()
	for _, exp := range []digest.Expect{
		{Size: 5, MD5: make([]byte, 16)},
		{Size: 6},
		{Size: 5, ContentSHA256: make([]byte, 32)},
	} {
		_, err := e.Ingest(ctx, dedup.IngestInput{Body: bytes.NewReader([]byte("hello")), Expect: exp, Scope: "ak"})
		var mm *digest.MismatchError
		if !errors.As(err, &mm) {
			t.Fatalf("want mismatch, got %v", err)
		}
	}
	if n := countBlobs(t, store); n != 0 {
		t.Fatalf("%d blobs after failed ingests", n)
	}
	st, _ := ms.Stats(ctx)
	if st.Chunks != 0 {
		t.Fatalf("chunks indexed: %d", st.Chunks)
	}
}

func TestSettleFallsBackWhenIndexedCopyVanishes(t *testing.T) {
	e, ms, store := newEngine(t)
	ctx := context.Background()
	data := []byte("raced content")
	// Index the content with no reference, as an abandoned upload leaves it.
	ing, err := e.Ingest(ctx, dedup.IngestInput{Body: bytes.NewReader(data), Expect: digest.Expect{Size: int64(len(data))}, Scope: "ak"})
	if err != nil {
		t.Fatal(err)
	}
	e.Discard(ctx, ing)
	// A second upload finds it indexed...
	second, err := e.Ingest(ctx, dedup.IngestInput{Body: bytes.NewReader(data), Expect: digest.Expect{Size: int64(len(data))}, Scope: "ak"})
	if err != nil || !second.Deduplicated {
		t.Fatalf("second: %+v %v", second, err)
	}
	// ...and the collector removes the indexed copy before the commit.
	time.Sleep(5 * time.Millisecond)
	if ok, err := ms.DeleteChunkIfUnreferenced(ctx, ing.Chunk.ID, time.Now().Add(time.Hour)); err != nil || !ok {
		t.Fatalf("collect: %v %v", ok, err)
	}
	_ = store.Delete(ctx, ing.Chunk.UID)
	err = e.Settle(ctx, second, func(c meta.Chunk) error {
		_, err := ms.PutObject(ctx, meta.Object{Bucket: "bkt", Key: "k", Size: int64(len(data)), ETag: "e", ModTime: time.Now(),
			Manifest: []meta.Extent{{ChunkID: c.ID, Length: int64(len(data))}}}, meta.WriteCondition{})
		return err
	})
	if err != nil {
		t.Fatalf("settle did not fall back to its own copy: %v", err)
	}
	o, err := ms.GetObject(ctx, "bkt", "k")
	if err != nil {
		t.Fatal(err)
	}
	rc, err := e.Open(ctx, o.Manifest[0].Chunk, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(got, data) {
		t.Fatalf("read back %q", got)
	}
}

// TestInlineChunks: bodies up to the inline limit live in their index row: no blob is
// written, reads (whole and ranged) come from the row, equal content is stored once,
// bad bodies store nothing, and GC removes an unreferenced one like any chunk.
func TestInlineChunks(t *testing.T) {
	e, ms, store := newEngineInline(t, 0) // the default limit
	ctx := context.Background()
	small := bytes.Repeat([]byte("0123456789abcdef"), dedup.DefaultInlineMax/16) // exactly the limit
	ing := put(t, e, ms, "small", small)
	if c := ing.Chunk; c.Backend != meta.InlineBackend || !bytes.Equal(c.Data, small) {
		t.Fatalf("chunk of a %d-byte body: backend %q, %d inline bytes", len(small), c.Backend, len(c.Data))
	}
	if again := put(t, e, ms, "small-again", small); !again.Deduplicated || again.Chunk.ID != ing.Chunk.ID {
		t.Errorf("same content again: deduplicated=%v chunk %d, want chunk %d", again.Deduplicated, again.Chunk.ID, ing.Chunk.ID)
	}
	put(t, e, ms, "empty", nil)
	big := append(bytes.Clone(small), 'x') // one byte over: a blob
	if c := put(t, e, ms, "big", big).Chunk; c.Backend != "mem" || c.Data != nil {
		t.Errorf("chunk of a %d-byte body: backend %q, %d inline bytes", len(big), c.Backend, len(c.Data))
	}
	if n := countBlobs(t, store); n != 1 {
		t.Errorf("%d blobs, want 1 (only the body over the limit)", n)
	}
	o, err := ms.GetObject(ctx, "bkt", "small")
	if err != nil {
		t.Fatal(err)
	}
	c := o.Manifest[0].Chunk
	for _, r := range []struct{ off, n int64 }{{0, -1}, {0, int64(len(small))}, {5, 10}, {int64(len(small)) - 1, 1}, {int64(len(small)), 0}} {
		rc, err := e.Open(ctx, c, r.off, r.n)
		if err != nil {
			t.Fatalf("Open(%d, %d): %v", r.off, r.n, err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		end := int64(len(small))
		if r.n >= 0 {
			end = r.off + r.n
		}
		if err != nil || !bytes.Equal(got, small[r.off:end]) {
			t.Errorf("Open(%d, %d) read %d bytes (%v), want %d", r.off, r.n, len(got), err, end-r.off)
		}
	}
	if _, err := e.Open(ctx, c, 10, int64(len(small))); err == nil {
		t.Error("a range past the end of an inline chunk opened")
	}
	short := c
	short.Data = short.Data[:10]
	if _, err := e.Open(ctx, short, 0, -1); !errors.Is(err, dedup.ErrChunkMissing) {
		t.Errorf("inline chunk without all its bytes: %v, want ErrChunkMissing", err)
	}
	for _, body := range []struct {
		data []byte
		exp  digest.Expect
	}{
		{[]byte("hello"), digest.Expect{Size: 5, MD5: make([]byte, 16)}},
		{[]byte("hello"), digest.Expect{Size: 6}},
		{[]byte("hello"), digest.Expect{Size: 4}},
	} {
		if _, err := e.Ingest(ctx, dedup.IngestInput{Body: bytes.NewReader(body.data), Expect: body.exp, Scope: "ak"}); err == nil {
			t.Errorf("Ingest of %q with %+v succeeded", body.data, body.exp)
		}
	}
	if _, err := ms.FindChunk(ctx, sha256.Sum256([]byte("hello")), ""); !errors.Is(err, meta.ErrNotFound) {
		t.Errorf("a rejected body was indexed: %v", err)
	}
	for _, k := range []string{"small", "small-again"} {
		if _, err := ms.DeleteObject(ctx, "bkt", k, meta.WriteCondition{}); err != nil {
			t.Fatal(err)
		}
	}
	res, err := e.GC(ctx, -time.Second, nil)
	if err != nil || res.Errors != 0 {
		t.Fatalf("GC: %+v, %v", res, err)
	}
	if _, err := ms.GetChunk(ctx, c.ID); !errors.Is(err, meta.ErrNotFound) {
		t.Errorf("unreferenced inline chunk survived GC: %v", err)
	}
	vr, err := e.Verify(ctx, dedup.VerifyOptions{})
	if err != nil || len(vr.Problems) != 0 {
		t.Errorf("verify after GC: %+v, %v", vr, err)
	}
}

// putDeferred ingests data with DeferIndex and commits it as bucket/key in one PutObject.
func putDeferred(t *testing.T, e *dedup.Engine, ms meta.MetaStore, key string, data []byte, cond meta.WriteCondition) (*dedup.Ingested, error) {
	t.Helper()
	ctx := context.Background()
	ing, err := e.Ingest(ctx, dedup.IngestInput{Body: bytes.NewReader(data), Expect: digest.Expect{Size: int64(len(data))}, Scope: "ak", DeferIndex: true})
	if err != nil {
		t.Fatal(err)
	}
	if ing.Chunk.ID != 0 {
		t.Fatalf("DeferIndex: chunk %d indexed before the commit", ing.Chunk.ID)
	}
	err = e.SettleNew(ctx, ing, func(c meta.Chunk) (meta.Chunk, error) {
		m := []meta.Extent{{Length: int64(len(data)), Chunk: c, NewChunkScope: "ak"}}
		_, err := ms.PutObject(ctx, meta.Object{Bucket: "bkt", Key: key, Size: int64(len(data)), ETag: "e", ModTime: time.Now(),
			Manifest: m}, cond)
		return m[0].Chunk, err
	})
	return ing, err
}

// TestSettleNew: a chunk indexed by the object's own transaction keeps its blob; the same
// content again keeps one blob; a failed write leaves neither blob nor index entry; and
// content indexed as a copy marked corrupt is restored from the new bytes (blob or inline).
func TestSettleNew(t *testing.T) {
	for _, inline := range []int64{-1, 0} {
		e, ms, store := newEngineInline(t, inline)
		ctx := context.Background()
		data := bytes.Repeat([]byte("settle-new "), 300)
		first, err := putDeferred(t, e, ms, "a", data, meta.WriteCondition{})
		if err != nil || first.Chunk.ID == 0 || first.Deduplicated {
			t.Fatalf("inline %d: first write: chunk %+v, deduplicated %v, %v", inline, first.Chunk.ID, first.Deduplicated, err)
		}
		blobs := 1
		if inline == 0 {
			blobs = 0
		}
		second, err := putDeferred(t, e, ms, "b", data, meta.WriteCondition{})
		if err != nil || second.Chunk.ID != first.Chunk.ID || !second.Deduplicated {
			t.Fatalf("inline %d: same content again: chunk %d (want %d), deduplicated %v, %v", inline, second.Chunk.ID, first.Chunk.ID, second.Deduplicated, err)
		}
		if n := countBlobs(t, store); n != blobs {
			t.Errorf("inline %d: %d blobs after two writes of one content, want %d", inline, n, blobs)
		}
		other := []byte("never committed")
		if _, err := putDeferred(t, e, ms, "a", other, meta.WriteCondition{IfNoneMatchStar: true}); !errors.Is(err, meta.ErrPreconditionFailed) {
			t.Fatalf("inline %d: conditional write over an existing key: %v", inline, err)
		}
		if n := countBlobs(t, store); n != blobs {
			t.Errorf("inline %d: %d blobs after a failed write, want %d", inline, n, blobs)
		}
		if _, err := ms.FindChunk(ctx, sha256.Sum256(other), ""); !errors.Is(err, meta.ErrNotFound) {
			t.Errorf("inline %d: a failed write indexed its chunk: %v", inline, err)
		}
		if err := ms.MarkChunkCorrupt(ctx, first.Chunk.ID, true); err != nil {
			t.Fatal(err)
		}
		healed, err := putDeferred(t, e, ms, "c", data, meta.WriteCondition{})
		if err != nil || healed.Chunk.ID != first.Chunk.ID || healed.Chunk.Corrupt {
			t.Fatalf("inline %d: write over a copy marked corrupt: %+v, %v", inline, healed.Chunk, err)
		}
		o, err := ms.GetObject(ctx, "bkt", "a")
		if err != nil {
			t.Fatal(err)
		}
		rc, err := e.Open(ctx, o.Manifest[0].Chunk, 0, -1)
		if err != nil {
			t.Fatalf("inline %d: read after the restore: %v", inline, err)
		}
		got, _ := io.ReadAll(rc)
		rc.Close()
		if !bytes.Equal(got, data) {
			t.Errorf("inline %d: restored chunk reads %d bytes, want the %d written", inline, len(got), len(data))
		}
	}
}

// TestIngestAdoptsIntoEncrypted: a body written to an encrypting backend whose content
// is indexed in clear (a plain backend's blob, or an inline chunk) becomes the indexed
// copy before anything commits: the chunk's location is the new upload's blob, the clear
// blob is gone, and no second encrypted copy is made.
func TestIngestAdoptsIntoEncrypted(t *testing.T) {
	for _, tc := range []struct {
		name      string
		inlineMax int64
		size      int
	}{
		{"blob", -1, 5000},
		{"inline", 4096, 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			ms, err := gormstore.Open(ctx, filepath.Join(t.TempDir(), "meta.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ms.Close() })
			plain, vault := mem.New("plain"), mem.New("vault") // vault stands for an encrypting store
			e, err := dedup.New(dedup.Config{Meta: ms, Stores: map[string]backends.BlobStore{"plain": plain, "vault": vault},
				DefaultBackend: "plain", Encrypted: map[string]bool{"vault": true}, Node: "n1", InlineMax: tc.inlineMax})
			if err != nil {
				t.Fatal(err)
			}
			if err := ms.CreateBucket(ctx, meta.Bucket{Name: "bkt", Owner: "ak"}); err != nil {
				t.Fatal(err)
			}
			data := bytes.Repeat([]byte("adopt me "), tc.size/9+1)[:tc.size]
			first := put(t, e, ms, "clear", data)
			if enc := e.Encrypted(first.Chunk.Backend); enc {
				t.Fatalf("first copy on %s, want it in clear", first.Chunk.Backend)
			}
			ing, err := e.Ingest(ctx, dedup.IngestInput{Body: bytes.NewReader(data), Expect: digest.Expect{Size: int64(len(data))},
				Backend: "vault", Scope: "ak"})
			if err != nil {
				t.Fatal(err)
			}
			if ing.Chunk.ID != first.Chunk.ID || ing.Chunk.Backend != "vault" || !ing.Deduplicated {
				t.Fatalf("ingest into the vault: chunk %d on %s (dedup %v), want chunk %d adopted onto vault",
					ing.Chunk.ID, ing.Chunk.Backend, ing.Deduplicated, first.Chunk.ID)
			}
			indexed, err := ms.GetChunk(ctx, first.Chunk.ID)
			if err != nil || indexed.Backend != "vault" || indexed.UID != ing.Chunk.UID || indexed.Data != nil {
				t.Fatalf("index after the ingest: %+v, %v; want the new upload's blob on vault", indexed, err)
			}
			if err := e.Settle(ctx, ing, func(meta.Chunk) error { return nil }); err != nil {
				t.Fatal(err)
			}
			if n := countBlobs(t, plain); n != 0 {
				t.Errorf("%d blobs left in clear", n)
			}
			if n := countBlobs(t, vault); n != 1 {
				t.Errorf("%d blobs on vault, want the upload's one", n)
			}
			rc, err := e.Open(ctx, indexed, 0, -1)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(rc)
			rc.Close()
			if !bytes.Equal(got, data) {
				t.Error("the adopted chunk reads back wrong")
			}
		})
	}
}
