package e2e

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// Test data comes from a seeded ChaCha8 stream: incompressible (so dedup is
// real dedup, not compression), reproducible (a failure can be replayed) and
// generated at well over 1 GB/s, so a 5 GiB object costs no memory and
// little time.

const (
	KiB = 1 << 10
	MiB = 1 << 20
	GiB = 1 << 30
)

func prng(seed uint64) io.Reader {
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:], seed)
	return rand.NewChaCha8(s)
}

// randomBytes returns n bytes of the seed's stream: for objects small enough
// to hold in memory (a few MiB).
func randomBytes(seed uint64, n int) []byte {
	b := make([]byte, n)
	if _, err := io.ReadFull(prng(seed), b); err != nil {
		panic(err) // ChaCha8 never fails
	}
	return b
}

// writeRandomFile streams size bytes of the seed's stream to dir/name and
// returns the path and the SHA-256; the data never sits in memory.
func writeRandomFile(t testing.TB, dir, name string, seed uint64, size int64) (path, sum string) {
	t.Helper()
	path = filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	hs := sha256.New()
	if _, err := io.CopyN(io.MultiWriter(f, hs), prng(seed), size); err != nil {
		f.Close()
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path, hex.EncodeToString(hs.Sum(nil))
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// readerSHA256 drains r and returns its SHA-256 and length.
func readerSHA256(r io.Reader) (string, int64, error) {
	hs := sha256.New()
	n, err := io.Copy(hs, r)
	return hex.EncodeToString(hs.Sum(nil)), n, err
}

func fileSHA256(t testing.TB, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sum, _, err := readerSHA256(f)
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

// onlyReader hides every method but Read (Seek, ReadAt, WriterTo, Len), so
// that a client must treat the body as a stream of unknown rewindability.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }
