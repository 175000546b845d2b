package s3api

import (
	"encoding/base64"
	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"s3proxy/s3api/s3err"
	"s3proxy/s3api/sigv4"
	"s3proxy/translate"
	"s3proxy/translate/buckettags"
)

// Limits on what a client may send outside object bodies.
const (
	maxXMLBody      = 1 << 20 // DeleteObjects, CreateBucket and similar
	maxCompleteBody = 4 << 20 // CompleteMultipartUpload lists up to 10,000 parts
	maxUserMeta     = 2 << 10 // S3's limit on user-defined metadata
)

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// operation names the S3 operation of a request (for logs and metrics).
func operation(r *http.Request, bucket, key string) string {
	q := r.URL.Query()
	has := func(k string) bool { _, ok := q[k]; return ok }
	switch {
	case bucket == "":
		if r.Method == http.MethodGet {
			return "ListBuckets"
		}
	case key == "":
		switch r.Method {
		case http.MethodGet:
			switch {
			case has("location"):
				return "GetBucketLocation"
			case has("uploads"):
				return "ListMultipartUploads"
			case has("versions"):
				return "ListObjectVersions"
			case has("versioning"):
				return "GetBucketVersioning"
			case has("acl"):
				return "GetBucketAcl"
			case q.Get("list-type") == "2":
				return "ListObjectsV2"
			case len(q) == 0 || has("prefix") || has("delimiter") || has("marker") || has("max-keys") || has("encoding-type"):
				return "ListObjects"
			}
			if op := bucketConfigOp(r.Method, has); op != "" {
				return op
			}
			return "GetBucketSubresource"
		case http.MethodPut:
			if len(q) == 0 {
				return "CreateBucket"
			}
			if has("acl") {
				return "PutBucketAcl"
			}
			if has("versioning") {
				return "PutBucketVersioning"
			}
			if op := bucketConfigOp(r.Method, has); op != "" {
				return op
			}
			return "PutBucketSubresource"
		case http.MethodHead:
			return "HeadBucket"
		case http.MethodDelete:
			if len(q) == 0 {
				return "DeleteBucket"
			}
			if op := bucketConfigOp(r.Method, has); op != "" {
				return op
			}
			return "DeleteBucketSubresource"
		case http.MethodPost:
			if has("delete") {
				return "DeleteObjects"
			}
			if len(q) == 0 {
				// A browser form upload: authenticated by its fields (post.go).
				return "PostObject"
			}
		}
	default:
		switch r.Method {
		case http.MethodGet:
			switch {
			case has("uploadId"):
				return "ListParts"
			case has("acl"):
				return "GetObjectAcl"
			case has("tagging"):
				return "GetObjectTagging"
			case has("attributes"):
				return "GetObjectAttributes"
			case has("retention"):
				return "GetObjectRetention"
			case has("legal-hold"):
				return "GetObjectLegalHold"
			case has("torrent"):
				return "GetObjectSubresource"
			}
			return "GetObject"
		case http.MethodHead:
			return "HeadObject"
		case http.MethodPut:
			switch {
			case has("partNumber") && has("uploadId") && r.Header.Get("x-amz-copy-source") != "":
				return "UploadPartCopy"
			case has("partNumber") && has("uploadId"):
				return "UploadPart"
			case has("tagging"):
				return "PutObjectTagging"
			case has("acl"):
				return "PutObjectAcl"
			case has("retention"):
				return "PutObjectRetention"
			case has("legal-hold"):
				return "PutObjectLegalHold"
			case r.Header.Get("x-amz-copy-source") != "":
				return "CopyObject"
			}
			return "PutObject"
		case http.MethodDelete:
			if has("uploadId") {
				return "AbortMultipartUpload"
			}
			if has("tagging") {
				return "DeleteObjectTagging"
			}
			return "DeleteObject"
		case http.MethodPost:
			switch {
			case has("uploads"):
				return "CreateMultipartUpload"
			case has("uploadId"):
				return "CompleteMultipartUpload"
			}
		}
	}
	return "Unknown"
}

