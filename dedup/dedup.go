// Package dedup owns content-addressed ingest: one pass over a body computes every
// digest while the bytes stream into a fresh chunk; content already indexed is kept once.
// It also opens chunks for reading (wherever they live) and collects garbage.
//
// Ordering is the invariant that keeps data safe: a chunk is durably written to its
// backend before its index row exists, and an index row exists before any manifest
// references it. A crash therefore leaves at worst an unreferenced blob or an
// unreferenced index row, both of which the collector sweeps after a grace period.
package dedup

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"s3proxy/backends"
	"s3proxy/dedup/digest"
	"s3proxy/meta"
)

// ErrChunkUnavailable means a chunk referenced by metadata could not be read: its
// backend or owning node is unreachable. Callers report it as a retryable server error.
var ErrChunkUnavailable = errors.New("chunk unavailable")

// ErrChunkMissing means metadata references a chunk that its backend does not hold:
// corruption, never a client's 404.
var ErrChunkMissing = errors.New("chunk missing from its backend")

// ErrChunkCorrupt means verify found the chunk damaged and no copy to repair it.
var ErrChunkCorrupt = errors.New("chunk is marked corrupt")

// Remote opens chunks held by other nodes (node-local backends in a cluster).
type Remote interface {
	OpenRemote(ctx context.Context, c meta.Chunk, offset, length int64) (io.ReadCloser, error)
}

// Engine is the dedup layer.
type Engine struct {
	meta           meta.MetaStore
	stores         map[string]backends.BlobStore
	defaultBackend string
	node           string
	nodeLocal      map[string]bool // backends whose chunks live on one node's disk
	encrypted      map[string]bool // backends that encrypt their chunks at rest
	remote         Remote
	log            *slog.Logger
	md5            *digest.MD5Server
	inlineMax      int64
}

// DefaultInlineMax is the largest body kept inline in the metadata store by default.
// A 4 KiB PUT to a local disk costs a file, two fsyncs and a second transaction; kept in
// its index row it costs one transaction, and a GET of it no file at all (see
// docs/design-notes.md, "Inline chunks").
const DefaultInlineMax = 16 << 10

// Config wires an Engine.
type Config struct {
	Meta           meta.MetaStore
	Stores         map[string]backends.BlobStore
	DefaultBackend string
	// Node is this process's node id; recorded on chunks of node-local backends.
	Node string
	// NodeLocal names the backends whose storage is private to a node (local disk).
	NodeLocal map[string]bool
	// Encrypted names the backends that encrypt their chunks at rest (backends/encrypt).
	// Content written for such a backend is never kept inline, nor deduplicated onto a
	// copy that is not encrypted (see EnsureEncrypted).
	Encrypted map[string]bool
	Remote    Remote
	Log       *slog.Logger
	// MD5 computes ingest MD5s (ETags) for concurrent uploads in SIMD lanes; nil uses
	// crypto/md5. The caller owns and closes it.
	MD5 *digest.MD5Server
	// InlineMax: bodies of a declared size up to this many bytes become inline chunks,
	// kept in the metadata store (0 = DefaultInlineMax, negative = never).
	InlineMax int64
}

