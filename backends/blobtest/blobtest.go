// Package blobtest is the conformance suite every backends.BlobStore must pass.
//
// A store's test file calls Run with a function that returns a fresh, empty store (a new
// temporary directory, a new bucket prefix, ...). Run creates one store per subtest and
// closes it when the subtest ends. Bodies are generated from seeded PRNG streams and
// compared by SHA-256, so large sizes are never held in memory twice.
package blobtest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"math/rand/v2"
	"runtime"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"s3proxy/backends"
)

// Options tunes the suite to a store's capabilities.
type Options struct {
	// LargeSize is the size of the largest round trip; make it larger than one backend
	// part so that multipart paths run. Default 12 MiB.
	LargeSize int64
	// RequireSHA fails the suite when a Put with PutOptions.SHA256 does not make Stat
	// report HasSHA. Without it a store may keep no hash, but one it reports must be right.
	RequireSHA bool
	// GoroutineSlack is how many goroutines more than at the start of Run may remain at
	// the end (after a grace period) before the suite reports a leak. Default 0.
	GoroutineSlack int
	// OpTimeout bounds each subtest's context. Default 2 minutes.
	OpTimeout time.Duration
}

// NewStore returns a fresh, empty store for one subtest. Run closes it.
type NewStore func(t *testing.T) backends.BlobStore

// Run runs the whole suite against stores made by newStore. opts may be omitted.
func Run(t *testing.T, newStore NewStore, opts ...Options) {
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	if o.LargeSize <= 0 {
		o.LargeSize = 12 << 20
	}
	if o.OpTimeout <= 0 {
		o.OpTimeout = 2 * time.Minute
	}
	s := &suite{opts: o, newStore: newStore}
	before := runtime.NumGoroutine()
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, st backends.BlobStore, ctx context.Context)
	}{
		{"Health", s.testHealth},
		{"RoundTrip", s.testRoundTrip},
		{"Ranges", s.testRanges},
		{"RangesEmpty", s.testRangesEmpty},
		{"KeyShapes", s.testKeyShapes},
		{"Missing", s.testMissing},
		{"Delete", s.testDelete},
		{"Overwrite", s.testOverwrite},
		{"List", s.testList},
		{"ConcurrentKeys", s.testConcurrentKeys},
		{"ConcurrentSameKey", s.testConcurrentSameKey},
		{"FailedPuts", s.testFailedPuts},
		{"GetCanceled", s.testGetCanceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := newStore(t)
			ctx, cancel := context.WithTimeout(context.Background(), o.OpTimeout)
			defer cancel()
			defer func() {
				if err := st.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			}()
			tc.fn(t, st, ctx)
		})
	}
	// Not a subtest: a subtest's own goroutine would count as a leak.
	checkLeaks(t, before+o.GoroutineSlack)
}

type suite struct {
	opts     Options
	newStore NewStore
}

// ---- bodies ----

// gen is a deterministic, non-seekable byte stream of a given length.
type gen struct {
	src  *rand.ChaCha8
	left int64
}

func newGen(seed uint64, size int64) *gen {
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:], seed)
	return &gen{src: rand.NewChaCha8(s), left: size}
}

func (g *gen) Read(p []byte) (int, error) {
	if g.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > g.left {
		p = p[:g.left]
	}
	n, _ := g.src.Read(p)
	g.left -= int64(n)
	return n, nil
}

// genSum is the SHA-256 of the stream newGen(seed, size) yields, optionally of a slice.
func genSum(seed uint64, size, off, n int64) [32]byte {
	h := sha256.New()
	g := newGen(seed, size)
	if _, err := io.CopyN(io.Discard, g, off); err != nil {
		panic(err)
	}
	if _, err := io.CopyN(h, g, n); err != nil {
		panic(err)
	}
	return [32]byte(h.Sum(nil))
}

func genBytes(seed uint64, size int64) []byte {
	b, _ := io.ReadAll(newGen(seed, size))
	return b
}

// hashed wraps a body, hashes what the store reads and offers PutOptions.SHA256,
// failing the test if the store asks for the hash before the body reached EOF.
type hashed struct {
	t   *testing.T
	r   io.Reader
	h   hash.Hash
	mu  sync.Mutex
	eof bool
}

func newHashed(t *testing.T, r io.Reader) *hashed { return &hashed{t: t, r: r, h: sha256.New()} }

