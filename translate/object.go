package translate

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"maps"
	"strconv"
	"strings"
	"time"

	"s3proxy/dedup"
	"s3proxy/dedup/digest"
	"s3proxy/meta"
)

// ObjectInfo describes an object (no data).
type ObjectInfo struct {
	Bucket       string
	Key          string
	Size         int64
	ETag         string // without quotes
	LastModified time.Time
	ContentType  string
	Headers      map[string]string
	UserMeta     map[string]string
	Checksums    map[string]string
	ChecksumType string
	Owner        string
	PartsCount   int
	// Expiration is when a lifecycle rule will delete the object (GetObject, HeadObject
	// and CopyObject set it; nil: no rule will).
	Expiration *Expiry
	// Encrypted: every byte of the object is at rest on an encrypting backend (SSE-S3;
	// GetObject, HeadObject and CopyObject set it).
	Encrypted bool
	// VersionID is the version as x-amz-version-id shows it ("" for a bucket never
	// versioned; GetObject, HeadObject and CopyObject set it).
	VersionID string
	// SourceVersionID is a copy's x-amz-copy-source-version-id (CopyObject).
	SourceVersionID string
}

func infoOf(o meta.Object) ObjectInfo {
	return ObjectInfo{Bucket: o.Bucket, Key: o.Key, Size: o.Size, ETag: o.ETag, LastModified: o.ModTime,
		ContentType: o.ContentType, Headers: publicHeaders(o.Headers), UserMeta: o.UserMeta, Checksums: o.Checksums,
		ChecksumType: o.ChecksumType, Owner: o.Owner, PartsCount: len(o.Parts)}
}

// publicHeaders returns the stored headers without the gateway's own bookkeeping
// (CompletedUploadKey), copying only when there is something to drop: the map may be
// a cached object's.
func publicHeaders(h map[string]string) map[string]string {
	if _, ok := h[CompletedUploadKey]; !ok {
		return h
	}
	out := maps.Clone(h)
	delete(out, CompletedUploadKey)
	return out
}

// Body carries a request body and what the client declared about it.
type Body struct {
	Reader io.Reader
	// Size is the decoded length, -1 when unknown.
	Size int64
	// ContentMD5 is the decoded Content-MD5 (16 bytes) or nil.
	ContentMD5 []byte
	// ContentSHA256 is the signed payload hash (32 bytes) or nil.
	ContentSHA256 []byte
	// ChecksumAlgorithm is the normalized additional checksum to compute ("" none).
	ChecksumAlgorithm string
	// Checksum returns the declared value of ChecksumAlgorithm (from a header, or a trailer
	// once the body is read).
	Checksum func() (string, bool)
	// ChecksumHeader is the value when it came in a header (known before the body).
	ChecksumHeader string
	// Unread is true when the client is waiting for 100 Continue: the body has not been
	// sent yet, and answering without reading it saves the whole transfer.
	Unread bool
	// SignedChunks is true for a signed aws-chunked body, whose chunk signatures the
	// reader verifies as it streams.
	SignedChunks bool
}

// checkedByClient reports whether the client gave the body an integrity check of its
// own, which the write verifies: a Content-MD5, a checksum (in a header or a trailer),
// a signed payload hash, or signed aws-chunked chunks.
func (b *Body) checkedByClient() bool {
	return len(b.ContentMD5) == 16 || len(b.ContentSHA256) == 32 || b.ChecksumAlgorithm != "" || b.SignedChunks
}

// trustedSHA256 returns the content's SHA-256 when the client declared it before the body.
func (b *Body) trustedSHA256() ([32]byte, bool) {
	var sum [32]byte
	if len(b.ContentSHA256) == 32 {
		copy(sum[:], b.ContentSHA256)
		return sum, true
	}
	if b.ChecksumAlgorithm == digest.SHA256 && b.ChecksumHeader != "" {
		v, err := base64.StdEncoding.DecodeString(b.ChecksumHeader)
		if err == nil && len(v) == 32 {
			copy(sum[:], v)
			return sum, true
		}
	}
	return sum, false
}

// provenChecksums returns the checksums of algos for content with this SHA-256 and MD5
// whose recorded checksums are known, when each is known without reading the body and
// the body's declared checksum (if any) is provably the content's; ok is false when it
// cannot be proven, and the body must be read.
func (b *Body) provenChecksums(sum [32]byte, md5 []byte, known map[string]string, algos ...string) (map[string]string, bool) {
	var out map[string]string
	for i := 0; i <= len(algos); i++ {
		a := b.ChecksumAlgorithm
		if i < len(algos) {
			a = algos[i]
		}
		if a == "" {
			continue
		}
		v := knownChecksum(a, sum[:], md5, known)
		if v == "" || (a == b.ChecksumAlgorithm && b.ChecksumHeader != "" && b.ChecksumHeader != v) {
			return nil, false
		}
		if out == nil {
			out = map[string]string{}
		}
		out[a] = v
	}
	return out, true
}

// expect is what the digest reader verifies, computing the also algorithms besides.
func (b *Body) expect(also ...string) digest.Expect {
	return digest.Expect{Size: b.Size, ContentSHA256: b.ContentSHA256, MD5: b.ContentMD5,
		Algorithm: b.ChecksumAlgorithm, Checksum: b.Checksum, Also: also}
}

