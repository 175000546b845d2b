// Package encrypt is a BlobStore decorator that encrypts chunks at rest: what the inner
// store (local disk, S3, COS, OSS, mem) holds is ciphertext, what callers put and get is
// plaintext. It is how s3proxy implements SSE-S3 (x-amz-server-side-encryption: AES256):
// a chunk is encrypted exactly when it lives on an encrypting backend.
//
// # Blob format (version 1)
//
//	header, 64 bytes:
//	  [0:4]   magic "S3PE"
//	  [4]     format version (1)
//	  [5]     log2 of the segment size (16: 64 KiB)
//	  [6:8]   zero
//	  [8:24]  key id, ASCII, zero padded
//	  [24:56] salt, 32 random bytes, fresh for every Put
//	  [56:64] key check
//	segments: the plaintext cut into 64 KiB segments (the last one shorter, possibly
//	  empty when the plaintext is), each sealed with AES-256-GCM: ciphertext + 16-byte tag.
//
// Every blob has its own AES key, derived with HKDF-SHA256 from the master key named by
// the key id, the salt, and the blob's storage key; so a (key, nonce) pair never repeats
// however many blobs a master key writes, and a blob copied under another storage key
// does not decrypt. Segment i is sealed with nonce = 3 zero bytes, i as 8 big-endian
// bytes, and a last-segment flag byte (the STREAM construction of Hoang, Reyhanitabar,
// Rogaway and Vizár, as in age and Tink): reordering, dropping or truncating segments
// fails authentication. The key check (8 more bytes of the same HKDF output) tells a
// wrong master key apart from a damaged blob before any segment is opened.
//
// Why segments of AEAD rather than CTR: every read, ranged ones included, is
// authenticated, so tampering with the ciphertext at rest is an error, never silently
// altered plaintext (with CTR only a whole-chunk read checked against the index's
// SHA-256 would notice). A range costs at most one segment read ahead of its start and
// behind its end (64 KiB each), and the overhead is 16 bytes per 64 KiB (0.02%).
// Reads and writes stream one segment at a time through a pooled buffer.
package encrypt

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"

	"s3proxy/backends"
)

const (
	magic      = "S3PE"
	version    = 1
	segShift   = 16
	segSize    = 1 << segShift
	tagSize    = 16
	sealedSize = segSize + tagSize
	headerSize = 64
	saltSize   = 32
	checkSize  = 8
	nonceSize  = 12
	// hkdfInfo versions the derivation: a future format derives other keys.
	hkdfInfo = "s3proxy encrypt v1"
)

// Errors a read can end with besides the inner store's. Each is also wrapped with
// backends.ErrCorrupt: to the gateway a blob it cannot decrypt is damaged (a 500, which
// verify reports), not missing and not worth a retry.
var (
	// ErrUnknownKey: the blob names a key id the keyring does not hold.
	ErrUnknownKey = errors.New("encrypt: blob was written with a key id that is not configured")
	// ErrWrongKey: the keyring holds the blob's key id, but with other key material.
	ErrWrongKey = errors.New("encrypt: key check failed: the configured key for this id is not the one the blob was written with (or its header is damaged)")
	// ErrCorrupt: the blob is not in this format, or a segment fails authentication
	// (damaged or tampered with).
	ErrCorrupt = errors.New("encrypt: blob failed authentication (damaged or tampered with)")
)

// Store encrypts the blobs of an inner store. It is safe for concurrent use.
type Store struct {
	inner backends.BlobStore
	ring  *Keyring
	pool  sync.Pool // *[]byte of sealedSize+1: one segment and a look-ahead byte
}

var _ backends.BlobStore = (*Store)(nil)

// New returns a store that keeps the blobs of inner encrypted with ring's keys. It
// takes inner over: Close closes it.
func New(inner backends.BlobStore, ring *Keyring) *Store {
	s := &Store{inner: inner, ring: ring}
	s.pool.New = func() any { b := make([]byte, sealedSize+1); return &b }
	return s
}

// Name implements backends.BlobStore: the inner store's configured name (the backend
// chunk locations name).
func (s *Store) Name() string { return s.inner.Name() }

// Health implements backends.BlobStore.
func (s *Store) Health(ctx context.Context) error { return s.inner.Health(ctx) }

// Close implements backends.BlobStore.
func (s *Store) Close() error { return s.inner.Close() }

