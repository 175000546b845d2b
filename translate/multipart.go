package translate

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
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
}

// newUploadID returns 32 characters of URL-safe base64 (192 random bits) that start with
// a letter or digit: an id starting with "-" reads as an option on a command line
// (aws s3api upload-part --upload-id -Rj… fails with "expected one argument").
func newUploadID() string {
	var b [24]byte
	for {
		_, _ = rand.Read(b[:])
		id := base64.RawURLEncoding.EncodeToString(b[:])
		if id[0] != '-' && id[0] != '_' {
			return id
		}
	}
}

// CreateMultipartUpload registers an upload and returns its id.
func (s *Service) CreateMultipartUpload(ctx context.Context, in *CreateUploadInput) (string, error) {
	if _, err := s.bucketFor(ctx, in.Principal, in.Bucket); err != nil {
		return "", err
	}
	if err := validKey(in.Key); err != nil {
		return "", err
	}
	algo, typ := in.ChecksumAlgorithm, strings.ToUpper(in.ChecksumType)
	if algo != "" {
		a, err := digest.Normalize(algo)
		if err != nil {
			return "", errorf(CodeInvalidRequest, "Checksum algorithm provided is unsupported.")
		}
		algo = a
		switch {
		case typ == "" && algo == digest.CRC64NVME:
			typ = "FULL_OBJECT"
		case typ == "":
			typ = "COMPOSITE"
		case typ == "FULL_OBJECT" && (algo == digest.SHA1 || algo == digest.SHA256):
			return "", errorf(CodeInvalidRequest, "The %s checksum algorithm does not support the FULL_OBJECT checksum type.", algo)
		case typ == "COMPOSITE" && algo == digest.CRC64NVME:
			return "", errorf(CodeInvalidRequest, "The CRC64NVME checksum algorithm supports only the FULL_OBJECT checksum type.")
		case typ != "FULL_OBJECT" && typ != "COMPOSITE":
			return "", errorf(CodeInvalidRequest, "Value for x-amz-checksum-type header is invalid.")
		}
	} else if typ != "" {
		return "", errorf(CodeInvalidRequest, "The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header.")
	}
	u := meta.Upload{ID: newUploadID(), Bucket: in.Bucket, Key: in.Key, Owner: in.Principal.AccessKey, Scope: s.scope(in.Principal),
		ContentType: in.ContentType, Headers: in.Headers, UserMeta: in.UserMeta, ChecksumAlgo: algo, ChecksumType: typ, Initiated: s.now().UTC()}
	if err := s.meta.CreateUpload(ctx, u); err != nil {
		return "", metaErr(err, "")
	}
	return u.ID, nil
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
}