// digestErr maps a body verification failure.
func digestErr(err error) error {
	var mm *digest.MismatchError
	if errors.As(err, &mm) {
		switch mm.Kind {
		case digest.KindContentSHA256:
			return &Error{Code: CodeContentSHA256Mismatch, Message: "The provided 'x-amz-content-sha256' header does not match what was computed.", Err: err}
		case digest.KindSize:
			return &Error{Code: CodeIncompleteBody, Message: "You did not provide the number of bytes specified by the Content-Length HTTP header.", Err: err}
		case digest.KindMD5:
			return &Error{Code: CodeBadDigest, Message: "The Content-MD5 you specified did not match what we received.", Err: err}
		case digest.KindChecksumValue:
			return &Error{Code: CodeInvalidRequest, Message: "Value for x-amz-checksum-" + strings.ToLower(mm.Algorithm) + " trailing header is invalid.", Err: err}
		default:
			return &Error{Code: CodeBadDigest, Message: "The " + mm.Algorithm + " you specified did not match the calculated checksum.", Err: err}
		}
	}
	return err
}

// PutObjectInput is a PutObject request.
type PutObjectInput struct {
	Principal   Principal
	Bucket, Key string
	Body        Body
	ContentType string
	Headers     map[string]string
	UserMeta    map[string]string
	Cond        WriteCondition
	// Lock is the Object Lock state asked for (x-amz-object-lock-*); nil for none.
	Lock *LockRequest
}

// WriteCondition makes a write conditional (If-None-Match: *, If-Match: "etag"); it is
// checked atomically with the write.
type WriteCondition struct {
	IfNoneMatchStar bool
	IfMatch         string // ETag without quotes
}

func (c WriteCondition) meta() meta.WriteCondition {
	return meta.WriteCondition{IfNoneMatchStar: c.IfNoneMatchStar, IfMatch: c.IfMatch}
}

// PutObjectOutput is PutObject's answer.
type PutObjectOutput struct {
	ETag         string
	Checksums    map[string]string
	ChecksumType string
	// Instant is true when the content was already stored and the body was never read.
	Instant bool
	// Expiration is when a lifecycle rule will delete the object (nil: no rule will).
	Expiration *Expiry
	// Encrypted: the object is stored encrypted at rest (SSE-S3).
	Encrypted bool
	// VersionID is the version written, as x-amz-version-id shows it ("": the null
	// version, which S3 answers without one).
	VersionID string
}

// MaxKeyLength is S3's limit on an object key, in bytes of its UTF-8 form.
const MaxKeyLength = 1024

func validKey(key string) error {
	if key == "" {
		return errorf(CodeInvalidArgument, "Object key must not be empty")
	}
	if len(key) > MaxKeyLength {
		return errorf(CodeKeyTooLong, "Your key is too long.")
	}
	return nil
}

// PutObject stores an object: the body streams once through every hash into a new chunk
// (or, for content the caller's scope already stored and declared up front, is not read
// at all), then the object's manifest is committed in one metadata transaction.
func (s *Service) PutObject(ctx context.Context, in *PutObjectInput) (*PutObjectOutput, error) {
	b, err := s.bucketFor(ctx, in.Principal, in.Bucket)
	if err != nil {
		return nil, err
	}
	if err := validKey(in.Key); err != nil {
		return nil, err
	}
	if in.Body.Size > s.cfg.MaxObjectSize || in.Body.Size > 5<<30 {
		return nil, errorf(CodeEntityTooLarge, "Your proposed upload exceeds the maximum allowed size")
	}
	if in.Body.Size < 0 {
		if err := s.sizeUnknownBody(&in.Body); err != nil {
			return nil, s.ingestErr(err)
		}
	}
	checked := in.Body.checkedByClient()
	// Like S3, every object gets a full-object CRC64NVME when the client declared no
	// checksum, returned in the answer as S3 does: it costs almost nothing (the digest
	// reader computes it in the pass that hashes the content) and lets clients verify
	// downloads.
	if in.Body.ChecksumAlgorithm == "" {
		in.Body.ChecksumAlgorithm = digest.CRC64NVME
	}
	scope := s.scope(in.Principal, b.Owner)
	w := writer(in.Principal, b.Owner)
	headers, err := s.withLock(ctx, in.Bucket, in.Headers, in.Lock)
	if err != nil {
		return nil, err
	}
	if !checked && locks(headers) {
		return nil, errLockNeedsIntegrity("Put Object")
	}
	obj := meta.Object{Bucket: in.Bucket, Key: in.Key, ContentType: in.ContentType, Headers: headers,
		UserMeta: in.UserMeta, Owner: w, Scope: w}
	enc := s.dedup.Encrypted(b.Backend)
	cond, err := s.versionedWrite(ctx, &obj, in.Cond.meta())
	if err != nil {
		return nil, err
	}
	if out, ok, err := s.instantPut(ctx, in, obj, cond, scope, b); ok || err != nil {
		return out, err
	}
	// Into an encrypted bucket the chunk is indexed before the commit (two transactions
	// instead of one), so that content already indexed in clear takes this upload's
	// encrypted copy before anything references it from this bucket (dedup.Ingest).
	ing, err := s.dedup.Ingest(ctx, dedup.IngestInput{Body: in.Body.Reader, Expect: in.Body.expect(), Backend: b.Backend, Scope: scope,
		DeferIndex: !enc})
	if err != nil {
		return nil, s.ingestErr(err)
	}
	sums := ing.Sums
	obj.Size = sums.Size
	obj.ETag = hex.EncodeToString(sums.MD5[:])
	obj.SHA256 = append([]byte(nil), sums.SHA256[:]...)
	obj.Checksums = checksumsOf(in.Body.ChecksumAlgorithm, sums.Checksum)
	if obj.Checksums != nil {
		obj.ChecksumType = ChecksumFullObject
	}
	// commit writes the object over c: with ChunkID 0 a new chunk, which PutObject
	// indexes in the same transaction (one commit) and writes back as the index holds
	// it; otherwise an indexed chunk, as is. It returns the chunk the object references.
	commit := func(c meta.Chunk) (meta.Chunk, error) {
		obj.ModTime = s.now().UTC()
		obj.Manifest = manifestOf(c, sums.Size)
		if len(obj.Manifest) == 0 {
			_, err := s.meta.PutObject(ctx, obj, cond)
			return meta.Chunk{}, err // an empty object references no chunk
		}
		obj.Manifest[0].Chunk, obj.Manifest[0].NewChunkScope = c, scope
		_, err := s.meta.PutObject(ctx, obj, cond)
		return obj.Manifest[0].Chunk, err
	}
	if enc {
		err = s.dedup.Settle(ctx, ing, func(c meta.Chunk) error { _, err := commit(c); return err })
	} else {
		err = s.dedup.SettleNew(ctx, ing, commit)
	}
	if err != nil {
		return nil, s.writeErr(err)
	}
	if enc {
		// Ingest took care of content indexed in clear; this covers a clear copy indexed
		// by a concurrent writer after that, or an adoption that failed.
		if err := s.ensureEncrypted(ctx, b, obj.Manifest); err != nil {
			return nil, err
		}
	}
	return &PutObjectOutput{ETag: obj.ETag, Checksums: obj.Checksums, ChecksumType: obj.ChecksumType, Expiration: s.expiryOf(ctx, obj), Encrypted: enc,
		VersionID: obj.VersionID}, nil
}