// New returns an Engine.
func New(cfg Config) (*Engine, error) {
	if cfg.Meta == nil || len(cfg.Stores) == 0 {
		return nil, errors.New("dedup: meta store and at least one backend are required")
	}
	if _, ok := cfg.Stores[cfg.DefaultBackend]; !ok {
		return nil, fmt.Errorf("dedup: default backend %q is not configured", cfg.DefaultBackend)
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.InlineMax == 0 {
		cfg.InlineMax = DefaultInlineMax
	}
	return &Engine{meta: cfg.Meta, stores: cfg.Stores, defaultBackend: cfg.DefaultBackend, node: cfg.Node,
		nodeLocal: cfg.NodeLocal, encrypted: cfg.Encrypted, remote: cfg.Remote, log: cfg.Log, md5: cfg.MD5, inlineMax: cfg.InlineMax}, nil
}

// InlineMax is the largest declared body that becomes an inline chunk (-1: none).
func (e *Engine) InlineMax() int64 {
	if e.inlineMax < 0 {
		return -1
	}
	return e.inlineMax
}

// Encrypted reports whether backend ("" = the default) encrypts its chunks at rest.
// Inline chunks (meta.InlineBackend) are not: they sit in the metadata store as given.
func (e *Engine) Encrypted(backend string) bool {
	if backend == "" {
		backend = e.defaultBackend
	}
	return e.encrypted[backend]
}

// SetRemote installs the forwarder for chunks held by other nodes.
func (e *Engine) SetRemote(r Remote) { e.remote = r }

// Node returns this node's id.
func (e *Engine) Node() string { return e.node }

// Store returns a backend by name.
func (e *Engine) Store(name string) (backends.BlobStore, bool) {
	s, ok := e.stores[name]
	return s, ok
}

// Stores returns every configured backend.
func (e *Engine) Stores() map[string]backends.BlobStore { return e.stores }

// NewUID returns a fresh chunk key: 32 hex characters of randomness, so keys never
// collide and never reveal content or names.
func NewUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return hex.EncodeToString(b[:])
}

// IngestInput describes a body to store.
type IngestInput struct {
	Body    io.Reader
	Expect  digest.Expect
	Backend string // placement ("" = default)
	Scope   string // dedup scope of the writer
	// DeferIndex: the new chunk is not indexed here; Ingested.Chunk comes back with ID 0
	// for the caller's meta PutObject to index in its own transaction (meta.Extent.Chunk),
	// so that a PUT commits once. The caller must then use SettleNew.
	DeferIndex bool
}

// Ingested is the result of Ingest: the chunk to reference and the body's digests.
type Ingested struct {
	Chunk meta.Chunk
	Sums  digest.Sums
	// Deduplicated is true when the content was already stored.
	Deduplicated bool
	// spare is our own freshly written copy when the index already had the content: kept
	// until the caller's metadata commit succeeds, in case the indexed copy is collected
	// in between (then ours is indexed instead).
	spare *meta.Chunk
	scope string
	// deferred: Chunk is ours and not indexed yet (IngestInput.DeferIndex).
	deferred bool
}

