package dedup

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"sync/atomic"

	"s3proxy/backends"
	"s3proxy/meta"
)

// Problem kinds found by Verify.
const (
	ProblemMissing     = "missing"     // the backend does not hold the chunk
	ProblemCorrupt     = "corrupt"     // its bytes do not hash to the recorded SHA-256
	ProblemUnavailable = "unavailable" // its backend or owning node could not be read: not verified
	ProblemMarked      = "marked"      // marked corrupt by an earlier run and still unreadable
)

// VerifyOptions selects what Verify checks and whether it repairs.
type VerifyOptions struct {
	// Bucket limits the check to chunks referenced by objects of this bucket.
	Bucket string
	// Sample checks a uniform random sample of this many chunks (0: all).
	Sample int
	// Repair restores a damaged chunk from a copy of the same content in any configured
	// backend, or else marks it corrupt so reads fail cleanly instead of returning wrong
	// bytes. A chunk marked corrupt that now verifies is unmarked.
	Repair bool
	// Concurrency is the number of chunks read at once (default 4).
	Concurrency int
	// Progress is called after each chunk (from several goroutines, serialized).
	Progress func(VerifyProgress)
	// Rand picks the sample (tests); default a random source.
	Rand *rand.Rand
}

// VerifyProgress reports how far a Verify run is. Total is 0 when not known in advance.
type VerifyProgress struct {
	Checked, Total, Bytes, Problems int64
}

// Problem is one damaged or unverifiable chunk.
type Problem struct {
	Chunk meta.Chunk
	Kind  string
	Err   error
	// Objects are the objects using the chunk, as bucket/key (at most MaxObjectsListed).
	Objects []string
	// RepairedFrom names where a copy was restored from ("" if not repaired).
	RepairedFrom string
	// MarkedCorrupt is set when no copy was found and the chunk was marked corrupt.
	MarkedCorrupt bool
}

// MaxObjectsListed bounds Problem.Objects.
const MaxObjectsListed = 100

// VerifyResult sums a run.
type VerifyResult struct {
	Checked, Bytes int64
	Problems       []Problem
	Repaired       int64 // restored from a copy
	Marked         int64 // marked corrupt (by this run or an earlier one)
	Unmarked       int64 // were marked corrupt, verify fine now
	Unrepaired     int64 // problems left after the run (including marked ones)
	ProblemsByKind map[string]int64
}