func (b *hashed) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.mu.Lock()
	defer b.mu.Unlock()
	b.h.Write(p[:n])
	if errors.Is(err, io.EOF) {
		b.eof = true
	}
	return n, err
}

func (b *hashed) opts() backends.PutOptions {
	return backends.PutOptions{SHA256: func() [32]byte {
		b.mu.Lock()
		defer b.mu.Unlock()
		if !b.eof {
			b.t.Errorf("PutOptions.SHA256 called before the body returned io.EOF")
		}
		return [32]byte(b.h.Sum(nil))
	}}
}

// put stores a generated body and fails the test on error.
func put(t *testing.T, ctx context.Context, st backends.BlobStore, key string, seed uint64, size int64, known bool) {
	t.Helper()
	body := newHashed(t, newGen(seed, size))
	sz := size
	if !known {
		sz = -1
	}
	if err := st.Put(ctx, key, body, sz, body.opts()); err != nil {
		t.Fatalf("Put %s (%d bytes, size arg %d): %v", key, size, sz, err)
	}
}

// getAll reads a range and returns its bytes' hash and count, or the error from Get or
// from reading (stores may report some errors only at the first Read).
func getAll(ctx context.Context, st backends.BlobStore, key string, off, n int64) ([32]byte, int64, error) {
	rc, err := st.Get(ctx, key, off, n)
	if err != nil {
		return [32]byte{}, 0, err
	}
	defer rc.Close()
	h := sha256.New()
	got, err := io.Copy(h, rc)
	if err != nil {
		return [32]byte{}, got, err
	}
	if err := rc.Close(); err != nil {
		return [32]byte{}, got, fmt.Errorf("Close: %w", err)
	}
	return [32]byte(h.Sum(nil)), got, nil
}

func short(b [32]byte) string { return hex.EncodeToString(b[:6]) }

// checkBlob verifies Stat and a full Get of a generated body.
func (s *suite) checkBlob(t *testing.T, ctx context.Context, st backends.BlobStore, key string, seed uint64, size int64) {
	t.Helper()
	want := genSum(seed, size, 0, size)
	info, err := st.Stat(ctx, key)
	if err != nil {
		t.Fatalf("Stat %s: %v", key, err)
	}
	if info.Key != key || info.Size != size {
		t.Errorf("Stat %s = key %q size %d, want size %d", key, info.Key, info.Size, size)
	}
	if info.ModTime.IsZero() {
		t.Errorf("Stat %s: zero ModTime", key)
	}
	switch {
	case info.HasSHA && info.SHA256 != want:
		t.Errorf("Stat %s: SHA256 %s, want %s", key, short(info.SHA256), short(want))
	case !info.HasSHA && s.opts.RequireSHA:
		t.Errorf("Stat %s: no SHA256 recorded", key)
	}
	got, n, err := getAll(ctx, st, key, 0, -1)
	if err != nil {
		t.Fatalf("Get %s: %v", key, err)
	}
	if n != size || got != want {
		t.Errorf("Get %s: %d bytes sha %s, want %d bytes sha %s", key, n, short(got), size, short(want))
	}
}

// assertAbsent checks that key is not visible in any way.
func assertAbsent(t *testing.T, ctx context.Context, st backends.BlobStore, key string) {
	t.Helper()
	if info, err := st.Stat(ctx, key); !errors.Is(err, backends.ErrNotFound) {
		t.Errorf("Stat %s after failed put = %+v, %v; want ErrNotFound", key, info, err)
	}
	if _, _, err := getAll(ctx, st, key, 0, -1); !errors.Is(err, backends.ErrNotFound) {
		t.Errorf("Get %s after failed put: %v; want ErrNotFound", key, err)
	}
	var keys []string
	if err := st.List(ctx, "", func(i backends.Info) error { keys = append(keys, i.Key); return nil }); err != nil {
		t.Errorf("List: %v", err)
	}
	if len(keys) != 0 {
		t.Errorf("List after failed put = %q, want nothing", keys)
	}
}

// ---- tests ----

func (s *suite) testHealth(t *testing.T, st backends.BlobStore, ctx context.Context) {
	if err := st.Health(ctx); err != nil {
		t.Fatalf("Health: %v", err)
	}
	if st.Name() == "" {
		t.Errorf("Name is empty")
	}
}

