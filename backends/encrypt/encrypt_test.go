package encrypt_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"

	"s3proxy/backends"
	"s3proxy/backends/blobtest"
	"s3proxy/backends/encrypt"
	"s3proxy/backends/local"
	"s3proxy/backends/mem"
)

func key(id string, b byte) encrypt.Key {
	k := encrypt.Key{ID: id}
	for i := range k.Secret {
		k.Secret[i] = b + byte(i)
	}
	return k
}

func ring(t *testing.T, keys ...encrypt.Key) *encrypt.Keyring {
	t.Helper()
	r, err := encrypt.NewKeyring(keys)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestConformanceMem(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) backends.BlobStore {
		return encrypt.New(mem.New("vault"), ring(t, key("k1", 1)))
	}, blobtest.Options{RequireSHA: true})
}

func TestConformanceLocal(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) backends.BlobStore {
		inner, err := local.Open(context.Background(), local.Config{Name: "vault", Path: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		return encrypt.New(inner, ring(t, key("k1", 1)))
	}, blobtest.Options{RequireSHA: true})
}

func randBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func put(t *testing.T, s backends.BlobStore, k string, data []byte, known bool) {
	t.Helper()
	size := int64(len(data))
	if !known {
		size = -1
	}
	if err := s.Put(context.Background(), k, bytes.NewReader(data), size, backends.PutOptions{}); err != nil {
		t.Fatalf("Put %s: %v", k, err)
	}
}

func get(s backends.BlobStore, k string, off, n int64) ([]byte, error) {
	rc, err := s.Get(context.Background(), k, off, n)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// Every range that starts or ends at, just before or just after a segment boundary,
// for sizes around the boundaries, reads back exactly.
func TestRangesAtSegmentBoundaries(t *testing.T) {
	const seg = 64 << 10
	inner := mem.New("m")
	s := encrypt.New(inner, ring(t, key("k1", 1)))
	for _, size := range []int{0, 1, 15, 16, 17, seg - 1, seg, seg + 1, 2*seg - 1, 2 * seg, 2*seg + 1, 3*seg + 100} {
		data := randBytes(uint64(size), size)
		k := fmt.Sprintf("b%d", size)
		put(t, s, k, data, size%2 == 0)
		info, err := inner.Stat(context.Background(), k)
		if err != nil || info.Size != encrypt.CiphertextSize(int64(size)) {
			t.Fatalf("size %d: inner size %d (%v), want %d", size, info.Size, err, encrypt.CiphertextSize(int64(size)))
		}
		var points []int
		for _, b := range []int{0, seg, 2 * seg, 3 * seg, size} {
			for _, d := range []int{-1, 0, 1} {
				if p := b + d; p >= 0 && p <= size {
					points = append(points, p)
				}
			}
		}
		for _, from := range points {
			for _, to := range points {
				if to < from {
					continue
				}
				got, err := get(s, k, int64(from), int64(to-from))
				if err != nil {
					t.Fatalf("size %d range [%d,%d): %v", size, from, to, err)
				}
				if !bytes.Equal(got, data[from:to]) {
					t.Fatalf("size %d range [%d,%d): wrong bytes", size, from, to)
				}
			}
			got, err := get(s, k, int64(from), -1)
			if err != nil || !bytes.Equal(got, data[from:]) {
				t.Fatalf("size %d range [%d,-1): %d bytes, %v", size, from, len(got), err)
			}
		}
		if _, err := s.Get(context.Background(), k, int64(size), 1); !errors.Is(err, backends.ErrInvalid) {
			t.Errorf("size %d: range past the end: %v, want ErrInvalid", size, err)
		}
		if _, err := s.Get(context.Background(), k, int64(size)+1, -1); !errors.Is(err, backends.ErrInvalid) {
			t.Errorf("size %d: offset past the end: %v, want ErrInvalid", size, err)
		}
	}
}

// The inner store holds neither the plaintext nor any long run of it, and two puts of
// the same plaintext give unrelated ciphertexts (fresh salt, per-blob key).
func TestCiphertextAtRest(t *testing.T) {
	inner := mem.New("m")
	s := encrypt.New(inner, ring(t, key("k1", 1)))
	plain := bytes.Repeat([]byte("attack at dawn. "), 10000)
	put(t, s, "a", plain, true)
	put(t, s, "b", plain, true)
	ca, _ := get(inner, "a", 0, -1)
	cb, _ := get(inner, "b", 0, -1)
	for _, c := range [][]byte{ca, cb} {
		if bytes.Contains(c, []byte("attack at dawn")) || bytes.Contains(c, plain[:32]) {
			t.Fatal("ciphertext contains the plaintext")
		}
		if !bytes.HasPrefix(c, []byte("S3PE")) {
			t.Fatal("no header")
		}
	}
	if bytes.Equal(ca[64:200], cb[64:200]) {
		t.Fatal("same plaintext, same ciphertext: keys or nonces repeat")
	}
}

func TestWrongAndUnknownKey(t *testing.T) {
	inner := mem.New("m")
	put(t, encrypt.New(inner, ring(t, key("k1", 1))), "a", []byte("secret"), true)
	for _, tc := range []struct {
		name string
		ring *encrypt.Keyring
		want error
	}{
		{"wrong material", ring(t, key("k1", 9)), encrypt.ErrWrongKey},
		{"unknown id", ring(t, key("k2", 1)), encrypt.ErrUnknownKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := encrypt.New(inner, tc.ring)
			for _, r := range [][2]int64{{0, -1}, {1, 3}} {
				_, err := get(s, "a", r[0], r[1])
				if !errors.Is(err, tc.want) || !errors.Is(err, backends.ErrCorrupt) {
					t.Errorf("range %v: %v, want %v", r, err, tc.want)
				}
				if err != nil && strings.Contains(err.Error(), "secret") {
					t.Errorf("error quotes content: %v", err)
				}
			}
		})
	}
}

