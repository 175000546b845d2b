package digest

import (
	"hash"
	"runtime"
	"sync"
)

// asyncHash runs a hash on its own goroutine, fed with copies of what is written, so
// that a lone stream's MD5 (the slowest hash on the path, about 0.6 GB/s) runs beside
// its SHA-256 on another core instead of after it. Measured on the benchmark machine,
// a single 1 MiB PUT spends 1.6 ms in MD5 and 1.4 ms in the two SHA-256 passes (the
// chunk signatures and the content address): in line that is 3 ms per request, side by
// side 1.6 ms. The copy costs about 3 % of that. Concurrent streams do not need it (the
// cores are busy anyway, and from minSIMDStreams on they share the MD5 SIMD lanes).
type asyncHash struct {
	h     hash.Hash
	full  chan *[]byte // filled buffers, in order
	free  chan *[]byte // buffers the goroutine is done with
	cur   *[]byte
	done  chan struct{}
	ended bool
}

// asyncBufSize is one hand-off: large enough that the channel costs nothing against
// the hashing, small enough that the hash starts on a body's first bytes.
const asyncBufSize = 128 << 10

// asyncBufs is how many buffers a stream owns: one being filled, two being hashed.
const asyncBufs = 3

// asyncMinSize is the smallest declared body worth a goroutine: below it the hand-off
// costs more than running the hash in line saves. Once a signed aws-chunked body's two
// SHA-256 digests took one pass (sha256pair), a 1 MiB PUT was no faster with its MD5 on
// a goroutine and cost 7 % more CPU (PUT 1 MiB ×1, this threshold against 256 KiB: 212
// vs 207 MiB/s, 4.17 vs 4.53 CPU-s/GiB), while 8 MiB multipart parts still gained from
// it (287 vs 248 MiB/s with every body in line); `-compare`, 4 runs each.
const asyncMinSize = 4 << 20

var asyncPool = sync.Pool{New: func() any { b := make([]byte, 0, asyncBufSize); return &b }}

// useAsync reports whether a body of this declared size (-1 unknown) should hash its
// MD5 on a goroutine: only when another core exists to run it.
func useAsync(size int64) bool {
	return runtime.GOMAXPROCS(0) > 1 && (size < 0 || size >= asyncMinSize)
}

func newAsyncHash(h hash.Hash) *asyncHash {
	a := &asyncHash{h: h, full: make(chan *[]byte, asyncBufs), free: make(chan *[]byte, asyncBufs), done: make(chan struct{})}
	for i := 0; i < asyncBufs-1; i++ {
		a.free <- asyncPool.Get().(*[]byte)
	}
	a.cur = asyncPool.Get().(*[]byte)
	go a.run()
	return a
}

func (a *asyncHash) run() {
	defer close(a.done)
	for b := range a.full {
		a.h.Write(*b)
		*b = (*b)[:0]
		a.free <- b
	}
}

// Write copies p into the current buffer, handing full ones to the goroutine.
func (a *asyncHash) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		b := a.cur
		k := copy((*b)[len(*b):cap(*b)], p)
		*b = (*b)[:len(*b)+k]
		p = p[k:]
		if len(*b) == cap(*b) {
			a.full <- b
			a.cur = <-a.free
		}
	}
	return n, nil
}

// end hands over the last buffer, waits for the goroutine and returns the buffers to
// the pool. Idempotent.
func (a *asyncHash) end() {
	if a.ended {
		return
	}
	a.ended = true
	if len(*a.cur) > 0 {
		a.full <- a.cur
	} else {
		a.free <- a.cur
	}
	close(a.full)
	<-a.done
	for i := 0; i < asyncBufs; i++ {
		b := <-a.free
		*b = (*b)[:0]
		asyncPool.Put(b)
	}
}

// Sum waits for everything written to be hashed.
func (a *asyncHash) Sum(b []byte) []byte {
	a.end()
	return a.h.Sum(b)
}

func (a *asyncHash) Reset()         { panic("digest: asyncHash is single-use") }
func (a *asyncHash) Size() int      { return a.h.Size() }
func (a *asyncHash) BlockSize() int { return a.h.BlockSize() }
