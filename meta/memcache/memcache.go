// Package memcache is an in-process read-through cache of GetObject in front of a
// meta.MetaStore that this process alone writes: the embedded single-node set-up (SQLite),
// or a node serving a PostgreSQL store alone (while it holds the exclusive serve lease).
// A GET or HEAD of a hot object then costs no SQL at all; metadata was the largest part of
// a small GET's CPU after the bytes themselves.
//
// # Why it is exact
//
// Every write of an object passes through this cache (the serve process wires it in front
// of the store it gives to everything else), so the cache knows of every change the moment
// it commits. A write deletes the entry after its commit and bumps a generation counter;
// a reader that missed notes the counter before reading the store and stores what it read
// only if the counter has not moved, so a value read before a write's commit can never be
// stored after it. The counters are striped by key, so writes to other keys do not stop
// fills.
//
// # What it does not see
//
// Admin commands run as processes of their own against the same database: verify --repair
// and migrate change chunk rows (corrupt flags, locations). Entries expire after TTL
// (default 5 s), which bounds how long such a change goes unseen; a moved chunk is
// followed anyway (dedup re-reads a chunk that is missing at its recorded location).
// Another serve process on the same database would make the cache wrong: the serve
// command enables it only while it holds that database's serve lock (SQLite) or the
// exclusive serve lease (PostgreSQL), and Disable turns it off before the lease is
// handed to another process.
package memcache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"s3proxy/meta"
)

// Options tunes the cache; zero values take the defaults.
type Options struct {
	// MaxEntries bounds the cached objects (default 10,000).
	MaxEntries int
	// MaxExtents: objects with longer manifests are not cached (default 64). Their reads
	// are dominated by their bytes, and each hit copies the manifest.
	MaxExtents int
	// MaxInlineBytes bounds the inline chunk bytes (meta.Chunk.Data) held by cached
	// manifests (default 16 MiB): with inline chunks a hit serves a small object's
	// bytes too, but MaxEntries of the largest inline objects would be too much memory.
	MaxInlineBytes int64
	// TTL bounds how long an entry lives (default 5 s): how long a change made by another
	// process (an admin command) can go unseen.
	TTL time.Duration
	// Now is the clock (tests).
	Now func() time.Time
}

const stripes = 256

// Store is the cache; every method not declared here passes through to the inner store.
type Store struct {
	meta.MetaStore
	opts Options
	seed maphash.Seed

	mu      sync.Mutex
	entries map[objKey]entry
	gens    [stripes]uint64
	inline  int64 // inline bytes held by entries
	off     bool  // Disable: every read passes through

	hits, misses atomic.Int64
}

type objKey struct{ bucket, key string }

type entry struct {
	obj     meta.Object
	missing bool // the key did not exist
	inline  int64
	expires time.Time
}