// sizeUnknownBody prepares a body that declared no length (a form upload: a part of a
// multipart form has none). It is capped where a declared length is refused, and a
// body no larger than the inline limit is read whole (at most that many bytes) so that
// it is stored as a declared small body is, inline in the metadata store.
func (s *Service) sizeUnknownBody(b *Body) error {
	b.Reader = &capReader{r: b.Reader, left: min(s.cfg.MaxObjectSize, 5<<30)}
	inline := s.dedup.InlineMax()
	if inline < 0 {
		return nil
	}
	head := make([]byte, inline+1)
	n, err := io.ReadFull(b.Reader, head)
	switch {
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		b.Reader, b.Size = bytes.NewReader(head[:n]), int64(n)
		return nil
	case err != nil:
		return err
	}
	b.Reader = io.MultiReader(bytes.NewReader(head), b.Reader)
	return nil
}

// capReader fails a body of undeclared length once it passes the largest object
// accepted, before more of it is stored.
type capReader struct {
	r    io.Reader
	left int64
}

func (c *capReader) Read(p []byte) (int, error) {
	if int64(len(p)) > c.left+1 {
		p = p[:c.left+1]
	}
	n, err := c.r.Read(p)
	if c.left -= int64(n); c.left < 0 {
		return n, errorf(CodeEntityTooLarge, "Your proposed upload exceeds the maximum allowed size")
	}
	return n, err
}