// Ingest streams in.Body into a new chunk while hashing it, verifies the declared
// digests (a mismatch fails the write: nothing is stored), then indexes the chunk or,
// when the content is already indexed, arranges to keep only the existing copy.
// The caller must call Settle with its metadata commit.
func (e *Engine) Ingest(ctx context.Context, in IngestInput) (*Ingested, error) {
	backend := in.Backend
	if backend == "" {
		backend = e.defaultBackend
	}
	store, ok := e.stores[backend]
	if !ok {
		return nil, fmt.Errorf("dedup: backend %q is not configured", backend)
	}
	dr, err := digest.NewReader(in.Body, in.Expect, digest.WithMD5Server(e.md5))
	if err != nil {
		return nil, err
	}
	defer dr.Close()
	uid := NewUID()
	var data []byte
	// A body for an encrypting backend is never inline: the metadata store would hold
	// it in clear (docs/design-notes.md, "Encryption at rest").
	if in.Expect.Size >= 0 && in.Expect.Size <= e.inlineMax && !e.encrypted[backend] {
		// Small enough to live in its index row: read it whole (the size is declared, so
		// this buffer is bounded by inlineMax), verified by the digest reader at EOF.
		data, err = readInline(dr, in.Expect.Size)
		if err != nil {
			return nil, err
		}
		backend = meta.InlineBackend
	} else if err := store.Put(ctx, uid, dr, in.Expect.Size, backends.PutOptions{SHA256: dr.SHA256}); err != nil {
		var mm *digest.MismatchError
		if errors.As(err, &mm) {
			return nil, mm
		}
		return nil, fmt.Errorf("dedup: write chunk to %s: %w", backend, err)
	}
	if !dr.Done() {
		// A store must read to EOF; if it did not, the digests are not trustworthy.
		e.deleteBlob(context.WithoutCancel(ctx), backend, uid)
		return nil, fmt.Errorf("dedup: backend %s did not consume the body", backend)
	}
	sums := dr.Sums()
	c := meta.Chunk{UID: uid, SHA256: sums.SHA256, MD5: sums.MD5, Size: sums.Size, Backend: backend, Data: data}
	// The chunk remembers every checksum computed for it, so that a later upload
	// declaring one can be proven equal without its body; SHA-256 and MD5 it has anyway.
	for a, v := range sums.Checksums {
		if a == digest.SHA256 || a == digest.MD5 {
			continue
		}
		if c.Checksums == nil {
			c.Checksums = make(map[string]string, len(sums.Checksums))
		}
		c.Checksums[a] = v
	}
	if e.nodeLocal[backend] {
		c.Node = e.node
	}
	if in.DeferIndex {
		return &Ingested{Chunk: c, Sums: sums, scope: in.Scope, deferred: true}, nil
	}
	got, created, err := e.meta.InsertChunk(ctx, c, in.Scope)
	if err != nil {
		e.deleteBlob(context.WithoutCancel(ctx), backend, uid)
		return nil, fmt.Errorf("dedup: index chunk: %w", err)
	}
	if !created && got.Corrupt && backend != meta.InlineBackend {
		// verify found the indexed copy damaged and had nothing to restore it from; this
		// body is that content, verified by its digest: it becomes the chunk's bytes.
		if healed, err := e.heal(ctx, got, c); err == nil {
			return &Ingested{Chunk: healed, Sums: sums, Deduplicated: true, scope: in.Scope}, nil
		} else {
			e.log.Warn("dedup: could not restore a chunk marked corrupt from a fresh upload", "chunk", got.ID, "err", err)
		}
	}
	if !created && e.encrypted[backend] && !e.encrypted[got.Backend] {
		// The content is indexed in clear (a plain bucket's copy, or inline) and this body
		// was written encrypted: our copy becomes the indexed one before the caller
		// commits, so an encrypted bucket never references clear bytes, even for the
		// moment between its commit and a move, and nothing is copied twice. InsertChunk
		// restarted an unreferenced chunk's GC grace, so the row cannot be collected
		// (with our blob as its location) before the commit references it.
		if adopted, err := e.adopt(ctx, got, c); err == nil {
			return &Ingested{Chunk: adopted, Sums: sums, Deduplicated: true, scope: in.Scope}, nil
		} else {
			e.log.Warn("dedup: could not store content indexed in clear encrypted from a fresh upload", "chunk", got.ID, "err", err)
		}
	}
	ing := &Ingested{Chunk: got, Sums: sums, Deduplicated: !created, scope: in.Scope}
	if !created {
		spare := c
		ing.spare = &spare
	}
	return ing, nil
}

// adopt makes fresh (a new upload's copy, verified by its digests) the location of the
// indexed chunk old, and deletes old's blob: readers that loaded the old location follow
// the move (Open). It is the heal of a damaged chunk without the corrupt flag.
func (e *Engine) adopt(ctx context.Context, old, fresh meta.Chunk) (meta.Chunk, error) {
	if err := e.meta.MoveChunk(ctx, old.ID, fresh.Backend, fresh.Node, fresh.UID); err != nil {
		return meta.Chunk{}, err
	}
	if old.Backend != meta.InlineBackend && (old.Node == "" || old.Node == e.node || !e.nodeLocal[old.Backend]) {
		e.deleteBlob(context.WithoutCancel(ctx), old.Backend, old.UID)
	}
	moved := old
	moved.Backend, moved.Node, moved.UID, moved.Data = fresh.Backend, fresh.Node, fresh.UID, nil
	return moved, nil
}

