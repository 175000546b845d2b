package encrypt_test

import (
	"bytes"
	"context"
	"io"
	"testing"

	"s3proxy/backends"
	"s3proxy/backends/encrypt"
	"s3proxy/backends/mem"
)

// The cost of the decorator alone (over mem, so that no disk or network hides it):
// go test ./backends/encrypt -run X -bench . -benchtime 2s
func BenchmarkEncrypt(b *testing.B) {
	const size = 8 << 20
	data := randBytes(1, size)
	ring, err := encrypt.NewKeyring([]encrypt.Key{key("k1", 1)})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		store backends.BlobStore
	}{{"plain", mem.New("m")}, {"encrypted", encrypt.New(mem.New("m"), ring)}} {
		b.Run(tc.name+"/put", func(b *testing.B) {
			b.SetBytes(size)
			for b.Loop() {
				if err := tc.store.Put(ctx, "k", bytes.NewReader(data), size, backends.PutOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(tc.name+"/get", func(b *testing.B) {
			b.SetBytes(size)
			for b.Loop() {
				rc, err := tc.store.Get(ctx, "k", 0, -1)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.Copy(io.Discard, rc); err != nil {
					b.Fatal(err)
				}
				rc.Close()
			}
		})
		b.Run(tc.name+"/range-4KiB", func(b *testing.B) {
			b.SetBytes(4 << 10)
			for b.Loop() {
				rc, err := tc.store.Get(ctx, "k", 3<<20+1000, 4<<10)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.Copy(io.Discard, rc); err != nil {
					b.Fatal(err)
				}
				rc.Close()
			}
		})
	}
}
