// Package digest computes, in one pass over a stream, every digest s3proxy keeps or
// verifies: SHA-256 (the content address), MD5 (the S3 ETag) and the S3 additional
// checksums a request asks for (CRC32, CRC32C, CRC64NVME, MD5, SHA1, SHA256, SHA512,
// XXHASH64, XXHASH3, XXHASH128). A Reader verifies the values the client declared when
// the stream ends, turning the final io.EOF into a *MismatchError, so that a store
// writing from it never commits a corrupt body.
package digest

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/cespare/xxhash/v2"
	"github.com/klauspost/cpuid/v2"
	"github.com/minio/crc64nvme"
	md5simd "github.com/minio/md5-simd"
	"github.com/zeebo/xxh3"
)

// Algorithm names as S3 spells them in x-amz-checksum-algorithm and the XML.
const (
	CRC32     = "CRC32"
	CRC32C    = "CRC32C"
	CRC64NVME = "CRC64NVME"
	MD5       = "MD5"
	SHA1      = "SHA1"
	SHA256    = "SHA256"
	SHA512    = "SHA512"
	XXHASH64  = "XXHASH64"
	XXHASH3   = "XXHASH3"
	XXHASH128 = "XXHASH128"
)

// Algorithms returns the supported checksum algorithms in the order S3 lists them in
// its error messages (by name).
func Algorithms() []string {
	return []string{CRC32, CRC32C, CRC64NVME, MD5, SHA1, SHA256, SHA512, XXHASH128, XXHASH3, XXHASH64}
}

// ErrUnknownAlgorithm is returned for an unsupported checksum algorithm name.
var ErrUnknownAlgorithm = errors.New("unknown checksum algorithm")

// Normalize returns the canonical upper-case algorithm name, or an error.
func Normalize(algo string) (string, error) {
	a := strings.ToUpper(strings.TrimSpace(algo))
	if Size(a) == 0 {
		return "", fmt.Errorf("%w: %q", ErrUnknownAlgorithm, algo)
	}
	return a, nil
}

// New returns a fresh hash for a (normalized) algorithm name. Every value is the
// big-endian digest, as S3 encodes it (base64 of the canonical byte form); the xxHash
// family uses seed 0, as the AWS SDKs do (aws-checksums' test vectors, checked in
// digest_test.go).
func New(algo string) (hash.Hash, error) {
	switch algo {
	case CRC32:
		return crc32.NewIEEE(), nil
	case CRC32C:
		return crc32.New(crc32.MakeTable(crc32.Castagnoli)), nil
	case CRC64NVME:
		return crc64nvme.New(), nil
	case MD5:
		return md5.New(), nil
	case SHA1:
		return sha1.New(), nil
	case SHA256:
		return sha256.New(), nil
	case SHA512:
		return sha512.New(), nil
	case XXHASH64:
		return xxhash.New(), nil
	case XXHASH3:
		return xxh3.New(), nil
	case XXHASH128:
		return xxh3.New128(), nil
	}
	return nil, fmt.Errorf("%w: %q", ErrUnknownAlgorithm, algo)
}

// Size is the digest length in bytes of a (normalized) algorithm, 0 for an unknown one.
func Size(algo string) int {
	switch algo {
	case CRC32, CRC32C:
		return 4
	case CRC64NVME, XXHASH64, XXHASH3:
		return 8
	case MD5, XXHASH128:
		return 16
	case SHA1:
		return 20
	case SHA256:
		return 32
	case SHA512:
		return 64
	}
	return 0
}

// FullObjectCapable reports whether an algorithm can give a multipart upload a
// FULL_OBJECT checksum: only the CRCs, whose part values combine without the data
// (Combine). The others are COMPOSITE only, as on S3.
func FullObjectCapable(algo string) bool { return CanCombine(algo) }

// ValidEncoded reports whether v is a well-formed base64 value for algo.
func ValidEncoded(algo, v string) bool {
	b, err := base64.StdEncoding.DecodeString(v)
	return err == nil && len(b) == Size(algo) && len(b) > 0
}

// Kind names which declared digest did not match.
type Kind int

// Mismatch kinds; translate maps them to S3 error codes.
const (
	KindContentSHA256 Kind = iota // the signed x-amz-content-sha256 → XAmzContentSHA256Mismatch
	KindMD5                       // Content-MD5 → BadDigest
	KindChecksum                  // x-amz-checksum-* → BadDigest
	KindSize                      // fewer or more bytes than declared → IncompleteBody
	// KindChecksumValue: the declared checksum is not a well-formed value of its
	// algorithm. Headers are checked before the body is read, so this is a trailer.
	KindChecksumValue
)

