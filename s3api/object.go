package s3api

import (
	"crypto/md5"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"s3proxy/s3api/s3err"
	"s3proxy/s3api/sigv4"
	"s3proxy/translate"
)

func md5Sum(b []byte) [16]byte { return md5.Sum(b) }

// checksumHeaderName is the header (or trailer) of a checksum algorithm.
func checksumHeaderName(algo string) string { return "x-amz-checksum-" + strings.ToLower(algo) }

// declaredChecksum is a checksum a request carries in a header.
type declaredChecksum struct{ algo, value string }

// checksumHeaders returns the x-amz-checksum-<algorithm> headers of a request (its
// form fields, for POST Object), with S3's answers to what it refuses: an algorithm it
// does not know, the same header twice, two checksums, or a value that is not a
// checksum of its algorithm. x-amz-checksum-type, -algorithm and -mode are not
// checksums. ok is false when there is none.
func checksumHeaders(h http.Header) (declaredChecksum, bool, error) {
	var found []declaredChecksum
	for k, vs := range h {
		name := strings.ToLower(k)
		suffix, ok := strings.CutPrefix(name, "x-amz-checksum-")
		if !ok || suffix == "type" || suffix == "algorithm" || suffix == "mode" {
			continue
		}
		algo, err := translate.NormalizeChecksumAlgorithm(suffix)
		if err != nil {
			return declaredChecksum{}, false, s3err.Newf(s3err.InvalidRequest, "The algorithm type you specified in x-amz-checksum- header is invalid.")
		}
		if len(vs) > 1 {
			e := s3err.Newf(s3err.InvalidArgument, "Only one value may be specified.")
			e.Extra = map[string]string{"ArgumentName": name, "ArgumentValue": vs[1]}
			return declaredChecksum{}, false, e
		}
		found = append(found, declaredChecksum{algo: algo, value: vs[0]})
	}
	switch len(found) {
	case 0:
		return declaredChecksum{}, false, nil
	case 1:
		return found[0], true, nil
	}
	return declaredChecksum{}, false, multipleChecksums()
}

func multipleChecksums() *s3err.Error {
	return s3err.Newf(s3err.InvalidRequest, "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.")
}

func invalidChecksumHeader(name string) *s3err.Error {
	return s3err.Newf(s3err.InvalidRequest, "Value for %s header is invalid.", name)
}

// objectBody turns the authenticated request body and its integrity headers into a
// translate.Body: nothing is read here.
func (s *Server) objectBody(rq *request) (translate.Body, error) {
	if rq.auth.DecodedLength < 0 {
		return translate.Body{}, s3err.New(s3err.MissingContentLength)
	}
	b, err := bodyFrom(rq.r.Header, rq.auth)
	if err != nil {
		return b, err
	}
	b.Unread = strings.EqualFold(rq.r.Header.Get("Expect"), "100-continue")
	return b, nil
}