func (s *suite) testRoundTrip(t *testing.T, st backends.BlobStore, ctx context.Context) {
	// Besides the small and large sizes, the sizes around 256 KiB buffers and 4 KiB blocks
	// where a store's last write changes shape: a body ending exactly on a buffer, one
	// whose last block and a 40-byte trailer fill a block exactly, 1 MiB (the benchmark's
	// PUT), and an odd size past a buffer.
	sizes := []int64{0, 1, 4095, 64<<10 + 1, 256 << 10, 256<<10 + 4096 - 40, 1 << 20, 320<<10 + 7, s.opts.LargeSize}
	for i, size := range sizes {
		for _, known := range []bool{true, false} {
			name := fmt.Sprintf("size=%d/known=%v", size, known)
			t.Run(name, func(t *testing.T) {
				key := fmt.Sprintf("rt%d%v", i, known)
				seed := uint64(size)*2 + map[bool]uint64{true: 1}[known]
				put(t, ctx, st, key, seed, size, known)
				s.checkBlob(t, ctx, st, key, seed, size)
			})
		}
	}
	// A seekable body (which a store may rewind to retry) must work the same way.
	t.Run("seekable", func(t *testing.T) {
		data := genBytes(7, 64<<10+1)
		sum := sha256.Sum256(data)
		opts := backends.PutOptions{SHA256: func() [32]byte { return sum }}
		if err := st.Put(ctx, "rtseek", bytes.NewReader(data), int64(len(data)), opts); err != nil {
			t.Fatalf("Put: %v", err)
		}
		s.checkBlob(t, ctx, st, "rtseek", 7, int64(len(data)))
	})
}

type rangeCase struct {
	name        string
	off, length int64
	invalid     bool
}

func (s *suite) runRanges(t *testing.T, ctx context.Context, st backends.BlobStore, key string, seed uint64, size int64, cases []rangeCase) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, n, err := getAll(ctx, st, key, c.off, c.length)
			if c.invalid {
				if !errors.Is(err, backends.ErrInvalid) {
					t.Fatalf("Get(%d, %d) of %d bytes: err %v, want ErrInvalid", c.off, c.length, size, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Get(%d, %d) of %d bytes: %v", c.off, c.length, size, err)
			}
			wantN := c.length
			if wantN == -1 {
				wantN = size - c.off
			}
			if want := genSum(seed, size, c.off, wantN); n != wantN || got != want {
				t.Errorf("Get(%d, %d): %d bytes sha %s, want %d bytes sha %s", c.off, c.length, n, short(got), wantN, short(want))
			}
		})
	}
}

func (s *suite) testRanges(t *testing.T, st backends.BlobStore, ctx context.Context) {
	const size = 64<<10 + 1
	put(t, ctx, st, "ranges", 11, size, true)
	s.runRanges(t, ctx, st, "ranges", 11, size, []rangeCase{
		{"whole", 0, -1, false},
		{"whole-explicit", 0, size, false},
		{"empty-at-start", 0, 0, false},
		{"first-byte", 0, 1, false},
		{"middle", 4097, 30000, false},
		{"tail-from-middle", 1000, -1, false},
		{"last-byte", size - 1, 1, false},
		{"last-byte-open", size - 1, -1, false},
		{"at-end-open", size, -1, false},
		{"at-end-zero", size, 0, false},
		{"length-beyond-end", 10, size, true},
		{"last-byte-plus-one", size - 1, 2, true},
		{"at-end-one", size, 1, true},
		{"offset-beyond-end", size + 1, -1, true},
		{"offset-beyond-end-zero", size + 1, 0, true},
		{"far-beyond-end", 1 << 40, 1, true},
		{"negative-offset", -1, 1, true},
		{"negative-length", 0, -2, true},
	})
}

func (s *suite) testRangesEmpty(t *testing.T, st backends.BlobStore, ctx context.Context) {
	put(t, ctx, st, "empty", 12, 0, true)
	s.runRanges(t, ctx, st, "empty", 12, 0, []rangeCase{
		{"whole", 0, -1, false},
		{"zero", 0, 0, false},
		{"one", 0, 1, true},
		{"offset-one", 1, -1, true},
	})
}

func (s *suite) testKeyShapes(t *testing.T, st backends.BlobStore, ctx context.Context) {
	for i, key := range []string{
		"a",
		"Ab",
		"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ._-",
		"a.b.c",
		"x" + strings.Repeat("7", backends.MaxKeyLen-1),
	} {
		put(t, ctx, st, key, uint64(100+i), 10, true)
		s.checkBlob(t, ctx, st, key, uint64(100+i), 10)
	}
}

