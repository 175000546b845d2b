package dedup

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"s3proxy/backends"
	"s3proxy/meta"
)

// MigrateOptions configures Migrate.
type MigrateOptions struct {
	// To names the backend chunks move to.
	To string
	// Bucket, when set, moves only chunks referenced by that bucket's objects.
	Bucket string
	// DeleteDelay is how long a moved chunk's old copy is kept after the switch, for
	// readers that opened it just before (see Migrate). 0 deletes at once.
	DeleteDelay time.Duration
	// Rekey re-encrypts, on To itself, the chunks of To that are encrypted with a key
	// other than its current one (To must encrypt): the same copy, switch and delete as a
	// move, with the copy written under the current key, so that an old key can be
	// retired without the content ever leaving the encrypting store.
	Rekey bool
	// Workers is how many chunks are copied at once (default 4).
	Workers int
	// PageSize is how many index entries are read per query (default 500).
	PageSize int
	// Progress, when set, is called after every chunk (from the workers' goroutines,
	// one call at a time) and once at the end.
	Progress func(MigrateProgress)
}

// MigrateProgress counts what a migration did so far.
type MigrateProgress struct {
	// TotalChunks and TotalBytes are what was to be moved when the migration started.
	TotalChunks, TotalBytes int64
	Chunks, Bytes           int64 // moved
	Skipped                 int64 // gone from the index meanwhile (collected)
	Current                 int64 // Rekey: already under the current key, left as they are
	Failed                  int64
	Done                    bool
}

// Migrate moves chunks to another backend while the gateway serves.
//
// For each chunk not on opts.To (paged by id through the chunk index, so a restart goes
// over the same order and skips what already moved): stream it from where it is into
// the target under a fresh uid, hashing on the way and failing the write at EOF if the
// SHA-256 differs from the index (a failed Put leaves nothing), switch the chunk's
// location with one MoveChunk update, then delete the old copy.
//
// Interrupted at any point, it leaves the index consistent: before the switch the chunk
// is where it was (a copy already written to the target is an orphan the collector
// sweeps), after it the chunk is on the target (an old copy not yet deleted is an orphan
// too). Run again, it resumes.
//
// Reads never fail because of a move: Engine.Open looks a chunk that is missing from its
// backend up again and follows it to its new location, which covers every reader that
// loaded a manifest before the switch and opens the chunk after the delete. A reader
// that opened the old copy before the delete keeps reading it on local disk (an open
// file outlives its name) and on object stores that finish a GET in flight; for stores
// that might cut such a stream, DeleteDelay keeps old copies for a while: they are
// deleted as their time comes, the last ones when it has come at the end of the run, or
// at once when the run is interrupted (left to the collector if that fails).
func (e *Engine) Migrate(ctx context.Context, opts MigrateOptions) (MigrateProgress, error) {
	target, ok := e.stores[opts.To]
	if !ok {
		return MigrateProgress{}, fmt.Errorf("migrate: backend %q is not configured", opts.To)
	}
	if err := target.Health(ctx); err != nil {
		return MigrateProgress{}, fmt.Errorf("migrate: target backend %q is not usable: %w", opts.To, err)
	}
	var keys keyedStore
	if opts.Rekey {
		if keys, ok = keyed(target); !ok {
			return MigrateProgress{}, fmt.Errorf("migrate: backend %q does not encrypt: nothing to re-encrypt", opts.To)
		}
	}
	if opts.Workers <= 0 {
		opts.Workers = 4
	}
	if opts.PageSize <= 0 {
		opts.PageSize = 500
	}
	m := &migration{e: e, opts: opts, target: target, keys: keys}
	if err := m.count(ctx); err != nil {
		return m.snapshot(), err
	}
	m.report()
	err := m.run(ctx)
	m.flushDeletes(ctx)
	m.mu.Lock()
	m.p.Done = true
	m.mu.Unlock()
	m.report()
	p := m.snapshot()
	if err == nil && p.Failed > 0 {
		err = fmt.Errorf("migrate: %d chunks could not be moved (see the log); run again to retry them", p.Failed)
	}
	return p, err
}

type migration struct {
	e      *Engine
	opts   MigrateOptions
	target backends.BlobStore
	keys   keyedStore // Rekey: the target's key ids

	mu      sync.Mutex // guards p and progress calls
	p       MigrateProgress
	pending []pendingDelete // old copies waiting for DeleteDelay, oldest first
}

