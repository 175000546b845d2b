package digest

import (
	"bytes"
	"encoding/base64"
	"errors"
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