func (s *Server) dispatch(rq *request) error {
	if rq.op != "ListBuckets" && rq.bucket == "" {
		return s3err.New(s3err.MethodNotAllowed)
	}
	if err := checkVersionID(rq); err != nil {
		return err
	}
	if len(rq.key) > translate.MaxKeyLength {
		// S3 answers every request naming a longer key so (a HEAD gets the 400 alone):
		// no such key can exist.
		return s3err.New(s3err.KeyTooLongError)
	}
	if err := s.authorize(rq); err != nil {
		return err
	}
	if rq.op != "CreateBucket" {
		if err := s.checkExpectedOwner(rq, rq.bucket, "x-amz-expected-bucket-owner"); err != nil {
			return err
		}
	}
	if (rq.op == "CopyObject" || rq.op == "UploadPartCopy") && rq.r.Header.Get("x-amz-source-expected-bucket-owner") != "" {
		if sb, _, _, err := parseCopySource(rq.r.Header.Get("x-amz-copy-source")); err == nil {
			if err := s.checkExpectedOwner(rq, sb, "x-amz-source-expected-bucket-owner"); err != nil {
				return err
			}
		}
	}
	switch rq.op {
	case "ListBuckets":
		return s.listBuckets(rq)
	case "CreateBucket":
		return s.createBucket(rq)
	case "HeadBucket":
		return s.headBucket(rq)
	case "DeleteBucket":
		return s.deleteBucket(rq)
	case "GetBucketLocation":
		return s.getBucketLocation(rq)
	case "ListObjects":
		return s.listObjectsV1(rq)
	case "ListObjectsV2":
		return s.listObjectsV2(rq)
	case "ListObjectVersions":
		return s.listObjectVersions(rq)
	case "GetBucketVersioning":
		status, err := s.svc.BucketVersioning(rq.r.Context(), rq.principal, rq.bucket)
		if err != nil {
			return err
		}
		return s.writeXML(rq, http.StatusOK, versioningConfiguration{NS: s3NS, Status: status})
	case "PutBucketVersioning":
		return s.putBucketVersioning(rq)
	case "GetObjectLockConfiguration":
		return s.getObjectLockConfiguration(rq)
	case "PutObjectLockConfiguration":
		return s.putObjectLockConfiguration(rq)
	case "GetObjectRetention":
		return s.getObjectRetention(rq)
	case "PutObjectRetention":
		return s.putObjectRetention(rq)
	case "GetObjectLegalHold":
		return s.getObjectLegalHold(rq)
	case "PutObjectLegalHold":
		return s.putObjectLegalHold(rq)
	case "GetBucketAcl", "GetObjectAcl":
		return s.getACL(rq)
	case "PutBucketAcl", "PutObjectAcl":
		return s.putACL(rq)
	case "DeleteObjects":
		return s.deleteObjects(rq)
	case "PutObject":
		return s.putObject(rq)
	case "CopyObject":
		return s.copyObject(rq)
	case "GetObject":
		return s.getObject(rq, false)
	case "HeadObject":
		return s.getObject(rq, true)
	case "DeleteObject":
		res, err := s.svc.DeleteObject(rq.r.Context(), rq.principal, rq.bucket, rq.key, rq.r.URL.Query().Get("versionId"),
			deleteCondition(rq.r.Header.Get("If-Match")), s.bypassGovernance(rq))
		if err != nil {
			return err
		}
		setVersionID(rq.w.Header(), res.VersionID)
		if res.DeleteMarker {
			rq.w.Header().Set("x-amz-delete-marker", "true")
		}
		rq.w.WriteHeader(http.StatusNoContent)
		return nil
	case "CreateMultipartUpload":
		return s.createMultipartUpload(rq)
	case "UploadPart":
		return s.uploadPart(rq)
	case "UploadPartCopy":
		return s.uploadPartCopy(rq)
	case "CompleteMultipartUpload":
		return s.completeMultipartUpload(rq)
	case "AbortMultipartUpload":
		// S3's conditional abort; a malformed date is ignored, as in every date condition.
		ifInitiated := parseTime(rq.r.Header.Get("x-amz-if-match-initiated-time"))
		if err := s.svc.AbortMultipartUpload(rq.r.Context(), rq.principal, rq.bucket, rq.key, rq.r.URL.Query().Get("uploadId"), ifInitiated); err != nil {
			return err
		}
		rq.w.WriteHeader(http.StatusNoContent)
		return nil
	case "ListParts":
		return s.listParts(rq)
	case "ListMultipartUploads":
		return s.listMultipartUploads(rq)
	case "GetObjectAttributes":
		return s.getObjectAttributes(rq)
	case "GetBucketLifecycleConfiguration":
		return s.getBucketLifecycle(rq)
	case "PutBucketLifecycleConfiguration":
		return s.putBucketLifecycle(rq)
	case "DeleteBucketLifecycleConfiguration":
		return s.deleteBucketLifecycle(rq)
	case "GetBucketTagging":
		return s.getBucketTagging(rq)
	case "PutBucketTagging":
		return s.putBucketTagging(rq)
	case "DeleteBucketTagging":
		return s.deleteBucketTagging(rq)
	case "GetBucketCors":
		return s.getBucketCors(rq)
	case "PutBucketCors":
		return s.putBucketCors(rq)
	case "DeleteBucketCors":
		return s.deleteBucketCors(rq)
	case "GetBucketOwnershipControls":
		return s.getBucketOwnershipControls(rq)
	case "PutBucketOwnershipControls":
		return s.putBucketOwnershipControls(rq)
	case "DeleteBucketOwnershipControls":
		return s.deleteBucketOwnershipControls(rq)
	case "GetObjectTagging":
		return s.getObjectTagging(rq)
	case "PutObjectTagging":
		return s.putObjectTagging(rq)
	case "DeleteObjectTagging":
		return s.deleteObjectTagging(rq)
	case "GetBucketPolicy":
		return s.getBucketPolicy(rq)
	case "PutBucketPolicy":
		return s.putBucketPolicy(rq)
	case "DeleteBucketPolicy":
		return s.deleteBucketPolicy(rq)
	case "GetBucketPolicyStatus":
		return s.getBucketPolicyStatus(rq)
	case "GetPublicAccessBlock":
		return s.getPublicAccessBlock(rq)
	case "PutPublicAccessBlock":
		return s.putPublicAccessBlock(rq)
	case "DeletePublicAccessBlock":
		return s.deletePublicAccessBlock(rq)
	}
	if verb := verbs[rq.r.Method]; rq.key == "" && verb != "" {
		q := rq.r.URL.Query()
		if c, ok := bucketConfigIn(func(k string) bool { _, ok := q[k]; return ok }); ok {
			return s.bucketConfigRequest(rq, c, verb)
		}
	}
	return s3err.Newf(s3err.NotImplemented, "%s %s is not implemented by s3proxy.", rq.r.Method, rq.op)
}