// readInline reads a body of declared size bytes, and its EOF (which runs the digest
// checks: a shorter or longer body fails there), into memory.
func readInline(dr *digest.Reader, size int64) ([]byte, error) {
	data := make([]byte, size+1) // a spare byte, so that the read goes on to EOF
	n, err := io.ReadFull(dr, data)
	switch {
	case err == nil:
		// Unreachable: the digest reader fails a body longer than declared.
		return nil, fmt.Errorf("dedup: body longer than its declared %d bytes", size)
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		if !dr.Done() {
			return nil, fmt.Errorf("dedup: reading body: %w", err)
		}
		return data[:n:n], nil
	}
	var mm *digest.MismatchError
	if errors.As(err, &mm) {
		return nil, mm
	}
	return nil, fmt.Errorf("dedup: reading body: %w", err)
}

// heal points a chunk marked corrupt at fresh, verified bytes (written as fresh) and
// clears the mark; the damaged blob is deleted when this node can reach it.
func (e *Engine) heal(ctx context.Context, damaged, fresh meta.Chunk) (meta.Chunk, error) {
	healed, err := e.adopt(ctx, damaged, fresh)
	if err != nil {
		return meta.Chunk{}, err
	}
	if err := e.meta.MarkChunkCorrupt(ctx, damaged.ID, false); err != nil {
		return meta.Chunk{}, err
	}
	e.log.Info("dedup: chunk marked corrupt restored from a new upload of its content", "chunk", damaged.ID)
	healed.Corrupt = false
	return healed, nil
}

// Settle runs commit (the metadata change referencing ing.Chunk). If the indexed copy
// vanished under us (collected between lookup and commit: the commit fails with
// meta.ErrConflict), our own copy is indexed and the commit retried once. Our spare copy
// is deleted afterwards when it is not needed.
func (e *Engine) Settle(ctx context.Context, ing *Ingested, commit func(meta.Chunk) error) error {
	err := commit(ing.Chunk)
	if err != nil && ing.spare != nil && errors.Is(err, meta.ErrConflict) {
		got, created, ierr := e.meta.InsertChunk(ctx, *ing.spare, ing.scope)
		if ierr == nil {
			if created {
				ing.spare = nil // ours is now the indexed copy
			}
			ing.Chunk = got
			err = commit(got)
		}
	}
	if ing.spare != nil {
		e.deleteBlob(context.WithoutCancel(ctx), ing.spare.Backend, ing.spare.UID)
		ing.spare = nil
	}
	return err
}

// SettleNew runs commit for an ingest made with DeferIndex: commit writes the metadata
// with ing.Chunk as a new chunk (meta.Extent with ChunkID 0, which meta PutObject indexes
// in the same transaction) and returns the chunk the index holds for the content once
// committed (the zero Chunk if the metadata references none). Our blob is deleted when
// the index kept another copy, or when the commit failed: it was never indexed, so
// nothing else can refer to it. ing must come from an Ingest with DeferIndex.
func (e *Engine) SettleNew(ctx context.Context, ing *Ingested, commit func(meta.Chunk) (meta.Chunk, error)) error {
	ours := ing.Chunk
	used, err := commit(ours)
	if errors.Is(err, meta.ErrCorruptChunk) {
		// The content is indexed as a copy verify found damaged: ours restores it (the
		// store-level heal, whose MoveChunk and MarkChunkCorrupt the caches see), and the
		// write references the restored chunk.
		fresh := ours
		if ours.Backend == meta.InlineBackend {
			// A damaged blob is restored as a blob: write these bytes to the default backend.
			fresh.Backend, fresh.UID, fresh.Data = e.defaultBackend, NewUID(), nil
			if e.nodeLocal[fresh.Backend] {
				fresh.Node = e.node
			}
			sum := ours.SHA256
			if perr := e.stores[fresh.Backend].Put(ctx, fresh.UID, bytes.NewReader(ours.Data), ours.Size,
				backends.PutOptions{SHA256: func() [32]byte { return sum }}); perr != nil {
				return fmt.Errorf("dedup: restore a chunk marked corrupt: %w", perr)
			}
			ours = fresh
		}
		if got, _, ierr := e.meta.InsertChunk(ctx, ours, ing.scope); ierr != nil {
			err = ierr
		} else if healed, herr := e.heal(ctx, got, ours); herr != nil {
			err = herr
		} else {
			used, err = commit(healed)
		}
	}
	if err != nil || used.UID != ours.UID || used.Backend != ours.Backend {
		e.deleteBlob(context.WithoutCancel(ctx), ours.Backend, ours.UID)
	}
	if err == nil {
		ing.Chunk, ing.Deduplicated, ing.deferred = used, used.UID != ours.UID, false
	}
	return err
}

