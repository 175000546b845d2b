// Package objstore holds what the object-store backends (S3, Tencent COS, Aliyun OSS)
// do the same way: enforcing a Put body's size and context, cutting it into pooled part
// buffers, driving a single request or a multipart upload, retrying with backoff,
// checking keys. The store packages supply only the requests.
//
// S3 does not use Retry: aws-sdk-go-v2's retryer resends seekable bodies with backoff.
//
// Neither vendor SDK retries a request whose body is a plain reader, and COS retries
// others without any backoff, so every request of those stores goes through Retry
// instead, with the SDK's own retries switched off: one policy for all of them.
package objstore

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/semaphore"

	"s3proxy/backends"
)

// CheckKey enforces the backends key rules. With no "/" in a key, chunks and the
// "_sha256/" sidecars never collide and List can use "/" as its delimiter.
func CheckKey(label, key string) error {
	if key == "" || len(key) > backends.MaxKeyLen || strings.ContainsAny(key, "/\\") || strings.Contains(key, "..") {
		return fmt.Errorf("%s: key %q: %w", label, key, backends.ErrInvalid)
	}
	return nil
}

// ---- retries ----

// Retry is an exponential backoff with full jitter.
type Retry struct {
	MaxAttempts int           // 1 disables retries
	Base        time.Duration // the first backoff's upper bound
	Max         time.Duration // no backoff is longer
}