func (s *suite) testMissing(t *testing.T, st backends.BlobStore, ctx context.Context) {
	if _, err := st.Stat(ctx, "missing"); !errors.Is(err, backends.ErrNotFound) {
		t.Errorf("Stat missing: %v, want ErrNotFound", err)
	}
	for _, r := range [][2]int64{{0, -1}, {0, 0}, {5, 10}} {
		if _, _, err := getAll(ctx, st, "missing", r[0], r[1]); !errors.Is(err, backends.ErrNotFound) {
			t.Errorf("Get missing %v: %v, want ErrNotFound", r, err)
		}
	}
	if err := st.Delete(ctx, "missing"); err != nil {
		t.Errorf("Delete missing: %v", err)
	}
}

func (s *suite) testDelete(t *testing.T, st backends.BlobStore, ctx context.Context) {
	put(t, ctx, st, "del", 21, 1000, true)
	put(t, ctx, st, "keep", 22, 1000, true)
	for i := range 2 {
		if err := st.Delete(ctx, "del"); err != nil {
			t.Fatalf("Delete #%d: %v", i+1, err)
		}
	}
	if _, err := st.Stat(ctx, "del"); !errors.Is(err, backends.ErrNotFound) {
		t.Errorf("Stat after Delete: %v, want ErrNotFound", err)
	}
	if _, _, err := getAll(ctx, st, "del", 0, -1); !errors.Is(err, backends.ErrNotFound) {
		t.Errorf("Get after Delete: %v, want ErrNotFound", err)
	}
	s.checkBlob(t, ctx, st, "keep", 22, 1000)
}

func (s *suite) testOverwrite(t *testing.T, st backends.BlobStore, ctx context.Context) {
	put(t, ctx, st, "ow", 31, 5000, true)
	put(t, ctx, st, "ow", 32, 3000, true)
	s.checkBlob(t, ctx, st, "ow", 32, 3000)
}

func listKeys(t *testing.T, ctx context.Context, st backends.BlobStore, prefix string) map[string]int64 {
	t.Helper()
	got := map[string]int64{}
	err := st.List(ctx, prefix, func(i backends.Info) error {
		if _, dup := got[i.Key]; dup {
			t.Errorf("List(%q) yielded %s twice", prefix, i.Key)
		}
		got[i.Key] = i.Size
		return nil
	})
	if err != nil {
		t.Fatalf("List(%q): %v", prefix, err)
	}
	return got
}

func (s *suite) testList(t *testing.T, st backends.BlobStore, ctx context.Context) {
	keys := map[string]int64{"lista-1": 1, "lista-2": 2, "listab": 3, "listb-1": 4, "other": 0, "o": 5}
	for k, n := range keys {
		put(t, ctx, st, k, uint64(n), n, true)
	}
	want := func(prefix string) map[string]int64 {
		m := map[string]int64{}
		for k, n := range keys {
			if strings.HasPrefix(k, prefix) {
				m[k] = n
			}
		}
		return m
	}
	for _, prefix := range []string{"", "l", "lista", "lista-", "lista-2", "listb", "o", "ot", "zzz", "lista-22"} {
		t.Run("prefix="+prefix, func(t *testing.T) {
			got, w := listKeys(t, ctx, st, prefix), want(prefix)
			if fmt.Sprint(sorted(got)) != fmt.Sprint(sorted(w)) {
				t.Errorf("List(%q) = %v, want %v", prefix, sorted(got), sorted(w))
			}
		})
	}
	t.Run("stop", func(t *testing.T) {
		stop := errors.New("stop")
		calls := 0
		err := st.List(ctx, "", func(backends.Info) error { calls++; return stop })
		if !errors.Is(err, stop) || calls != 1 {
			t.Errorf("List with a failing callback: %v after %d calls, want stop after 1", err, calls)
		}
	})
}

func sorted(m map[string]int64) []string {
	var out []string
	for k, v := range m {
		out = append(out, fmt.Sprintf("%s=%d", k, v))
	}
	sort.Strings(out)
	return out
}

const writers = 16