// Delete implements backends.BlobStore.
func (s *Store) Delete(ctx context.Context, key string) error { return s.inner.Delete(ctx, key) }

// segments is how many segments a plaintext of size bytes is sealed in: at least one,
// so that even an empty blob is authenticated.
func segments(size int64) int64 { return max(1, (size+segSize-1)/segSize) }

// CiphertextSize is the size the inner store holds for a plaintext of size bytes.
func CiphertextSize(size int64) int64 { return headerSize + size + segments(size)*tagSize }

// plainSize inverts CiphertextSize; ok is false for a size no blob of this format has.
func plainSize(ct int64) (int64, bool) {
	body := ct - headerSize
	if body < tagSize {
		return 0, false
	}
	full, rem := body/sealedSize, body%sealedSize
	switch {
	case rem == 0:
		return full * segSize, true
	case rem < tagSize, rem == tagSize && full > 0:
		return 0, false // an empty last segment follows only nothing
	}
	return full*segSize + rem - tagSize, true
}

// header is a parsed blob header with the blob's AEAD.
type header struct {
	raw  [headerSize]byte
	aead cipher.AEAD
}

// keyID is the key id the header names.
func (h *header) keyID() string {
	id := h.raw[8 : 8+maxKeyID]
	n := 0
	for n < len(id) && id[n] != 0 {
		n++
	}
	return string(id[:n])
}

// derive computes the blob key and key check from the master key, salt and storage key.
func derive(master [KeySize]byte, keyID string, salt []byte, blobKey string) (cipher.AEAD, []byte, error) {
	out, err := hkdf.Key(sha256.New, master[:], salt, hkdfInfo+"\x00"+keyID+"\x00"+blobKey, KeySize+checkSize)
	if err != nil {
		return nil, nil, fmt.Errorf("encrypt: derive key: %w", err)
	}
	block, err := aes.NewCipher(out[:KeySize])
	if err != nil {
		return nil, nil, fmt.Errorf("encrypt: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, nil, fmt.Errorf("encrypt: %w", err)
	}
	return aead, out[KeySize:], nil
}

// newHeader makes the header of a new blob, under the current key.
func (s *Store) newHeader(blobKey string) (*header, error) {
	h := &header{}
	copy(h.raw[0:4], magic)
	h.raw[4], h.raw[5] = version, segShift
	id := s.ring.current
	copy(h.raw[8:8+maxKeyID], id)
	salt := h.raw[24 : 24+saltSize]
	if _, err := rand.Read(salt); err != nil {
		return nil, fmt.Errorf("encrypt: random salt: %w", err)
	}
	aead, check, err := derive(s.ring.keys[id], id, salt, blobKey)
	if err != nil {
		return nil, err
	}
	copy(h.raw[56:64], check)
	h.aead = aead
	return h, nil
}

// parseHeader checks a stored header and derives the blob's AEAD.
func (s *Store) parseHeader(blobKey string, raw []byte) (*header, error) {
	if len(raw) != headerSize || string(raw[0:4]) != magic {
		return nil, fmt.Errorf("%w: %w: %s has no encryption header (written by a store that does not encrypt?)", backends.ErrCorrupt, ErrCorrupt, blobKey)
	}
	if raw[4] != version || raw[5] != segShift {
		return nil, fmt.Errorf("%w: %w: %s: format version %d, segment shift %d not supported", backends.ErrCorrupt, ErrCorrupt, blobKey, raw[4], raw[5])
	}
	h := &header{}
	copy(h.raw[:], raw)
	id := h.keyID()
	master, ok := s.ring.keys[id]
	if !ok {
		return nil, fmt.Errorf("%w: %w: %s names key id %q; configured: %q", backends.ErrCorrupt, ErrUnknownKey, blobKey, id, s.ring.IDs())
	}
	aead, check, err := derive(master, id, raw[24:24+saltSize], blobKey)
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare(check, raw[56:64]) != 1 {
		return nil, fmt.Errorf("%w: %w: %s, key id %q", backends.ErrCorrupt, ErrWrongKey, blobKey, id)
	}
	h.aead = aead
	return h, nil
}

func nonce(i int64, last bool) []byte {
	var n [nonceSize]byte
	binary.BigEndian.PutUint64(n[3:11], uint64(i))
	if last {
		n[11] = 1
	}
	return n[:]
}

// Put implements backends.BlobStore: the inner store gets the header and the sealed
// segments as one stream of known size (when size is known), so it stays atomic and
// streaming. opts.SHA256 (the plaintext's hash) is passed on: the inner store records
// it for scrubbing and index rebuilds, as the metadata store records it anyway.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, size int64, opts backends.PutOptions) error {
	if size < -1 {
		return fmt.Errorf("encrypt: put %s: size %d: %w", key, size, backends.ErrInvalid)
	}
	h, err := s.newHeader(key)
	if err != nil {
		return err
	}
	bp := s.pool.Get().(*[]byte)
	defer s.pool.Put(bp)
	er := &sealer{h: h, src: r, buf: *bp, size: size, out: h.raw[:]}
	innerSize := int64(-1)
	if size >= 0 {
		innerSize = CiphertextSize(size)
	}
	return s.inner.Put(ctx, key, er, innerSize, opts)
}

