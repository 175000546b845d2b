package dedup

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"

	"s3proxy/backends"
	"s3proxy/meta"
)

// ErrNotEncrypted: content that was to be encrypted at rest could not be moved onto an
// encrypting backend.
var ErrNotEncrypted = errors.New("dedup: chunk could not be moved to an encrypting backend")

// EnsureEncrypted moves every chunk of chunks that is not on an encrypting backend
// (inline ones included) to target, which must encrypt: the bytes are copied and
// verified against the chunk's SHA-256 as migrate copies them, the chunk's location is
// switched, and the clear copy deleted.
//
// Why move rather than keep a second, encrypted copy: the chunk index holds one copy
// per content, and every object referencing it (in any bucket) reads through the index,
// so the content is simply stored encrypted from now on. A write into an encrypted
// bucket that deduplicates onto content stored in clear (by a plain bucket, an instant
// upload, a copy) thus never leaves the new object referencing clear bytes, and the
// plain bucket's objects read the same bytes as before.
func (e *Engine) EnsureEncrypted(ctx context.Context, target string, chunks []meta.Chunk) error {
	if target == "" {
		target = e.defaultBackend
	}
	if !e.encrypted[target] {
		return fmt.Errorf("%w: backend %q does not encrypt", ErrNotEncrypted, target)
	}
	store, ok := e.stores[target]
	if !ok {
		return fmt.Errorf("%w: backend %q is not configured", ErrNotEncrypted, target)
	}
	done := map[int64]bool{}
	for _, c := range chunks {
		if e.encrypted[c.Backend] || done[c.ID] || c.ID == 0 {
			continue
		}
		done[c.ID] = true
		if err := e.encryptChunk(ctx, store, target, c); err != nil {
			return fmt.Errorf("%w: chunk %d: %w", ErrNotEncrypted, c.ID, err)
		}
	}
	return nil
}

func (e *Engine) encryptChunk(ctx context.Context, store backends.BlobStore, target string, c meta.Chunk) error {
	src, err := e.Open(ctx, c, 0, -1)
	if err != nil {
		return err
	}
	defer src.Close()
	uid := NewUID()
	vr := &verifyingReader{r: src, h: sha256.New(), want: c.SHA256, size: c.Size}
	if err := store.Put(ctx, uid, vr, c.Size, backends.PutOptions{SHA256: vr.sum}); err != nil {
		return fmt.Errorf("copy to %s: %w", target, err)
	}
	node := ""
	if e.nodeLocal[target] {
		node = e.node
	}
	if err := e.meta.MoveChunk(ctx, c.ID, target, node, uid); err != nil {
		e.deleteBlob(context.WithoutCancel(ctx), target, uid)
		return fmt.Errorf("switch location: %w", err)
	}
	// Readers that loaded the old location follow the move (Engine.Open); a local file
	// already open outlives its name.
	if c.Backend != meta.InlineBackend && (c.Node == "" || c.Node == e.node || !e.nodeLocal[c.Backend]) {
		e.deleteBlob(context.WithoutCancel(ctx), c.Backend, c.UID)
	}
	e.log.Info("dedup: chunk moved to an encrypting backend for an encrypted bucket", "chunk", c.ID, "from", c.Backend, "to", target)
	return nil
}
