package translate

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"maps"
	"strconv"
	"strings"
	"time"

	"s3proxy/dedup"
	"s3proxy/dedup/digest"
	"s3proxy/meta"
)

// S3's multipart limits.
const (
	MaxParts    = 10000
	MinPartSize = 5 << 20
	MaxPartSize = 5 << 30
)

// CreateUploadInput starts a multipart upload.
type CreateUploadInput struct {
	Principal         Principal
	Bucket, Key       string
	ContentType       string
	Headers           map[string]string
	UserMeta          map[string]string
	ChecksumAlgorithm string
	ChecksumType      string
	// Lock is the Object Lock state asked for (x-amz-object-lock-*); nil for none.
	Lock *LockRequest
}

// newUploadID returns an upload id for an upload initiated at t: 16 lower-case hex
// digits of t in Unix nanoseconds, then 16 characters of URL-safe base64 (96 random
// bits), 32 in all. Ids sort as their uploads were initiated, so a listing ordered by
// (key, id) lists a key's uploads in initiation order, as S3 does, and
// upload-id-marker means "initiated after", with no index on the time. The id starts
// with a digit: one starting with "-" reads as an option on a command line (aws s3api
// upload-part --upload-id -Rj... fails with "expected one argument").
func newUploadID(t time.Time) string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%016x", uint64(t.UnixNano())) + base64.RawURLEncoding.EncodeToString(b[:])
}