type pendingDelete struct {
	c   meta.Chunk // the old location
	due time.Time
}

func (m *migration) snapshot() MigrateProgress {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.p
}

func (m *migration) report() {
	if m.opts.Progress == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.opts.Progress(m.p)
}

// sources are the backends chunks move from: every one but the target, and the
// metadata store's inline chunks when the target encrypts (so that migrating a bucket to
// an encrypting backend leaves none of its content in clear).
func (m *migration) sources() []string {
	if m.opts.Rekey {
		return []string{m.opts.To}
	}
	var names []string
	for name := range m.e.stores {
		if name != m.opts.To {
			names = append(names, name)
		}
	}
	if m.e.encrypted[m.opts.To] {
		names = append(names, meta.InlineBackend)
	}
	return names
}

// pages calls fn for every chunk to move, page by page in id order per source backend.
func (m *migration) pages(ctx context.Context, fn func(meta.Chunk) error) error {
	for _, src := range m.sources() {
		after := int64(0)
		for {
			page, err := m.e.meta.ListChunks(ctx, meta.ChunkQuery{AfterID: after, Limit: m.opts.PageSize, Backend: src, Bucket: m.opts.Bucket})
			if err != nil {
				return fmt.Errorf("migrate: list chunks of %s: %w", src, err)
			}
			for _, c := range page {
				if err := fn(c); err != nil {
					return err
				}
			}
			if len(page) < m.opts.PageSize {
				break
			}
			after = page[len(page)-1].ID
		}
	}
	return nil
}

func (m *migration) count(ctx context.Context) error {
	return m.pages(ctx, func(c meta.Chunk) error {
		m.p.TotalChunks++
		m.p.TotalBytes += c.Size
		return nil
	})
}

func (m *migration) run(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	work := make(chan meta.Chunk)
	for range m.opts.Workers {
		g.Go(func() error {
			for c := range work {
				m.moveOne(gctx, c)
			}
			return nil
		})
	}
	g.Go(func() error {
		defer close(work)
		return m.pages(gctx, func(c meta.Chunk) error {
			select {
			case work <- c:
				return nil
			case <-gctx.Done():
				return gctx.Err()
			}
		})
	})
	err := g.Wait()
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("migrate: interrupted: %w", cerr)
	}
	return err
}

// moveOne moves one chunk; failures are counted and logged, not fatal.
func (m *migration) moveOne(ctx context.Context, c meta.Chunk) {
	current, err := m.underCurrentKey(ctx, c)
	if err == nil && !current {
		err = m.copyAndSwitch(ctx, c)
	}
	m.mu.Lock()
	switch {
	case err == nil && current:
		m.p.Current++
	case err == nil:
		m.p.Chunks++
		m.p.Bytes += c.Size
	case errors.Is(err, errSkipped):
		m.p.Skipped++
	case ctx.Err() != nil:
		// Interrupted: not a failure of this chunk; the next run moves it.
	default:
		m.p.Failed++
		m.e.log.Warn("migrate: chunk not moved", "chunk", c.ID, "from", c.Backend, "to", m.opts.To, "err", err)
	}
	if m.opts.Progress != nil {
		m.opts.Progress(m.p)
	}
	m.mu.Unlock()
	m.deleteDue(ctx)
}

var errSkipped = errors.New("chunk no longer indexed")

// keyedStore is an encrypting store that tells which key a blob is under
// (backends/encrypt).
type keyedStore interface {
	KeyID(ctx context.Context, key string) (string, error)
	CurrentKeyID() string
}

// keyed finds the keyedStore in s, looking through decorators (metrics) that Unwrap.
func keyed(s backends.BlobStore) (keyedStore, bool) {
	for {
		if k, ok := s.(keyedStore); ok {
			return k, true
		}
		u, ok := s.(interface{ Unwrap() backends.BlobStore })
		if !ok {
			return nil, false
		}
		s = u.Unwrap()
	}
}