// bucketFirst returns the error S3 gives first for a request that is also malformed:
// a missing bucket (or one the caller may not use) before what is wrong with the
// request itself.
func (s *Server) bucketFirst(rq *request, err error) error {
	if _, berr := s.svc.HeadBucket(rq.r.Context(), rq.principal, rq.bucket); berr != nil {
		return berr
	}
	return err
}

// checkVersionID checks a request's versionId: one value, and on the operations that do
// not read versions by id (ACLs: s3proxy's are fixed, and UploadPart and the like,
// which have none) only "null", which rclone and test suites send.
func checkVersionID(rq *request) error {
	v, ok := rq.r.URL.Query()["versionId"]
	if !ok {
		return nil
	}
	if len(v) != 1 {
		return s3err.Newf(s3err.InvalidArgument, "Invalid version id specified")
	}
	if v[0] == "" {
		// An empty versionId names no version: the current one (SDKs send one for an
		// empty string they were given, and versitygw's suite cleans up so).
		return nil
	}
	switch rq.op {
	case "GetObject", "HeadObject", "DeleteObject", "GetObjectAttributes",
		"GetObjectTagging", "PutObjectTagging", "DeleteObjectTagging",
		"GetObjectRetention", "PutObjectRetention", "GetObjectLegalHold", "PutObjectLegalHold":
		return nil // translate reads (or removes) the version
	}
	if v[0] != translate.NullVersion {
		return s3err.Newf(s3err.InvalidArgument, "Invalid version id specified")
	}
	return nil
}

func (s *Server) writeXML(rq *request, status int, v any) error {
	out, err := xml.Marshal(v)
	if err != nil {
		return err
	}
	h := rq.w.Header()
	h.Set("Content-Type", "application/xml")
	h.Set("Content-Length", itoa(int64(len(out)+len(xml.Header))))
	rq.w.WriteHeader(status)
	_, _ = io.WriteString(rq.w, xml.Header)
	_, _ = rq.w.Write(out)
	return nil
}

// readXML decodes a small XML request body, verifying the signed payload hash and
// Content-MD5 when present.
func (s *Server) readXML(rq *request, limit int64, v any) error {
	data, err := s.readBody(rq, limit)
	if err != nil {
		return err
	}
	if err := xml.Unmarshal(data, v); err != nil {
		return s3err.Wrap(s3err.MalformedXML, err)
	}
	return nil
}

// readBody reads a small, non-empty request body whole (at most limit bytes),
// verifying the signed payload hash and Content-MD5 when present.
func (s *Server) readBody(rq *request, limit int64) ([]byte, error) { return rq.smallBody(limit) }

// smallBody is readBody's work, done once: a second call (the handler's, after a
// policy condition needed the body) returns what the first read.
func (rq *request) smallBody(limit int64) ([]byte, error) {
	if rq.body == nil {
		data, err := rq.readSmallBody(limit)
		rq.body = &bodyRead{data: data, err: err}
	}
	return rq.body.data, rq.body.err
}