func (s *Service) ingestErr(err error) error {
	if e := digestErr(err); e != err {
		return e
	}
	var te *Error
	if errors.As(err, &te) {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if errors.Is(err, meta.ErrUnavailable) {
		return wrapErr(CodeServiceUnavailable, err)
	}
	// A body read error from the client (connection dropped, bad chunk signature) comes
	// back through the store; keep its S3 meaning when it has one.
	return err
}

// writeErr maps the failure of a conditional metadata write.
func (s *Service) writeErr(err error) error {
	switch {
	case errors.Is(err, meta.ErrPreconditionFailed):
		return errorf(CodePreconditionFailed, "At least one of the pre-conditions you specified did not hold")
	case errors.Is(err, meta.ErrNotFound):
		// If-Match against a key that does not exist.
		return errorf(CodeNoSuchKey, "The specified key does not exist.")
	}
	return metaErr(err, "")
}

func checksumsOf(algo, value string) map[string]string {
	if algo == "" || value == "" {
		return nil
	}
	return map[string]string{algo: value}
}

func manifestOf(c meta.Chunk, size int64) []meta.Extent {
	if size == 0 {
		return nil
	}
	return []meta.Extent{{ChunkID: c.ID, ChunkOffset: 0, Length: size}}
}

// instantPut completes a PutObject without reading its body when the client declared
// the content's SHA-256 before sending it, is waiting for 100 Continue, and the caller's
// scope already stored that content. Every other declared digest must be provably equal
// to the stored object's (MD5 via the ETag, an additional checksum only if recorded),
// otherwise the body is read as usual.
func (s *Service) instantPut(ctx context.Context, in *PutObjectInput, obj meta.Object, cond meta.WriteCondition, scope string, b meta.Bucket) (*PutObjectOutput, bool, error) {
	sum, ok := in.Body.trustedSHA256()
	if !ok || in.Body.Size < 0 || in.Body.Size <= s.dedup.InlineMax() || in.Principal.Anonymous {
		// Nor for an anonymous writer: an answer without the body would tell anyone
		// that the bucket owner's scope holds the content (a dedup side channel).
		// A small body costs less to read than the lookup (it becomes an inline chunk,
		// deduplicated by its index row all the same).
		return nil, false, nil
	}
	src, err := s.meta.FindObjectBySHA256(ctx, sum, scope)
	if err != nil || src.Size != in.Body.Size {
		return nil, false, nil
	}
	for _, e := range src.Manifest {
		if e.Chunk.Corrupt {
			// Damaged content (marked by verify): take the body, which restores it.
			return nil, false, nil
		}
	}
	known := src.Checksums
	if len(src.Parts) > 0 && src.ChecksumType != ChecksumFullObject {
		known = nil // a composite checksum is not the content's
	}
	// A single object's ETag is its content's MD5: the source's ETag, or for a
	// multipart source its whole-content MD5. The hash job records only the SHA-256
	// (jobs.go), so the first instant upload of a multipart object's content computes
	// the MD5 from the stored copy, with the checksum this upload declares in the same
	// pass, and records it for the next one.
	etag := src.ETag
	if len(src.Parts) > 0 {
		if len(src.MD5) != 16 {
			a := in.Body.ChecksumAlgorithm
			sums, err := s.storedSums(ctx, src, sum, a)
			if err != nil {
				s.log.Warn("instant upload: stored copy unreadable, reading the body", "bucket", src.Bucket, "key", src.Key, "err", err)
				return nil, false, nil
			}
			src.MD5 = sums.MD5[:]
			if v := sums.Checksums[a]; v != "" && known[a] == "" {
				known = withChecksum(known, a, v)
			}
			err = s.meta.SetObjectDigests(ctx, src.Bucket, src.Key, src.ETag, sum[:], src.MD5)
			if err != nil && !errors.Is(err, meta.ErrPreconditionFailed) && !errors.Is(err, meta.ErrNotFound) {
				// Only the next instant upload of this content pays: it computes the MD5 again.
				s.log.Warn("instant upload: recording the content's MD5", "bucket", src.Bucket, "key", src.Key, "err", err)
			}
		}
		etag = hex.EncodeToString(src.MD5)
	}
	if len(in.Body.ContentMD5) > 0 && hex.EncodeToString(in.Body.ContentMD5) != etag {
		return nil, false, nil
	}
	md5, _ := hex.DecodeString(etag)
	checksums, ok := in.Body.provenChecksums(sum, md5, known)
	if a := in.Body.ChecksumAlgorithm; !ok && a != "" && knownChecksum(a, sum[:], md5, known) == "" {
		// The stored content has no recorded value of the algorithm this upload declares
		// (or gets by default): a client that declared another one, or none, stored it.
		// Proving the value from the stored copy costs a read on our side instead of the
		// whole body crossing the client's wire.
		sums, err := s.storedSums(ctx, src, sum, a)
		if err != nil {
			s.log.Warn("instant upload: stored copy unreadable, reading the body", "bucket", src.Bucket, "key", src.Key, "err", err)
			return nil, false, nil
		}
		known = withChecksum(known, a, sums.Checksums[a])
		checksums, ok = in.Body.provenChecksums(sum, md5, known)
	}
	if !ok {
		return nil, false, nil
	}
	obj.Size = src.Size
	obj.ETag = etag
	obj.SHA256 = sum[:]
	obj.Checksums = checksums
	if checksums != nil {
		obj.ChecksumType = ChecksumFullObject
	}
	obj.Manifest = stripChunks(src.Manifest)
	for i := range obj.Manifest {
		obj.Manifest[i].PartNumber = 0 // a single-part object now
	}
	obj.ModTime = s.now().UTC()
	enc := s.dedup.Encrypted(b.Backend)
	if enc && s.ensureEncrypted(ctx, b, src.Manifest) != nil {
		return nil, false, nil // take the body instead (logged by ensureEncrypted)
	}
	if err := s.verifyUnstored(&in.Body); err != nil {
		return nil, false, err
	}
	if _, err := s.meta.PutObject(ctx, obj, cond); err != nil {
		if errors.Is(err, meta.ErrConflict) {
			return nil, false, s.lostRace(in.Body)
		}
		return nil, false, s.writeErr(err)
	}
	if s.cfg.OnInstant != nil && in.Body.Unread {
		s.cfg.OnInstant(src.Size)
	}
	return &PutObjectOutput{ETag: obj.ETag, Checksums: checksums, ChecksumType: obj.ChecksumType, Instant: in.Body.Unread,
		Expiration: s.expiryOf(ctx, obj), Encrypted: enc, VersionID: obj.VersionID}, true, nil
}

// withChecksum returns known with algo's value v added, in a copy: known may be the
// stored object's own map.
func withChecksum(known map[string]string, algo, v string) map[string]string {
	out := maps.Clone(known)
	if out == nil {
		out = map[string]string{}
	}
	out[algo] = v
	return out
}

// storedSums hashes an object's stored content: its MD5 and, unless algo is "", algo's
// checksum (in Checksums). It checks on the way that the content still hashes to sum: a
// damaged copy fails (and the caller reads the body, which a corrupt chunk needs anyway)
// instead of vouching for a value it does not have.
func (s *Service) storedSums(ctx context.Context, o meta.Object, sum [32]byte, algo string) (digest.Sums, error) {
	body, err := s.openRange(ctx, o, 0, o.Size)
	if err != nil {
		return digest.Sums{}, err
	}
	defer body.Close()
	exp := digest.Expect{Size: o.Size, ContentSHA256: sum[:]}
	if algo != "" {
		exp.Also = []string{algo}
	}
	dr, err := digest.NewReader(body, exp)
	if err != nil {
		return digest.Sums{}, err
	}
	if _, err := drain(dr); err != nil {
		return digest.Sums{}, err
	}
	return dr.Sums(), nil
}

// verifyUnstored handles the body of an upload whose content is already stored: when
// the client is waiting for 100 Continue nothing is read; otherwise the body arrives
// anyway and is read and verified against every declared digest, but never written.
func (s *Service) verifyUnstored(b *Body) error {
	if b.Unread {
		return nil
	}
	dr, err := digest.NewReader(b.Reader, b.expect())
	if err != nil {
		return err
	}
	if _, err := drain(dr); err != nil {
		return s.ingestErr(err)
	}
	return nil
}

// lostRace reports an upload whose stored content was collected between the lookup and
// the commit. With the body still unread the caller reads it as usual; a body already
// consumed for verification cannot be stored any more, so the client must retry (rare:
// the content had no references for the whole grace period).
func (s *Service) lostRace(b Body) error {
	if b.Unread {
		return nil
	}
	return &Error{Code: CodeServiceUnavailable, Message: "The content was being reclaimed during the upload. Please retry."}
}

func stripChunks(m []meta.Extent) []meta.Extent {
	out := make([]meta.Extent, len(m))
	for i, e := range m {
		out[i] = meta.Extent{PartNumber: e.PartNumber, ChunkID: e.ChunkID, ChunkOffset: e.ChunkOffset, Length: e.Length}
	}
	return out
}

// Conditions are the conditional request headers of a read (or a copy source).
type Conditions struct {
	IfMatch           string // raw header (may list several quoted ETags, or *)
	IfNoneMatch       string
	IfModifiedSince   *time.Time
	IfUnmodifiedSince *time.Time
}

func etagMatches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		t = strings.TrimPrefix(t, "W/")
		if t == "*" || strings.Trim(t, `"`) == etag {
			return true
		}
	}
	return false
}

