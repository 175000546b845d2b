// Package sha256pair computes two SHA-256 digests of one stream in one pass: a digest
// that restarts at boundaries its caller chooses (an aws-chunked body's chunk
// signatures hash each chunk) and a digest of the whole stream (the content address).
// On x86-64 with the SHA extensions the two share each block's message schedule and
// their rounds interleave: SHA256RNDS2 waits on its own previous result, so a second,
// independent state runs in the gaps, and both digests cost little more than one
// (BenchmarkPair). Elsewhere Available reports false and callers hash twice as before.
package sha256pair

//go:generate go run gen.go

import "encoding/binary"

const (
	chunk = 64
	// Size is the size of a SHA-256 checksum in bytes.
	Size = 32
)

var iv = [8]uint32{0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19}

// state is one digest in progress.
type state struct {
	h   [8]uint32
	x   [chunk]byte
	nx  int
	len uint64
}

func (s *state) reset() { *s = state{h: iv} }

// Pair is the two digests: Part (restarted by ResetPart) and Whole.
type Pair struct {
	part, whole state
}

// Available reports whether a Pair hashes both digests in one pass on this CPU. Without
// it a Pair still works, at the cost of two passes.
func Available() bool { return hasSHANI }

// New returns a Pair with both digests empty.
func New() *Pair {
	p := &Pair{}
	p.part.reset()
	p.whole.reset()
	return p
}

// ResetPart restarts the Part digest; Whole goes on.
func (p *Pair) ResetPart() { p.part.reset() }

// Write adds b to both digests.
func (p *Pair) Write(b []byte) (int, error) {
	n := len(b)
	p.part.len += uint64(n)
	p.whole.len += uint64(n)
	for len(b) > 0 {
		if p.part.nx != p.whole.nx {
			// The digests' blocks do not line up (a part began off a 64-byte boundary of
			// the stream): each hashes on its own.
			p.part.write(b)
			p.whole.write(b)
			return n, nil
		}
		if p.part.nx > 0 {
			k := copy(p.part.x[p.part.nx:], b)
			copy(p.whole.x[p.whole.nx:], b[:k])
			p.part.nx += k
			p.whole.nx += k
			b = b[k:]
			if p.part.nx == chunk {
				blocks2(&p.part.h, &p.whole.h, p.part.x[:])
				p.part.nx, p.whole.nx = 0, 0
			}
			continue
		}
		if m := len(b) &^ (chunk - 1); m > 0 {
			blocks2(&p.part.h, &p.whole.h, b[:m])
			b = b[m:]
		}
		if len(b) > 0 {
			p.part.nx = copy(p.part.x[:], b)
			p.whole.nx = copy(p.whole.x[:], b)
			b = nil
		}
	}
	return n, nil
}

// write adds b to s alone (its len already counted).
func (s *state) write(b []byte) {
	if s.nx > 0 {
		k := copy(s.x[s.nx:], b)
		s.nx += k
		b = b[k:]
		if s.nx < chunk {
			return
		}
		blocks1(&s.h, s.x[:])
		s.nx = 0
	}
	if m := len(b) &^ (chunk - 1); m > 0 {
		blocks1(&s.h, b[:m])
		b = b[m:]
	}
	s.nx = copy(s.x[:], b)
}

// SumPart returns the Part digest of what was written since the last ResetPart.
func (p *Pair) SumPart() [Size]byte { return p.part.sum() }

// SumWhole returns the Whole digest of everything written.
func (p *Pair) SumWhole() [Size]byte { return p.whole.sum() }

// sum pads a copy of s, the same as crypto/sha256.
func (s state) sum() [Size]byte {
	length := s.len
	var tmp [chunk + 8]byte
	tmp[0] = 0x80
	var pad int
	if length%64 < 56 {
		pad = 56 - int(length%64)
	} else {
		pad = 64 + 56 - int(length%64)
	}
	binary.BigEndian.PutUint64(tmp[pad:], length<<3)
	s.write(tmp[:pad+8])
	var out [Size]byte
	for i, v := range s.h {
		binary.BigEndian.PutUint32(out[i*4:], v)
	}
	return out
}