// MismatchError reports a declared digest that the body did not match.
type MismatchError struct {
	Kind      Kind
	Algorithm string
	Expected  string
	Computed  string
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("digest mismatch (%s): declared %s, computed %s", e.Algorithm, e.Expected, e.Computed)
}

// Expect holds the values a client declared for a body. Empty fields are not checked.
type Expect struct {
	Size          int64  // -1 when unknown
	ContentSHA256 []byte // 32 bytes from a signed hex x-amz-content-sha256
	MD5           []byte // 16 bytes from Content-MD5
	Algorithm     string // additional checksum to compute ("" none)
	// Checksum returns the declared base64 value of Algorithm; it is called at EOF so
	// that a value sent in a trailer (after the body) can be checked. ok=false: none declared.
	Checksum func() (value string, ok bool)
	// Also lists further (normalized) algorithms to compute in the same pass without
	// verifying anything: the default CRC64NVME of a part whose client declared another
	// checksum, the checksum a copy asks for. Only what is asked for is computed.
	Also []string
}

// Sums are the digests of a complete body.
type Sums struct {
	Size     int64
	SHA256   [32]byte
	MD5      [16]byte
	Checksum string // base64 of Algorithm's digest, "" if none requested
	// Checksums holds every additional checksum computed (Algorithm and Also), base64
	// by algorithm; nil when none was asked for.
	Checksums map[string]string
}

// MD5Server computes the MD5 of many streams at once, in the SIMD lanes of one
// goroutine (16 with AVX-512, 8 with AVX2; crypto/md5 without AVX2). MD5 is the slowest
// hash on the ingest path (about 0.6 GB/s per core): with the server, a stream's MD5
// runs beside its SHA-256 instead of after it, and concurrent uploads share vector
// instructions instead of each spending a core on it. One per process; Close it last.
//
// Hashers are reused (Reset), never closed while the server runs: md5-simd v1.1.2
// forgets to unregister a closed hasher (it deletes the wrong map key), so every Close
// would leave an entry that its scheduler visits on every cycle from then on. At most
// maxMD5Hashers exist; a stream beyond them hashes with crypto/md5.
type MD5Server struct {
	s       md5simd.Server // nil where the lanes do not pay (lanesPay): crypto/md5 only
	mu      sync.Mutex
	idle    []md5simd.Hasher
	made    int
	streams atomic.Int64 // Readers open with this server, SIMD or not
}

// minSIMDStreams is how many streams must be hashing for a new one to use the lanes.
// Measured on the benchmark machine (AVX-512), CPU per GiB of a Reader (SHA-256, MD5):
// with the server, 1 stream +23 % and 2 streams +36 % against crypto/md5 (few lanes
// filled, plus a copy and a channel hand-off per 32 KiB), 4 streams -30 %, 8 streams
// -45 %. So a stream uses the lanes only when at least three others are hashing.
const minSIMDStreams = 4

// maxMD5Hashers bounds the hashers registered with the server to one per AVX-512 lane
// (md5simd.Lanes, which only amd64 builds define).
// Idle registered hashers are not free: the server's scheduler waits for and scans
// every registered hasher while its lanes are not full.
const maxMD5Hashers = 16

// NewMD5Server starts the server's goroutine where the lanes pay (lanesPay); elsewhere
// it only counts streams, to put a lone stream's MD5 on a goroutine of its own.
func NewMD5Server() *MD5Server { return newMD5Server(lanesPay()) }

func newMD5Server(lanes bool) *MD5Server {
	if !lanes {
		return &MD5Server{}
	}
	return &MD5Server{s: md5simd.NewServer()}
}

// lanesPay reports whether MD5 in SIMD lanes costs less than crypto/md5 end to end on
// this CPU: measured so on Intel with AVX-512 (PUT 1 MiB ×8 server CPU −7 to −12 %),
// and not on AMD (fifth session's Zen 4 host: one A/B for crypto/md5, one even; the
// seventh's EPYC with AVX-512: PUT ×8 −11 % CPU and +10 % throughput, multipart ×8 −6 %
// and +15 %, with crypto/md5). In process the lanes win everywhere (BenchmarkReaderStreams),
// but uploads arriving from the network fill few lanes per pass, and each 32 KiB block
// is a hand-off to the server's goroutine, dear where task switches are.
func lanesPay() bool {
	return cpuid.CPU.VendorID == cpuid.Intel && cpuid.CPU.Supports(cpuid.AVX512F)
}