// Discard releases an ingested body whose metadata commit will not happen. The indexed
// chunk (refs 0) is left for the collector, since another writer may reference it.
func (e *Engine) Discard(ctx context.Context, ing *Ingested) {
	if ing != nil && ing.deferred {
		e.deleteBlob(context.WithoutCancel(ctx), ing.Chunk.Backend, ing.Chunk.UID) // never indexed
		ing.deferred = false
		return
	}
	if ing != nil && ing.spare != nil {
		e.deleteBlob(context.WithoutCancel(ctx), ing.spare.Backend, ing.spare.UID)
		ing.spare = nil
	}
}

func (e *Engine) deleteBlob(ctx context.Context, backend, uid string) {
	s, ok := e.stores[backend]
	if !ok {
		return
	}
	if err := s.Delete(ctx, uid); err != nil {
		// Harmless: the orphan sweep removes unindexed blobs later.
		e.log.Warn("delete spare chunk", "backend", backend, "uid", uid, "err", err)
	}
}

// Lookup finds indexed content by SHA-256 within scope ("" = any), for instant upload.
func (e *Engine) Lookup(ctx context.Context, sum [32]byte, scope string) (meta.Chunk, error) {
	return e.meta.FindChunk(ctx, sum, scope)
}

// Open reads length bytes (-1 = to the end) of a chunk from offset, from wherever it lives.
//
// A chunk may move while it is read (s3proxy migrate copies it, switches its location
// and deletes the old copy): a caller holding a manifest loaded before the switch asks
// for the old location. So a chunk its backend does not hold is looked up again by id,
// and read from its new location if it has one; only a chunk that is missing where the
// index says it is counts as missing.
func (e *Engine) Open(ctx context.Context, c meta.Chunk, offset, length int64) (io.ReadCloser, error) {
	rc, err := e.open(ctx, c, offset, length)
	for moves := 0; err != nil && errors.Is(err, ErrChunkMissing) && moves < maxRelocations; moves++ {
		moved, ok := e.relocated(ctx, c)
		if !ok {
			break
		}
		c = moved
		rc, err = e.open(ctx, c, offset, length)
	}
	if err != nil {
		return nil, err
	}
	return &chunkReader{e: e, ctx: ctx, rc: rc, c: c, offset: offset, length: length}, nil
}

// maxRelocations bounds how often one read follows a moving chunk.
const maxRelocations = 3

// relocated returns the chunk's current index entry if its location differs from c's.
func (e *Engine) relocated(ctx context.Context, c meta.Chunk) (meta.Chunk, bool) {
	cur, err := e.meta.GetChunk(ctx, c.ID)
	if err != nil || (cur.Backend == c.Backend && cur.UID == c.UID && cur.Node == c.Node) {
		return c, false
	}
	e.log.Debug("chunk moved while being read", "chunk", c.ID, "from", c.Backend, "to", cur.Backend)
	return cur, true
}

func (e *Engine) open(ctx context.Context, c meta.Chunk, offset, length int64) (io.ReadCloser, error) {
	if c.Corrupt {
		return nil, fmt.Errorf("%w: chunk %d (%s)", ErrChunkCorrupt, c.ID, c.UID)
	}
	if c.Backend == meta.InlineBackend {
		return openInline(c, offset, length)
	}
	if c.Node != "" && c.Node != e.node && e.nodeLocal[c.Backend] {
		if e.remote == nil {
			return nil, fmt.Errorf("%w: chunk %s is held by node %s and forwarding is not configured", ErrChunkUnavailable, c.UID, c.Node)
		}
		rc, err := e.remote.OpenRemote(ctx, c, offset, length)
		if err != nil && errors.Is(err, backends.ErrNotFound) && !errors.Is(err, ErrChunkMissing) {
			err = fmt.Errorf("%w: %w", ErrChunkMissing, err)
		}
		return rc, err
	}
	store, ok := e.stores[c.Backend]
	if !ok {
		return nil, fmt.Errorf("%w: backend %q of chunk %s is not configured", ErrChunkUnavailable, c.Backend, c.UID)
	}
	rc, err := store.Get(ctx, c.UID, offset, length)
	if err != nil {
		return nil, classifyRead(c, err)
	}
	return rc, nil
}