func (rq *request) readSmallBody(limit int64) ([]byte, error) {
	body := rq.auth.Body
	if len(rq.auth.SignedPayloadSHA256) == 32 {
		body = sigv4.VerifyPayload(body, rq.auth.SignedPayloadSHA256)
	}
	data, err := io.ReadAll(io.LimitReader(body, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, s3err.New(s3err.MaxMessageLengthExceeded)
	}
	if md, ok := headerValue(rq.r.Header, "Content-MD5"); ok {
		want, err := base64.StdEncoding.DecodeString(md)
		if err != nil || len(want) != 16 {
			return nil, s3err.New(s3err.InvalidDigest)
		}
		if got := md5Sum(data); string(got[:]) != string(want) {
			return nil, s3err.New(s3err.BadDigest)
		}
	}
	if len(data) == 0 {
		return nil, s3err.New(s3err.MissingRequestBodyError)
	}
	return data, nil
}

// configPut checks what S3 checks first for a PUT of a bucket configuration: the
// bucket and its owner (a missing bucket is answered before a bad document), then the
// integrity check S3 requires of the document.
func (s *Server) configPut(rq *request) error {
	if _, err := s.svc.HeadBucket(rq.r.Context(), rq.principal, rq.bucket); err != nil {
		return err
	}
	return requireIntegrity(rq)
}

// requireIntegrity refuses a body S3 accepts only with an integrity check
// (DeleteObjects, PutBucketLifecycleConfiguration, PutBucketTagging, PutBucketCors,
// PutPublicAccessBlock, PutObjectLockConfiguration, PutObjectRetention,
// PutObjectLegalHold): a Content-MD5, an x-amz-checksum-* header, or one declared as a
// trailer; readBody and verifyBodyChecksum check it.
func requireIntegrity(rq *request) error {
	if _, ok := headerValue(rq.r.Header, "Content-MD5"); ok {
		return nil // an empty one is a malformed digest, which readBody reports
	}
	if _, ok, err := checksumHeaders(rq.r.Header); err != nil || ok {
		return err
	}
	for _, name := range rq.auth.TrailerNames {
		if _, ok := trailerChecksum(name); ok {
			return nil
		}
	}
	// Newer SDKs send a CRC instead of the MD5 S3 once required; S3 names the MD5.
	return s3err.Newf(s3err.InvalidRequest, "Missing required header for this request: Content-MD5")
}

// trailerChecksum returns the algorithm of a declared trailer that is a checksum.
func trailerChecksum(name string) (string, bool) {
	suffix, ok := strings.CutPrefix(strings.ToLower(name), "x-amz-checksum-")
	if !ok {
		return "", false
	}
	algo, err := translate.NormalizeChecksumAlgorithm(suffix)
	return algo, err == nil
}

// readCheckedBody reads an XML request body (a configuration, a delete list) up to the
// XML limit and verifies the Content-MD5 or checksum it was sent with.
func (s *Server) readCheckedBody(rq *request) ([]byte, error) {
	data, err := s.readBody(rq, maxXMLBody)
	if err != nil {
		return nil, err
	}
	if err := verifyBodyChecksum(rq, data); err != nil {
		return nil, err
	}
	return data, nil
}

// verifyBodyChecksum checks the x-amz-checksum-* header (or trailer, once data was read
// to its end) of a small body read whole, for the requests whose checksum covers the
// body itself. (CompleteMultipartUpload's checksum headers describe the object.)
func verifyBodyChecksum(rq *request, data []byte) error {
	d, ok, err := checksumHeaders(rq.r.Header)
	if err != nil {
		return err
	}
	if !ok {
		trailer := rq.auth.Trailer()
		for _, name := range rq.auth.TrailerNames {
			if algo, isSum := trailerChecksum(name); isSum {
				if v := trailer.Get(name); v != "" {
					d, ok = declaredChecksum{algo: algo, value: v}, true
				}
			}
		}
	}
	if !ok {
		return nil
	}
	if !translate.ValidChecksum(d.algo, d.value) {
		return s3err.Newf(s3err.InvalidRequest, "Value for %s header is invalid.", checksumHeaderName(d.algo))
	}
	got, err := translate.ChecksumOf(d.algo, data)
	if err != nil {
		return err
	}
	if got != d.value {
		return s3err.Newf(s3err.BadDigest, "The %s you specified did not match the calculated checksum.", d.algo)
	}
	return nil
}

// listBuckets answers ListBuckets, with the paging S3 added in 2024 (prefix,
// bucket-region, max-buckets, continuation-token; the token is the last name returned,
// base64-encoded); without max-buckets every bucket comes in one answer, as before.
func (s *Server) listBuckets(rq *request) error {
	q := rq.r.URL.Query()
	limit := -1
	if v := q.Get("max-buckets"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			return s3err.Newf(s3err.InvalidArgument, "Argument max-buckets must be an integer between 1 and 10000")
		}
		limit = n
	}
	var after string
	if v := q.Get("continuation-token"); v != "" {
		b, err := base64.URLEncoding.DecodeString(v)
		if err != nil {
			return s3err.Newf(s3err.InvalidArgument, "The continuation token provided is incorrect")
		}
		after = string(b)
	}
	prefix, region := q.Get("prefix"), q.Get("bucket-region")
	bs, err := s.svc.ListBuckets(rq.r.Context(), rq.principal)
	if err != nil {
		return err
	}
	slices.SortFunc(bs, func(a, b translate.BucketInfo) int { return strings.Compare(a.Name, b.Name) })
	res := listAllMyBucketsResult{NS: s3NS, Owner: owner{ID: rq.principal.AccessKey, DisplayName: rq.principal.AccessKey}, Prefix: prefix}
	for _, b := range bs {
		if !strings.HasPrefix(b.Name, prefix) || (region != "" && b.Region != region) || (after != "" && b.Name <= after) {
			continue
		}
		if limit >= 0 && len(res.Buckets) == limit {
			res.ContinuationToken = base64.URLEncoding.EncodeToString([]byte(res.Buckets[len(res.Buckets)-1].Name))
			break
		}
		res.Buckets = append(res.Buckets, bucketElem{Name: b.Name, CreationDate: iso8601(b.CreatedAt), BucketRegion: b.Region})
	}
	return s.writeXML(rq, http.StatusOK, res)
}