// After a rotation (a new key appended), new blobs use it and old ones still read.
func TestKeyRotation(t *testing.T) {
	inner := mem.New("m")
	put(t, encrypt.New(inner, ring(t, key("2025", 1))), "old", []byte("old data"), true)
	rotated := encrypt.New(inner, ring(t, key("2025", 1), key("2026", 2)))
	put(t, rotated, "new", []byte("new data"), true)
	for k, want := range map[string]string{"old": "old data", "new": "new data"} {
		got, err := get(rotated, k, 0, -1)
		if err != nil || string(got) != want {
			t.Errorf("%s = %q, %v", k, got, err)
		}
	}
	raw, _ := get(inner, "new", 0, 64)
	if !bytes.Contains(raw, []byte("2026")) {
		t.Errorf("new blob does not name key 2026 in its header: %x", raw)
	}
	// Without the old key, the old blob is a clear error, the new one still reads.
	if _, err := get(encrypt.New(inner, ring(t, key("2026", 2))), "old", 0, -1); !errors.Is(err, encrypt.ErrUnknownKey) {
		t.Errorf("old blob without its key: %v", err)
	}
	// KeyID tells which key each blob is under (what migrate --rekey selects by).
	if got := rotated.CurrentKeyID(); got != "2026" {
		t.Errorf("CurrentKeyID = %q, want 2026", got)
	}
	for k, want := range map[string]string{"old": "2025", "new": "2026"} {
		if got, err := rotated.KeyID(context.Background(), k); err != nil || got != want {
			t.Errorf("KeyID(%s) = %q, %v; want %q", k, got, err, want)
		}
	}
	if err := inner.Put(context.Background(), "clear", bytes.NewReader(make([]byte, 100)), 100, backends.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := rotated.KeyID(context.Background(), "clear"); !errors.Is(err, backends.ErrCorrupt) {
		t.Errorf("KeyID of a blob without a header: %v, want ErrCorrupt", err)
	}
}

// Any changed byte (header, ciphertext, tag), a truncation or a blob moved to another
// key fails the read, ranged or whole.
func TestTamperingDetected(t *testing.T) {
	const size = 150 << 10
	data := randBytes(7, size)
	ctx := context.Background()
	// Reads fail when they cover the damage (a range reads and authenticates only the
	// segments it needs; the header is read by every range).
	head, seg0, tail := [2]int64{10, 20}, [2]int64{10, 20}, [2]int64{size - 5, 5}
	for _, tc := range []struct {
		name   string
		mutate func([]byte) []byte
		ranges [][2]int64
	}{
		{"salt", func(b []byte) []byte { b[30] ^= 1; return b }, [][2]int64{head, tail, {70 << 10, 10}}},
		{"key check", func(b []byte) []byte { b[60] ^= 1; return b }, [][2]int64{head, tail}},
		{"first segment", func(b []byte) []byte { b[100] ^= 1; return b }, [][2]int64{seg0}},
		{"last tag", func(b []byte) []byte { b[len(b)-1] ^= 1; return b }, [][2]int64{tail}},
		{"truncated at a segment", func(b []byte) []byte { return b[:64+2*(64<<10+16)] }, [][2]int64{tail, {(64 << 10) + 5, 5}}},
		{"truncated mid-segment", func(b []byte) []byte { return b[:len(b)-10] }, [][2]int64{{size - 100, 10}}},
		{"segments swapped", func(b []byte) []byte {
			s0 := append([]byte(nil), b[64:64+65552]...)
			copy(b[64:], b[64+65552:64+2*65552])
			copy(b[64+65552:], s0)
			return b
		}, [][2]int64{seg0, {70 << 10, 10}}},
		{"plaintext", func([]byte) []byte { return append(make([]byte, 64), data...) }, [][2]int64{head}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inner := mem.New("m")
			s := encrypt.New(inner, ring(t, key("k1", 1)))
			put(t, s, "a", data, true)
			raw, _ := get(inner, "a", 0, -1)
			raw = tc.mutate(raw)
			if err := inner.Put(ctx, "a", bytes.NewReader(raw), int64(len(raw)), backends.PutOptions{}); err != nil {
				t.Fatal(err)
			}
			for _, r := range append(tc.ranges, [2]int64{0, -1}, [2]int64{0, size}) {
				got, err := get(s, "a", r[0], r[1])
				if err == nil {
					t.Errorf("range %v: read %d bytes of a tampered blob without error", r, len(got))
				} else if !errors.Is(err, backends.ErrCorrupt) && !errors.Is(err, backends.ErrInvalid) {
					t.Errorf("range %v: %v, want ErrCorrupt", r, err)
				}
			}
		})
	}
	t.Run("renamed", func(t *testing.T) {
		inner := mem.New("m")
		s := encrypt.New(inner, ring(t, key("k1", 1)))
		put(t, s, "a", data, true)
		raw, _ := get(inner, "a", 0, -1)
		_ = inner.Put(ctx, "b", bytes.NewReader(raw), int64(len(raw)), backends.PutOptions{})
		if _, err := get(s, "b", 0, -1); !errors.Is(err, backends.ErrCorrupt) {
			t.Errorf("blob under another key: %v", err)
		}
	})
}