func checkPartNumber(n int) error {
	if n < 1 || n > MaxParts {
		return errorf(CodeInvalidArgument, "Part number must be an integer between 1 and 10000, inclusive")
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
	declared := in.Body.ChecksumAlgorithm != ""
	switch {
	case !declared && u.ChecksumAlgo != "":
		in.Body.ChecksumAlgorithm = u.ChecksumAlgo
		declared = true
	case !declared:
		// Parts get a CRC64NVME so that Complete can derive the object's full checksum.
		in.Body.ChecksumAlgorithm = digest.CRC64NVME
	}
	scope := s.scope(in.Principal)
	if out, ok, err := s.instantPart(ctx, in, u, scope); ok || err != nil {
		if out != nil && !declared {
			out.Checksums = nil
		}
		return out, err
	}
	ing, err := s.dedup.Ingest(ctx, dedup.IngestInput{Body: in.Body.Reader, Expect: in.Body.expect(), Backend: b.Backend, Scope: scope})
	if err != nil {
		return nil, s.ingestErr(err)
	}
	sums := ing.Sums
	p := meta.Part{Number: in.PartNumber, Size: sums.Size, ETag: hex.EncodeToString(sums.MD5[:]),
		Checksums: checksumsOf(in.Body.ChecksumAlgorithm, sums.Checksum), LastModified: s.now().UTC()}
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
	out := &UploadPartOutput{ETag: p.ETag, LastModified: p.LastModified}
	if declared {
		out.Checksums = p.Checksums
	}
	return out, nil
}

func (s *Service) instantPart(ctx context.Context, in *UploadPartInput, u meta.Upload, scope string) (*UploadPartOutput, bool, error) {
	sum, ok := in.Body.trustedSHA256()
	if !ok || in.Body.Size <= 0 {
		return nil, false, nil
	}
	c, err := s.dedup.Lookup(ctx, sum, scope)
	if err != nil || c.Size != in.Body.Size || c.Corrupt {
		return nil, false, nil
	}
	if len(in.Body.ContentMD5) > 0 && string(in.Body.ContentMD5) != string(c.MD5[:]) {
		return nil, false, nil
	}
	checksums, ok := in.Body.provenChecksums(sum, c.Checksums)
	if !ok {
		return nil, false, nil
	}
	p := meta.Part{Number: in.PartNumber, Size: c.Size, ETag: hex.EncodeToString(c.MD5[:]), Checksums: checksums, LastModified: s.now().UTC(),
		Extents: []meta.Extent{{PartNumber: in.PartNumber, ChunkID: c.ID, Length: c.Size}}}
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
	return &UploadPartOutput{ETag: p.ETag, Checksums: checksums, LastModified: p.LastModified, Instant: in.Body.Unread}, true, nil
}

// UploadPartCopyInput copies a range of an existing object into a part.
type UploadPartCopyInput struct {
	Principal         Principal
	Bucket, Key       string
	UploadID          string
	PartNumber        int
	SrcBucket, SrcKey string
	SrcCond           Conditions
	Range             *Range // nil = whole object; must be a bounded range
}

// UploadPartCopy builds the part from slices of the source's chunks: no bytes are
// written. The part's MD5 (its ETag) is known without reading only when the part is a
// whole single-chunk object; otherwise the range is read once to hash it.
func (s *Service) UploadPartCopy(ctx context.Context, in *UploadPartCopyInput) (*UploadPartOutput, error) {
	if err := checkPartNumber(in.PartNumber); err != nil {
		return nil, err
	}
	_, u, err := s.uploadFor(ctx, in.Principal, in.Bucket, in.Key, in.UploadID)
	if err != nil {
		return nil, err
	}
	if _, err := s.bucketFor(ctx, in.Principal, in.SrcBucket); err != nil {
		return nil, err
	}
	src, err := s.meta.GetObject(ctx, in.SrcBucket, in.SrcKey)
	if err != nil {
		return nil, metaErr(err, CodeNoSuchKey)
	}
	if err := in.SrcCond.check(infoOf(src), false); err != nil {
		return nil, err
	}
	off, length := int64(0), src.Size
	if in.Range != nil {
		if in.Range.IsSuffix || in.Range.End < 0 || in.Range.End >= src.Size || in.Range.Start >= src.Size {
			return nil, errorf(CodeInvalidArgument, "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy")
		}
		off, length = in.Range.Start, in.Range.End-in.Range.Start+1
	}
	if length > MaxPartSize {
		return nil, errorf(CodeInvalidRequest, "The specified copy source is larger than the maximum allowable size for a copy source: 5368709120")
	}
	extents := sliceManifest(src.Manifest, off, length, in.PartNumber)
	var etag string
	var checksums map[string]string
	if off == 0 && length == src.Size && len(src.Parts) == 0 {
		etag = src.ETag
	} else {
		body, err := s.openRange(ctx, src, off, length)
		if err != nil {
			return nil, err
		}
		dr, _ := digest.NewReader(body, digest.Expect{Size: length, Algorithm: u.ChecksumAlgo})
		_, err = drain(dr)
		body.Close()
		if err != nil {
			return nil, s.readErr(in.SrcBucket, in.SrcKey, err)
		}
		sums := dr.Sums()
		etag = hex.EncodeToString(sums.MD5[:])
		checksums = checksumsOf(u.ChecksumAlgo, sums.Checksum)
	}
	p := meta.Part{Number: in.PartNumber, Size: length, ETag: etag, Checksums: checksums, LastModified: s.now().UTC(), Extents: extents}
	if err := s.meta.PutPart(ctx, u.ID, p); err != nil {
		return nil, metaErr(err, CodeNoSuchUpload)
	}
	return &UploadPartOutput{ETag: etag, Checksums: checksums, LastModified: p.LastModified}, nil
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
	Checksums  map[string]string
}

// CompleteUploadInput completes an upload.
type CompleteUploadInput struct {
	Principal   Principal
	Bucket, Key string
	UploadID    string
	Parts       []CompletePart
	// FullChecksum is the whole-object checksum the client declared (algorithm -> value).
	FullChecksum map[string]string
	Cond         WriteCondition
}

// CompleteUploadOutput is the new object's identity.
type CompleteUploadOutput struct {
	ETag         string
	Checksums    map[string]string
	ChecksumType string
}

// CompleteMultipartUpload writes the object's manifest from its parts in one metadata
// transaction: no data is copied and the object reads back at once.
func (s *Service) CompleteMultipartUpload(ctx context.Context, in *CompleteUploadInput) (*CompleteUploadOutput, error) {
	_, u, err := s.uploadFor(ctx, in.Principal, in.Bucket, in.Key, in.UploadID)
	if err != nil {
		return nil, err
	}
	if len(in.Parts) == 0 {
		return nil, errorf(CodeMalformedXML, "You must specify at least one part")
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
	obj := meta.Object{Bucket: in.Bucket, Key: in.Key, ContentType: u.ContentType, Headers: u.Headers, UserMeta: u.UserMeta,
		Owner: u.Owner, Scope: u.Owner}
	md5s := md5.New()
	var composite []byte
	prev := 0
	for i, cp := range in.Parts {
		if cp.PartNumber <= prev {
			return nil, errorf(CodeInvalidPartOrder, "The list of parts was not in ascending order. Parts must be ordered by part number.")
		}
		prev = cp.PartNumber
		p, ok := have[cp.PartNumber]
		if !ok || strings.Trim(cp.ETag, `"`) != p.ETag {
			return nil, errorf(CodeInvalidPart, "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.")
		}
		if i < len(in.Parts)-1 && p.Size < MinPartSize {
			return nil, errorf(CodeEntityTooSmall, "Your proposed upload is smaller than the minimum allowed object size.")
		}
		if u.ChecksumAlgo != "" {
			v := p.Checksums[u.ChecksumAlgo]
			if want, ok := cp.Checksums[u.ChecksumAlgo]; ok && want != v {
				return nil, errorf(CodeInvalidPart, "The checksum of part %d does not match the uploaded part.", cp.PartNumber)
			}
			raw, _ := base64.StdEncoding.DecodeString(v)
			composite = append(composite, raw...)
		}
		raw, _ := hex.DecodeString(p.ETag)
		md5s.Write(raw)
		obj.Size += p.Size
		obj.Manifest = append(obj.Manifest, stripChunks(p.Extents)...)
		obj.Parts = append(obj.Parts, meta.Part{Number: p.Number, Size: p.Size, ETag: p.ETag, Checksums: p.Checksums})
	}
	obj.ETag = fmt.Sprintf("%x-%d", md5s.Sum(nil), len(in.Parts))
	if u.ChecksumAlgo == "" {
		// No checksum was asked for: derive S3's default full-object CRC64NVME from the
		// parts' (each part computed one), when every part has it.
		if v, err := combineFullObject(digest.CRC64NVME, obj.Parts); err == nil {
			obj.Checksums = map[string]string{digest.CRC64NVME: v}
			obj.ChecksumType = "FULL_OBJECT"
		}
	} else {
		var value string
		if u.ChecksumType == "FULL_OBJECT" {
			v, err := combineFullObject(u.ChecksumAlgo, obj.Parts)
			if err != nil {
				return nil, errorf(CodeInvalidRequest, "%v", err)
			}
			value = v
		} else {
			h, _ := digest.New(u.ChecksumAlgo)
			h.Write(composite)
			value = fmt.Sprintf("%s-%d", base64.StdEncoding.EncodeToString(h.Sum(nil)), len(in.Parts))
		}
		if want, ok := in.FullChecksum[u.ChecksumAlgo]; ok && want != value {
			return nil, errorf(CodeBadDigest, "The %s you specified for the full object did not match what was calculated.", u.ChecksumAlgo)
		}
		obj.Checksums = map[string]string{u.ChecksumAlgo: value}
		obj.ChecksumType = u.ChecksumType
	}
	obj.ModTime = s.now().UTC()
	if _, err := s.meta.CompleteUpload(ctx, u.ID, obj, in.Cond.meta()); err != nil {
		if errors.Is(err, meta.ErrNotFound) {
			return nil, errorf(CodeNoSuchUpload, "The specified multipart upload does not exist.")
		}
		return nil, s.writeErr(err)
	}
	// The whole object's SHA-256 is computed later so it can serve instant uploads.
	if err := s.meta.Enqueue(ctx, JobHashObject, hashJobPayload(obj.Bucket, obj.Key, obj.ETag), s.now()); err != nil {
		s.log.Warn("enqueue hash job", "bucket", obj.Bucket, "key", obj.Key, "err", err)
	}
	return &CompleteUploadOutput{ETag: obj.ETag, Checksums: obj.Checksums, ChecksumType: obj.ChecksumType}, nil
}

// AbortMultipartUpload drops an upload and releases its parts.
func (s *Service) AbortMultipartUpload(ctx context.Context, p Principal, bucket, key, id string) error {
	_, u, err := s.uploadFor(ctx, p, bucket, key, id)
	if err != nil {
		return err
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