func (s *Server) createBucket(rq *request) error {
	if err := checkCreateBucket(rq.r.Header); err != nil {
		return err
	}
	var loc string
	var tags buckettags.Set
	if rq.r.ContentLength > 0 || rq.auth.DecodedLength > 0 {
		var cfg createBucketConfiguration
		if err := s.readXML(rq, maxXMLBody, &cfg); err != nil {
			return err
		}
		loc = cfg.LocationConstraint
		if cfg.Tags != nil {
			var err error
			if tags, err = checkBucketTags(cfg.Tags.Tags); err != nil {
				return err
			}
		}
	}
	if err := s.svc.CreateBucket(rq.r.Context(), rq.principal, rq.bucket, loc, tags); err != nil {
		return err
	}
	if strings.EqualFold(rq.r.Header.Get("x-amz-bucket-object-lock-enabled"), "true") {
		// Object Lock (and with it versioning) from the start; a bucket that could not
		// get it is not left behind without it.
		if err := s.svc.EnableObjectLock(rq.r.Context(), rq.principal, rq.bucket); err != nil {
			_ = s.svc.DeleteBucket(rq.r.Context(), rq.principal, rq.bucket)
			return err
		}
	}
	rq.w.Header().Set("Location", "/"+rq.bucket)
	rq.w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) headBucket(rq *request) error {
	b, err := s.svc.HeadBucket(rq.r.Context(), rq.principal, rq.bucket)
	if err != nil {
		return err
	}
	rq.w.Header().Set("x-amz-bucket-region", b.Region)
	rq.w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) deleteBucket(rq *request) error {
	if err := s.svc.DeleteBucket(rq.r.Context(), rq.principal, rq.bucket); err != nil {
		return err
	}
	rq.w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) getBucketLocation(rq *request) error {
	b, err := s.svc.HeadBucket(rq.r.Context(), rq.principal, rq.bucket)
	if err != nil {
		return err
	}
	// S3 reports us-east-1 as an empty constraint.
	v := b.Region
	if v == "us-east-1" {
		v = ""
	}
	return s.writeXML(rq, http.StatusOK, locationConstraint{NS: s3NS, Value: v})
}

// resourceOwner returns the owner of the request's bucket, or of its object when it
// names one (the access key that created it), checking that both exist and that the
// caller may see them.
func (s *Server) resourceOwner(rq *request) (string, error) {
	if rq.key == "" {
		b, err := s.svc.HeadBucket(rq.r.Context(), rq.principal, rq.bucket)
		return b.Owner, err
	}
	out, err := s.svc.GetObject(rq.r.Context(), &translate.GetObjectInput{Principal: rq.principal, Bucket: rq.bucket, Key: rq.key, HeadOnly: true})
	if err != nil {
		return "", err
	}
	return out.Info.Owner, nil
}

func (s *Server) getACL(rq *request) error {
	ownerKey, err := s.resourceOwner(rq)
	if err != nil {
		return err
	}
	o := owner{ID: ownerKey, DisplayName: ownerKey}
	return s.writeXML(rq, http.StatusOK, accessControlPolicy{NS: s3NS, Owner: o, Grants: []grant{{
		Grantee:    grantee{XMLNS: "http://www.w3.org/2001/XMLSchema-instance", XSIType: "CanonicalUser", ID: o.ID, DisplayName: o.DisplayName},
		Permission: "FULL_CONTROL",
	}}})
}

// listParams reads the shared listing parameters.
func listParams(q url.Values) (prefix, delim string, maxKeys int, urlEnc bool, err error) {
	prefix, delim = q.Get("prefix"), q.Get("delimiter")
	maxKeys = 1000
	if v := q.Get("max-keys"); v != "" {
		n, perr := listLimit(v, "max-keys", "maxKeys")
		if perr != nil {
			return "", "", 0, false, perr
		}
		maxKeys = min(n, 1000)
	}
	switch et := q.Get("encoding-type"); et {
	case "":
	case "url":
		urlEnc = true
	default:
		return "", "", 0, false, s3err.Newf(s3err.InvalidArgument, "Invalid Encoding Method specified in Request")
	}
	return prefix, delim, maxKeys, urlEnc, nil
}

// listLimit parses a listing's count parameter (max-keys, max-uploads, max-parts, a
// part-number marker) as S3 does: a 32-bit integer, with S3's two answers for what is
// not one and for a negative one (which calls max-keys "maxKeys").
func listLimit(v, param, argName string) (int, error) {
	n, err := strconv.ParseInt(v, 10, 32)
	var e *s3err.Error
	switch {
	case err != nil:
		e = s3err.Newf(s3err.InvalidArgument, "Provided %s not an integer or within integer range", param)
	case n < 0:
		e = s3err.Newf(s3err.InvalidArgument, "Argument %s must be an integer between 0 and 2147483647", argName)
	default:
		return int(n), nil
	}
	e.Extra = map[string]string{"ArgumentName": argName, "ArgumentValue": v}
	return 0, e
}