func TestStatAndListReportPlaintextSize(t *testing.T) {
	inner := mem.New("m")
	s := encrypt.New(inner, ring(t, key("k1", 1)))
	data := randBytes(1, 100000)
	sum := sha256.Sum256(data)
	if err := s.Put(context.Background(), "a", bytes.NewReader(data), -1, backends.PutOptions{SHA256: func() [32]byte { return sum }}); err != nil {
		t.Fatal(err)
	}
	info, err := s.Stat(context.Background(), "a")
	if err != nil || info.Size != 100000 || !info.HasSHA || info.SHA256 != sum {
		t.Fatalf("Stat = %+v, %v", info, err)
	}
	n := 0
	_ = s.List(context.Background(), "", func(i backends.Info) error {
		n++
		if i.Size != 100000 {
			t.Errorf("List size %d", i.Size)
		}
		return nil
	})
	if n != 1 {
		t.Errorf("List found %d", n)
	}
}

func TestParseKeys(t *testing.T) {
	hexKey := strings.Repeat("ab", 32)
	b64 := "q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s="
	for _, tc := range []struct {
		name, text string
		ids        []string
		bad        bool
	}{
		{"hex", "k1:" + hexKey, []string{"k1"}, false},
		{"base64", "k1:" + b64, []string{"k1"}, false},
		{"lines and comments", "# keys\nold:" + hexKey + "\n\n new : " + b64 + "\n", []string{"old", "new"}, false},
		{"env style", "a:" + hexKey + ",b:" + hexKey, []string{"a", "b"}, false},
		{"no id", hexKey, nil, true},
		{"short key", "k1:abcd", nil, true},
		{"bad id", "k 1:" + hexKey, nil, true},
		{"long id", strings.Repeat("x", 17) + ":" + hexKey, nil, true},
		{"31 bytes", "k1:" + strings.Repeat("ab", 31), nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			keys, err := encrypt.ParseKeys("test", tc.text)
			if tc.bad {
				if !errors.Is(err, encrypt.ErrBadKey) {
					t.Fatalf("err = %v, want ErrBadKey", err)
				}
				if strings.Contains(err.Error(), hexKey[:16]) {
					t.Errorf("error quotes the key: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, k := range keys {
				ids = append(ids, k.ID)
				if hex.EncodeToString(k.Secret[:]) != hexKey {
					t.Errorf("key %s decoded to %x", k.ID, k.Secret)
				}
				if strings.Contains(fmt.Sprintf("%v %+v %#v", k, k, k), "ab") {
					t.Errorf("formatting prints the key")
				}
			}
			if fmt.Sprint(ids) != fmt.Sprint(tc.ids) {
				t.Errorf("ids %v, want %v", ids, tc.ids)
			}
		})
	}
	if _, err := encrypt.NewKeyring([]encrypt.Key{key("a", 1), key("a", 2)}); !errors.Is(err, encrypt.ErrBadKey) {
		t.Errorf("duplicate id: %v", err)
	}
	if _, err := encrypt.NewKeyring(nil); !errors.Is(err, encrypt.ErrBadKey) {
		t.Errorf("no keys: %v", err)
	}
}

func TestCheckKeys(t *testing.T) {
	ctx := context.Background()
	k1, k2 := key("k1", 1), key("k2", 2)
	good := mem.New("m")
	put(t, encrypt.New(good, ring(t, k1)), "a", []byte("one"), true)
	put(t, encrypt.New(good, ring(t, k1)), "b", []byte("two"), true)
	clear := mem.New("m")
	put(t, clear, "a", bytes.Repeat([]byte("plaintext chunk "), 10), true)
	oneBad := mem.New("m")
	put(t, encrypt.New(oneBad, ring(t, k1)), "b", []byte("fine"), true)
	put(t, oneBad, "a", bytes.Repeat([]byte("x"), 100), true) // damaged, listed first
	for _, tc := range []struct {
		name  string
		inner backends.BlobStore
		ring  *encrypt.Keyring
		want  error
	}{
		{"empty store", mem.New("m"), ring(t, k1), nil},
		{"right key", good, ring(t, k1), nil},
		{"rotated keyring", good, ring(t, k1, k2), nil},
		{"key material changed", good, ring(t, key("k1", 7)), encrypt.ErrWrongKey},
		{"old key dropped", good, ring(t, k2), encrypt.ErrUnknownKey},
		{"store held chunks in clear", clear, ring(t, k1), encrypt.ErrCorrupt},
		{"one damaged blob among good ones", oneBad, ring(t, k1), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := encrypt.New(tc.inner, tc.ring).CheckKeys(ctx, 5)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("CheckKeys = %v, want %v", err, tc.want)
			}
		})
	}
}