// bodyFrom reads the integrity headers of a write (Content-MD5, x-amz-checksum-*,
// x-amz-sdk-checksum-algorithm, declared trailers) around an authenticated body, with
// S3's rules: one checksum, in a header or a trailer; a header's value must be well
// formed (a trailer's is checked when it arrives); x-amz-sdk-checksum-algorithm must
// name that checksum's algorithm and needs one. x-amz-checksum-algorithm is not read:
// S3 ignores it on uploads (it belongs to CreateMultipartUpload and CopyObject). POST
// Object passes its form fields as h, since S3 takes the same names there.
func bodyFrom(h http.Header, auth *sigv4.Auth) (translate.Body, error) {
	b := translate.Body{Reader: auth.Body, Size: auth.DecodedLength, ContentSHA256: auth.SignedPayloadSHA256,
		SignedChunks: auth.Chunked && (auth.ContentSHA256 == sigv4.StreamingSigned || auth.ContentSHA256 == sigv4.StreamingSignedTrailer)}
	if v, ok := headerValue(h, "Content-MD5"); ok {
		md, err := base64.StdEncoding.DecodeString(v)
		if err != nil || len(md) != 16 {
			return b, s3err.New(s3err.InvalidDigest)
		}
		b.ContentMD5 = md
	}
	hdr, inHeader, err := checksumHeaders(h)
	if err != nil {
		return b, err
	}
	var algo, trailer string
	for _, t := range auth.TrailerNames {
		suffix, ok := strings.CutPrefix(strings.ToLower(t), "x-amz-checksum-")
		if !ok {
			continue
		}
		a, err := translate.NormalizeChecksumAlgorithm(suffix)
		if err != nil {
			return b, s3err.Newf(s3err.InvalidRequest, "The value specified in the x-amz-trailer header is not supported")
		}
		if inHeader || trailer != "" {
			return b, multipleChecksums()
		}
		algo, trailer = a, t
	}
	if inHeader {
		algo = hdr.algo
	}
	if v := h.Get("x-amz-sdk-checksum-algorithm"); v != "" {
		if algo == "" {
			return b, s3err.Newf(s3err.InvalidRequest, "x-amz-sdk-checksum-algorithm specified, but no corresponding x-amz-checksum-* or x-amz-trailer headers were found.")
		}
		if a, err := translate.NormalizeChecksumAlgorithm(v); err != nil || a != algo {
			return b, invalidChecksumHeader("x-amz-sdk-checksum-algorithm")
		}
	}
	if algo == "" {
		return b, nil
	}
	b.ChecksumAlgorithm = algo
	if inHeader {
		if !translate.ValidChecksum(algo, hdr.value) {
			return b, invalidChecksumHeader(checksumHeaderName(algo))
		}
		value := hdr.value
		b.ChecksumHeader = value
		b.Checksum = func() (string, bool) { return value, true }
		return b, nil
	}
	get := auth.Trailer
	b.Checksum = func() (string, bool) {
		// Present but empty is a malformed value, not an absent one.
		vs := get().Values(trailer)
		if len(vs) == 0 {
			return "", false
		}
		return vs[0], true
	}
	return b, nil
}

func setChecksumHeaders(h http.Header, sums map[string]string, typ string) {
	for a, v := range sums {
		h.Set(checksumHeaderName(a), v)
	}
	if len(sums) > 0 && typ != "" {
		h.Set("x-amz-checksum-type", typ)
	}
}

// writeCondition reads the condition of a write as S3 takes it: If-None-Match only as
// "*", If-Match with an ETag, and not both (S3 answers anything else NotImplemented).
func writeCondition(h http.Header) (translate.WriteCondition, error) {
	var c translate.WriteCondition
	if v := h.Get("If-None-Match"); v != "" {
		if strings.TrimSpace(v) != "*" || h.Get("If-Match") != "" {
			return c, s3err.New(s3err.NotImplemented)
		}
		c.IfNoneMatchStar = true
	}
	if v := h.Get("If-Match"); v != "" {
		c.IfMatch = strings.Trim(strings.TrimSpace(v), `"`)
	}
	return c, nil
}

func (s *Server) putObject(rq *request) error {
	if err := checkObjectWrite(rq.r.Header); err != nil {
		return err
	}
	lock, err := parseLock(rq.r.Header)
	if err != nil {
		return err
	}
	if err := s.checkSSEBucket(rq, rq.r.Header); err != nil {
		return err
	}
	body, err := s.objectBody(rq)
	if err != nil {
		return err
	}
	ct, headers, um, err := parseObjectAttrs(rq.r.Header)
	if err != nil {
		return err
	}
	if err := withTaggingHeader(rq.r.Header, headers); err != nil {
		return err
	}
	cond, err := writeCondition(rq.r.Header)
	if err != nil {
		return err
	}
	out, err := s.svc.PutObject(rq.r.Context(), &translate.PutObjectInput{Principal: rq.principal, Bucket: rq.bucket, Key: rq.key,
		Body: body, ContentType: ct, Headers: headers, UserMeta: um, Cond: cond, Lock: lock})
	if err != nil {
		return err
	}
	h := rq.w.Header()
	h.Set("ETag", `"`+out.ETag+`"`)
	setChecksumHeaders(h, out.Checksums, out.ChecksumType)
	setExpiration(h, out.Expiration)
	setSSE(h, out.Encrypted)
	setVersionID(h, out.VersionID)
	if out.Instant {
		s.answerEarly(rq)
		return nil
	}
	rq.w.WriteHeader(http.StatusOK)
	return nil
}