// underCurrentKey reports, in a Rekey run, whether c is already encrypted with the
// target's current key (always false otherwise: every listed chunk moves).
func (m *migration) underCurrentKey(ctx context.Context, c meta.Chunk) (bool, error) {
	if m.keys == nil {
		return false, nil
	}
	id, err := m.keys.KeyID(ctx, c.UID)
	if errors.Is(err, backends.ErrNotFound) {
		return false, nil // moved meanwhile: copyAndSwitch follows it, or skips it if it is gone
	}
	if err != nil {
		return false, fmt.Errorf("read its key id: %w", err)
	}
	return id == m.keys.CurrentKeyID(), nil
}

func (m *migration) copyAndSwitch(ctx context.Context, c meta.Chunk) error {
	src, err := m.e.Open(ctx, c, 0, -1)
	if err != nil {
		return fmt.Errorf("open source: %w", err)
	}
	defer src.Close()
	uid := NewUID()
	vr := &verifyingReader{r: src, h: sha256.New(), want: c.SHA256, size: c.Size}
	if err := m.target.Put(ctx, uid, vr, c.Size, backends.PutOptions{SHA256: vr.sum}); err != nil {
		return fmt.Errorf("copy to %s: %w", m.opts.To, err)
	}
	node := ""
	if m.e.nodeLocal[m.opts.To] {
		node = m.e.node
	}
	// The switch: from here on every reader that looks the chunk up finds the copy.
	if err := m.e.meta.MoveChunk(ctx, c.ID, m.opts.To, node, uid); err != nil {
		m.e.deleteBlob(context.WithoutCancel(ctx), m.opts.To, uid)
		if errors.Is(err, meta.ErrNotFound) {
			return errSkipped // collected meanwhile: nothing to move
		}
		return fmt.Errorf("switch location: %w", err)
	}
	m.mu.Lock()
	m.pending = append(m.pending, pendingDelete{c: c, due: time.Now().Add(m.opts.DeleteDelay)})
	m.mu.Unlock()
	return nil
}

// deleteDue deletes the old copies whose delay has passed.
func (m *migration) deleteDue(ctx context.Context) {
	now := time.Now()
	m.mu.Lock()
	var due []pendingDelete
	for len(m.pending) > 0 && !m.pending[0].due.After(now) {
		due = append(due, m.pending[0])
		m.pending = m.pending[1:]
	}
	m.mu.Unlock()
	for _, d := range due {
		m.deleteOld(ctx, d.c)
	}
}

// flushDeletes deletes every old copy still waiting, at the end of a run (or after an
// interruption, with a context of its own: the copies are no longer indexed, and a
// reader that opened one before the switch had the delay's worth of the run to finish).
func (m *migration) flushDeletes(ctx context.Context) {
	m.mu.Lock()
	pending := m.pending
	m.pending = nil
	m.mu.Unlock()
	if len(pending) == 0 {
		return
	}
	if wait := time.Until(pending[len(pending)-1].due); wait > 0 && ctx.Err() == nil {
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	for _, d := range pending {
		m.deleteOld(dctx, d.c)
	}
}

func (m *migration) deleteOld(ctx context.Context, c meta.Chunk) {
	if c.Node != "" && c.Node != m.e.node && m.e.nodeLocal[c.Backend] {
		// On another node's disk: that node's orphan sweep removes it.
		return
	}
	// A context of its own: once the location switched, the old copy should go even if
	// the run is being interrupted (otherwise it waits for the collector).
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	m.e.deleteBlob(dctx, c.Backend, c.UID)
}

// verifyingReader hashes a chunk on its way to another store (migration, repair) and
// turns the final EOF into an error if the content is not what the index says: the
// target's Put then fails, nothing becomes visible and nothing is switched.
type verifyingReader struct {
	r    io.Reader
	h    hash.Hash
	want [32]byte
	size int64
	n    int64
	done bool
}

func (v *verifyingReader) Read(p []byte) (int, error) {
	n, err := v.r.Read(p)
	v.h.Write(p[:n])
	v.n += int64(n)
	if err == io.EOF {
		if got := [32]byte(v.h.Sum(nil)); got != v.want || v.n != v.size {
			return n, fmt.Errorf("%w: %d bytes with sha256 %s, the index says %d bytes with %s", ErrChunkCorrupt, v.n, hex.EncodeToString(got[:]), v.size, hex.EncodeToString(v.want[:]))
		}
		v.done = true
	}
	return n, err
}

func (v *verifyingReader) sum() [32]byte { return [32]byte(v.h.Sum(nil)) }