func (s *suite) testConcurrentKeys(t *testing.T, st backends.BlobStore, ctx context.Context) {
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for i := range writers {
		wg.Go(func() {
			body := newHashed(t, newGen(uint64(1000+i), int64(20000+i)))
			errs <- st.Put(ctx, fmt.Sprintf("ck%02d", i), body, int64(20000+i), body.opts())
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent Put: %v", err)
		}
	}
	for i := range writers {
		s.checkBlob(t, ctx, st, fmt.Sprintf("ck%02d", i), uint64(1000+i), int64(20000+i))
	}
	if got := listKeys(t, ctx, st, "ck"); len(got) != writers {
		t.Errorf("List(ck) has %d keys, want %d", len(got), writers)
	}
}

func (s *suite) testConcurrentSameKey(t *testing.T, st backends.BlobStore, ctx context.Context) {
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	sizeOf := func(i int) int64 { return int64(40000 + 1000*i) }
	for i := range writers {
		wg.Go(func() {
			body := newHashed(t, newGen(uint64(2000+i), sizeOf(i)))
			errs <- st.Put(ctx, "same", body, sizeOf(i), body.opts())
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent Put of one key: %v", err)
		}
	}
	// Whichever writer won, the chunk must be exactly its body (never a mix), with
	// its size and hash.
	info, err := st.Stat(ctx, "same")
	if err != nil {
		t.Fatalf("Stat: %v", err)
	}
	winner := -1
	for i := range writers {
		if sizeOf(i) == info.Size {
			winner = i
		}
	}
	if winner < 0 {
		t.Fatalf("Stat size %d matches no writer", info.Size)
	}
	s.checkBlob(t, ctx, st, "same", uint64(2000+winner), sizeOf(winner))
}

// failing yields n bytes of a generated body and then err (after calling hook once).
type failing struct {
	r    io.Reader
	n    int64
	err  error
	hook func() error
}

func (f *failing) Read(p []byte) (int, error) {
	if f.n <= 0 {
		if f.hook != nil {
			if err := f.hook(); err != nil {
				return 0, err
			}
			f.hook = nil
			f.n = 1 << 62
		} else {
			return 0, f.err
		}
	}
	if int64(len(p)) > f.n {
		p = p[:f.n]
	}
	n, err := f.r.Read(p)
	f.n -= int64(n)
	return n, err
}

func (s *suite) testFailedPuts(t *testing.T, st backends.BlobStore, ctx context.Context) {
	errBoom := errors.New("boom: client went away")
	const big = 1 << 20
	cases := []struct {
		name string
		// body returns the reader, the size to pass and the context to use.
		body     func(ctx context.Context) (io.Reader, int64, context.Context, context.CancelFunc)
		wantKind error // nil: any error; the body's own error must be kept for errors.Is
		maxTime  time.Duration
	}{
		{"fail-mid-stream-known", func(ctx context.Context) (io.Reader, int64, context.Context, context.CancelFunc) {
			return &failing{r: newGen(1, big), n: 300 << 10, err: errBoom}, big, ctx, func() {}
		}, errBoom, 0},
		{"fail-mid-stream-unknown", func(ctx context.Context) (io.Reader, int64, context.Context, context.CancelFunc) {
			return &failing{r: newGen(1, big), n: 300 << 10, err: errBoom}, -1, ctx, func() {}
		}, errBoom, 0},
		{"fail-at-once", func(ctx context.Context) (io.Reader, int64, context.Context, context.CancelFunc) {
			return &failing{r: newGen(1, big), n: 0, err: errBoom}, big, ctx, func() {}
		}, errBoom, 0},
		{"fail-after-large-part", func(ctx context.Context) (io.Reader, int64, context.Context, context.CancelFunc) {
			return &failing{r: newGen(1, s.opts.LargeSize), n: s.opts.LargeSize - 1000, err: errBoom}, s.opts.LargeSize, ctx, func() {}
		}, errBoom, 0},
		{"short-body", func(ctx context.Context) (io.Reader, int64, context.Context, context.CancelFunc) {
			return newGen(2, 500), 1000, ctx, func() {}
		}, nil, 0},
		{"short-body-empty", func(ctx context.Context) (io.Reader, int64, context.Context, context.CancelFunc) {
			return newGen(2, 0), 1, ctx, func() {}
		}, nil, 0},
		{"long-body", func(ctx context.Context) (io.Reader, int64, context.Context, context.CancelFunc) {
			return newGen(3, 1000), 500, ctx, func() {}
		}, nil, 0},
		{"long-body-by-one-at-buffer", func(ctx context.Context) (io.Reader, int64, context.Context, context.CancelFunc) {
			return newGen(3, 256<<10+1), 256 << 10, ctx, func() {}
		}, nil, 0},
		{"long-body-twice", func(ctx context.Context) (io.Reader, int64, context.Context, context.CancelFunc) {
			return newGen(3, 512<<10), 256 << 10, ctx, func() {}
		}, nil, 0},
		{"short-body-at-buffer", func(ctx context.Context) (io.Reader, int64, context.Context, context.CancelFunc) {
			return newGen(3, 256<<10), 512 << 10, ctx, func() {}
		}, nil, 0},
		{"long-body-zero", func(ctx context.Context) (io.Reader, int64, context.Context, context.CancelFunc) {
			return newGen(3, 10), 0, ctx, func() {}
		}, nil, 0},
		{"bad-size", func(ctx context.Context) (io.Reader, int64, context.Context, context.CancelFunc) {
			return newGen(3, 10), -2, ctx, func() {}
		}, backends.ErrInvalid, 0},
		{"canceled-before", func(ctx context.Context) (io.Reader, int64, context.Context, context.CancelFunc) {
			c, cancel := context.WithCancel(ctx)
			cancel()
			return newGen(4, 1000), 1000, c, cancel
		}, backends.ErrCanceled, 0},
		{"canceled-during", func(ctx context.Context) (io.Reader, int64, context.Context, context.CancelFunc) {
			c, cancel := context.WithCancel(ctx)
			// The body keeps flowing after the cancel: the store must notice the context.
			return &failing{r: newGen(5, big), n: 256 << 10, hook: func() error { cancel(); return nil }}, big, c, cancel
		}, backends.ErrCanceled, 0},
		{"canceled-during-unknown", func(ctx context.Context) (io.Reader, int64, context.Context, context.CancelFunc) {
			c, cancel := context.WithCancel(ctx)
			return &failing{r: newGen(5, big), n: 256 << 10, hook: func() error { cancel(); return nil }}, -1, c, cancel
		}, backends.ErrCanceled, 0},
		{"stall-until-deadline", func(ctx context.Context) (io.Reader, int64, context.Context, context.CancelFunc) {
			c, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
			// Like a request body whose client stopped sending: the read returns only
			// when the deadline has passed, with the error a body read would give.
			return &failing{r: newGen(6, big), n: 100 << 10, hook: func() error {
				<-c.Done()
				return fmt.Errorf("stalled body: %w", c.Err())
			}}, big, c, cancel
		}, backends.ErrCanceled, 30 * time.Second},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			key := "fail-" + c.name
			r, size, pctx, cancel := c.body(ctx)
			defer cancel()
			start := time.Now()
			err := st.Put(pctx, key, r, size, backends.PutOptions{})
			if err == nil {
				t.Fatalf("Put succeeded, want an error")
			}
			if c.wantKind != nil && !errors.Is(err, c.wantKind) {
				t.Errorf("Put: %v, want %v", err, c.wantKind)
			}
			if c.maxTime > 0 && time.Since(start) > c.maxTime {
				t.Errorf("Put took %v, want under %v", time.Since(start), c.maxTime)
			}
			assertAbsent(t, ctx, st, key)
		})
	}
}

