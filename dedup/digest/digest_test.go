package digest

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"hash"
	"io"
	"math/rand"
	"testing"
)

func sumOf(t *testing.T, algo string, b []byte) string {
	t.Helper()
	h, err := New(algo)
	if err != nil {
		t.Fatal(err)
	}
	h.Write(b)
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

func TestCombineMatchesWholeCRC(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	data := make([]byte, 300_001)
	rng.Read(data)
	for _, algo := range []string{CRC32, CRC32C, CRC64NVME} {
		for _, cuts := range [][]int{{100_000, 200_000}, {1}, {0, 5}, {299_999}} {
			var parts []CombinePart
			prev := 0
			for _, c := range append(cuts, len(data)) {
				parts = append(parts, CombinePart{Value: sumOf(t, algo, data[prev:c]), Size: int64(c - prev)})
				prev = c
			}
			got, err := Combine(algo, parts)
			if err != nil {
				t.Fatal(err)
			}
			if want := sumOf(t, algo, data); got != want {
				t.Errorf("%s cuts %v: combined %s, whole %s", algo, cuts, got, want)
			}
		}
	}
}

func TestReaderVerifies(t *testing.T) {
	body := []byte("hello, world")
	good := sumOf(t, CRC32, body)
	md5ok := []byte{}
	{
		h, _ := New(SHA256)
		h.Write(body)
		md5ok = h.Sum(nil)
	}
	tests := []struct {
		name string
		exp  Expect
		kind Kind
		ok   bool
	}{
		{"no expectations", Expect{Size: -1}, 0, true},
		{"size ok", Expect{Size: int64(len(body))}, 0, true},
		{"short", Expect{Size: int64(len(body)) + 1}, KindSize, false},
		{"long", Expect{Size: int64(len(body)) - 1}, KindSize, false},
		{"sha ok", Expect{Size: -1, ContentSHA256: md5ok}, 0, true},
		{"sha bad", Expect{Size: -1, ContentSHA256: make([]byte, 32)}, KindContentSHA256, false},
		{"md5 bad", Expect{Size: -1, MD5: make([]byte, 16)}, KindMD5, false},
		{"crc ok", Expect{Size: -1, Algorithm: CRC32, Checksum: func() (string, bool) { return good, true }}, 0, true},
		{"crc bad", Expect{Size: -1, Algorithm: CRC32, Checksum: func() (string, bool) { return "AAAAAA==", true }}, KindChecksum, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := NewReader(bytes.NewReader(body), tc.exp)
			if err != nil {
				t.Fatal(err)
			}
			_, err = io.Copy(io.Discard, r)
			if tc.ok {
				if err != nil || !r.Done() {
					t.Fatalf("err %v done %v", err, r.Done())
				}
				return
			}
			var mm *MismatchError
			if !errors.As(err, &mm) || mm.Kind != tc.kind {
				t.Fatalf("want mismatch kind %d, got %v", tc.kind, err)
			}
			if r.Done() {
				t.Fatal("Done after mismatch")
			}
		})
	}
}

// sharingSource is a body that hashes what it returns and shares the digest.
type sharingSource struct {
	io.Reader
	h      hash.Hash
	shared bool
}

func (s *sharingSource) Read(p []byte) (int, error) {
	n, err := s.Reader.Read(p)
	s.h.Write(p[:n])
	return n, err
}

func (s *sharingSource) ShareSHA256() func() [32]byte {
	s.shared = true
	return func() (sum [32]byte) { s.h.Sum(sum[:0]); return }
}

// TestSharedSHA256: a source offering its SHA-256 (an aws-chunked body) is asked for
// it, the Reader reports it, and a declared x-amz-content-sha256 is checked against it.
func TestSharedSHA256(t *testing.T) {
	data := bytes.Repeat([]byte("shared digest "), 10_000)
	want := sha256.Sum256(data)
	for _, tc := range []struct {
		name    string
		declare []byte
		wantErr bool
	}{
		{"undeclared", nil, false},
		{"declared", want[:], false},
		{"mismatch", make([]byte, 32), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := &sharingSource{Reader: bytes.NewReader(data), h: sha256.New()}
			r, err := NewReader(src, Expect{Size: int64(len(data)), ContentSHA256: tc.declare})
			if err != nil {
				t.Fatal(err)
			}
			if !src.shared || r.sha != nil {
				t.Fatal("the Reader did not take the source's digest")
			}
			_, err = io.Copy(io.Discard, r)
			if tc.wantErr {
				var me *MismatchError
				if !errors.As(err, &me) || me.Kind != KindContentSHA256 {
					t.Fatalf("err = %v, want a content SHA-256 mismatch", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := r.Sums().SHA256; got != want {
				t.Fatalf("SHA256 %x, want %x", got, want)
			}
		})
	}
}
