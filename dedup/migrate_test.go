package dedup_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"s3proxy/backends"
	"s3proxy/backends/mem"
	"s3proxy/dedup"
	"s3proxy/meta"
	"s3proxy/meta/gormstore"
)

func newTwoStoreEngine(t *testing.T) (*dedup.Engine, meta.MetaStore, backends.BlobStore, backends.BlobStore) {
	t.Helper()
	ctx := context.Background()
	ms, err := gormstore.Open(ctx, filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ms.Close() })
	a, b := mem.New("a"), mem.New("b")
	e, err := dedup.New(dedup.Config{Meta: ms, Stores: map[string]backends.BlobStore{"a": a, "b": b}, DefaultBackend: "a", Node: "n1",
		InlineMax: -1}) // these tests move blobs between backends
	if err != nil {
		t.Fatal(err)
	}
	if err := ms.CreateBucket(ctx, meta.Bucket{Name: "bkt", Owner: "ak"}); err != nil {
		t.Fatal(err)
	}
	return e, ms, a, b
}

func readAll(t *testing.T, rc io.ReadCloser, err error) string {
	t.Helper()
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("reading: %v", err)
	}
	return string(b)
}

// TestReadsFollowMovedChunks: a reader holding the chunk's old location (a manifest
// loaded before the switch) still reads it after the old copy is deleted, and one that
// opened the old copy before the move finishes reading it.
func TestReadsFollowMovedChunks(t *testing.T) {
	e, ms, a, b := newTwoStoreEngine(t)
	ctx := context.Background()
	ing := put(t, e, ms, "k", []byte("hello, migrating world"))
	stale := ing.Chunk
	early, err := e.Open(ctx, stale, 7, 9)
	if err != nil {
		t.Fatal(err)
	}
	p, err := e.Migrate(ctx, dedup.MigrateOptions{To: "b"})
	if err != nil || p.Chunks != 1 || p.TotalChunks != 1 {
		t.Fatalf("Migrate = %+v, %v", p, err)
	}
	if countBlobs(t, a) != 0 || countBlobs(t, b) != 1 {
		t.Fatalf("blobs: %d on a, %d on b; want 0 and 1", countBlobs(t, a), countBlobs(t, b))
	}
	if got := readAll(t, early, nil); got != "migrating" {
		t.Errorf("a read opened before the move = %q", got)
	}
	for _, c := range []struct {
		off, n int64
		want   string
	}{{0, -1, "hello, migrating world"}, {7, 9, "migrating"}, {22, 0, ""}} {
		rc, err := e.Open(ctx, stale, c.off, c.n)
		if got := readAll(t, rc, err); got != c.want {
			t.Errorf("Open(stale location, %d, %d) = %q, want %q", c.off, c.n, got, c.want)
		}
	}
	// A chunk missing where the index says it is stays an error, never a loop.
	cur, err := ms.GetChunk(ctx, stale.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Delete(ctx, cur.UID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Open(ctx, stale, 0, -1); !errors.Is(err, dedup.ErrChunkMissing) {
		t.Errorf("Open of a lost chunk: %v, want ErrChunkMissing", err)
	}
}

// TestMigrateVerifies: a source whose bytes no longer match the index is not moved.
func TestMigrateVerifies(t *testing.T) {
	e, ms, a, b := newTwoStoreEngine(t)
	ctx := context.Background()
	ing := put(t, e, ms, "k", []byte("original"))
	if err := a.Put(ctx, ing.Chunk.UID, strings.NewReader("tampered"), 8, backends.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	p, err := e.Migrate(ctx, dedup.MigrateOptions{To: "b", DeleteDelay: time.Millisecond})
	if err == nil || p.Failed != 1 || p.Chunks != 0 {
		t.Fatalf("Migrate of a damaged chunk = %+v, %v; want 1 failed", p, err)
	}
	if cur, _ := ms.GetChunk(ctx, ing.Chunk.ID); cur.Backend != "a" || cur.UID != ing.Chunk.UID {
		t.Errorf("the damaged chunk moved to %s/%s", cur.Backend, cur.UID)
	}
	if n := countBlobs(t, b); n != 0 {
		t.Errorf("%d blobs on the target after a failed copy", n)
	}
	if _, err := e.Migrate(ctx, dedup.MigrateOptions{To: "nowhere"}); err == nil {
		t.Errorf("Migrate to an unknown backend succeeded")
	}
}

// TestMigrateDeleteDelay: old copies outlive the switch by the delay.
func TestMigrateDeleteDelay(t *testing.T) {
	e, ms, a, _ := newTwoStoreEngine(t)
	ctx := context.Background()
	put(t, e, ms, "k1", bytes.Repeat([]byte("1"), 100))
	put(t, e, ms, "k2", bytes.Repeat([]byte("2"), 100))
	start := time.Now()
	p, err := e.Migrate(ctx, dedup.MigrateOptions{To: "b", DeleteDelay: 300 * time.Millisecond, Workers: 1,
		Progress: func(p dedup.MigrateProgress) {
			if p.Chunks == 1 && !p.Done {
				if n := countBlobs(t, a); n != 2 {
					t.Errorf("%d blobs on the source right after the first switch, want 2 (old copy kept)", n)
				}
			}
		}})
	if err != nil || p.Chunks != 2 {
		t.Fatalf("Migrate = %+v, %v", p, err)
	}
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Errorf("Migrate returned after %v, before the delay passed", d)
	}
	if n := countBlobs(t, a); n != 0 {
		t.Errorf("%d old copies left after the run", n)
	}
}