func (s *suite) testGetCanceled(t *testing.T, st backends.BlobStore, ctx context.Context) {
	size := max(s.opts.LargeSize, 4<<20)
	put(t, ctx, st, "getcancel", 41, size, true)

	c, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := getAll(c, st, "getcancel", 0, -1); !errors.Is(err, backends.ErrCanceled) && !errors.Is(err, context.Canceled) {
		t.Errorf("Get with a canceled context: %v, want ErrCanceled", err)
	}

	c, cancel = context.WithCancel(ctx)
	defer cancel()
	rc, err := st.Get(c, "getcancel", 0, -1)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	defer rc.Close()
	if _, err := io.CopyN(io.Discard, rc, 64<<10); err != nil {
		t.Fatalf("reading: %v", err)
	}
	cancel()
	n, err := io.Copy(io.Discard, rc)
	if err == nil {
		t.Errorf("reading on after cancel: read %d more bytes and no error", n)
	} else if !errors.Is(err, backends.ErrCanceled) && !errors.Is(err, context.Canceled) {
		t.Errorf("reading on after cancel: %v, want ErrCanceled", err)
	}
}

// checkLeaks waits for the goroutine count to fall back to limit.
func checkLeaks(t *testing.T, limit int) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if n <= limit {
			return
		}
		if time.Now().After(deadline) {
			var b strings.Builder
			_ = pprof.Lookup("goroutine").WriteTo(&b, 1)
			t.Fatalf("%d goroutines remain, %d at the start: leak?\n%s", n, limit, b.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