// Do runs fn until it succeeds, returns an error retryable rejects, the attempts are
// used up or ctx ends (then the last error from fn is returned, never a bare sleep's).
func (r Retry) Do(ctx context.Context, retryable func(error) bool, fn func() error) error {
	var err error
	for attempt := 1; ; attempt++ {
		if err = fn(); err == nil || attempt >= r.MaxAttempts || !retryable(err) || ctx.Err() != nil {
			return err
		}
		backoff := r.Base << (attempt - 1)
		if backoff > r.Max || backoff <= 0 {
			backoff = r.Max
		}
		t := time.NewTimer(rand.N(backoff) + 1)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

// ---- the body of a Put ----

// body enforces the declared size and the context on the caller's reader, turning every
// failure into an error before the bytes it concerns are handed on.
type body struct {
	ctx  context.Context
	r    io.Reader
	size int64 // -1: unknown
	left int64
}

func (b *body) Read(p []byte) (int, error) {
	if err := b.ctx.Err(); err != nil {
		return 0, fmt.Errorf("%w: %w", backends.ErrCanceled, err)
	}
	if b.size >= 0 && b.left == 0 {
		// Read on to EOF: a longer body is an error, not silently cut.
		var one [1]byte
		n, err := b.r.Read(one[:])
		switch {
		case n > 0:
			return 0, fmt.Errorf("body longer than %d bytes: %w", b.size, backends.ErrInvalid)
		case err == io.EOF:
			return 0, io.EOF
		case err != nil:
			return 0, b.readErr(err)
		}
		return 0, nil
	}
	if b.size >= 0 && int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	switch {
	case err == io.EOF && b.size >= 0 && b.left > 0:
		return n, fmt.Errorf("body has %d of %d bytes: %w: %w", b.size-b.left, b.size, backends.ErrInvalid, io.ErrUnexpectedEOF)
	case err == io.EOF:
		return n, io.EOF
	case err != nil:
		return n, b.readErr(err)
	}
	return n, nil
}

func (b *body) readErr(err error) error {
	// A body that failed because the context ended (a stalled client reaching the
	// deadline) is a cancellation, whatever error the body chose to report.
	if cerr := b.ctx.Err(); cerr != nil {
		return fmt.Errorf("reading body: %w: %w (%w)", backends.ErrCanceled, cerr, err)
	}
	return fmt.Errorf("reading body: %w", err)
}

// nextPart fills buf from r; last reports that r is at EOF afterwards.
func nextPart(r *bufio.Reader, buf []byte) (data []byte, last bool, err error) {
	n, err := io.ReadFull(r, buf)
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return buf[:n], true, nil
	}
	if err != nil {
		return nil, false, err
	}
	if _, err := r.Peek(1); err == io.EOF {
		return buf, true, nil
	} else if err != nil {
		return nil, false, err
	}
	return buf, false, nil
}

// ---- part buffers ----

type bufPool struct {
	size int64
	pool sync.Pool // *[]byte of size
}

// ---- the Put driver ----

// Part is an uploaded part, as CompleteMultipartUpload wants it.
type Part struct {
	Number int
	ETag   string
	// Checksum is a per-part checksum the store wants repeated at Complete (S3's
	// SHA-256), or empty.
	Checksum string
}

// Target is one store's side of a Put. Its errors are already classified (wrapping a
// backends error kind) and retried; the Uploader adds neither.
type Target interface {
	// PutObject stores data as the whole object in one request, recording sum (nil when
	// the caller gave no hash) with it.
	PutObject(ctx context.Context, key string, data []byte, sum *[32]byte) error
	// Initiate starts a multipart upload and returns its id.
	Initiate(ctx context.Context, key string) (string, error)
	UploadPart(ctx context.Context, key, uploadID string, num int, data []byte) (Part, error)
	Complete(ctx context.Context, key, uploadID string, parts []Part) error
	// Abort releases a failed upload's parts, best effort (ctx is already detached).
	Abort(ctx context.Context, key, uploadID string)
	// RecordSHA keeps a multipart object's hash (its metadata was fixed at Initiate,
	// before the hash was known), after Complete.
	RecordSHA(ctx context.Context, key string, sum [32]byte) error
	// Remove deletes a completed object whose hash could not be recorded.
	Remove(ctx context.Context, key string)
}

// Uploader streams chunks into a Target: the body goes into a pooled part buffer
// (PartSize) before anything is sent, so a short, long, failing or cancelled body is
// detected before the store sees a complete request and nothing becomes visible. A body
// that fits in one part is one PutObject; a larger (or unknown-size) body is a
// multipart upload, Concurrency parts in flight, aborted on any error. Memory per Put is
// at most (Concurrency+1) × PartSize.
type Uploader struct {
	partSize    int64
	concurrency int
	maxParts    int
	pools       []*bufPool
	budget      *semaphore.Weighted
}

// NewUploader returns an Uploader. maxParts is the store's limit on parts per upload:
// a known size that would exceed it grows the part size.
func NewUploader(partSize int64, concurrency, maxParts int) *Uploader {
	u := &Uploader{partSize: partSize, concurrency: concurrency, maxParts: maxParts, budget: semaphore.NewWeighted(BufferBudget)}
	// A few size classes, so that a small chunk of known size does not pin a whole
	// part buffer while it is in flight.
	for _, size := range []int64{64 << 10, 1 << 20, partSize} {
		p := &bufPool{size: size}
		p.pool.New = func() any { b := make([]byte, size); return &b }
		u.pools = append(u.pools, p)
	}
	return u
}

// PartSize is the configured part size.
func (u *Uploader) PartSize() int64 { return u.partSize }

// getBuf returns a buffer of exactly n bytes and the function that gives it back.
// It waits while the uploader's buffer budget is spent, so the memory all concurrent
// Puts hold is bounded whatever their number; parts in flight release theirs as they
// finish.
func (u *Uploader) getBuf(ctx context.Context, n int64) ([]byte, func(), error) {
	w := min(n, BufferBudget)
	if err := u.budget.Acquire(ctx, w); err != nil {
		return nil, nil, fmt.Errorf("%w: waiting for a part buffer: %w", backends.ErrCanceled, err)
	}
	for _, p := range u.pools {
		if n <= p.size {
			bp := p.pool.Get().(*[]byte)
			return (*bp)[:n], func() { p.pool.Put(bp); u.budget.Release(w) }, nil
		}
	}
	return make([]byte, n), func() { u.budget.Release(w) }, nil // a part size grown for a huge chunk
}

// BufferBudget bounds the part-buffer bytes one Uploader holds across all its Puts.
const BufferBudget = 64 << 20

func (u *Uploader) sizeFor(size int64) int64 {
	ps := u.partSize
	if limit := int64(u.maxParts); size > ps*limit {
		ps = (size + limit - 1) / limit
	}
	return ps
}

// Put stores exactly size bytes of r (size -1: to EOF) under key through t. label
// ("cos NAME") prefixes the errors Put makes itself.
func (u *Uploader) Put(ctx context.Context, t Target, label, key string, r io.Reader, size int64, opts backends.PutOptions) error {
	if err := CheckKey(label, key); err != nil {
		return err
	}
	if size < -1 {
		return fmt.Errorf("%s: put %s: size %d: %w", label, key, size, backends.ErrInvalid)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: put %s: %w: %w", label, key, backends.ErrCanceled, err)
	}
	// bufio's 16-byte buffer only serves Peek: reads into a part buffer bypass it.
	br := bufio.NewReaderSize(&body{ctx: ctx, r: r, size: size, left: size}, 16)
	ps := u.sizeFor(size)
	first := ps
	if size >= 0 && size < ps {
		first = size // nextPart still probes for EOF, so a longer body is caught
	}
	buf, release, err := u.getBuf(ctx, first)
	if err != nil {
		return fmt.Errorf("%s: put %s: %w", label, key, err)
	}
	data, last, err := nextPart(br, buf)
	if err != nil {
		release()
		return fmt.Errorf("%s: put %s: %w", label, key, err)
	}
	if last {
		defer release()
		var sum *[32]byte
		if opts.SHA256 != nil {
			s := opts.SHA256()
			sum = &s
		}
		// Nothing is sent before this point, so a cancellation so far leaves nothing.
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("%s: put %s: %w: %w", label, key, backends.ErrCanceled, err)
		}
		return t.PutObject(ctx, key, data, sum)
	}
	return u.multipart(ctx, t, label, key, br, ps, data, release, opts)
}