// setVersionID adds x-amz-version-id for an object of a bucket with versioning (id "":
// a bucket never versioned, which S3 answers without one).
func setVersionID(h http.Header, id string) {
	if id != "" {
		h.Set("x-amz-version-id", id)
	}
}

// setExpiration adds x-amz-expiration when a lifecycle rule will delete the object.
func setExpiration(h http.Header, e *translate.Expiry) {
	if e != nil {
		h.Set("x-amz-expiration", e.Header())
	}
}

// answerEarly sends a 200 for a request whose body was not read (instant upload).
// Clients that honour Expect: 100-continue (botocore, the aws cli) have sent nothing and
// get the answer at once. Some send the body anyway (aws-sdk-go-v2 does not wait for
// 100 Continue): closing on them mid-body makes them see a broken pipe and retry, so
// the body is discarded until the client falls silent. Writing the final status first
// guarantees Go never sends a 100 Continue for these reads.
func (s *Server) answerEarly(rq *request) {
	// A known empty body: flushing without it would switch to chunked encoding and keep
	// the client reading a body until we are done draining.
	rq.w.Header().Set("Content-Length", "0")
	rq.w.Header().Set("Connection", "close")
	rq.w.WriteHeader(http.StatusOK)
	drainAfterAnswer(rq, drainMax)
}

// drainAfterAnswer flushes a complete answer (with Connection: close) and then
// discards what is left of the request body until the client falls silent. Closing
// with unread bytes in the socket makes the kernel send a reset, and a client still
// sending (curl posting a form, an SDK not waiting for 100 Continue) then loses the
// answer it was sent and reports a broken connection instead.
func drainAfterAnswer(rq *request, most time.Duration) {
	rc := http.NewResponseController(rq.w)
	_ = rc.Flush()
	buf := make([]byte, 64<<10)
	deadline := time.Now().Add(most)
	for time.Now().Before(deadline) {
		if err := rc.SetReadDeadline(time.Now().Add(drainIdle)); err != nil {
			return
		}
		if _, err := rq.r.Body.Read(buf); err != nil {
			break
		}
	}
	_ = rc.SetReadDeadline(time.Time{})
}

// Draining an unneeded body stops after drainIdle without data, and after drainMax at
// most for an accepted upload. After an error answer (which may go to a caller who is
// not authenticated) it stops after errDrainMax, nginx's lingering_time: enough for a
// client to finish sending what it had under way and read the answer, not a way to
// keep a connection busy.
const (
	drainIdle   = 100 * time.Millisecond
	drainMax    = 10 * time.Minute
	errDrainMax = 30 * time.Second
)

// responseOverrides are the GetObject query parameters that override response headers.
var responseOverrides = map[string]string{
	"response-content-type":        "Content-Type",
	"response-content-language":    "Content-Language",
	"response-expires":             "Expires",
	"response-cache-control":       "Cache-Control",
	"response-content-disposition": "Content-Disposition",
	"response-content-encoding":    "Content-Encoding",
}