// openInline reads an inline chunk's bytes from its index entry.
func openInline(c meta.Chunk, offset, length int64) (io.ReadCloser, error) {
	size := int64(len(c.Data))
	if size != c.Size {
		// The manifest came without the bytes (or they were cut): never serve a short body.
		return nil, fmt.Errorf("%w: inline chunk %d has %d of its %d bytes", ErrChunkMissing, c.ID, size, c.Size)
	}
	if length == -1 && offset >= 0 && offset <= size {
		length = size - offset
	}
	if offset < 0 || length < 0 || offset+length > size {
		return nil, fmt.Errorf("inline chunk %d: range %d+%d of %d bytes: %w", c.ID, offset, length, size, backends.ErrInvalid)
	}
	return io.NopCloser(bytes.NewReader(c.Data[offset : offset+length])), nil
}

// OpenLocal opens a chunk of a backend held by this node (the owner side of forwarding).
func (e *Engine) OpenLocal(ctx context.Context, backend, uid string, offset, length int64) (io.ReadCloser, error) {
	store, ok := e.stores[backend]
	if !ok {
		return nil, fmt.Errorf("%w: backend %q", backends.ErrNotFound, backend)
	}
	return store.Get(ctx, uid, offset, length)
}

func classifyRead(c meta.Chunk, err error) error {
	switch {
	case errors.Is(err, backends.ErrNotFound):
		return fmt.Errorf("%w: chunk %d (%s) in %s: %v", ErrChunkMissing, c.ID, c.UID, c.Backend, err)
	case errors.Is(err, backends.ErrCanceled), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case errors.Is(err, backends.ErrCorrupt):
		return fmt.Errorf("%w: chunk %d (%s) in %s: %w", ErrChunkCorrupt, c.ID, c.UID, c.Backend, err)
	default:
		return fmt.Errorf("%w: chunk %s in %s: %w", ErrChunkUnavailable, c.UID, c.Backend, err)
	}
}

// chunkReader classifies errors surfacing mid-stream (stores that report a missing key
// only on first Read), and follows a chunk that moved before its first byte arrived.
type chunkReader struct {
	e      *Engine
	ctx    context.Context
	rc     io.ReadCloser
	c      meta.Chunk
	offset int64
	length int64
	n      int64 // bytes delivered
	moves  int
}

// reopen switches to the chunk's new location after err, if it moved and nothing has
// been delivered yet (a store that stops a stream halfway is not followed: the bytes
// already delivered came from a copy that is gone, and the caller must see the error).
func (r *chunkReader) reopen(err error) bool {
	if r.n > 0 || r.moves >= maxRelocations || !errors.Is(err, backends.ErrNotFound) {
		return false
	}
	moved, ok := r.e.relocated(r.ctx, r.c)
	if !ok {
		return false
	}
	rc, oerr := r.e.open(r.ctx, moved, r.offset, r.length)
	if oerr != nil {
		return false
	}
	r.rc.Close()
	r.rc, r.c = rc, moved
	r.moves++
	return true
}

func (r *chunkReader) Read(p []byte) (int, error) {
	for {
		n, err := r.rc.Read(p)
		r.n += int64(n)
		if err != nil && err != io.EOF {
			if r.reopen(err) {
				continue
			}
			err = classifyRead(r.c, err)
		}
		return n, err
	}
}

// WriteTo lets io.Copy reach the store's own reader (and so sendfile for local files).
func (r *chunkReader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		n, err := io.Copy(w, r.rc)
		r.n += n
		total += n
		if err != nil {
			if r.reopen(err) {
				continue
			}
			err = classifyRead(r.c, err)
		}
		return total, err
	}
}

