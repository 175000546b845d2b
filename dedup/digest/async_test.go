package digest

import (
	"bytes"
	"crypto/md5"
	"errors"
	"io"
	"math/rand"
	"runtime"
	"testing"
	"testing/iotest"
	"time"
)

// TestAsyncMD5MatchesCryptoMD5: a lone stream hashes its MD5 on a goroutine; the sums
// match crypto/md5 whatever the body and read sizes, across buffer boundaries.
func TestAsyncMD5MatchesCryptoMD5(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("asyncHash needs two cores (GOMAXPROCS=1 hashes in line)")
	}
	srv := NewMD5Server()
	defer srv.Close()
	rng := rand.New(rand.NewSource(4))
	sizes := []int{asyncMinSize, asyncMinSize + 1, asyncBufSize*asyncBufs - 1, asyncBufSize * asyncBufs, 1<<20 + 7, 5 << 20}
	for _, n := range sizes {
		for _, declared := range []int64{int64(n), -1} {
			data := make([]byte, n)
			rng.Read(data)
			r, err := NewReader(iotest.HalfReader(bytes.NewReader(data)), Expect{Size: declared}, WithMD5Server(srv))
			if err != nil {
				t.Fatal(err)
			}
			// A body of unknown size always hashes on the goroutine: the buffer-edge
			// sizes below asyncMinSize are exercised that way.
			if _, async := r.md5.(*asyncHash); async != (declared < 0 || declared >= asyncMinSize) {
				t.Fatalf("size %d (declared %d): MD5 on a goroutine %v", n, declared, async)
			}
			if _, err := io.Copy(io.Discard, r); err != nil {
				t.Fatalf("size %d: %v", n, err)
			}
			if got, want := r.Sums().MD5, md5.Sum(data); got != want {
				t.Errorf("size %d (declared %d): MD5 %x, want %x", n, declared, got, want)
			}
			r.Close()
		}
	}
	// Small bodies stay in line: a goroutine per 4 KiB PUT costs more than it saves, and
	// a 1 MiB PUT gains nothing from it once its SHA-256 digests take one pass.
	for _, n := range []int64{4096, 1 << 20} {
		r, _ := NewReader(bytes.NewReader(make([]byte, n)), Expect{Size: n}, WithMD5Server(srv))
		if _, async := r.md5.(*asyncHash); async {
			t.Errorf("%d-byte body hashes its MD5 on a goroutine", n)
		}
		r.Close()
	}
}

// TestAsyncMD5Abandoned: a stream dropped halfway stops its goroutine on Close, and a
// digest mismatch still surfaces at EOF.
func TestAsyncMD5Abandoned(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("asyncHash needs two cores")
	}
	srv := NewMD5Server()
	defer srv.Close()
	before := runtime.NumGoroutine()
	for i := 0; i < 50; i++ {
		r, err := NewReader(bytes.NewReader(make([]byte, 1<<20)), Expect{Size: 1 << 20}, WithMD5Server(srv))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.CopyN(io.Discard, r, 300<<10); err != nil {
			t.Fatal(err)
		}
		r.Close()
		r.Close()
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines left running after abandoned streams (%d before)", n, before)
	}
	if n := srv.streams.Load(); n != 0 {
		t.Errorf("%d streams counted open", n)
	}
	data := make([]byte, 1<<20)
	bad := md5.Sum([]byte("other"))
	r, _ := NewReader(bytes.NewReader(data), Expect{Size: -1, MD5: bad[:]}, WithMD5Server(srv))
	defer r.Close()
	_, err := io.Copy(io.Discard, r)
	var mm *MismatchError
	if !errors.As(err, &mm) || mm.Kind != KindMD5 {
		t.Fatalf("got %v, want an MD5 mismatch", err)
	}
}