// sealer turns a plaintext stream into the blob format, one segment at a time.
type sealer struct {
	h    *header
	src  io.Reader
	buf  []byte // sealedSize+1
	size int64  // declared plaintext size, -1 unknown
	n    int64  // plaintext bytes read
	seg  int64  // next segment index
	out  []byte // pending output (header, then a sealed segment)
	peek bool   // next holds the first byte of the next segment
	next byte   // (not kept in buf: sealing in place overwrites buf[segSize:])
	done bool
	err  error
}

func (e *sealer) Read(p []byte) (int, error) {
	for len(e.out) == 0 {
		if e.err != nil {
			return 0, e.err
		}
		if e.done {
			return 0, io.EOF
		}
		e.fill()
	}
	n := copy(p, e.out)
	e.out = e.out[n:]
	return n, nil
}

// fill reads the next segment's plaintext (and one byte beyond it, to learn whether it
// is the last) and seals it in place.
func (e *sealer) fill() {
	start := 0
	if e.peek {
		e.buf[0] = e.next
		start, e.peek = 1, false
	}
	n, err := io.ReadFull(e.src, e.buf[start:segSize])
	n += start
	last := false
	switch {
	case err == nil:
		var one [1]byte
		m, perr := io.ReadFull(e.src, one[:])
		switch {
		case m == 1:
			e.next, e.peek = one[0], true
		case perr == io.EOF:
			last = true
		default:
			e.err = perr
			return
		}
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		last = true
	default:
		e.err = err // the body's own error, kept for errors.Is (e.g. a digest mismatch)
		return
	}
	e.n += int64(n)
	if e.size >= 0 && (e.n > e.size || (e.peek && e.n == e.size)) {
		e.err = fmt.Errorf("encrypt: body longer than %d bytes: %w", e.size, backends.ErrInvalid)
		return
	}
	if last && e.size >= 0 && e.n != e.size {
		e.err = fmt.Errorf("encrypt: body has %d of %d bytes: %w", e.n, e.size, io.ErrUnexpectedEOF)
		return
	}
	e.out = e.h.aead.Seal(e.buf[:0], nonce(e.seg, last), e.buf[:n], e.h.raw[:8])
	e.seg++
	e.done = last
}

// Get implements backends.BlobStore. A whole-blob read is one inner read; a range needs
// the plaintext size (a Stat) to be strict and to know which segment is the last, then
// reads the header and the segments covering the range (one inner read when the range
// starts in the first segment).
func (s *Store) Get(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	if offset == 0 && length == -1 {
		rc, err := s.inner.Get(ctx, key, 0, -1)
		if err != nil {
			return nil, err
		}
		return s.newOpener(key, rc, nil, 0, 0, -1, -1)
	}
	info, err := s.Stat(ctx, key)
	if err != nil {
		return nil, err
	}
	size := info.Size
	if length == -1 && offset >= 0 && offset <= size {
		length = size - offset
	}
	if offset < 0 || length < 0 || offset > size || length > size-offset {
		return nil, fmt.Errorf("encrypt: get %s: range %d+%d of %d bytes: %w", key, offset, length, size, backends.ErrInvalid)
	}
	if length == 0 {
		return io.NopCloser(emptyReader{}), nil
	}
	first, lastSeg := offset/segSize, (offset+length-1)/segSize
	ctStart := headerSize + first*sealedSize
	ctEnd := min(headerSize+(lastSeg+1)*sealedSize, CiphertextSize(size))
	var hdr []byte
	if first > 0 {
		hrc, err := s.inner.Get(ctx, key, 0, headerSize)
		if err != nil {
			return nil, err
		}
		hdr = make([]byte, headerSize)
		_, err = io.ReadFull(hrc, hdr)
		hrc.Close()
		if err != nil {
			return nil, fmt.Errorf("encrypt: get %s: header: %w", key, err)
		}
	} else {
		ctStart = 0
	}
	rc, err := s.inner.Get(ctx, key, ctStart, ctEnd-ctStart)
	if err != nil {
		return nil, err
	}
	return s.newOpener(key, rc, hdr, first, offset-first*segSize, length, segments(size))
}