func (s *Server) getObject(rq *request, head bool) error {
	q := rq.r.URL.Query()
	in := &translate.GetObjectInput{Principal: rq.principal, Bucket: rq.bucket, Key: rq.key, HeadOnly: head,
		Cond: parseConditions(rq.r.Header, ""), VersionID: q.Get("versionId")}
	if v := rq.r.Header.Get("Range"); v != "" {
		in.Range = parseRange(v)
	}
	if v := q.Get("partNumber"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > translate.MaxParts {
			return badPartNumber(v)
		}
		in.PartNumber = n
	}
	out, err := s.svc.GetObject(rq.r.Context(), in)
	if err != nil {
		var te *translate.Error
		if errors.As(err, &te) && te.Code == translate.CodeNotModified {
			h := rq.w.Header()
			if out != nil {
				h.Set("ETag", `"`+out.Info.ETag+`"`)
				h.Set("Last-Modified", out.Info.LastModified.UTC().Format(http.TimeFormat))
			}
			rq.w.WriteHeader(http.StatusNotModified)
			return nil
		}
		return err
	}
	if out.Body != nil {
		defer out.Body.Close()
	}
	if err := sseCNotApplicable(rq.r.Header); err != nil {
		return err
	}
	info := out.Info
	h := rq.w.Header()
	h.Set("ETag", `"`+info.ETag+`"`)
	h.Set("Last-Modified", info.LastModified.UTC().Format(http.TimeFormat))
	h.Set("Accept-Ranges", "bytes")
	setExpiration(h, info.Expiration)
	setSSE(h, info.Encrypted)
	setVersionID(h, info.VersionID)
	ct := info.ContentType
	if ct == "" {
		ct = "binary/octet-stream"
	}
	h.Set("Content-Type", ct)
	for k, v := range info.Headers {
		if k != translate.TaggingKey {
			h.Set(k, v)
		}
	}
	setTagCount(h, info.Headers)
	for k, v := range info.UserMeta {
		// Set directly: S3 returns user metadata names as stored (lower case), which
		// Header.Set would canonicalize.
		h["X-Amz-Meta-"+k] = []string{v}
	}
	if in.PartNumber > 0 && info.PartsCount > 0 {
		h.Set("x-amz-mp-parts-count", strconv.Itoa(info.PartsCount))
	}
	switch {
	case in.PartNumber > 0 && out.PartChecksums != nil:
		// A part of a COMPOSITE object: S3 returns the part's checksum with or
		// without checksum mode.
		setChecksumHeaders(h, out.PartChecksums, "")
	case !strings.EqualFold(rq.r.Header.Get("x-amz-checksum-mode"), "ENABLED"):
	case in.PartNumber > 0 && info.PartsCount > 0:
		// A part of a multipart object never carries the whole object's checksum, even
		// when the part is all of it.
	case !out.Partial || out.Length == info.Size:
		setChecksumHeaders(h, info.Checksums, info.ChecksumType)
	}
	for p, hdr := range responseOverrides {
		if v := q.Get(p); v != "" {
			h.Set(hdr, v)
		}
	}
	h.Set("Content-Length", itoa(out.Length))
	status := http.StatusOK
	if out.Partial {
		h.Set("Content-Range", "bytes "+itoa(out.Offset)+"-"+itoa(out.Offset+out.Length-1)+"/"+itoa(info.Size))
		status = http.StatusPartialContent
	}
	rq.w.WriteHeader(status)
	if head || out.Body == nil {
		return nil
	}
	if _, err := io.Copy(rq.w, out.Body); err != nil {
		// Headers are sent: abort the connection so the client sees a truncated body.
		s.log.Warn("get object: stream failed", "request_id", rq.id, "bucket", rq.bucket, "key", rq.key, "err", err)
		panic(http.ErrAbortHandler)
	}
	return nil
}