// check evaluates conditions as S3 does (RFC 7232 order, with S3's rule that a true
// If-Match overrides a false If-Unmodified-Since and a false If-None-Match overrides a
// true If-Modified-Since). notModified selects 304 for GET/HEAD; copy sources get 412.
func (c Conditions) check(o ObjectInfo, notModified bool) error {
	lm := o.LastModified.Truncate(time.Second)
	if c.IfMatch != "" {
		if !etagMatches(c.IfMatch, o.ETag) {
			return preconditionFailed("If-Match")
		}
	} else if c.IfUnmodifiedSince != nil && lm.After(*c.IfUnmodifiedSince) {
		return preconditionFailed("If-Unmodified-Since")
	}
	failed, which := false, ""
	if c.IfNoneMatch != "" {
		failed, which = etagMatches(c.IfNoneMatch, o.ETag), "If-None-Match"
	} else if c.IfModifiedSince != nil && !lm.After(*c.IfModifiedSince) {
		failed, which = true, "If-Modified-Since"
	}
	if failed {
		if notModified {
			return errorf(CodeNotModified, "Not Modified")
		}
		return preconditionFailed(which)
	}
	return nil
}

// preconditionFailed is S3's PreconditionFailed, naming the condition that failed
// (its Condition element).
func preconditionFailed(condition string) error {
	return &Error{Code: CodePreconditionFailed, Message: "At least one of the pre-conditions you specified did not hold",
		Extra: map[string]string{"Condition": condition}}
}

// Range is a parsed single byte range. Exactly one form is used:
// Start..End (End -1 = to the end) or the last Suffix bytes (Suffix >= 0 with IsSuffix).
type Range struct {
	Start, End int64
	Suffix     int64
	IsSuffix   bool
}

// resolve returns offset and length of r in an object of size, or InvalidRange. whole
// is true when S3 answers the range with the whole object (200, no Content-Range): a
// suffix range of an empty object, which has no last bytes to name.
func (r *Range) resolve(size int64) (off, n int64, whole bool, err error) {
	if r.IsSuffix {
		switch {
		case r.Suffix <= 0:
			return 0, 0, false, errorf(CodeInvalidRange, "The requested range is not satisfiable")
		case size == 0:
			return 0, 0, true, nil
		}
		n := min(r.Suffix, size)
		return size - n, n, false, nil
	}
	if r.Start >= size {
		return 0, 0, false, errorf(CodeInvalidRange, "The requested range is not satisfiable")
	}
	end := r.End
	if end < 0 || end >= size {
		end = size - 1
	}
	return r.Start, end - r.Start + 1, false, nil
}

// GetObjectInput is a GetObject or HeadObject request.
type GetObjectInput struct {
	Principal   Principal
	Bucket, Key string
	VersionID   string // the versionId asked for ("" the current version)
	Range       *Range
	PartNumber  int
	Cond        Conditions
	HeadOnly    bool
}

// GetObjectOutput is the answer: Body is nil for HEAD. Partial means 206 with
// Content-Range Offset..Offset+Length-1/Info.Size.
type GetObjectOutput struct {
	Info    ObjectInfo
	Body    io.ReadCloser
	Partial bool
	Offset  int64
	Length  int64
	// PartChecksums holds the part's checksums for a partNumber read.
	PartChecksums map[string]string
}

// GetObject reads an object, whole or a range, streaming only the chunks that cover it.
func (s *Service) GetObject(ctx context.Context, in *GetObjectInput) (*GetObjectOutput, error) {
	b, err := s.bucketFor(ctx, in.Principal, in.Bucket)
	if err != nil {
		return nil, err
	}
	o, err := s.readVersion(ctx, in.Bucket, in.Key, in.VersionID)
	if err != nil {
		return nil, err
	}
	info := infoOf(o)
	if info.VersionID, err = s.shownVersion(ctx, o); err != nil {
		return nil, err
	}
	if err := in.Cond.check(info, true); err != nil {
		// The caller still needs the ETag and date for a 304.
		return &GetObjectOutput{Info: info}, err
	}
	out := &GetObjectOutput{Info: info, Offset: 0, Length: o.Size}
	out.Info.Expiration = s.expiryOf(ctx, o)
	out.Info.Encrypted = s.objectEncrypted(b, o.Manifest)
	switch {
	case in.PartNumber > 0:
		if in.Range != nil {
			return nil, errorf(CodeInvalidRequest, "Cannot specify both Range header and partNumber query parameter")
		}
		off, length, ck, err := partRange(o, in.PartNumber)
		if err != nil {
			return nil, err
		}
		out.Offset, out.Length, out.PartChecksums = off, length, ck
		// Part 1 of a single-part object is all of it, still answered as a part (206
		// with its Content-Range), unless there is no byte to name.
		out.Partial = o.Size > 0
	case in.Range != nil:
		off, length, whole, err := in.Range.resolve(o.Size)
		if err != nil {
			return nil, err
		}
		if !whole {
			out.Offset, out.Length, out.Partial = off, length, true
		}
	}
	if in.HeadOnly {
		return out, nil
	}
	body, err := s.openRange(ctx, o, out.Offset, out.Length)
	if err != nil {
		return nil, err
	}
	out.Body = body
	return out, nil
}