type emptyReader struct{}

func (emptyReader) Read([]byte) (int, error) { return 0, io.EOF }

// newOpener checks the blob's header (read from rc when hdr is nil) before returning,
// so that an unknown or wrong key is an error of Get, which a caller can still answer
// cleanly, rather than of a Read after a response has started.
func (s *Store) newOpener(key string, rc io.ReadCloser, hdr []byte, seg, skip, remain, nseg int64) (io.ReadCloser, error) {
	if hdr == nil {
		hdr = make([]byte, headerSize)
		if _, err := io.ReadFull(rc, hdr); err != nil {
			rc.Close()
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				return nil, fmt.Errorf("%w: %w: %s: shorter than its header", backends.ErrCorrupt, ErrCorrupt, key)
			}
			return nil, err
		}
	}
	h, err := s.parseHeader(key, hdr)
	if err != nil {
		rc.Close()
		return nil, err
	}
	bp := s.pool.Get().(*[]byte)
	return &opener{s: s, key: key, rc: rc, h: h, seg: seg, skip: skip, remain: remain, nseg: nseg, bp: bp}, nil
}

// opener decrypts sealed segments from an inner reader, authenticating each before any
// of its bytes are returned.
type opener struct {
	s      *Store
	key    string
	rc     io.ReadCloser
	h      *header
	seg    int64 // index of the next segment
	skip   int64 // plaintext bytes to drop from the next segment
	remain int64 // plaintext bytes still to return; -1: to the end
	nseg   int64 // segments in the blob; -1: unknown (find the last by look-ahead)
	bp     *[]byte
	out    []byte
	peek   bool
	err    error
}

func (o *opener) Read(p []byte) (int, error) {
	for len(o.out) == 0 {
		if o.err != nil {
			return 0, o.err
		}
		if o.remain == 0 {
			return 0, io.EOF
		}
		o.err = o.next()
	}
	n := copy(p, o.out)
	o.out = o.out[n:]
	return n, nil
}

// corrupt reports a blob that is not what this format writes.
func (o *opener) corrupt(format string, a ...any) error {
	return fmt.Errorf("%w: %w: %s: %s", backends.ErrCorrupt, ErrCorrupt, o.key, fmt.Sprintf(format, a...))
}

func (o *opener) next() error {
	buf := *o.bp
	start := 0
	if o.peek {
		buf[0] = buf[sealedSize]
		start, o.peek = 1, false
	}
	n, err := io.ReadFull(o.rc, buf[start:sealedSize])
	n += start
	var last bool
	switch {
	case err == nil && o.nseg >= 0:
		last = o.seg == o.nseg-1
	case err == nil:
		var one [1]byte
		m, perr := io.ReadFull(o.rc, one[:])
		switch {
		case m == 1:
			buf[sealedSize], o.peek = one[0], true
		case perr == io.EOF:
			last = true
		default:
			return perr
		}
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		if o.nseg >= 0 && o.seg != o.nseg-1 {
			return o.corrupt("segment %d is short", o.seg)
		}
		last = true
	default:
		return err
	}
	if n < tagSize {
		return o.corrupt("segment %d is shorter than its tag", o.seg)
	}
	pt, aerr := o.h.aead.Open(buf[:0], nonce(o.seg, last), buf[:n], o.h.raw[:8])
	if aerr != nil {
		return o.corrupt("segment %d fails authentication", o.seg)
	}
	o.seg++
	if o.skip > int64(len(pt)) {
		return fmt.Errorf("encrypt: get %s: range beyond the blob: %w", o.key, backends.ErrInvalid)
	}
	pt = pt[o.skip:]
	o.skip = 0
	if o.remain >= 0 {
		pt = pt[:min(int64(len(pt)), o.remain)]
		o.remain -= int64(len(pt))
	}
	o.out = pt
	if last && o.remain > 0 {
		return o.corrupt("ends %d bytes early", o.remain)
	}
	if last && o.remain < 0 {
		o.remain = 0 // whole-blob read: the last segment ends it
	}
	return nil
}