// s3URLEncode encodes as S3 does for encoding-type=url (like query escaping, with
// spaces as %20 and '/' kept).
func s3URLEncode(s string) string {
	const hexdig = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.IndexByte("-_.~/", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexdig[c>>4])
		b.WriteByte(hexdig[c&15])
	}
	return b.String()
}

func encIf(on bool, s string) string {
	if on && s != "" {
		return s3URLEncode(s)
	}
	return s
}

func (s *Server) contents(objs []translate.ObjectInfo, withOwner, urlEnc bool) []contentsElem {
	out := make([]contentsElem, 0, len(objs))
	for _, o := range objs {
		c := contentsElem{Key: encIf(urlEnc, o.Key), LastModified: iso8601(o.LastModified), ETag: `"` + o.ETag + `"`, Size: o.Size, StorageClass: "STANDARD"}
		for a := range o.Checksums {
			c.ChecksumAlgorithm = append(c.ChecksumAlgorithm, a)
		}
		if len(c.ChecksumAlgorithm) > 0 {
			c.ChecksumType = o.ChecksumType
		}
		if withOwner {
			c.Owner = &owner{ID: o.Owner, DisplayName: o.Owner}
		}
		out = append(out, c)
	}
	return out
}

func prefixes(ps []string, urlEnc bool) []prefixElem {
	out := make([]prefixElem, 0, len(ps))
	for _, p := range ps {
		out = append(out, prefixElem{Prefix: encIf(urlEnc, p)})
	}
	return out
}

func (s *Server) listObjectsV2(rq *request) error {
	q := rq.r.URL.Query()
	prefix, delim, maxKeys, urlEnc, err := listParams(q)
	if err != nil {
		return err
	}
	after := q.Get("start-after")
	token := q.Get("continuation-token")
	if _, ok := q["continuation-token"]; ok {
		raw, derr := base64.RawURLEncoding.DecodeString(token)
		if derr != nil || token == "" {
			return s3err.Newf(s3err.InvalidArgument, "The continuation token provided is incorrect")
		}
		after = string(raw)
	}
	res, err := s.svc.ListObjects(rq.r.Context(), &translate.ListObjectsInput{Principal: rq.principal, Bucket: rq.bucket, Prefix: prefix, Delimiter: delim, After: after, MaxKeys: maxKeys})
	if err != nil {
		return err
	}
	out := listBucketResultV2{NS: s3NS, Name: rq.bucket, Prefix: encIf(urlEnc, prefix), Delimiter: encIf(urlEnc, delim), MaxKeys: maxKeys,
		KeyCount: len(res.Objects) + len(res.CommonPrefixes), IsTruncated: res.Truncated, ContinuationToken: token,
		StartAfter: encIf(urlEnc, q.Get("start-after")),
		Contents:   s.contents(res.Objects, q.Get("fetch-owner") == "true", urlEnc), CommonPrefixes: prefixes(res.CommonPrefixes, urlEnc)}
	if urlEnc {
		out.EncodingType = "url"
	}
	if res.Truncated {
		out.NextContinuationToken = base64.RawURLEncoding.EncodeToString([]byte(res.NextAfter))
	}
	return s.writeXML(rq, http.StatusOK, out)
}

func (s *Server) listObjectsV1(rq *request) error {
	q := rq.r.URL.Query()
	prefix, delim, maxKeys, urlEnc, err := listParams(q)
	if err != nil {
		return err
	}
	marker := q.Get("marker")
	res, err := s.svc.ListObjects(rq.r.Context(), &translate.ListObjectsInput{Principal: rq.principal, Bucket: rq.bucket, Prefix: prefix, Delimiter: delim, After: marker, MaxKeys: maxKeys})
	if err != nil {
		return err
	}
	out := listBucketResultV1{NS: s3NS, Name: rq.bucket, Prefix: encIf(urlEnc, prefix), Marker: encIf(urlEnc, marker), Delimiter: encIf(urlEnc, delim),
		MaxKeys: maxKeys, IsTruncated: res.Truncated, Contents: s.contents(res.Objects, true, urlEnc), CommonPrefixes: prefixes(res.CommonPrefixes, urlEnc)}
	if urlEnc {
		out.EncodingType = "url"
	}
	// S3 returns NextMarker only with a delimiter; clients otherwise use the last key.
	if res.Truncated && delim != "" {
		out.NextMarker = encIf(urlEnc, res.NextAfter)
	}
	return s.writeXML(rq, http.StatusOK, out)
}

