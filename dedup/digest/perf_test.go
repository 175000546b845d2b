package digest

import (
	"bytes"
	"crypto/md5"
	"io"
	"math/rand"
	"sync"
	"testing"
	"testing/iotest"
)

// TestCombineManyEqualParts exercises the shared shift operator of equal-sized parts
// (the common multipart shape) against the CRC of the whole.
func TestCombineManyEqualParts(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	data := make([]byte, 1000*97+13)
	rng.Read(data)
	for _, algo := range []string{CRC32, CRC32C, CRC64NVME} {
		var parts []CombinePart
		for off := 0; off < len(data); off += 97 {
			end := min(off+97, len(data))
			parts = append(parts, CombinePart{Value: sumOf(t, algo, data[off:end]), Size: int64(end - off)})
		}
		got, err := Combine(algo, parts)
		if err != nil {
			t.Fatal(err)
		}
		if want := sumOf(t, algo, data); got != want {
			t.Errorf("%s: combined %s, whole %s", algo, got, want)
		}
	}
}

// TestMD5ServerMatchesCryptoMD5 reads bodies of awkward sizes, in odd read sizes and
// many at once, through the SIMD server and checks every MD5 against crypto/md5.
func TestMD5ServerMatchesCryptoMD5(t *testing.T) {
	srv := newMD5Server(true)
	defer srv.Close()
	rng := rand.New(rand.NewSource(2))
	sizes := []int{0, 1, 55, 56, 63, 64, 65, 32<<10 - 1, 32 << 10, 32<<10 + 1, 1<<20 + 7}
	var wg sync.WaitGroup
	for i := 0; i < 3; i++ {
		for _, n := range sizes {
			data := make([]byte, n)
			rng.Read(data)
			wg.Go(func() {
				r, err := NewReader(iotest.HalfReader(bytes.NewReader(data)), Expect{Size: int64(n)}, WithMD5Server(srv))
				if err != nil {
					t.Error(err)
					return
				}
				defer r.Close()
				if _, err := io.Copy(io.Discard, r); err != nil {
					t.Errorf("size %d: %v", n, err)
					return
				}
				if got, want := r.Sums().MD5, md5.Sum(data); got != want {
					t.Errorf("size %d: MD5 %x, want %x", n, got, want)
				}
			})
		}
	}
	wg.Wait()
}

// TestMD5ServerAbandonedReader: a stream dropped before EOF releases its lane on Close,
// and the server keeps serving others.
func TestMD5ServerAbandonedReader(t *testing.T) {
	srv := newMD5Server(true)
	defer srv.Close()
	// Keep enough other streams open that the readers below get SIMD lanes.
	for i := 0; i < minSIMDStreams-1; i++ {
		h, err := NewReader(bytes.NewReader(nil), Expect{Size: 0}, WithMD5Server(srv))
		if err != nil {
			t.Fatal(err)
		}
		defer h.Close()
	}
	for i := 0; i < 100; i++ {
		r, err := NewReader(bytes.NewReader(make([]byte, 100<<10)), Expect{Size: 100 << 10}, WithMD5Server(srv))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Read(make([]byte, 1000)); err != nil {
			t.Fatal(err)
		}
		if _, simd := r.md5.(interface{ Close() }); !simd {
			t.Fatal("reader hashes with crypto/md5, not on the MD5 server")
		}
		r.Close()
		r.Close() // idempotent
	}
	if n := srv.streams.Load(); n != minSIMDStreams-1 {
		t.Errorf("%d streams counted open, want %d", n, minSIMDStreams-1)
	}
	data := []byte("still works")
	r, _ := NewReader(bytes.NewReader(data), Expect{Size: -1}, WithMD5Server(srv))
	if _, err := io.Copy(io.Discard, r); err != nil {
		t.Fatal(err)
	}
	if got, want := r.Sums().MD5, md5.Sum(data); got != want {
		t.Errorf("MD5 %x, want %x", got, want)
	}
}

// TestMD5ServerWithoutLanes: where the lanes do not pay, every stream hashes with
// crypto/md5 however many are open (on a goroutine of its own when large), and the
// sums are right.
func TestMD5ServerWithoutLanes(t *testing.T) {
	srv := newMD5Server(false)
	defer srv.Close()
	data := make([]byte, asyncMinSize+3)
	rand.New(rand.NewSource(5)).Read(data)
	want := md5.Sum(data)
	var readers []*Reader
	for i := 0; i < 2*minSIMDStreams; i++ {
		r, err := NewReader(bytes.NewReader(data), Expect{Size: int64(len(data))}, WithMD5Server(srv))
		if err != nil {
			t.Fatal(err)
		}
		if _, simd := r.md5.(interface{ Close() }); simd {
			t.Fatal("a reader got SIMD lanes from a server without them")
		}
		readers = append(readers, r)
	}
	for i, r := range readers {
		if _, err := io.Copy(io.Discard, r); err != nil {
			t.Fatal(err)
		}
		if got := r.Sums().MD5; got != want {
			t.Errorf("reader %d: md5 %x, want %x", i, got, want)
		}
		r.Close()
	}
	if n := srv.streams.Load(); n != 0 {
		t.Errorf("%d streams still counted", n)
	}
}