// Verify re-reads chunks from their backends (or owning nodes) and checks each against
// its recorded size and SHA-256. Reads use OpenRaw, so chunks already marked corrupt are
// re-examined. It returns an error only when it could not run (the index unreadable);
// what it found is in the result.
func (e *Engine) Verify(ctx context.Context, opts VerifyOptions) (VerifyResult, error) {
	if opts.Concurrency <= 0 {
		opts.Concurrency = 4
	}
	if opts.Rand == nil {
		opts.Rand = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	res := VerifyResult{ProblemsByKind: map[string]int64{}}
	var total int64
	var chunks <-chan meta.Chunk
	var listErr error
	var listDone = make(chan struct{})
	if opts.Sample > 0 {
		sample, err := e.sampleChunks(ctx, opts)
		if err != nil {
			return res, err
		}
		total = int64(len(sample))
		ch := make(chan meta.Chunk, len(sample))
		for _, c := range sample {
			ch <- c
		}
		close(ch)
		chunks = ch
		close(listDone)
	} else {
		if opts.Bucket == "" {
			if st, err := e.meta.Stats(ctx); err == nil {
				total = st.Chunks
			}
		}
		ch := make(chan meta.Chunk, 64)
		chunks = ch
		go func() {
			defer close(listDone)
			defer close(ch)
			listErr = e.eachChunk(ctx, opts.Bucket, func(c meta.Chunk) error {
				select {
				case ch <- c:
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			})
		}()
	}

	var mu sync.Mutex
	report := func(p *Problem, n int64) {
		mu.Lock()
		defer mu.Unlock()
		res.Checked++
		res.Bytes += n
		if p != nil {
			res.Problems = append(res.Problems, *p)
		}
		if opts.Progress != nil {
			opts.Progress(VerifyProgress{Checked: res.Checked, Total: total, Bytes: res.Bytes, Problems: int64(len(res.Problems))})
		}
	}
	var unmarked atomic.Int64
	var wg sync.WaitGroup
	for range opts.Concurrency {
		wg.Go(func() {
			for c := range chunks {
				if ctx.Err() != nil {
					continue
				}
				p, n := e.verifyChunk(ctx, c)
				if p == nil && c.Corrupt && opts.Repair {
					// Fixed by hand (or by a backend coming back): reads may resume.
					if err := e.meta.MarkChunkCorrupt(ctx, c.ID, false); err == nil {
						unmarked.Add(1)
					}
				}
				report(p, n)
			}
		})
	}
	wg.Wait()
	<-listDone
	if listErr != nil && ctx.Err() == nil {
		return res, fmt.Errorf("verify: list chunks: %w", listErr)
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	res.Unmarked = unmarked.Load()

	for i := range res.Problems {
		p := &res.Problems[i]
		users, err := e.meta.ObjectsUsingChunk(ctx, p.Chunk.ID, MaxObjectsListed)
		if err == nil {
			for _, o := range users {
				p.Objects = append(p.Objects, o.Bucket+"/"+o.Key)
			}
		}
	}
	if opts.Repair {
		if err := e.repair(ctx, res.Problems); err != nil {
			return res, err
		}
	}
	for _, p := range res.Problems {
		res.ProblemsByKind[p.Kind]++
		switch {
		case p.RepairedFrom != "":
			res.Repaired++
		case p.MarkedCorrupt:
			res.Marked++
			res.Unrepaired++
		default:
			res.Unrepaired++
		}
	}
	return res, nil
}

// eachChunk pages the chunk index (optionally one bucket's chunks) in id order.
func (e *Engine) eachChunk(ctx context.Context, bucket string, fn func(meta.Chunk) error) error {
	var after int64
	for {
		page, err := e.meta.ListChunks(ctx, meta.ChunkQuery{AfterID: after, Limit: 500, Bucket: bucket})
		if err != nil {
			return err
		}
		if len(page) == 0 {
			return nil
		}
		for _, c := range page {
			if err := fn(c); err != nil {
				return err
			}
		}
		after = page[len(page)-1].ID
	}
}

// sampleChunks draws opts.Sample chunks uniformly (reservoir sampling over one pass, so
// memory is the sample, not the index).
func (e *Engine) sampleChunks(ctx context.Context, opts VerifyOptions) ([]meta.Chunk, error) {
	sample := make([]meta.Chunk, 0, opts.Sample)
	var seen int64
	err := e.eachChunk(ctx, opts.Bucket, func(c meta.Chunk) error {
		seen++
		if len(sample) < opts.Sample {
			sample = append(sample, c)
		} else if j := opts.Rand.Int64N(seen); j < int64(opts.Sample) {
			sample[j] = c
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("verify: sample chunks: %w", err)
	}
	return sample, nil
}

// verifyChunk reads one chunk whole and checks it. A problem is re-checked against the
// current index row, so a chunk collected or moved during the run is not reported.
func (e *Engine) verifyChunk(ctx context.Context, c meta.Chunk) (*Problem, int64) {
	kind, n, err := e.checkChunk(ctx, c)
	if kind == "" {
		return nil, n
	}
	cur, gerr := e.meta.GetChunk(ctx, c.ID)
	if errors.Is(gerr, meta.ErrNotFound) {
		return nil, n // collected meanwhile
	}
	if gerr == nil && (cur.UID != c.UID || cur.Backend != c.Backend || cur.Node != c.Node) {
		// Moved (repaired, migrated) meanwhile: check where it is now.
		c = cur
		kind, n, err = e.checkChunk(ctx, c)
		if kind == "" {
			return nil, n
		}
	}
	if c.Corrupt && kind != ProblemUnavailable {
		kind = ProblemMarked
	}
	return &Problem{Chunk: c, Kind: kind, Err: err}, n
}

// checkChunk returns "" when the chunk is intact, or the kind of problem.
func (e *Engine) checkChunk(ctx context.Context, c meta.Chunk) (kind string, n int64, err error) {
	rc, err := e.OpenRaw(ctx, c, 0, -1)
	if err != nil {
		return classifyVerify(err), 0, err
	}
	defer rc.Close()
	h := sha256.New()
	n, err = io.Copy(h, rc)
	if err != nil {
		return classifyVerify(err), n, err
	}
	if n != c.Size {
		return ProblemCorrupt, n, fmt.Errorf("chunk %d holds %d bytes, the index says %d", c.ID, n, c.Size)
	}
	if !bytes.Equal(h.Sum(nil), c.SHA256[:]) {
		return ProblemCorrupt, n, fmt.Errorf("chunk %d does not match its SHA-256 %s", c.ID, hex.EncodeToString(c.SHA256[:]))
	}
	return "", n, nil
}

func classifyVerify(err error) string {
	switch {
	case errors.Is(err, ErrChunkMissing):
		return ProblemMissing
	case errors.Is(err, backends.ErrInternal), errors.Is(err, backends.ErrInvalid), errors.Is(err, backends.ErrCorrupt):
		// A bad footer, a truncated file, a range past the stored size: damage.
		return ProblemCorrupt
	}
	return ProblemUnavailable
}

// OpenRaw is Open without the refusal of chunks marked corrupt (verify re-reads them).
func (e *Engine) OpenRaw(ctx context.Context, c meta.Chunk, offset, length int64) (io.ReadCloser, error) {
	c.Corrupt = false
	return e.Open(ctx, c, offset, length)
}

// location is a blob that may hold a damaged chunk's content.
type location struct {
	backend, key string
	size         int64
}

// repair restores each damaged chunk from a copy of its content in any configured
// backend, found by the SHA-256 the backends record beside each blob (or, where a store
// records none, by size and then content), or else marks it corrupt. Unavailable
// chunks are left alone: they were not shown to be damaged.
func (e *Engine) repair(ctx context.Context, problems []Problem) error {
	want := map[[32]byte][]int{}
	for i, p := range problems {
		if p.Kind == ProblemUnavailable {
			continue
		}
		want[p.Chunk.SHA256] = append(want[p.Chunk.SHA256], i)
	}
	if len(want) == 0 {
		return nil
	}
	sizes := map[int64]bool{}
	for _, idx := range want {
		sizes[problems[idx[0]].Chunk.Size] = true
	}
	// One listing of every store, keeping only blobs that may be copies.
	byHash := map[[32]byte][]location{}
	var unhashed []location
	for name, s := range e.stores {
		err := s.List(ctx, "", func(info backends.Info) error {
			loc := location{backend: name, key: info.Key, size: info.Size}
			switch {
			case info.HasSHA:
				if _, ok := want[info.SHA256]; ok {
					byHash[info.SHA256] = append(byHash[info.SHA256], loc)
				}
			case sizes[info.Size]:
				unhashed = append(unhashed, loc)
			}
			return nil
		})
		if err != nil {
			e.log.Warn("verify: list backend for copies", "backend", name, "err", err)
		}
	}
	for sum, idx := range want {
		p0 := problems[idx[0]].Chunk
		cands := byHash[sum]
		for _, u := range unhashed {
			if u.size == p0.Size {
				cands = append(cands, u)
			}
		}
		from := ""
		for _, loc := range cands {
			if loc.backend == p0.Backend && loc.key == p0.UID {
				continue // the damaged blob itself
			}
			if err := e.restore(ctx, p0, loc); err != nil {
				e.log.Warn("verify: copy not usable", "chunk", p0.ID, "backend", loc.backend, "key", loc.key, "err", err)
				continue
			}
			from = "backend " + loc.backend + " (" + loc.key + ")"
			break
		}
		for _, i := range idx {
			p := &problems[i]
			if from != "" {
				p.RepairedFrom = from
				continue
			}
			if p.Chunk.Corrupt {
				p.MarkedCorrupt = true // already marked by an earlier run
				continue
			}
			if err := e.meta.MarkChunkCorrupt(ctx, p.Chunk.ID, true); errors.Is(err, meta.ErrNotFound) {
				continue // collected meanwhile: nothing uses it any more
			} else if err != nil {
				return fmt.Errorf("verify: mark chunk %d corrupt: %w", p.Chunk.ID, err)
			}
			p.MarkedCorrupt = true
		}
	}
	return nil
}

// restore makes the index point at good bytes for c, copied from loc. The copy is
// written to c's own backend under a fresh key (keeping placement) when this node can
// write there; otherwise (c lives on another node's disk) the index is pointed at loc
// on this node. The bytes are hashed while they are copied, and a mismatch fails the
// write, so only verified content is ever referenced.
func (e *Engine) restore(ctx context.Context, c meta.Chunk, loc location) error {
	src, ok := e.stores[loc.backend]
	if !ok {
		return fmt.Errorf("backend %q is not configured", loc.backend)
	}
	rc, err := src.Get(ctx, loc.key, 0, -1)
	if err != nil {
		return err
	}
	defer rc.Close()
	dst, ok := e.stores[c.Backend]
	writable := ok && (!e.nodeLocal[c.Backend] || c.Node == e.node || c.Node == "")
	if !writable {
		// Check the copy in place, then adopt it.
		h := sha256.New()
		n, err := io.Copy(h, rc)
		if err != nil {
			return err
		}
		if n != c.Size || !bytes.Equal(h.Sum(nil), c.SHA256[:]) {
			return errors.New("content does not match the chunk's SHA-256")
		}
		node := ""
		if e.nodeLocal[loc.backend] {
			node = e.node
		}
		return e.meta.MoveChunk(ctx, c.ID, loc.backend, node, loc.key)
	}
	uid := NewUID()
	vr := &verifyingReader{r: rc, h: sha256.New(), want: c.SHA256, size: c.Size}
	if err := dst.Put(ctx, uid, vr, c.Size, backends.PutOptions{SHA256: func() [32]byte { return c.SHA256 }}); err != nil {
		return err
	}
	node := ""
	if e.nodeLocal[c.Backend] {
		node = e.node
	}
	if err := e.meta.MoveChunk(ctx, c.ID, c.Backend, node, uid); err != nil {
		_ = dst.Delete(context.WithoutCancel(ctx), uid)
		return err
	}
	if c.Node == "" || c.Node == e.node || !e.nodeLocal[c.Backend] {
		// The damaged blob is no longer referenced (the orphan sweep would remove it too).
		_ = dst.Delete(context.WithoutCancel(ctx), c.UID)
	}
	return nil
}
