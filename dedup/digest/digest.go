// Package digest computes, in one pass over a stream, every digest s3proxy keeps or
// verifies: SHA-256 (the content address), MD5 (the S3 ETag) and at most one S3
// additional checksum (CRC32, CRC32C, CRC64NVME, SHA1, SHA256). A Reader verifies the
// values the client declared when the stream ends, turning the final io.EOF into a
// *MismatchError, so that a store writing from it never commits a corrupt body.
package digest

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"strings"

	"github.com/minio/crc64nvme"
)

// Algorithm names as S3 spells them in x-amz-checksum-algorithm and the XML.
const (
	CRC32     = "CRC32"
	CRC32C    = "CRC32C"
	CRC64NVME = "CRC64NVME"
	SHA1      = "SHA1"
	SHA256    = "SHA256"
)

// Algorithms lists the supported checksum algorithms.
var Algorithms = []string{CRC32, CRC32C, CRC64NVME, SHA1, SHA256}

// ErrUnknownAlgorithm is returned for an unsupported checksum algorithm name.
var ErrUnknownAlgorithm = errors.New("unknown checksum algorithm")

// Normalize returns the canonical upper-case algorithm name, or an error.
func Normalize(algo string) (string, error) {
	a := strings.ToUpper(strings.TrimSpace(algo))
	for _, k := range Algorithms {
		if a == k {
			return k, nil
		}
	}
	return "", fmt.Errorf("%w: %q", ErrUnknownAlgorithm, algo)
}

// New returns a fresh hash for a (normalized) algorithm name.
func New(algo string) (hash.Hash, error) {
	switch algo {
	case CRC32:
		return crc32.NewIEEE(), nil
	case CRC32C:
		return crc32.New(crc32.MakeTable(crc32.Castagnoli)), nil
	case CRC64NVME:
		return crc64nvme.New(), nil
	case SHA1:
		return sha1.New(), nil
	case SHA256:
		return sha256.New(), nil
	}
	return nil, fmt.Errorf("%w: %q", ErrUnknownAlgorithm, algo)
}

// Size is the digest length in bytes of a (normalized) algorithm.
func Size(algo string) int {
	switch algo {
	case CRC32, CRC32C:
		return 4
	case CRC64NVME:
		return 8
	case SHA1:
		return 20
	case SHA256:
		return 32
	}
	return 0
}

// ValidEncoded reports whether v is a well-formed base64 value for algo.
func ValidEncoded(algo, v string) bool {
	b, err := base64.StdEncoding.DecodeString(v)
	return err == nil && len(b) == Size(algo)
}

// Kind names which declared digest did not match.
type Kind int

// Mismatch kinds; translate maps them to S3 error codes.
const (
	KindContentSHA256 Kind = iota // the signed x-amz-content-sha256 → XAmzContentSHA256Mismatch
	KindMD5                       // Content-MD5 → BadDigest
	KindChecksum                  // x-amz-checksum-* → BadDigest
	KindSize                      // fewer or more bytes than declared → IncompleteBody
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
}

// Sums are the digests of a complete body.
type Sums struct {
	Size     int64
	SHA256   [32]byte
	MD5      [16]byte
	Checksum string // base64 of Algorithm's digest, "" if none requested
}

// Reader hashes what it reads and verifies Expect at EOF.
type Reader struct {
	r     io.Reader
	exp   Expect
	sha   hash.Hash
	md5   hash.Hash
	extra hash.Hash
	n     int64
	done  bool
	sums  Sums
	err   error
}

// NewReader wraps r. exp.Algorithm must be normalized (or empty).
func NewReader(r io.Reader, exp Expect) (*Reader, error) {
	d := &Reader{r: r, exp: exp, sha: sha256.New(), md5: md5.New()}
	if exp.Algorithm != "" {
		h, err := New(exp.Algorithm)
		if err != nil {
			return nil, err
		}
		// SHA256 as the additional checksum is the content hash we compute anyway.
		if exp.Algorithm != SHA256 {
			d.extra = h
		}
	}
	return d, nil
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
		d.sha.Write(b)
		d.md5.Write(b)
		if d.extra != nil {
			d.extra.Write(b)
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
	d.sha.Sum(s.SHA256[:0])
	d.md5.Sum(s.MD5[:0])
	if d.exp.Algorithm != "" {
		if d.extra != nil {
			s.Checksum = base64.StdEncoding.EncodeToString(d.extra.Sum(nil))
		} else {
			s.Checksum = base64.StdEncoding.EncodeToString(s.SHA256[:])
		}
	}
	if len(d.exp.ContentSHA256) > 0 && string(d.exp.ContentSHA256) != string(s.SHA256[:]) {
		return &MismatchError{Kind: KindContentSHA256, Algorithm: "x-amz-content-sha256", Expected: fmt.Sprintf("%x", d.exp.ContentSHA256), Computed: fmt.Sprintf("%x", s.SHA256)}
	}
	if len(d.exp.MD5) > 0 && string(d.exp.MD5) != string(s.MD5[:]) {
		return &MismatchError{Kind: KindMD5, Algorithm: "Content-MD5", Expected: base64.StdEncoding.EncodeToString(d.exp.MD5), Computed: base64.StdEncoding.EncodeToString(s.MD5[:])}
	}
	if d.exp.Algorithm != "" && d.exp.Checksum != nil {
		if v, ok := d.exp.Checksum(); ok && v != s.Checksum {
			return &MismatchError{Kind: KindChecksum, Algorithm: d.exp.Algorithm, Expected: v, Computed: s.Checksum}
		}
	}
	return nil
}

// Done reports whether the stream reached EOF and verified.
func (d *Reader) Done() bool { return d.done && d.err == nil }

// Sums returns the digests; valid once Done.
func (d *Reader) Sums() Sums { return d.sums }

// SHA256 returns the content hash; for backends.PutOptions.SHA256 (called after EOF).
func (d *Reader) SHA256() [32]byte { return d.sums.SHA256 }