// Close stops the server; no Reader using it may still be open.
func (m *MD5Server) Close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, h := range m.idle {
		h.Close()
	}
	m.idle = nil
	if m.s != nil {
		m.s.Close()
	}
}

// get returns a fresh hasher, or nil when all maxMD5Hashers are busy.
func (m *MD5Server) get() md5simd.Hasher {
	m.mu.Lock()
	defer m.mu.Unlock()
	if n := len(m.idle); n > 0 {
		h := m.idle[n-1]
		m.idle = m.idle[:n-1]
		return h
	}
	if m.s == nil || m.made >= maxMD5Hashers {
		return nil
	}
	m.made++
	return m.s.NewHash()
}

func (m *MD5Server) put(h md5simd.Hasher) {
	h.Reset()
	m.mu.Lock()
	m.idle = append(m.idle, h)
	m.mu.Unlock()
}

// Option configures a Reader.
type Option func(*Reader)

// WithMD5Server computes the MD5 on m (nil: crypto/md5), or, while fewer than
// minSIMDStreams streams hash, with crypto/md5 on a goroutine of its own for bodies
// large enough to gain from it. The Reader must then be closed (Close), which gives
// its hasher back and stops that goroutine.
func WithMD5Server(m *MD5Server) Option {
	return func(d *Reader) {
		if m == nil {
			return
		}
		n := m.streams.Add(1)
		d.release = func() { m.streams.Add(-1) }
		if n < minSIMDStreams || m.s == nil {
			// Few streams: the lanes would cost more than crypto/md5, but a spare core
			// can run it beside the SHA-256 (asyncHash).
			d.mayAsync = true
			return
		}
		if h := m.get(); h != nil {
			d.md5 = h
			d.release = func() { m.put(h); m.streams.Add(-1) }
		}
	}
}

// sha256Sharer is a source that hashes what it returns with SHA-256 anyway and can
// compute the whole stream's digest in the same pass (an aws-chunked body verifying its
// chunk signatures: s3api/sigv4). ShareSHA256, called before the first Read, returns
// the func that gives the digest once Read has returned io.EOF, or nil when sharing
// would not save anything; the Reader then hashes by itself.
type sha256Sharer interface {
	ShareSHA256() func() [32]byte
}

// extraHash is an additional checksum computed in the pass.
type extraHash struct {
	algo string
	h    hash.Hash
}

// Reader hashes what it reads and verifies Expect at EOF.
type Reader struct {
	r         io.Reader
	exp       Expect
	sha       hash.Hash       // nil when the source shares its digest
	sharedSHA func() [32]byte // the source's digest of everything it returned
	md5       hash.Hash
	release   func() // gives the MD5Server hasher back, if any
	// mayAsync: MD5 may run on its own goroutine (asyncHash); only for Readers that
	// promise a Close (WithMD5Server), which stops it on an abandoned stream.
	mayAsync bool
	extras   []extraHash
	n        int64
	done     bool
	sums     Sums
	err      error
}