// New returns the cache in front of inner.
func New(inner meta.MetaStore, o Options) *Store {
	if o.MaxEntries <= 0 {
		o.MaxEntries = 10000
	}
	if o.MaxExtents <= 0 {
		o.MaxExtents = 64
	}
	if o.MaxInlineBytes <= 0 {
		o.MaxInlineBytes = 16 << 20
	}
	if o.TTL <= 0 {
		o.TTL = 5 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Store{MetaStore: inner, opts: o, seed: maphash.MakeSeed(), entries: map[objKey]entry{}}
}

// Counters reports cache hits and misses of GetObject.
func (s *Store) Counters() (hits, misses int64) { return s.hits.Load(), s.misses.Load() }

func (s *Store) stripe(k objKey) int {
	return int(maphash.Comparable(s.seed, k) % stripes)
}

// GetObject serves from the cache, or reads through and fills it.
func (s *Store) GetObject(ctx context.Context, bucket, key string) (meta.Object, error) {
	k := objKey{bucket, key}
	st := s.stripe(k)
	now := s.opts.Now()
	s.mu.Lock()
	e, ok := s.entries[k]
	gen := s.gens[st]
	off := s.off
	s.mu.Unlock()
	if off {
		return s.MetaStore.GetObject(ctx, bucket, key)
	}
	if ok && now.Before(e.expires) {
		s.hits.Add(1)
		if e.missing {
			return meta.Object{}, notFound(bucket, key)
		}
		return clone(e.obj), nil
	}
	s.misses.Add(1)
	o, err := s.MetaStore.GetObject(ctx, bucket, key)
	missing := errors.Is(err, meta.ErrNotFound)
	if err != nil && !missing {
		return o, err
	}
	if inline := o.InlineBytes(); missing || (len(o.Manifest) <= s.opts.MaxExtents && inline <= s.opts.MaxInlineBytes) {
		s.mu.Lock()
		if s.gens[st] == gen {
			s.store(k, entry{obj: clone(o), missing: missing, inline: inline})
		}
		s.mu.Unlock()
	}
	return o, err
}

// store replaces k's entry with e, evicting others to stay within the bounds; s.mu held,
// e.inline within MaxInlineBytes.
func (s *Store) store(k objKey, e entry) {
	s.drop(k)
	if len(s.entries) >= s.opts.MaxEntries {
		s.evictOne()
	}
	for s.inline+e.inline > s.opts.MaxInlineBytes && len(s.entries) > 0 {
		s.evictOne() // e alone is within the bound: this makes room
	}
	e.expires = s.opts.Now().Add(s.opts.TTL)
	s.entries[k] = e
	s.inline += e.inline
}

// drop removes k's entry, if any; s.mu held.
func (s *Store) drop(k objKey) {
	if e, ok := s.entries[k]; ok {
		s.inline -= e.inline
		delete(s.entries, k)
	}
}

// evictOne removes one entry, in map order (random); s.mu held.
func (s *Store) evictOne() {
	for old := range s.entries {
		s.drop(old)
		return
	}
}

func notFound(bucket, key string) error {
	return fmt.Errorf("meta get object %s/%s: %w", bucket, key, meta.ErrNotFound)
}

// clone copies what a caller could change in place: maps and slices. Inline chunk bytes
// (Chunk.Data) are shared: readers never write to them (meta.Chunk.Data).
func clone(o meta.Object) meta.Object {
	o.Headers = maps.Clone(o.Headers)
	o.UserMeta = maps.Clone(o.UserMeta)
	o.Checksums = maps.Clone(o.Checksums)
	o.Parts = slices.Clone(o.Parts)
	o.Manifest = slices.Clone(o.Manifest)
	o.SHA256 = slices.Clone(o.SHA256)
	o.MD5 = slices.Clone(o.MD5)
	return o
}

// invalidate forgets bucket/key and stops fills that started before now.
func (s *Store) invalidate(bucket, key string) {
	k := objKey{bucket, key}
	st := s.stripe(k)
	s.mu.Lock()
	s.drop(k)
	s.gens[st]++
	s.mu.Unlock()
}

// Disable turns the cache off: every read passes through to the store until Enable. When it
// returns, no read will be answered from an entry, and no read that began before it will
// fill one: another process may write the store from then on (the PostgreSQL serve lease
// calls it before letting one in).
func (s *Store) Disable() {
	s.mu.Lock()
	s.off = true
	s.mu.Unlock()
	s.invalidateAll()
}

// Enable turns the cache back on, empty. The caller is again the store's only writer.
func (s *Store) Enable() {
	s.invalidateAll()
	s.mu.Lock()
	s.off = false
	s.mu.Unlock()
}

// invalidateAll forgets everything (rare writes that may touch any entry: a bucket's
// removal, a chunk's new location or corrupt flag).
func (s *Store) invalidateAll() {
	s.mu.Lock()
	clear(s.entries)
	s.inline = 0
	for i := range s.gens {
		s.gens[i]++
	}
	s.mu.Unlock()
}

// The writes invalidate after the inner call whatever its outcome: a failed call may
// still have committed (a lost connection after COMMIT).

// PutObject and DeleteObject also store what they wrote (write-through), so that the
// next read of the key costs no query: the object written, or the key's absence. That is
// exact when no other write of the key's stripe ended while this one ran (the stripe's
// generation moved by this write alone): a write that commits after this one ends after
// it too, so it either ended before the store (and moved the generation) or will drop
// the entry when it ends. The object stored is the one written, with its manifest's
// chunk rows as the store returned them for the chunks this write indexed (extents with
// ChunkID 0 on entry, see meta.Extent); a manifest naming chunks indexed earlier is not
// stored, since the caller's copies of their rows may be older than the index. Only
// objects whose bytes are all inline are written through: for them the query is most of
// a read's cost, while the first read of a large object pays one query against its
// transfer, and caching every large object written would fill the cache (and the heap:
// +15 MiB peak RSS over a benchmark run) with objects that may never be read.

func (s *Store) PutObject(ctx context.Context, o meta.Object, cond meta.WriteCondition) (*meta.Object, error) {
	k := objKey{o.Bucket, o.Key}
	st := s.stripe(k)
	fresh := o.NewChunksOnly() // before the call, which fills in the chunk ids
	s.mu.Lock()
	gen := s.gens[st]
	s.mu.Unlock()
	replaced, err := s.MetaStore.PutObject(ctx, o, cond)
	var e *entry
	if inline := o.InlineBytes(); err == nil && fresh && inline == o.Size && !o.ModTime.IsZero() {
		e = &entry{obj: written(o), inline: inline}
	}
	s.settle(k, st, gen, e)
	return replaced, err
}

func (s *Store) DeleteObject(ctx context.Context, bucket, key string, cond meta.WriteCondition) (meta.Object, error) {
	k := objKey{bucket, key}
	st := s.stripe(k)
	s.mu.Lock()
	gen := s.gens[st]
	s.mu.Unlock()
	out, err := s.MetaStore.DeleteObject(ctx, bucket, key, cond)
	var e *entry
	if err == nil {
		e = &entry{missing: true}
	}
	s.settle(k, st, gen, e)
	return out, err
}

// PutDeleteMarker and DeleteObjectVersion change (or may change) which version is
// current: the key's entry is dropped, nothing left behind.
func (s *Store) PutDeleteMarker(ctx context.Context, m meta.Object, cond meta.WriteCondition) (*meta.Object, error) {
	k := objKey{m.Bucket, m.Key}
	st := s.stripe(k)
	s.mu.Lock()
	gen := s.gens[st]
	s.mu.Unlock()
	replaced, err := s.MetaStore.PutDeleteMarker(ctx, m, cond)
	s.settle(k, st, gen, nil)
	return replaced, err
}

func (s *Store) DeleteObjectVersion(ctx context.Context, bucket, key, versionID string, cond meta.VersionCondition) (meta.Object, error) {
	k := objKey{bucket, key}
	st := s.stripe(k)
	s.mu.Lock()
	gen := s.gens[st]
	s.mu.Unlock()
	out, err := s.MetaStore.DeleteObjectVersion(ctx, bucket, key, versionID, cond)
	s.settle(k, st, gen, nil)
	return out, err
}

// settle ends a write of k begun at stripe generation gen: the key's entry is dropped and
// the generation moved, and e (what the write left, or nil) is stored if no other write
// of the stripe ended meanwhile.
func (s *Store) settle(k objKey, st int, gen uint64, e *entry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.drop(k)
	s.gens[st]++
	if e != nil && !s.off && s.gens[st] == gen+1 && e.inline <= s.opts.MaxInlineBytes {
		s.store(k, *e)
	}
}

// written is o as GetObject returns it after the write: the caller's maps and slices
// copied, the time without its monotonic reading and in UTC, the chunk rows without the
// reference counts a manifest need not carry (meta.MetaStore.GetObject).
func written(o meta.Object) meta.Object {
	o = clone(o)
	o.ModTime = o.ModTime.UTC().Round(0)
	for i := range o.Manifest {
		c := &o.Manifest[i].Chunk
		c.Refs, c.ZeroSince = 0, nil
		c.Checksums = maps.Clone(c.Checksums)
		c.Data = bytes.Clone(c.Data) // the writer's buffer: not ours to share
		o.Manifest[i].NewChunkScope = ""
	}
	return o
}

func (s *Store) SetObjectDigests(ctx context.Context, bucket, key, etag string, sha256, md5 []byte) error {
	defer s.invalidate(bucket, key)
	return s.MetaStore.SetObjectDigests(ctx, bucket, key, etag, sha256, md5)
}

func (s *Store) CompleteUpload(ctx context.Context, uploadID string, o meta.Object, cond meta.WriteCondition) (*meta.Object, error) {
	defer s.invalidate(o.Bucket, o.Key)
	return s.MetaStore.CompleteUpload(ctx, uploadID, o, cond)
}

func (s *Store) DeleteBucket(ctx context.Context, name string) error {
	defer s.invalidateAll()
	return s.MetaStore.DeleteBucket(ctx, name)
}

func (s *Store) MoveChunk(ctx context.Context, id int64, backend, node, uid string) error {
	defer s.invalidateAll()
	return s.MetaStore.MoveChunk(ctx, id, backend, node, uid)
}

func (s *Store) MarkChunkCorrupt(ctx context.Context, id int64, corrupt bool) error {
	defer s.invalidateAll()
	return s.MetaStore.MarkChunkCorrupt(ctx, id, corrupt)
}
