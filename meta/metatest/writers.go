package metatest

import (
	"context"
	"crypto/sha256"
	"testing"
	"time"

	"s3proxy/meta"
)

// Helpers for the tests of the caches in front of a MetaStore.

// NewInlineObject is a PutObject of new inline content under bucket "b": its chunk is
// indexed by the write itself (ChunkID 0), as an upload does.
func NewInlineObject(key, etag, content string) meta.Object {
	data := []byte(content)
	return meta.Object{Bucket: "b", Key: key, Size: int64(len(data)), ETag: etag, Owner: "o", Scope: "s",
		ModTime: time.Now(), UserMeta: map[string]string{"m": etag},
		Manifest: []meta.Extent{{PartNumber: 1, Length: int64(len(data)), NewChunkScope: "s",
			Chunk: meta.Chunk{UID: "uid-" + etag, SHA256: sha256.Sum256(data), Size: int64(len(data)), Backend: meta.InlineBackend, Data: data}}}}
}

// HoldPut pauses the PutObject of one ETag after its commit, until Release is closed:
// a test can run another write of the key in that gap, before the cache settles.
type HoldPut struct {
	meta.MetaStore
	ETag      string
	Committed chan struct{} // closed once the held write committed
	Release   chan struct{} // the held write returns once this is closed
}

// NewHoldPut holds inner's PutObject of etag.
func NewHoldPut(inner meta.MetaStore, etag string) *HoldPut {
	return &HoldPut{MetaStore: inner, ETag: etag, Committed: make(chan struct{}), Release: make(chan struct{})}
}

func (h *HoldPut) PutObject(ctx context.Context, o meta.Object, cond meta.WriteCondition) (*meta.Object, error) {
	r, err := h.MetaStore.PutObject(ctx, o, cond)
	if o.ETag == h.ETag {
		close(h.Committed)
		<-h.Release
	}
	return r, err
}

// Cross runs two writes of key "k" whose post-commit steps cross: first (through the
// HoldPut's store, or a cache in front of it) writes ETag h.ETag and is held after its
// commit while second writes ETag "second"; then first finishes. The store's current
// version is "second" afterwards.
func (h *HoldPut) Cross(t *testing.T, ctx context.Context, first, second meta.MetaStore) {
	t.Helper()
	done := make(chan error)
	go func() {
		_, err := first.PutObject(ctx, NewInlineObject("k", h.ETag, "one"), meta.WriteCondition{})
		done <- err
	}()
	<-h.Committed
	if _, err := second.PutObject(ctx, NewInlineObject("k", "second", "two"), meta.WriteCondition{}); err != nil {
		t.Fatal(err)
	}
	close(h.Release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