// Detached gives cleanup after a failure its own time, even when ctx is what failed.
func Detached(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
}

// multipart uploads first (a full part, released by release) and the rest of br.
func (u *Uploader) multipart(ctx context.Context, t Target, label, key string, br *bufio.Reader, ps int64, first []byte, release func(), opts backends.PutOptions) (err error) {
	if err := ctx.Err(); err != nil {
		release()
		return fmt.Errorf("%s: put %s: %w: %w", label, key, backends.ErrCanceled, err)
	}
	uploadID, err := t.Initiate(ctx, key)
	if err != nil {
		release()
		return err
	}
	defer func() {
		if err != nil {
			actx, cancel := Detached(ctx)
			defer cancel()
			t.Abort(actx, key, uploadID)
		}
	}()

	var (
		mu    sync.Mutex
		parts []Part
	)
	// stop cancels the parts in flight when the body fails: they would be aborted anyway.
	pctx, stop := context.WithCancel(ctx)
	defer stop()
	g, gctx := errgroup.WithContext(pctx)
	g.SetLimit(u.concurrency)
	var readErr error // the body's failure; errors from parts are classified by t
	data, last := first, false
	for num := 1; ; num++ {
		if num > u.maxParts {
			release()
			readErr = fmt.Errorf("%s: put %s: body exceeds %d parts of %d bytes: %w", label, key, u.maxParts, ps, backends.ErrInvalid)
			break
		}
		partData, partRelease, partNum := data, release, num
		g.Go(func() error {
			defer partRelease()
			p, err := t.UploadPart(gctx, key, uploadID, partNum, partData)
			if err != nil {
				return err
			}
			p.Number = partNum
			mu.Lock()
			parts = append(parts, p)
			mu.Unlock()
			return nil
		})
		if last {
			break
		}
		if gctx.Err() != nil {
			break // a part failed (or ctx ended): stop reading, Wait reports why
		}
		var buf []byte
		if buf, release, readErr = u.getBuf(gctx, ps); readErr != nil {
			readErr = fmt.Errorf("%s: put %s: %w", label, key, readErr)
			break
		}
		data, last, readErr = nextPart(br, buf)
		if readErr != nil {
			release()
			readErr = fmt.Errorf("%s: put %s: %w", label, key, readErr)
			break
		}
		if len(data) == 0 {
			release() // the body ended exactly at a part boundary
			break
		}
	}
	if readErr != nil {
		stop()
	}
	werr := g.Wait()
	switch {
	case readErr != nil:
		return readErr
	case ctx.Err() != nil:
		return fmt.Errorf("%s: put %s: %w: %w", label, key, backends.ErrCanceled, ctx.Err())
	case werr != nil:
		return werr
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i].Number < parts[j].Number })
	if err = t.Complete(ctx, key, uploadID, parts); err != nil {
		return err
	}
	if opts.SHA256 == nil {
		return nil
	}
	if err := t.RecordSHA(ctx, key, opts.SHA256()); err != nil {
		// The chunk is complete but its hash is not recorded: take it back, since the
		// caller will treat this Put as failed. (The deferred Abort is harmless: the
		// upload is complete.)
		dctx, cancel := Detached(ctx)
		defer cancel()
		t.Remove(dctx, key)
		return err
	}
	return nil
}

// ---- reads ----

// Reader insists on the announced length and classifies body errors with classify.
type Reader struct {
	// Ctx is the Get's context: once it ends, Read fails. The HTTP transport closes
	// the connection of a cancelled request asynchronously, and a reader quicker than
	// that close could drain what the socket already holds (megabytes on loopback)
	// as if nothing had happened.
	Ctx      context.Context
	RC       io.ReadCloser
	Left     int64
	Classify func(error) error
	// Check, when set, runs at EOF and may turn it into an error (an integrity check).
	Check func() error
}

func (r *Reader) Read(p []byte) (int, error) {
	if err := r.Ctx.Err(); err != nil {
		return 0, r.Classify(err)
	}
	n, err := r.RC.Read(p)
	r.Left -= int64(n)
	if err == io.EOF && r.Left > 0 {
		err = io.ErrUnexpectedEOF
	}
	if err == io.EOF && r.Check != nil {
		if cerr := r.Check(); cerr != nil {
			return n, cerr
		}
	}
	if err != nil && err != io.EOF {
		return n, r.Classify(err)
	}
	return n, err
}

// Close implements io.Closer.
func (r *Reader) Close() error { return r.RC.Close() }