// listObjectVersions lists the single (null) version of each key: buckets are
// unversioned, but clients clean up through this call.
func (s *Server) listObjectVersions(rq *request) error {
	q := rq.r.URL.Query()
	prefix, delim, maxKeys, urlEnc, err := listParams(q)
	if err != nil {
		return err
	}
	keyMarker, vidMarker := q.Get("key-marker"), q.Get("version-id-marker")
	res, err := s.svc.ListObjectVersions(rq.r.Context(), &translate.ListVersionsInput{Principal: rq.principal, Bucket: rq.bucket,
		Prefix: prefix, Delimiter: delim, KeyMarker: keyMarker, VersionIDMarker: vidMarker, MaxKeys: maxKeys})
	if err != nil {
		return err
	}
	out := listVersionsResult{NS: s3NS, Name: rq.bucket, Prefix: encIf(urlEnc, prefix), KeyMarker: encIf(urlEnc, keyMarker), VersionIDMarker: vidMarker,
		Delimiter: encIf(urlEnc, delim), MaxKeys: maxKeys, IsTruncated: res.Truncated, CommonPrefixes: prefixes(res.CommonPrefixes, urlEnc)}
	if urlEnc {
		out.EncodingType = "url"
	}
	for _, v := range res.Versions {
		e := versionElem{XMLName: xml.Name{Local: "Version"}, Key: encIf(urlEnc, v.Key), VersionID: v.VersionID, IsLatest: v.IsLatest,
			LastModified: iso8601(v.LastModified), Owner: &owner{ID: v.Owner, DisplayName: v.Owner}}
		if v.DeleteMarker {
			e.XMLName.Local = "DeleteMarker"
		} else {
			size := v.Size
			e.ETag, e.Size, e.StorageClass = `"`+v.ETag+`"`, &size, "STANDARD"
			for a := range v.Checksums {
				e.ChecksumAlgorithm = append(e.ChecksumAlgorithm, a)
			}
			if len(e.ChecksumAlgorithm) > 0 {
				e.ChecksumType = v.ChecksumType
			}
		}
		out.Versions = append(out.Versions, e)
	}
	if res.Truncated {
		out.NextKeyMarker = encIf(urlEnc, res.NextKeyMarker)
		out.NextVersionIDMarker = res.NextVersionIDMarker
	}
	return s.writeXML(rq, http.StatusOK, out)
}

// putBucketVersioning enables or suspends versioning. MFA delete is not supported (S3
// needs the bucket owner's MFA device for it): asking for it is refused.
func (s *Server) putBucketVersioning(rq *request) error {
	data, err := s.readCheckedBody(rq)
	if err != nil {
		return s.bucketFirst(rq, err)
	}
	var cfg versioningConfiguration
	if err := xml.Unmarshal(data, &cfg); err != nil || cfg.XMLName.Local != "VersioningConfiguration" {
		return s.bucketFirst(rq, s3err.New(s3err.MalformedXML))
	}
	if cfg.MFADelete == "Enabled" {
		return s.bucketFirst(rq, s3err.Newf(s3err.NotImplemented, "MFA delete is not supported by s3proxy."))
	}
	if cfg.MFADelete != "" && cfg.MFADelete != "Disabled" || cfg.Status != translate.VersioningEnabled && cfg.Status != translate.VersioningSuspended {
		return s.bucketFirst(rq, s3err.New(s3err.MalformedXML))
	}
	if err := s.svc.SetBucketVersioning(rq.r.Context(), rq.principal, rq.bucket, cfg.Status); err != nil {
		return err
	}
	rq.w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) deleteObjects(rq *request) error {
	if err := requireIntegrity(rq); err != nil {
		return err
	}
	data, err := s.readCheckedBody(rq)
	if err != nil {
		return err
	}
	var req deleteRequest
	if err := xml.Unmarshal(data, &req); err != nil {
		return s3err.Wrap(s3err.MalformedXML, err)
	}
	if len(req.Objects) > 1000 {
		return s3err.New(s3err.MalformedXML)
	}
	res := deleteResult{NS: s3NS}
	bypass := s.bypassGovernance(rq)
	for _, o := range req.Objects {
		// Each key is its own s3:DeleteObject (s3:DeleteObjectVersion with a version)
		// under the bucket's policy.
		action := "s3:DeleteObject"
		if o.VersionID != "" {
			action = "s3:DeleteObjectVersion"
		}
		p, err := s.svc.Authorize(rq.r.Context(), rq.principal, translate.Access{Bucket: rq.bucket, Action: action, Object: true, Key: o.Key,
			Keys: rq})
		var del translate.DeleteResult
		if err == nil {
			del, err = s.svc.DeleteObject(rq.r.Context(), p, rq.bucket, o.Key, o.VersionID, deleteCondition(o.ETag), bypass)
		}
		if err != nil {
			e := s.toS3Error(rq, err)
			if e.Code == s3err.InvalidArgument && o.VersionID != "" {
				// S3 reports a malformed version id of a batch as a missing version.
				e = s3err.New(s3err.NoSuchVersion)
			}
			res.Errors = append(res.Errors, deleteErrorElem{Key: o.Key, VersionID: o.VersionID, Code: string(e.Code), Message: e.Msg()})
			continue
		}
		if req.Quiet {
			continue
		}
		d := deletedElem{Key: o.Key, VersionID: o.VersionID}
		if del.Versioned {
			marker := del.DeleteMarker
			d.DeleteMarker = &marker
			if marker && o.VersionID == "" {
				d.DeleteMarkerVersionID = del.VersionID // the marker this delete made
			}
		}
		res.Deleted = append(res.Deleted, d)
	}
	return s.writeXML(rq, http.StatusOK, res)
}