// partRange locates part n of an object (a single-part object has only part 1). A part
// beyond the last is InvalidPartNumber (416), with the counts S3 reports.
func partRange(o meta.Object, n int) (int64, int64, map[string]string, error) {
	if len(o.Parts) == 0 {
		if n != 1 {
			return 0, 0, nil, invalidPartNumber(1, n)
		}
		return 0, o.Size, nil, nil
	}
	var off int64
	for _, p := range o.Parts {
		if p.Number == n {
			// A part's checksum is part of the object's only when that is COMPOSITE (a
			// checksum of the parts' checksums); a FULL_OBJECT checksum has none, and a
			// part keeps nothing else worth showing (S3 answers alike).
			var ck map[string]string
			if o.ChecksumType == ChecksumComposite {
				for a := range o.Checksums {
					ck = checksumsOf(a, p.Checksums[a])
				}
			}
			return off, p.Size, ck, nil
		}
		off += p.Size
	}
	return 0, 0, nil, invalidPartNumber(len(o.Parts), n)
}

func invalidPartNumber(count, requested int) error {
	return &Error{Code: CodeInvalidPartNumber, Message: "The requested partnumber is not satisfiable",
		Extra: map[string]string{"ActualPartCount": strconv.Itoa(count), "PartNumberRequested": strconv.Itoa(requested)}}
}