// parseCopySource parses x-amz-copy-source: "[/]bucket/key[?versionId=...]", URL-encoded.
func parseCopySource(v string) (bucket, key, versionID string, err error) {
	src, ver, _ := strings.Cut(v, "?")
	if ver != "" {
		vq, perr := url.ParseQuery(ver)
		if perr != nil {
			return "", "", "", s3err.Newf(s3err.InvalidArgument, "Invalid version id specified")
		}
		versionID = vq.Get("versionId") // checked by translate, with the version
	}
	dec, perr := url.PathUnescape(src)
	if perr != nil {
		return "", "", "", s3err.Newf(s3err.InvalidArgument, "Copy Source must mention the source bucket and key: sourcebucket/sourcekey")
	}
	if i := strings.LastIndex(dec, "?versionId="); i >= 0 && ver == "" {
		// The separator itself URL-encoded: S3 reads it as a version all the same (and
		// a malformed version is refused rather than read as part of the key).
		dec, versionID = dec[:i], dec[i+len("?versionId="):]
	}
	dec = strings.TrimPrefix(dec, "/")
	bucket, key, ok := strings.Cut(dec, "/")
	if !ok || bucket == "" || key == "" {
		return "", "", "", s3err.Newf(s3err.InvalidArgument, "Copy Source must mention the source bucket and key: sourcebucket/sourcekey")
	}
	return bucket, key, versionID, nil
}

func (s *Server) copyObject(rq *request) error {
	sb, sk, sv, err := parseCopySource(rq.r.Header.Get("x-amz-copy-source"))
	if err != nil {
		return err
	}
	h := rq.r.Header
	if err := checkObjectWrite(h); err != nil {
		return err
	}
	lock, err := parseLock(h)
	if err != nil {
		return err
	}
	if err := s.checkSSEBucket(rq, h); err != nil {
		return err
	}
	in := &translate.CopyObjectInput{Lock: lock, Principal: rq.principal, SrcBucket: sb, SrcKey: sk, SrcVersionID: sv, DstBucket: rq.bucket, DstKey: rq.key,
		SrcCond: parseConditions(h, "x-amz-copy-source-"), ChecksumAlgorithm: h.Get("x-amz-checksum-algorithm")}
	// The website redirect is never copied from the source (S3 keeps it per object): the
	// copy has the one this request gives, whichever the directive.
	if in.WebsiteRedirect, err = websiteRedirect(h); err != nil {
		return err
	}
	// The metadata headers are checked (size, redirect) whatever the directive, as S3
	// checks them: a COPY that sends too much metadata is refused, not half-honoured.
	ct, headers, um, err := parseObjectAttrs(h)
	if err != nil {
		return err
	}
	switch d := strings.ToUpper(h.Get("x-amz-metadata-directive")); d {
	case "", "COPY":
	case "REPLACE":
		in.ReplaceMetadata = true
		in.ContentType, in.Headers, in.UserMeta = ct, headers, um
	default:
		return s3err.Newf(s3err.InvalidArgument, "Unknown metadata directive.")
	}
	switch d := strings.ToUpper(h.Get("x-amz-tagging-directive")); d {
	case "", "COPY":
	case "REPLACE":
		enc, _, err := taggingHeader(h)
		if err != nil {
			return err
		}
		in.Tagging = &enc
	default:
		return s3err.Newf(s3err.InvalidArgument, "Unknown tagging directive.")
	}
	if in.DstCond, err = writeCondition(h); err != nil {
		return err
	}
	info, err := s.svc.CopyObject(rq.r.Context(), in)
	if err != nil {
		return err
	}
	setExpiration(rq.w.Header(), info.Expiration)
	setSSE(rq.w.Header(), info.Encrypted)
	setVersionID(rq.w.Header(), info.VersionID)
	if info.SourceVersionID != "" {
		rq.w.Header().Set("x-amz-copy-source-version-id", info.SourceVersionID)
	}
	res := copyObjectResult{NS: s3NS, LastModified: iso8601(info.LastModified), ETag: `"` + info.ETag + `"`}
	res.set(info.Checksums)
	if len(info.Checksums) > 0 {
		res.ChecksumType = info.ChecksumType
	}
	return s.writeXML(rq, http.StatusOK, res)
}