func (r *chunkReader) Close() error { return r.rc.Close() }

// GCResult counts what a collection did.
type GCResult struct {
	Chunks      int64 // index entries removed
	Bytes       int64
	Orphans     int64 // blobs with no index entry removed
	OrphanBytes int64
	Errors      int64
}

// GC removes chunks unreferenced for longer than grace, then blobs that no index entry
// names (left by a crash between writing a chunk and indexing it) older than grace.
// Each index entry is deleted by a statement that re-checks it is still unreferenced,
// so a concurrent upload that references the chunk first always wins; the blob is
// deleted only after its entry is gone.
func (e *Engine) GC(ctx context.Context, grace time.Duration, progress func(GCResult)) (GCResult, error) {
	var res GCResult
	cutoff := time.Now().Add(-grace)
	for {
		cands, err := e.meta.GCCandidates(ctx, cutoff, 500)
		if err != nil {
			return res, err
		}
		if len(cands) == 0 {
			break
		}
		removed := 0
		for _, c := range cands {
			ok, err := e.meta.DeleteChunkIfUnreferenced(ctx, c.ID, cutoff)
			if err != nil {
				res.Errors++
				e.log.Warn("gc: delete index entry", "chunk", c.ID, "err", err)
				continue
			}
			if !ok {
				continue
			}
			removed++
			if s, ok := e.stores[c.Backend]; ok && (c.Node == "" || c.Node == e.node || !e.nodeLocal[c.Backend]) {
				if err := s.Delete(ctx, c.UID); err != nil {
					res.Errors++
					e.log.Warn("gc: delete blob", "backend", c.Backend, "uid", c.UID, "err", err)
				}
			}
			// A blob on another node's disk is swept by that node's orphan pass.
			res.Chunks++
			res.Bytes += c.Size
		}
		if progress != nil {
			progress(res)
		}
		if removed == 0 {
			break // only racing entries left; try again next round
		}
	}
	for name, s := range e.stores {
		if err := e.sweepOrphans(ctx, name, s, cutoff, &res); err != nil {
			return res, err
		}
	}
	if progress != nil {
		progress(res)
	}
	return res, nil
}

// SweepNodeLocal removes blobs that no index entry names, older than grace, from this
// node's node-local backends (local disks) only. In a cluster one node at a time runs GC
// (the shared index and shared stores) while every node sweeps its own disk with this:
// the blob of a chunk held by another node is only reachable from that node.
func (e *Engine) SweepNodeLocal(ctx context.Context, grace time.Duration) (GCResult, error) {
	var res GCResult
	cutoff := time.Now().Add(-grace)
	for name, s := range e.stores {
		if !e.nodeLocal[name] {
			continue
		}
		if err := e.sweepOrphans(ctx, name, s, cutoff, &res); err != nil {
			return res, err
		}
	}
	return res, nil
}

func (e *Engine) sweepOrphans(ctx context.Context, name string, s backends.BlobStore, cutoff time.Time, res *GCResult) error {
	var orphans []backends.Info
	err := s.List(ctx, "", func(info backends.Info) error {
		if info.ModTime.After(cutoff) {
			return nil // may be a chunk being written right now
		}
		if _, err := e.meta.ChunkByUID(ctx, info.Key); err == nil {
			return nil
		} else if !errors.Is(err, meta.ErrNotFound) {
			return err
		}
		orphans = append(orphans, info)
		return nil
	})
	if err != nil {
		return fmt.Errorf("gc: list %s: %w", name, err)
	}
	for _, o := range orphans {
		// Re-check: a slow ingest may have indexed it since the listing.
		if _, err := e.meta.ChunkByUID(ctx, o.Key); !errors.Is(err, meta.ErrNotFound) {
			continue
		}
		if err := s.Delete(ctx, o.Key); err != nil {
			res.Errors++
			continue
		}
		res.Orphans++
		res.OrphanBytes += o.Size
	}
	return nil
}
