package sha256pair

import (
	"crypto/sha256"
	"math/rand/v2"
	"testing"
)

// TestPairMatchesSHA256 writes random data in random pieces, restarting Part at random
// points (on and off 64-byte boundaries), and checks both digests against crypto/sha256
// at every restart and at the end; with and without the SHA extensions.
func TestPairMatchesSHA256(t *testing.T) {
	for _, accel := range []bool{true, false} {
		if accel && !hasSHANI {
			continue
		}
		t.Run(map[bool]string{true: "shani", false: "generic"}[accel], func(t *testing.T) {
			if !accel {
				defer forceGeneric()()
			}
			rng := rand.New(rand.NewPCG(1, 2))
			for trial := 0; trial < 300; trial++ {
				data := make([]byte, rng.IntN(300_000))
				for i := range data {
					data[i] = byte(rng.Uint32())
				}
				p := New()
				partStart, off := 0, 0
				for off < len(data) {
					n := min(len(data)-off, 1+rng.IntN(70_000))
					if rng.IntN(4) == 0 {
						n = min(len(data)-off, 1+rng.IntN(130))
					}
					p.Write(data[off : off+n])
					off += n
					if rng.IntN(3) == 0 {
						if got, want := p.SumPart(), sha256.Sum256(data[partStart:off]); got != want {
							t.Fatalf("trial %d: part [%d:%d] %x, want %x", trial, partStart, off, got, want)
						}
						p.ResetPart()
						partStart = off
					}
				}
				if got, want := p.SumWhole(), sha256.Sum256(data); got != want {
					t.Fatalf("trial %d: whole of %d bytes %x, want %x", trial, len(data), got, want)
				}
				if got, want := p.SumPart(), sha256.Sum256(data[partStart:]); got != want {
					t.Fatalf("trial %d: last part %x, want %x", trial, got, want)
				}
			}
		})
	}
}

func TestEmpty(t *testing.T) {
	p := New()
	if p.SumWhole() != sha256.Sum256(nil) || p.SumPart() != sha256.Sum256(nil) {
		t.Fatal("empty digests differ from crypto/sha256")
	}
}

// BenchmarkPair against two crypto/sha256 digests over the same 64 KiB pieces (what
// an aws-chunked body's chunk signatures and the content address cost).
func BenchmarkPair(b *testing.B) {
	buf := make([]byte, 64<<10)
	b.Run("pair", func(b *testing.B) {
		b.SetBytes(int64(len(buf)))
		p := New()
		for b.Loop() {
			p.Write(buf)
			p.SumPart()
			p.ResetPart()
		}
	})
	b.Run("two-sha256", func(b *testing.B) {
		b.SetBytes(int64(len(buf)))
		whole := sha256.New()
		for b.Loop() {
			part := sha256.New()
			part.Write(buf)
			whole.Write(buf)
			part.Sum(nil)
		}
	})
}