// deleteCondition turns a DeleteObject If-Match header, or a DeleteObjects entry's ETag,
// into the ETag the object must have ("*": any), without quotes.
func deleteCondition(v string) string {
	return strings.Trim(strings.TrimSpace(v), `"`)
}

// objectHeaders are the stored representation headers of an object, and the system
// metadata S3 keeps and returns the same way (the website redirect).
var objectHeaders = []string{"Content-Encoding", "Content-Disposition", "Cache-Control", "Expires", "Content-Language",
	translate.WebsiteRedirectKey}

// parseObjectAttrs reads content type, stored headers and user metadata of a write.
func parseObjectAttrs(h http.Header) (string, map[string]string, map[string]string, error) {
	ct := h.Get("Content-Type")
	headers := map[string]string{}
	if _, err := websiteRedirect(h); err != nil {
		return "", nil, nil, err
	}
	for _, k := range objectHeaders {
		if v := h.Get(k); v != "" {
			if k == "Content-Encoding" {
				v = stripAWSChunked(v)
				if v == "" {
					continue
				}
			}
			headers[k] = v
		}
	}
	meta := map[string]string{}
	size := 0
	for k, vs := range h {
		lk := strings.ToLower(k)
		if !strings.HasPrefix(lk, "x-amz-meta-") {
			continue
		}
		name := lk[len("x-amz-meta-"):]
		v := strings.Join(vs, ",")
		meta[name] = v
		size += len(name) + len(v)
	}
	if size > maxUserMeta {
		return "", nil, nil, s3err.New(s3err.MetadataTooLarge)
	}
	return ct, headers, meta, nil
}

// websiteRedirect reads x-amz-website-redirect-location, which S3 accepts only as a
// path in the bucket or an absolute http(s) URL.
func websiteRedirect(h http.Header) (string, error) {
	v := h.Get(translate.WebsiteRedirectKey)
	if v != "" && !strings.HasPrefix(v, "/") && !strings.HasPrefix(v, "http://") && !strings.HasPrefix(v, "https://") {
		return "", s3err.New(s3err.InvalidRedirectLocation)
	}
	return v, nil
}

// stripAWSChunked removes the transfer framing from Content-Encoding: it describes how
// the body was sent, not the object.
func stripAWSChunked(v string) string {
	var keep []string
	for _, p := range strings.Split(v, ",") {
		p = strings.TrimSpace(p)
		if p != "" && !strings.EqualFold(p, "aws-chunked") {
			keep = append(keep, p)
		}
	}
	return strings.Join(keep, ",")
}

// parseTime parses an HTTP date header (any of the three HTTP formats).
func parseTime(v string) *time.Time {
	if v == "" {
		return nil
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return nil // S3 ignores malformed dates in conditional headers
	}
	return &t
}

func parseConditions(h http.Header, prefix string) translate.Conditions {
	return translate.Conditions{
		IfMatch:           h.Get(prefix + "If-Match"),
		IfNoneMatch:       h.Get(prefix + "If-None-Match"),
		IfModifiedSince:   parseTime(h.Get(prefix + "If-Modified-Since")),
		IfUnmodifiedSince: parseTime(h.Get(prefix + "If-Unmodified-Since")),
	}
}

// parseRange parses a single "bytes=" range. Anything else is ignored (the whole object
// is returned), as S3 does: multiple ranges, other units, inverted bounds, signs, and
// white space inside the range ("bytes= -1" and "bytes=0 -1" are not ranges to S3).
func parseRange(v string) *translate.Range {
	spec, ok := strings.CutPrefix(strings.TrimSpace(v), "bytes=")
	if !ok {
		return nil
	}
	a, b, ok := strings.Cut(spec, "-")
	if !ok {
		return nil
	}
	if a == "" {
		n, ok := rangeNumber(b)
		if !ok {
			return nil
		}
		return &translate.Range{IsSuffix: true, Suffix: n}
	}
	start, ok := rangeNumber(a)
	if !ok {
		return nil
	}
	end := int64(-1)
	if b != "" {
		if end, ok = rangeNumber(b); !ok || end < start {
			return nil
		}
	}
	return &translate.Range{Start: start, End: end}
}

// rangeNumber parses a byte position of a range: decimal digits only.
func rangeNumber(s string) (int64, bool) {
	if s == "" || strings.TrimLeft(s, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// headerValue returns a header's value and whether it was sent at all: an empty
// Content-MD5 is a malformed digest (InvalidDigest, as on S3), not a missing one.
func headerValue(h http.Header, name string) (string, bool) {
	vs, ok := h[http.CanonicalHeaderKey(name)]
	if !ok || len(vs) == 0 {
		return "", false
	}
	return vs[0], true
}