// openRange opens the first covering chunk before returning, so that a missing chunk
// is an error response rather than a truncated 200.
func (s *Service) openRange(ctx context.Context, o meta.Object, offset, length int64) (io.ReadCloser, error) {
	r := &manifestReader{ctx: ctx, s: s, o: o, remaining: length}
	// Find the first extent covering offset.
	var pos int64
	for i, e := range o.Manifest {
		if offset < pos+e.Length {
			r.idx = i
			r.extOff = offset - pos
			break
		}
		pos += e.Length
		r.idx = i + 1
	}
	if length > 0 {
		if err := r.openNext(); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// manifestReader streams a byte range of an object, opening one chunk slice at a time.
type manifestReader struct {
	ctx       context.Context
	s         *Service
	o         meta.Object
	idx       int   // next extent to open
	extOff    int64 // offset into extent idx
	cur       io.ReadCloser
	curLeft   int64
	remaining int64
}

func (r *manifestReader) openNext() error {
	if r.idx >= len(r.o.Manifest) {
		return r.s.readErr(r.o.Bucket, r.o.Key, errors.New("manifest shorter than object size"))
	}
	e := r.o.Manifest[r.idx]
	n := min(e.Length-r.extOff, r.remaining)
	rc, err := r.s.dedup.Open(r.ctx, e.Chunk, e.ChunkOffset+r.extOff, n)
	if err != nil {
		return r.s.readErr(r.o.Bucket, r.o.Key, err)
	}
	r.cur, r.curLeft = rc, n
	r.idx++
	r.extOff = 0
	return nil
}

func (r *manifestReader) Read(p []byte) (int, error) {
	for {
		if r.remaining == 0 {
			return 0, io.EOF
		}
		if r.cur == nil {
			if err := r.openNext(); err != nil {
				return 0, err
			}
		}
		if int64(len(p)) > r.curLeft {
			p = p[:r.curLeft]
		}
		n, err := r.cur.Read(p)
		r.curLeft -= int64(n)
		r.remaining -= int64(n)
		if r.curLeft == 0 {
			r.cur.Close()
			r.cur = nil
			if n > 0 {
				return n, nil
			}
			continue
		}
		if err == io.EOF {
			return n, r.s.readErr(r.o.Bucket, r.o.Key, dedup.ErrChunkMissing)
		}
		if err != nil {
			return n, r.s.readErr(r.o.Bucket, r.o.Key, err)
		}
		return n, nil
	}
}

// WriteTo copies chunk by chunk so io.Copy can hand each chunk's own reader to the
// destination (sendfile for local files on a TCP connection).
func (r *manifestReader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for r.remaining > 0 {
		if r.cur == nil {
			if err := r.openNext(); err != nil {
				return total, err
			}
		}
		// r.cur was opened for exactly curLeft bytes: copy from it unwrapped, so that
		// io.Copy reaches its WriteTo (a LimitedReader around it would hide it, and
		// with it sendfile from local chunks).
		n, err := io.Copy(w, r.cur)
		total += n
		r.curLeft -= n
		r.remaining -= n
		r.cur.Close()
		r.cur = nil
		if err != nil {
			return total, err
		}
		if r.curLeft != 0 {
			return total, r.s.readErr(r.o.Bucket, r.o.Key, dedup.ErrChunkMissing)
		}
	}
	return total, nil
}

func (r *manifestReader) Close() error {
	if r.cur != nil {
		err := r.cur.Close()
		r.cur = nil
		return err
	}
	return nil
}

// DeleteObject removes an object; deleting a missing key succeeds, as in S3. In a
// bucket with versioning it puts a delete marker in front of the key instead, or with
// a versionId removes that version for good (versioning.go).
//
// ifMatch makes it conditional (S3's conditional deletes): the current ETag, or "*" for
// any existing object, checked in the deleting transaction; a mismatch is
// PreconditionFailed and, with a condition, a missing key is NoSuchKey (without one,
// deleting nothing succeeds).
//
// bypass is x-amz-bypass-governance-retention from a caller allowed to bypass a
// GOVERNANCE retention (s3:BypassGovernanceRetention).
func (s *Service) DeleteObject(ctx context.Context, p Principal, bucket, key, versionID, ifMatch string, bypass bool) (DeleteResult, error) {
	b, err := s.bucketFor(ctx, p, bucket)
	if err != nil {
		return DeleteResult{}, err
	}
	if len(key) > MaxKeyLength {
		// No such key can exist; S3 says why rather than pretending to delete it.
		return DeleteResult{}, validKey(key)
	}
	mode, err := s.versioningOf(ctx, bucket)
	if err != nil {
		return DeleteResult{}, err
	}
	if mode != meta.Unversioned {
		return s.deleteVersioned(ctx, bucket, key, versionID, writer(p, b.Owner), mode, meta.WriteCondition{IfMatch: ifMatch}, bypass)
	}
	if versionID != "" {
		// A bucket never versioned holds only null versions.
		if _, err := storedVersionID(versionID); err != nil {
			return DeleteResult{}, err
		}
		if versionID != NullVersion {
			return DeleteResult{VersionID: versionID}, nil
		}
	}
	err = s.removeObject(ctx, bucket, key, meta.WriteCondition{IfMatch: ifMatch})
	if errors.Is(err, meta.ErrNotFound) && ifMatch == "" {
		return DeleteResult{}, nil
	}
	return DeleteResult{}, metaErr(err, CodeNoSuchKey)
}

// removeObject deletes bucket/key under cond: the one way an object is deleted, by a
// client (DeleteObject, DeleteObjects) or by lifecycle expiration. The store releases
// its chunk references in the deleting transaction (the collector then removes what
// nothing references) and its caches drop the key.
func (s *Service) removeObject(ctx context.Context, bucket, key string, cond meta.WriteCondition) error {
	_, err := s.meta.DeleteObject(ctx, bucket, key, cond)
	return err
}

// CopyObjectInput is a CopyObject request.
type CopyObjectInput struct {
	Principal         Principal
	SrcBucket, SrcKey string
	SrcVersionID      string // x-amz-copy-source's versionId ("" the current version)
	DstBucket, DstKey string
	SrcCond           Conditions
	ReplaceMetadata   bool
	ContentType       string
	Headers           map[string]string
	UserMeta          map[string]string
	ChecksumAlgorithm string
	DstCond           WriteCondition
	// Tagging replaces the tag set (x-amz-tagging-directive: REPLACE; "" for none);
	// nil copies the source's, whatever ReplaceMetadata says, as S3 does.
	Tagging *string
	// WebsiteRedirect is the copy's x-amz-website-redirect-location ("" none): S3
	// never copies the source's, whatever the metadata directive.
	WebsiteRedirect string
	// Lock is the copy's Object Lock state asked for; the source's is never copied.
	Lock *LockRequest
}

// WebsiteRedirectKey is the stored header under which an object keeps its
// x-amz-website-redirect-location (S3 system metadata, returned on GET and HEAD), in
// the canonical form of the other stored headers.
const WebsiteRedirectKey = "X-Amz-Website-Redirect-Location"

// CopyObject writes a new object that references the source's chunks: no data moves.
// The copy keeps the source's checksum, unless the request names a checksum algorithm:
// then, as S3, the copy gets a full-object checksum of that algorithm, taken from what
// is known of the content or else computed by reading the source through the digest
// (nothing is written).
func (s *Service) CopyObject(ctx context.Context, in *CopyObjectInput) (*ObjectInfo, error) {
	if in.ChecksumAlgorithm != "" {
		a, err := digest.Normalize(in.ChecksumAlgorithm)
		if err != nil {
			return nil, UnsupportedChecksumAlgorithm()
		}
		in.ChecksumAlgorithm = a
	}
	if _, err := s.bucketFor(ctx, in.Principal, in.SrcBucket); err != nil {
		return nil, err
	}
	db, err := s.bucketFor(ctx, in.Principal, in.DstBucket)
	if err != nil {
		return nil, err
	}
	if err := validKey(in.DstKey); err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		src, err := s.readVersion(ctx, in.SrcBucket, in.SrcKey, in.SrcVersionID)
		if err != nil {
			return nil, err
		}
		if err := in.SrcCond.check(infoOf(src), false); err != nil {
			return nil, err
		}
		if in.SrcBucket == in.DstBucket && in.SrcKey == in.DstKey && in.SrcVersionID == "" && !in.ReplaceMetadata && in.ChecksumAlgorithm == "" && in.WebsiteRedirect == "" {
			return nil, errorf(CodeInvalidRequest, "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.")
		}
		dst := src
		if in.ChecksumAlgorithm != "" {
			v, err := s.contentChecksum(ctx, src, in.ChecksumAlgorithm)
			if err != nil {
				return nil, err
			}
			dst.Checksums, dst.ChecksumType = map[string]string{in.ChecksumAlgorithm: v}, ChecksumFullObject
			// The parts' checksums belonged to the source's checksum, which the copy has not.
			dst.Parts = make([]meta.Part, len(src.Parts))
			for i, p := range src.Parts {
				p.Checksums = nil
				dst.Parts[i] = p
			}
		}
		dst.Bucket, dst.Key = in.DstBucket, in.DstKey
		dst.Owner = writer(in.Principal, db.Owner)
		dst.Scope = src.Scope // the content was uploaded by the source's writer
		dst.ModTime = s.now().UTC()
		dst.Manifest = stripChunks(src.Manifest)
		if in.ReplaceMetadata {
			dst.ContentType, dst.Headers, dst.UserMeta = in.ContentType, in.Headers, in.UserMeta
		}
		// A copy is a new object, not the one an upload completed (a retried Complete
		// must not be answered from it), and has its own website redirect or none.
		dst.Headers = publicHeaders(dst.Headers)
		if dst.Headers[WebsiteRedirectKey] != in.WebsiteRedirect {
			dst.Headers = maps.Clone(dst.Headers)
			if dst.Headers == nil {
				dst.Headers = map[string]string{}
			}
			if in.WebsiteRedirect == "" {
				delete(dst.Headers, WebsiteRedirectKey)
			} else {
				dst.Headers[WebsiteRedirectKey] = in.WebsiteRedirect
			}
		}
		tagging := src.Headers[TaggingKey]
		if in.Tagging != nil {
			tagging = *in.Tagging
		}
		if dst.Headers[TaggingKey] != tagging {
			dst.Headers = withTagging(dst.Headers, tagging)
		}
		if dst.Headers, err = s.withLock(ctx, in.DstBucket, dst.Headers, in.Lock); err != nil {
			return nil, err
		}
		if s.dedup.Encrypted(db.Backend) {
			// Still no data copied, unless the source's chunks are in clear: those move
			// to the destination's encrypting backend first.
			if err := s.ensureEncrypted(ctx, db, src.Manifest); err != nil {
				return nil, err
			}
		}
		cond, err := s.versionedWrite(ctx, &dst, in.DstCond.meta())
		if err != nil {
			return nil, err
		}
		_, err = s.meta.PutObject(ctx, dst, cond)
		if errors.Is(err, meta.ErrConflict) && attempt < 3 {
			continue // the source changed under us; read it again
		}
		if err != nil {
			return nil, s.writeErr(err)
		}
		info := infoOf(dst)
		info.VersionID = dst.VersionID
		if in.SrcVersionID != "" {
			info.SourceVersionID = in.SrcVersionID
		} else if info.SourceVersionID, err = s.shownVersion(ctx, src); err != nil {
			return nil, err
		}
		info.Expiration = s.expiryOf(ctx, dst)
		info.Encrypted = s.dedup.Encrypted(db.Backend) || s.objectEncrypted(db, src.Manifest)
		return &info, nil
	}
}

// contentChecksum returns the full-object checksum of algo for an object's content:
// known without reading it (the recorded value, the content hash, a single-part MD5),
// or computed by streaming its chunks through the digest, only then.
func (s *Service) contentChecksum(ctx context.Context, o meta.Object, algo string) (string, error) {
	if v := objectChecksum(o, algo); v != "" {
		return v, nil
	}
	body, err := s.openRange(ctx, o, 0, o.Size)
	if err != nil {
		return "", err
	}
	defer body.Close()
	dr, err := digest.NewReader(body, digest.Expect{Size: o.Size, Also: []string{algo}})
	if err != nil {
		return "", err
	}
	if _, err := drain(dr); err != nil {
		return "", s.readErr(o.Bucket, o.Key, err)
	}
	return dr.Sums().Checksums[algo], nil
}

// ListObjectsInput is one page of a listing.
type ListObjectsInput struct {
	Principal Principal
	Bucket    string
	Prefix    string
	Delimiter string
	After     string
	MaxKeys   int
}

// ListObjectsOutput is one page.
type ListObjectsOutput struct {
	Objects        []ObjectInfo
	CommonPrefixes []string
	Truncated      bool
	NextAfter      string
}

// ListObjects lists keys in byte order.
func (s *Service) ListObjects(ctx context.Context, in *ListObjectsInput) (*ListObjectsOutput, error) {
	if _, err := s.bucketFor(ctx, in.Principal, in.Bucket); err != nil {
		return nil, err
	}
	if in.MaxKeys <= 0 {
		return &ListObjectsOutput{}, nil
	}
	res, err := s.meta.ListObjects(ctx, in.Bucket, meta.ListQuery{Prefix: in.Prefix, Delimiter: in.Delimiter, After: in.After, Limit: min(in.MaxKeys, 1000)})
	if err != nil {
		return nil, metaErr(err, CodeNoSuchBucket)
	}
	out := &ListObjectsOutput{CommonPrefixes: res.CommonPrefixes, Truncated: res.Truncated, NextAfter: res.NextAfter}
	for _, o := range res.Objects {
		out.Objects = append(out.Objects, infoOf(o))
	}
	return out, nil
}

// ObjectAttributes describes an object and, for a multipart one, its parts
// (GetObjectAttributes), without opening any chunk.
func (s *Service) ObjectAttributes(ctx context.Context, p Principal, bucket, key, versionID string) (ObjectInfo, []PartInfo, error) {
	if _, err := s.bucketFor(ctx, p, bucket); err != nil {
		return ObjectInfo{}, nil, err
	}
	o, err := s.readVersion(ctx, bucket, key, versionID)
	var te *Error
	if errors.As(err, &te) && te.Code == CodeMethodNotAllowed {
		// A delete marker has no attributes: S3 answers NoSuchKey, with its headers.
		err = &Error{Code: CodeNoSuchKey, Message: "The specified key does not exist.", Headers: te.Headers}
	}
	if err != nil {
		return ObjectInfo{}, nil, err
	}
	parts := make([]PartInfo, len(o.Parts))
	for i, pt := range o.Parts {
		parts[i] = PartInfo{Number: pt.Number, Size: pt.Size, ETag: pt.ETag, Checksums: pt.Checksums, LastModified: pt.LastModified}
	}
	info := infoOf(o)
	if info.VersionID, err = s.shownVersion(ctx, o); err != nil {
		return ObjectInfo{}, nil, err
	}
	return info, parts, nil
}