// NewReader wraps r. exp.Algorithm must be normalized (or empty).
func NewReader(r io.Reader, exp Expect, opts ...Option) (*Reader, error) {
	d := &Reader{r: r, exp: exp}
	if s, ok := r.(sha256Sharer); ok {
		d.sharedSHA = s.ShareSHA256()
	}
	if d.sharedSHA == nil {
		d.sha = sha256.New()
	}
	for _, o := range opts {
		o(d)
	}
	if d.md5 == nil {
		if d.mayAsync && useAsync(exp.Size) {
			a := newAsyncHash(md5.New())
			d.md5 = a
			// An abandoned stream must still stop the goroutine and give the buffers back.
			release := d.release
			d.release = func() {
				a.end()
				if release != nil {
					release()
				}
			}
		} else {
			d.md5 = md5.New()
		}
	}
	err := d.addExtra(exp.Algorithm)
	for _, a := range exp.Also {
		if err == nil {
			err = d.addExtra(a)
		}
	}
	if err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

// addExtra arranges for algo's checksum to be computed, once: SHA256 and MD5 are the
// content hash and the ETag, which every Reader computes anyway.
func (d *Reader) addExtra(algo string) error {
	if algo == "" || algo == SHA256 || algo == MD5 {
		return nil
	}
	for _, x := range d.extras {
		if x.algo == algo {
			return nil
		}
	}
	h, err := New(algo)
	if err != nil {
		return err
	}
	d.extras = append(d.extras, extraHash{algo: algo, h: h})
	return nil
}

// Read implements io.Reader.
func (d *Reader) Read(p []byte) (int, error) {
	if d.done {
		if d.err != nil {
			return 0, d.err
		}
		return 0, io.EOF
	}
	n, err := d.r.Read(p)
	if n > 0 {
		d.n += int64(n)
		if d.exp.Size >= 0 && d.n > d.exp.Size {
			d.done = true
			d.err = &MismatchError{Kind: KindSize, Algorithm: "size", Expected: fmt.Sprint(d.exp.Size), Computed: fmt.Sprint(d.n)}
			return 0, d.err
		}
		b := p[:n]
		if d.sha != nil {
			d.sha.Write(b)
		}
		d.md5.Write(b)
		for _, x := range d.extras {
			x.h.Write(b)
		}
	}
	if err == io.EOF {
		d.done = true
		d.err = d.finish()
		if d.err != nil {
			return n, d.err
		}
		return n, io.EOF
	}
	return n, err
}

func (d *Reader) finish() error {
	if d.exp.Size >= 0 && d.n != d.exp.Size {
		return &MismatchError{Kind: KindSize, Algorithm: "size", Expected: fmt.Sprint(d.exp.Size), Computed: fmt.Sprint(d.n)}
	}
	s := &d.sums
	s.Size = d.n
	if d.sha != nil {
		d.sha.Sum(s.SHA256[:0])
	} else {
		s.SHA256 = d.sharedSHA()
	}
	d.md5.Sum(s.MD5[:0])
	d.Close()
	if d.exp.Algorithm != "" || len(d.exp.Also) > 0 {
		s.Checksums = make(map[string]string, 1+len(d.exp.Also))
		if d.exp.Algorithm != "" {
			s.Checksum = d.encoded(d.exp.Algorithm)
			s.Checksums[d.exp.Algorithm] = s.Checksum
		}
		for _, a := range d.exp.Also {
			s.Checksums[a] = d.encoded(a)
		}
	}
	if len(d.exp.ContentSHA256) > 0 && string(d.exp.ContentSHA256) != string(s.SHA256[:]) {
		return &MismatchError{Kind: KindContentSHA256, Algorithm: "x-amz-content-sha256", Expected: fmt.Sprintf("%x", d.exp.ContentSHA256), Computed: fmt.Sprintf("%x", s.SHA256)}
	}
	if len(d.exp.MD5) > 0 && string(d.exp.MD5) != string(s.MD5[:]) {
		return &MismatchError{Kind: KindMD5, Algorithm: "Content-MD5", Expected: base64.StdEncoding.EncodeToString(d.exp.MD5), Computed: base64.StdEncoding.EncodeToString(s.MD5[:])}
	}
	if d.exp.Algorithm != "" && d.exp.Checksum != nil {
		v, ok := d.exp.Checksum()
		switch {
		case !ok:
		case !ValidEncoded(d.exp.Algorithm, v):
			return &MismatchError{Kind: KindChecksumValue, Algorithm: d.exp.Algorithm, Expected: v, Computed: s.Checksum}
		case v != s.Checksum:
			return &MismatchError{Kind: KindChecksum, Algorithm: d.exp.Algorithm, Expected: v, Computed: s.Checksum}
		}
	}
	return nil
}

// encoded returns the base64 checksum of algo, once the stream has ended.
func (d *Reader) encoded(algo string) string {
	switch algo {
	case SHA256:
		return base64.StdEncoding.EncodeToString(d.sums.SHA256[:])
	case MD5:
		return base64.StdEncoding.EncodeToString(d.sums.MD5[:])
	}
	for _, x := range d.extras {
		if x.algo == algo {
			return base64.StdEncoding.EncodeToString(x.h.Sum(nil))
		}
	}
	return ""
}

// Close gives back the MD5Server hasher (done at EOF already; needed when the stream
// is abandoned before). It does not close the underlying reader. Safe to call again.
func (d *Reader) Close() error {
	if d.release != nil {
		d.release()
		d.release = nil
	}
	return nil
}

// Done reports whether the stream reached EOF and verified.
func (d *Reader) Done() bool { return d.done && d.err == nil }

// Sums returns the digests; valid once Done.
func (d *Reader) Sums() Sums { return d.sums }

// SHA256 returns the content hash; for backends.PutOptions.SHA256 (called after EOF).
func (d *Reader) SHA256() [32]byte { return d.sums.SHA256 }