// validUploadID reports whether id has the shape of an upload id s3proxy issues (these
// and the wholly random ones of earlier versions: 32 characters of URL-safe base64).
func validUploadID(id string) bool {
	if len(id) != 32 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// CreateUploadOutput is a new upload's id and its checksum algorithm and type (""
// when the upload was created without an algorithm: its object gets S3's default,
// a full-object CRC64NVME).
type CreateUploadOutput struct {
	UploadID          string
	ChecksumAlgorithm string
	ChecksumType      string
	// Encrypted: the object will be stored encrypted at rest (SSE-S3).
	Encrypted bool
}

// CreateMultipartUpload registers an upload and returns its id.
func (s *Service) CreateMultipartUpload(ctx context.Context, in *CreateUploadInput) (*CreateUploadOutput, error) {
	algo, typ, err := uploadChecksum(in.ChecksumAlgorithm, in.ChecksumType)
	if err != nil {
		return nil, err
	}
	b, err := s.bucketFor(ctx, in.Principal, in.Bucket)
	if err != nil {
		return nil, err
	}
	if err := validKey(in.Key); err != nil {
		return nil, err
	}
	// The object's lock state is set now, from the request or the bucket's default, and
	// completed with the upload's other headers.
	headers, err := s.withLock(ctx, in.Bucket, in.Headers, in.Lock)
	if err != nil {
		return nil, err
	}
	now := s.now().UTC()
	u := meta.Upload{ID: newUploadID(now), Bucket: in.Bucket, Key: in.Key, Owner: writer(in.Principal, b.Owner), Scope: s.scope(in.Principal, b.Owner),
		ContentType: in.ContentType, Headers: headers, UserMeta: in.UserMeta, ChecksumAlgo: algo, ChecksumType: typ, Initiated: now}
	if err := s.meta.CreateUpload(ctx, u); err != nil {
		// Not found: the bucket was deleted since bucketFor looked.
		return nil, metaErr(err, CodeNoSuchBucket)
	}
	return &CreateUploadOutput{UploadID: u.ID, ChecksumAlgorithm: algo, ChecksumType: typ, Encrypted: s.dedup.Encrypted(b.Backend)}, nil
}

// uploadChecksum checks a CreateMultipartUpload's checksum algorithm and type as S3
// does: only the CRCs combine into a FULL_OBJECT checksum (CRC64NVME into nothing
// else, and it is the default type for CRC64NVME); every other algorithm is
// COMPOSITE, a checksum of the parts' checksums.
func uploadChecksum(algo, typ string) (string, string, error) {
	typ = strings.ToUpper(typ)
	if typ != "" && typ != ChecksumFullObject && typ != ChecksumComposite {
		return "", "", errorf(CodeInvalidRequest, "Value for x-amz-checksum-type header is invalid.")
	}
	if algo == "" {
		if typ != "" {
			return "", "", errorf(CodeInvalidRequest, "The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header.")
		}
		return "", "", nil
	}
	algo, err := digest.Normalize(algo)
	if err != nil {
		return "", "", UnsupportedChecksumAlgorithm()
	}
	switch {
	case typ == "" && algo == digest.CRC64NVME:
		typ = ChecksumFullObject
	case typ == "":
		typ = ChecksumComposite
	case typ == ChecksumFullObject && !digest.FullObjectCapable(algo), typ == ChecksumComposite && algo == digest.CRC64NVME:
		return "", "", errorf(CodeInvalidRequest, "The %s checksum type cannot be used with the %s checksum algorithm.", typ, strings.ToLower(algo))
	}
	return algo, typ, nil
}

func (s *Service) uploadFor(ctx context.Context, p Principal, bucket, key, id string) (meta.Bucket, meta.Upload, error) {
	b, err := s.bucketFor(ctx, p, bucket)
	if err != nil {
		return b, meta.Upload{}, err
	}
	u, err := s.meta.GetUpload(ctx, bucket, key, id)
	if err != nil {
		return b, u, metaErr(err, CodeNoSuchUpload)
	}
	return b, u, nil
}

// UploadPartInput is one UploadPart.
type UploadPartInput struct {
	Principal   Principal
	Bucket, Key string
	UploadID    string
	PartNumber  int
	Body        Body
}

// UploadPartOutput is the part's ETag and checksum.
type UploadPartOutput struct {
	ETag         string
	Checksums    map[string]string
	LastModified time.Time
	Instant      bool
	// Encrypted: the part is stored encrypted at rest (SSE-S3).
	Encrypted bool
	// SourceVersionID is an UploadPartCopy's x-amz-copy-source-version-id.
	SourceVersionID string
}

func checkPartNumber(n int) error {
	if n < 1 || n > MaxParts {
		return errorf(CodeInvalidArgument, "Part number must be an integer between 1 and 10000, inclusive.")
	}
	return nil
}

// UploadPart stores one part as a chunk (deduplicated like any other), or completes
// at once without the body when the caller's scope already stored its content.
func (s *Service) UploadPart(ctx context.Context, in *UploadPartInput) (*UploadPartOutput, error) {
	if err := checkPartNumber(in.PartNumber); err != nil {
		return nil, err
	}
	b, u, err := s.uploadFor(ctx, in.Principal, in.Bucket, in.Key, in.UploadID)
	if err != nil {
		return nil, err
	}
	if in.Body.Size > MaxPartSize {
		return nil, errorf(CodeEntityTooLarge, "Your proposed upload exceeds the maximum allowed size")
	}
	// The object will be locked (its upload took a retention or a legal hold): each
	// part needs a body its client vouches for, as a locked PutObject does.
	if locks(u.Headers) && !in.Body.checkedByClient() {
		return nil, errLockNeedsIntegrity("Upload Part")
	}
	keep, shown, err := partChecksum(u, &in.Body)
	if err != nil {
		return nil, err
	}
	scope := s.scope(in.Principal, b.Owner)
	enc := s.dedup.Encrypted(b.Backend)
	if out, ok, err := s.instantPart(ctx, in, u, scope, keep, shown, b); ok || err != nil {
		return out, err
	}
	ing, err := s.dedup.Ingest(ctx, dedup.IngestInput{Body: in.Body.Reader, Expect: in.Body.expect(keep), Backend: b.Backend, Scope: scope})
	if err != nil {
		return nil, s.ingestErr(err)
	}
	sums := ing.Sums
	p := meta.Part{Number: in.PartNumber, Size: sums.Size, ETag: hex.EncodeToString(sums.MD5[:]),
		Checksums: checksumsOf(keep, sums.Checksums[keep]), LastModified: s.now().UTC()}
	err = s.dedup.Settle(ctx, ing, func(c meta.Chunk) error {
		p.Extents = manifestOf(c, sums.Size)
		for i := range p.Extents {
			p.Extents[i].PartNumber = in.PartNumber
		}
		return s.meta.PutPart(ctx, u.ID, p)
	})
	if err != nil {
		return nil, metaErr(err, CodeNoSuchUpload)
	}
	if enc {
		// Ingest gave content indexed in clear this part's encrypted copy; this covers a
		// clear copy indexed by a concurrent writer after that, or an adoption that failed.
		if err := s.ensureEncrypted(ctx, b, []meta.Extent{{Chunk: ing.Chunk}}); err != nil {
			return nil, err
		}
	}
	return &UploadPartOutput{ETag: p.ETag, LastModified: p.LastModified, Checksums: checksumsOf(shown, sums.Checksums[shown]), Encrypted: enc}, nil
}

// partChecksum applies S3's rules for a part's checksum to a body: it returns the
// algorithm the part keeps (the upload's, or for an upload created without one the
// default CRC64NVME, from which Complete derives the object's) and the one its answer
// shows (the declared one, or the upload's). A declared algorithm other than the
// upload's is refused, and so is none at all when the upload is COMPOSITE: its checksum
// is made of every part's as the client computed it. An upload without an algorithm
// takes any checksum, verifies it and keeps only the CRC64NVME.
func partChecksum(u meta.Upload, b *Body) (keep, shown string, err error) {
	declared := b.ChecksumAlgorithm
	switch {
	case u.ChecksumAlgo == "":
		if declared == "" {
			b.ChecksumAlgorithm = digest.CRC64NVME
		}
		return digest.CRC64NVME, declared, nil
	case declared != "" && declared != u.ChecksumAlgo,
		declared == "" && u.ChecksumType == ChecksumComposite:
		return "", "", checksumTypeMismatch(u.ChecksumAlgo, declared)
	}
	b.ChecksumAlgorithm = u.ChecksumAlgo
	return u.ChecksumAlgo, u.ChecksumAlgo, nil
}

func (s *Service) instantPart(ctx context.Context, in *UploadPartInput, u meta.Upload, scope, keep, shown string, b meta.Bucket) (*UploadPartOutput, bool, error) {
	sum, ok := in.Body.trustedSHA256()
	if !ok || in.Body.Size <= 0 || in.Principal.Anonymous {
		// No instant upload for anonymous writers: see instantPut.
		return nil, false, nil
	}
	c, err := s.dedup.Lookup(ctx, sum, scope)
	if err != nil || c.Size != in.Body.Size || c.Corrupt {
		return nil, false, nil
	}
	if len(in.Body.ContentMD5) > 0 && string(in.Body.ContentMD5) != string(c.MD5[:]) {
		return nil, false, nil
	}
	// The part's own checksum must be proven, but the default CRC64NVME a part of an
	// upload without an algorithm keeps beside a checksum its client declared is not
	// worth the body: without it the object only misses its default checksum.
	var checksums map[string]string
	if u.ChecksumAlgo == "" && in.Body.ChecksumAlgorithm != keep {
		checksums, ok = in.Body.provenChecksums(sum, c.MD5[:], c.Checksums)
		if v := knownChecksum(keep, sum[:], c.MD5[:], c.Checksums); ok && v != "" {
			checksums[keep] = v
		}
	} else {
		checksums, ok = in.Body.provenChecksums(sum, c.MD5[:], c.Checksums, keep)
	}
	if !ok {
		return nil, false, nil
	}
	p := meta.Part{Number: in.PartNumber, Size: c.Size, ETag: hex.EncodeToString(c.MD5[:]), Checksums: checksumsOf(keep, checksums[keep]),
		LastModified: s.now().UTC(), Extents: []meta.Extent{{PartNumber: in.PartNumber, ChunkID: c.ID, Length: c.Size}}}
	enc := s.dedup.Encrypted(b.Backend)
	if enc && s.ensureEncrypted(ctx, b, []meta.Extent{{Chunk: c}}) != nil {
		return nil, false, nil // take the body instead (logged by ensureEncrypted)
	}
	if err := s.verifyUnstored(&in.Body); err != nil {
		return nil, false, err
	}
	if err := s.meta.PutPart(ctx, u.ID, p); err != nil {
		if errors.Is(err, meta.ErrConflict) {
			return nil, false, s.lostRace(in.Body)
		}
		return nil, false, metaErr(err, CodeNoSuchUpload)
	}
	if s.cfg.OnInstant != nil && in.Body.Unread {
		s.cfg.OnInstant(c.Size)
	}
	return &UploadPartOutput{ETag: p.ETag, Checksums: checksumsOf(shown, checksums[shown]), LastModified: p.LastModified, Instant: in.Body.Unread, Encrypted: enc}, true, nil
}

// UploadPartCopyInput copies a range of an existing object into a part.
type UploadPartCopyInput struct {
	Principal         Principal
	Bucket, Key       string
	UploadID          string
	PartNumber        int
	SrcBucket, SrcKey string
	SrcVersionID      string // x-amz-copy-source's versionId ("" the current version)
	SrcCond           Conditions
	Range             *Range // nil = whole object; must be a bounded range
}

// UploadPartCopy builds the part from slices of the source's chunks: no bytes are
// written. The part's MD5 (its ETag) and checksum (the upload's algorithm, or the
// default CRC64NVME kept for an upload without one) are known without reading when the
// part is a whole single-part object that has them; otherwise the range is read once
// to hash it.
func (s *Service) UploadPartCopy(ctx context.Context, in *UploadPartCopyInput) (*UploadPartOutput, error) {
	if err := checkPartNumber(in.PartNumber); err != nil {
		return nil, err
	}
	b, u, err := s.uploadFor(ctx, in.Principal, in.Bucket, in.Key, in.UploadID)
	if err != nil {
		return nil, err
	}
	if _, err := s.bucketFor(ctx, in.Principal, in.SrcBucket); err != nil {
		return nil, err
	}
	src, err := s.readVersion(ctx, in.SrcBucket, in.SrcKey, in.SrcVersionID)
	if err != nil {
		return nil, metaErr(err, CodeNoSuchKey)
	}
	if err := in.SrcCond.check(infoOf(src), false); err != nil {
		return nil, err
	}
	off, length := int64(0), src.Size
	if in.Range != nil {
		if in.Range.IsSuffix || in.Range.End < 0 {
			return nil, errorf(CodeInvalidArgument, "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy")
		}
		if in.Range.End >= src.Size || in.Range.Start >= src.Size {
			// S3's words for a well-formed range the source does not cover.
			return nil, &Error{Code: CodeInvalidArgument, Message: fmt.Sprintf("Range specified is not valid for source object of size: %d", src.Size),
				Extra: map[string]string{"ArgumentName": "x-amz-copy-source-range",
					"ArgumentValue": fmt.Sprintf("bytes=%d-%d", in.Range.Start, in.Range.End)}}
		}
		off, length = in.Range.Start, in.Range.End-in.Range.Start+1
	}
	if length > MaxPartSize {
		return nil, errorf(CodeInvalidRequest, "The specified copy source is larger than the maximum allowable size for a copy source: 5368709120")
	}
	extents := sliceManifest(src.Manifest, off, length, in.PartNumber)
	keep := u.ChecksumAlgo
	if keep == "" {
		keep = digest.CRC64NVME
	}
	var etag, sum string
	if off == 0 && length == src.Size && len(src.Parts) == 0 {
		etag, sum = src.ETag, objectChecksum(src, keep)
	}
	if etag == "" || sum == "" {
		body, err := s.openRange(ctx, src, off, length)
		if err != nil {
			return nil, err
		}
		dr, err := digest.NewReader(body, digest.Expect{Size: length, Also: []string{keep}})
		if err == nil {
			_, err = drain(dr)
		}
		body.Close()
		if err != nil {
			return nil, s.readErr(in.SrcBucket, in.SrcKey, err)
		}
		sums := dr.Sums()
		etag, sum = hex.EncodeToString(sums.MD5[:]), sums.Checksums[keep]
	}
	p := meta.Part{Number: in.PartNumber, Size: length, ETag: etag, Checksums: checksumsOf(keep, sum), LastModified: s.now().UTC(), Extents: extents}
	enc := s.dedup.Encrypted(b.Backend)
	if enc {
		if err := s.ensureEncrypted(ctx, b, src.Manifest); err != nil {
			return nil, err
		}
	}
	if err := s.meta.PutPart(ctx, u.ID, p); err != nil {
		return nil, metaErr(err, CodeNoSuchUpload)
	}
	// Like S3, the answer shows a checksum only for an upload created with an algorithm.
	srcVersion, err := s.shownVersion(ctx, src)
	if err != nil {
		return nil, err
	}
	return &UploadPartOutput{ETag: etag, Checksums: checksumsOf(u.ChecksumAlgo, sum), LastModified: p.LastModified, Encrypted: enc,
		SourceVersionID: srcVersion}, nil
}

// sliceManifest returns the extents covering [off, off+length) of a manifest.
func sliceManifest(m []meta.Extent, off, length int64, part int) []meta.Extent {
	var out []meta.Extent
	var pos int64
	end := off + length
	for _, e := range m {
		eStart, eEnd := pos, pos+e.Length
		pos = eEnd
		if eEnd <= off || eStart >= end {
			continue
		}
		from := max(off, eStart) - eStart
		to := min(end, eEnd) - eStart
		out = append(out, meta.Extent{PartNumber: part, ChunkID: e.ChunkID, ChunkOffset: e.ChunkOffset + from, Length: to - from})
	}
	return out
}

// CompletePart is one entry of a CompleteMultipartUpload body.
type CompletePart struct {
	PartNumber int
	ETag       string
	// Checksums are the part's checksums as the client listed them (s3api allows one).
	Checksums map[string]string
}

// CompleteUploadInput completes an upload.
type CompleteUploadInput struct {
	Principal   Principal
	Bucket, Key string
	UploadID    string
	Parts       []CompletePart
	// FullChecksum is the whole-object checksum the client declared (algorithm ->
	// value, at most one; a composite value may end in "-" and the part count).
	FullChecksum map[string]string
	// ChecksumType is x-amz-checksum-type ("" when absent): it must be the upload's.
	ChecksumType string
	Cond         WriteCondition
	// ObjectSize is the size the client expects the object to have (S3's
	// x-amz-mp-object-size), -1 when not given.
	ObjectSize int64
}

// CompleteUploadOutput is the new object's identity.
type CompleteUploadOutput struct {
	ETag         string
	Checksums    map[string]string
	ChecksumType string
	// Expiration is when a lifecycle rule will delete the object (nil: no rule will).
	Expiration *Expiry
	// Encrypted: the object is stored encrypted at rest (SSE-S3).
	Encrypted bool
	// VersionID is the version written, as x-amz-version-id shows it ("": the null
	// version, which S3 answers without one).
	VersionID string
}

// CompleteMultipartUpload writes the object's manifest from its parts in one metadata
// transaction: no data is copied and the object reads back at once. The object's
// checksum is derived from the parts' without reading them: the CRC of the whole
// (FULL_OBJECT, by CRC combination) or the checksum of the parts' checksums
// (COMPOSITE); an upload created without an algorithm gets S3's default, a full-object
// CRC64NVME.
//
// A Complete repeated after it succeeded (an SDK's retry of a request whose answer was
// lost, or concurrent Completes of one upload) gets the same answer again, as on S3,
// instead of NoSuchUpload: while the object that upload created is still the key's
// current version (see CompletedUploadKey), a Complete naming the same parts is answered
// from it. Once the key is overwritten or deleted, the upload is gone for good.
func (s *Service) CompleteMultipartUpload(ctx context.Context, in *CompleteUploadInput) (*CompleteUploadOutput, error) {
	out, err := s.completeUpload(ctx, in)
	var te *Error
	if errors.As(err, &te) && te.Code == CodeNoSuchUpload {
		if done, ok := s.completedBefore(ctx, in); ok {
			return done, nil
		}
	}
	return out, err
}

// cacheSettle is how long completedBefore waits before its second look at the key.
const cacheSettle = 50 * time.Millisecond

// CompletedUploadKey is where an object completed from a multipart upload records that
// upload's id, among its stored headers (as TaggingKey keeps tags: no column, no codec
// change). A lower-case name no representation header can take; infoOf drops it, so it
// is never sent to a client, and a copy never carries it to another object.
const CompletedUploadKey = "x-s3proxy-upload-id"

// completedBefore answers a Complete of an upload that no longer exists when the key's
// current object was completed from it with the same list of parts.
func (s *Service) completedBefore(ctx context.Context, in *CompleteUploadInput) (*CompleteUploadOutput, bool) {
	if in.UploadID == "" {
		return nil, false
	}
	o, err := s.meta.GetObject(ctx, in.Bucket, in.Key)
	if err == nil && o.Headers[CompletedUploadKey] != in.UploadID {
		// A Complete that lost a race to another Complete of the same upload can read
		// the key through an object cache a moment before the winner's commit has
		// invalidated it there (a cache drops a key after the commit): read once more.
		// Only a Complete about to fail waits.
		select {
		case <-ctx.Done():
			return nil, false
		case <-time.After(cacheSettle):
		}
		o, err = s.meta.GetObject(ctx, in.Bucket, in.Key)
	}
	if err != nil || o.Headers[CompletedUploadKey] != in.UploadID || len(o.Parts) != len(in.Parts) {
		return nil, false
	}
	for i, p := range in.Parts {
		if o.Parts[i].Number != p.PartNumber || o.Parts[i].ETag != strings.Trim(p.ETag, `"`) {
			return nil, false
		}
	}
	return &CompleteUploadOutput{ETag: o.ETag, Checksums: o.Checksums, ChecksumType: o.ChecksumType, Expiration: s.expiryOf(ctx, o),
		Encrypted: s.objectEncrypted(meta.Bucket{}, o.Manifest), VersionID: o.VersionID}, true
}

func (s *Service) completeUpload(ctx context.Context, in *CompleteUploadInput) (*CompleteUploadOutput, error) {
	b, u, err := s.uploadFor(ctx, in.Principal, in.Bucket, in.Key, in.UploadID)
	if err != nil {
		return nil, err
	}
	declaredAlgo, declared := "", ""
	for a, v := range in.FullChecksum {
		declaredAlgo, declared = a, v
	}
	if err := checkCompleteChecksum(u, in.ChecksumType, declaredAlgo); err != nil {
		return nil, err
	}
	if len(in.Parts) == 0 {
		return nil, &Error{Code: CodeMalformedXML} // S3 says no more than that
	}
	have := map[int]meta.Part{}
	after := 0
	for {
		ps, truncated, err := s.meta.ListParts(ctx, u.ID, after, 1000)
		if err != nil {
			return nil, metaErr(err, CodeNoSuchUpload)
		}
		for _, p := range ps {
			have[p.Number] = p
			after = p.Number
		}
		if !truncated || len(ps) == 0 {
			break
		}
	}
	headers := maps.Clone(u.Headers)
	if headers == nil {
		headers = map[string]string{}
	}
	headers[CompletedUploadKey] = u.ID
	obj := meta.Object{Bucket: in.Bucket, Key: in.Key, ContentType: u.ContentType, Headers: headers, UserMeta: u.UserMeta,
		Owner: u.Owner, Scope: u.Owner}
	md5s := md5.New()
	var composite hash.Hash
	if u.ChecksumType == ChecksumComposite {
		composite, _ = digest.New(u.ChecksumAlgo)
	}
	prev := 0
	for i, cp := range in.Parts {
		if cp.PartNumber <= prev {
			return nil, errorf(CodeInvalidPartOrder, "The list of parts was not in ascending order. Parts must be ordered by part number.")
		}
		prev = cp.PartNumber
		p, ok := have[cp.PartNumber]
		if !ok || strings.Trim(cp.ETag, `"`) != p.ETag {
			return nil, invalidPart()
		}
		if err := checkPartChecksums(u, cp, p); err != nil {
			return nil, err
		}
		if i < len(in.Parts)-1 && p.Size < MinPartSize {
			return nil, &Error{Code: CodeEntityTooSmall, Message: "Your proposed upload is smaller than the minimum allowed size",
				Extra: map[string]string{"ProposedSize": strconv.FormatInt(p.Size, 10), "MinSizeAllowed": strconv.Itoa(MinPartSize),
					"PartNumber": strconv.Itoa(p.Number), "ETag": p.ETag}}
		}
		if composite != nil {
			raw, err := base64.StdEncoding.DecodeString(p.Checksums[u.ChecksumAlgo])
			if err != nil || len(raw) != digest.Size(u.ChecksumAlgo) {
				// A part stored without the upload's checksum (before S3's rules were kept
				// here): the object's checksum cannot be made of it.
				return nil, invalidPart()
			}
			composite.Write(raw)
		}
		raw, _ := hex.DecodeString(p.ETag)
		md5s.Write(raw)
		obj.Size += p.Size
		obj.Manifest = append(obj.Manifest, stripChunks(p.Extents)...)
		obj.Parts = append(obj.Parts, meta.Part{Number: p.Number, Size: p.Size, ETag: p.ETag, Checksums: p.Checksums})
	}
	if in.ObjectSize >= 0 && in.ObjectSize != obj.Size {
		return nil, errorf(CodeInvalidRequest, "The provided 'x-amz-mp-object-size' header value %d does not match what was computed: %d", in.ObjectSize, obj.Size)
	}
	obj.ETag = fmt.Sprintf("%x-%d", md5s.Sum(nil), len(in.Parts))
	switch {
	case u.ChecksumAlgo == "":
		// S3's default: a full-object CRC64NVME, derived from the parts' (each part kept
		// one), when every part has it. A checksum the client declared is not checked:
		// S3 ignores one of the algorithms it had before 2026 here (and refuses the
		// newer ones, in checkCompleteChecksum).
		if v, err := combineFullObject(digest.CRC64NVME, obj.Parts); err == nil {
			obj.Checksums = map[string]string{digest.CRC64NVME: v}
			obj.ChecksumType = ChecksumFullObject
		}
	case composite != nil:
		value := base64.StdEncoding.EncodeToString(composite.Sum(nil))
		if declared != "" {
			d, n, suffixed := strings.Cut(declared, "-")
			if d != value || (suffixed && n != strconv.Itoa(len(in.Parts))) {
				return nil, badObjectChecksum(u.ChecksumAlgo)
			}
		}
		obj.Checksums = map[string]string{u.ChecksumAlgo: fmt.Sprintf("%s-%d", value, len(in.Parts))}
		obj.ChecksumType = ChecksumComposite
	default:
		value, err := combineFullObject(u.ChecksumAlgo, obj.Parts)
		if err != nil {
			return nil, invalidPart()
		}
		if declared != "" && declared != value {
			return nil, badObjectChecksum(u.ChecksumAlgo)
		}
		obj.Checksums = map[string]string{u.ChecksumAlgo: value}
		obj.ChecksumType = ChecksumFullObject
	}
	obj.ModTime = s.now().UTC()
	cond, err := s.versionedWrite(ctx, &obj, in.Cond.meta())
	if err != nil {
		return nil, err
	}
	if _, err := s.meta.CompleteUpload(ctx, u.ID, obj, cond); err != nil {
		if errors.Is(err, meta.ErrNotFound) {
			return nil, errorf(CodeNoSuchUpload, "The specified multipart upload does not exist.")
		}
		return nil, s.writeErr(err)
	}
	// The whole object's SHA-256 is computed later so it can serve instant uploads.
	if err := s.meta.Enqueue(ctx, JobHashObject, hashJobPayload(obj.Bucket, obj.Key, obj.ETag), s.now()); err != nil {
		s.log.Warn("enqueue hash job", "bucket", obj.Bucket, "key", obj.Key, "err", err)
	}
	// Every part was stored (or moved) encrypted when it was uploaded into this bucket.
	return &CompleteUploadOutput{ETag: obj.ETag, Checksums: obj.Checksums, ChecksumType: obj.ChecksumType, Expiration: s.expiryOf(ctx, obj),
		Encrypted: s.dedup.Encrypted(b.Backend), VersionID: obj.VersionID}, nil
}

func invalidPart() *Error {
	return errorf(CodeInvalidPart, "One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.")
}

func badObjectChecksum(algo string) *Error {
	return errorf(CodeBadDigest, "The %s you specified did not match the calculated checksum.", algo)
}

// checkCompleteChecksum checks the checksum type and object checksum a
// CompleteMultipartUpload declares against its upload, as S3 does: the type must be
// the upload's, and the checksum of its algorithm. An upload created without an
// algorithm ignores a checksum of the algorithms S3 had before (its default
// CRC64NVME is computed anyway) and refuses one of the newer ones.
func checkCompleteChecksum(u meta.Upload, typ, algo string) error {
	if u.ChecksumAlgo == "" {
		if algo != "" && !legacyChecksum(algo) {
			return checksumTypeMismatch("", algo)
		}
		return nil
	}
	if typ != "" && typ != u.ChecksumType {
		return errorf(CodeInvalidRequest, "The upload was created using the %s checksum mode. The complete request must use the same checksum mode.", u.ChecksumType)
	}
	if algo != "" && algo != u.ChecksumAlgo {
		return checksumTypeMismatch(u.ChecksumAlgo, algo)
	}
	return nil
}

// checkPartChecksums checks the checksums a CompleteMultipartUpload lists for a part
// against the stored part, with S3's answers: a checksum of another algorithm than the
// upload's is BadDigest, a value that differs from the part's is InvalidPart (the part
// named is not the one uploaded), and a COMPOSITE upload needs each part's checksum.
func checkPartChecksums(u meta.Upload, cp CompletePart, p meta.Part) error {
	for a, v := range cp.Checksums {
		if u.ChecksumAlgo != "" && a != u.ChecksumAlgo {
			return errorf(CodeBadDigest, "The %s you specified for part %d did not match what we received.", strings.ToLower(a), cp.PartNumber)
		}
		if p.Checksums[a] != v {
			return invalidPart()
		}
	}
	if u.ChecksumType == ChecksumComposite && cp.Checksums[u.ChecksumAlgo] == "" {
		return errorf(CodeInvalidRequest, "The upload was created using a %s checksum. The complete request must include the checksum for each part. It was missing for part %d in the request.",
			strings.ToLower(u.ChecksumAlgo), cp.PartNumber)
	}
	return nil
}

// AbortMultipartUpload drops an upload and releases its parts. With ifInitiated (S3's
// x-amz-if-match-initiated-time) it aborts only the upload initiated at that second:
// another is PreconditionFailed. A time still in the future cannot name an initiation
// and is ignored, as HTTP ignores a future If-Modified-Since. An upload's initiation
// never changes, so checking before the abort cannot race.
func (s *Service) AbortMultipartUpload(ctx context.Context, p Principal, bucket, key, id string, ifInitiated *time.Time) error {
	_, u, err := s.uploadFor(ctx, p, bucket, key, id)
	if err != nil {
		return err
	}
	if t := ifInitiated; t != nil && !t.After(s.now()) && !u.Initiated.Truncate(time.Second).Equal(t.Truncate(time.Second)) {
		return preconditionFailed("If-Match-Initiated-Time")
	}
	return metaErr(s.meta.AbortUpload(ctx, u.ID), CodeNoSuchUpload)
}

// ListPartsInput pages the parts of an upload.
type ListPartsInput struct {
	Principal   Principal
	Bucket, Key string
	UploadID    string
	Marker      int
	MaxParts    int
}

// ListPartsOutput is one page of parts.
type ListPartsOutput struct {
	Upload     UploadInfo
	Parts      []PartInfo
	Truncated  bool
	NextMarker int
}

// PartInfo describes an uploaded part.
type PartInfo struct {
	Number       int
	Size         int64
	ETag         string
	Checksums    map[string]string
	LastModified time.Time
}

// UploadInfo describes an upload in progress.
type UploadInfo struct {
	ID, Key, Owner string
	Initiated      time.Time
	ChecksumAlgo   string
	ChecksumType   string
}

// ListParts lists an upload's parts in ascending order.
func (s *Service) ListParts(ctx context.Context, in *ListPartsInput) (*ListPartsOutput, error) {
	_, u, err := s.uploadFor(ctx, in.Principal, in.Bucket, in.Key, in.UploadID)
	if err != nil {
		return nil, err
	}
	limit := in.MaxParts
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	ps, truncated, err := s.meta.ListParts(ctx, u.ID, in.Marker, limit)
	if err != nil {
		return nil, metaErr(err, CodeNoSuchUpload)
	}
	out := &ListPartsOutput{Upload: UploadInfo{ID: u.ID, Key: u.Key, Owner: u.Owner, Initiated: u.Initiated, ChecksumAlgo: u.ChecksumAlgo, ChecksumType: u.ChecksumType}, Truncated: truncated}
	for _, p := range ps {
		out.Parts = append(out.Parts, PartInfo{Number: p.Number, Size: p.Size, ETag: p.ETag, Checksums: p.Checksums, LastModified: p.LastModified})
		out.NextMarker = p.Number
	}
	return out, nil
}

// ListUploadsInput pages the uploads of a bucket.
type ListUploadsInput struct {
	Principal      Principal
	Bucket         string
	Prefix         string
	Delimiter      string
	KeyMarker      string
	UploadIDMarker string
	MaxUploads     int
}

// ListUploadsOutput is one page of uploads.
type ListUploadsOutput struct {
	Uploads            []UploadInfo
	CommonPrefixes     []string
	Truncated          bool
	NextKeyMarker      string
	NextUploadIDMarker string
}

// ListMultipartUploads lists uploads in progress.
func (s *Service) ListMultipartUploads(ctx context.Context, in *ListUploadsInput) (*ListUploadsOutput, error) {
	if _, err := s.bucketFor(ctx, in.Principal, in.Bucket); err != nil {
		return nil, err
	}
	// Without a key marker S3 ignores the upload-id marker; with one, it must be an
	// upload id.
	if in.KeyMarker != "" && in.UploadIDMarker != "" && !validUploadID(in.UploadIDMarker) {
		return nil, &Error{Code: CodeInvalidArgument, Message: "Invalid uploadId marker",
			Extra: map[string]string{"ArgumentName": "upload-id-marker", "ArgumentValue": in.UploadIDMarker}}
	}
	limit := in.MaxUploads
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	res, err := s.meta.ListUploads(ctx, in.Bucket, meta.UploadListQuery{Prefix: in.Prefix, Delimiter: in.Delimiter, KeyMarker: in.KeyMarker, UploadIDMarker: in.UploadIDMarker, Limit: limit})
	if err != nil {
		return nil, metaErr(err, CodeNoSuchBucket)
	}
	out := &ListUploadsOutput{CommonPrefixes: res.CommonPrefixes, Truncated: res.Truncated, NextKeyMarker: res.NextKeyMarker, NextUploadIDMarker: res.NextUploadIDMarker}
	for _, u := range res.Uploads {
		out.Uploads = append(out.Uploads, UploadInfo{ID: u.ID, Key: u.Key, Owner: u.Owner, Initiated: u.Initiated, ChecksumAlgo: u.ChecksumAlgo, ChecksumType: u.ChecksumType})
	}
	return out, nil
}

// combineFullObject derives the whole object's CRC from its parts' CRCs.
func combineFullObject(algo string, parts []meta.Part) (string, error) {
	cps := make([]digest.CombinePart, len(parts))
	for i, p := range parts {
		cps[i] = digest.CombinePart{Value: p.Checksums[algo], Size: p.Size}
	}
	return digest.Combine(algo, cps)
}