func (o *opener) Close() error {
	err := o.rc.Close()
	if o.bp != nil {
		o.out = nil
		o.s.pool.Put(o.bp)
		o.bp = nil
		o.err = errors.New("encrypt: read after Close")
	}
	return err
}

// Stat implements backends.BlobStore, reporting the plaintext size.
func (s *Store) Stat(ctx context.Context, key string) (backends.Info, error) {
	info, err := s.inner.Stat(ctx, key)
	if err != nil {
		return info, err
	}
	size, ok := plainSize(info.Size)
	if !ok {
		return backends.Info{}, fmt.Errorf("%w: %w: %s: %d bytes is no size of an encrypted blob", backends.ErrCorrupt, ErrCorrupt, key, info.Size)
	}
	info.Size = size
	return info, nil
}

// List implements backends.BlobStore, reporting plaintext sizes (0 for a blob whose
// size no encrypted blob has: listing is for sweeping and scrubbing, which then meet
// the error on Stat or Get).
func (s *Store) List(ctx context.Context, prefix string, fn func(backends.Info) error) error {
	return s.inner.List(ctx, prefix, func(info backends.Info) error {
		info.Size, _ = plainSize(info.Size)
		return fn(info)
	})
}

// errSampled stops CheckKeys's listing.
var errSampled = errors.New("encrypt: sampled enough blobs")

// CheckKeys reads the headers of a few stored blobs (up to samples) and fails when none
// of them opens with the keyring: the store holds blobs in clear (keys were added to a
// backend that already had chunks), or the configured keys are not the ones the blobs
// were written with. Either way every read would fail, and `verify --repair` would
// mark every chunk corrupt, so a server or admin command should not start. One damaged
// blob among good ones passes (verify is what finds it); an empty store passes.
func (s *Store) CheckKeys(ctx context.Context, samples int) error {
	var keys []string
	err := s.inner.List(ctx, "", func(info backends.Info) error {
		keys = append(keys, info.Key)
		if len(keys) >= samples {
			return errSampled
		}
		return nil
	})
	if err != nil && !errors.Is(err, errSampled) {
		return fmt.Errorf("encrypt: check keys: %w", err)
	}
	var errs []error
	for _, k := range keys {
		err := s.checkHeader(ctx, k)
		if err == nil {
			return nil
		}
		if errors.Is(err, backends.ErrNotFound) {
			continue // deleted since listed
		}
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("encrypt: none of %d stored blobs opens with the configured keys (ids %q): %w", len(errs), s.ring.IDs(), errors.Join(errs...))
}

func (s *Store) checkHeader(ctx context.Context, key string) error {
	_, err := s.readHeader(ctx, key)
	return err
}

// readHeader reads and checks a stored blob's header.
func (s *Store) readHeader(ctx context.Context, key string) (*header, error) {
	info, err := s.inner.Stat(ctx, key)
	if err != nil {
		return nil, err
	}
	if info.Size < headerSize {
		return nil, fmt.Errorf("%w: %w: %s: shorter than its header", backends.ErrCorrupt, ErrCorrupt, key)
	}
	rc, err := s.inner.Get(ctx, key, 0, headerSize)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	raw := make([]byte, headerSize)
	if _, err := io.ReadFull(rc, raw); err != nil {
		return nil, err
	}
	return s.parseHeader(key, raw)
}

// KeyID returns the id of the key a stored blob is encrypted with (checked against the
// blob's key check, so a damaged header is ErrCorrupt rather than a wrong answer).
func (s *Store) KeyID(ctx context.Context, key string) (string, error) {
	h, err := s.readHeader(ctx, key)
	if err != nil {
		return "", err
	}
	return h.keyID(), nil
}

// CurrentKeyID is the id of the key new blobs are encrypted with.
func (s *Store) CurrentKeyID() string { return s.ring.current }
