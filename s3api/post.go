package s3api

import (
	"encoding/xml"
	"errors"
	"io"
	"math"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"

	"s3proxy/s3api/s3err"
	"s3proxy/s3api/sigv4"
	"s3proxy/translate"
)

// POST Object: an upload from an HTML form (a browser, or a "presigned POST" of an
// SDK). The request carries no Authorization header: the form's fields hold a policy
// signed with SigV4 (sigv4.VerifyPost), which says what the form may contain. The
// form is streamed: the fields before the file part are read into memory under a
// cap, the file part streams into PutObject as it arrives, and whatever follows the
// file is never read, as on S3.

// Limits on the form around the file.
const (
	// maxPostFields caps the names and values of the fields before the file together:
	// S3's limit on a form's data outside the file (20 KB).
	maxPostFields = 20 << 10
	// maxPostPreamble caps the raw bytes read before the file part (boundaries and
	// part headers included) so that no header can make us buffer more; generous
	// enough for maxPostFields of fields in any reasonable framing.
	maxPostPreamble = 64 << 10
)

// errPostPreamble is returned by preambleReader once the cap is reached.
var errPostPreamble = errors.New("s3api: POST form before the file exceeds its limit")

// preambleReader limits what is read from the request body until the file part
// starts; off lifts the limit for the file itself.
type preambleReader struct {
	r     io.Reader
	n     int64
	limit int64
	off   bool
}

func (p *preambleReader) Read(b []byte) (int, error) {
	if !p.off {
		if p.n >= p.limit {
			return 0, errPostPreamble
		}
		b = b[:min(int64(len(b)), p.limit-p.n)]
	}
	n, err := p.r.Read(b)
	p.n += int64(n)
	return n, err
}

// postFileReader is the file part as PutObject reads it: it enforces the policy's
// content-length-range on the bytes actually received, failing the
// read, so that nothing is stored, before the body grows past the maximum or at
// its end when it is too short.
type postFileReader struct {
	r        io.Reader
	n        int64
	min, max int64
}

func (f *postFileReader) Read(b []byte) (int, error) {
	// Read at most one byte beyond the maximum: enough to know it is exceeded.
	if room := f.max + 1 - f.n; int64(len(b)) > room {
		b = b[:room]
	}
	n, err := f.r.Read(b)
	f.n += int64(n)
	if f.n > f.max {
		e := s3err.Newf(s3err.EntityTooLarge, "Your proposed upload exceeds the maximum allowed size")
		e.Extra = map[string]string{"MaxSizeAllowed": itoa(f.max)}
		return n, e
	}
	switch {
	case err == io.EOF && f.n < f.min:
		e := s3err.Newf(s3err.EntityTooSmall, "Your proposed upload is smaller than the minimum allowed size")
		e.Extra = map[string]string{"ProposedSize": itoa(f.n), "MinSizeAllowed": itoa(f.min)}
		return n, e
	case errors.Is(err, io.ErrUnexpectedEOF):
		// The form ended inside the file: the client stopped sending.
		return n, s3err.Wrap(s3err.IncompleteBody, err)
	}
	return n, err
}

// readPostForm reads the fields up to the file part (names lower-cased: form field
// names are case-insensitive) and returns the file part unread; nil when the form has
// no file.
func readPostForm(mr *multipart.Reader) (map[string]string, *multipart.Part, error) {
	fields := map[string]string{}
	budget := int64(maxPostFields)
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			return fields, nil, nil
		}
		if err != nil {
			return nil, nil, postFormErr(err)
		}
		name := strings.ToLower(part.FormName())
		if name == "" {
			continue // not a form-data part: nothing S3 would read either
		}
		if name == "file" {
			return fields, part, nil
		}
		if _, dup := fields[name]; dup {
			// Two values would let the policy check one and the upload use the other.
			return nil, nil, s3err.Newf(s3err.InvalidArgument, "Bucket POST must not contain the field '%s' more than once.", name)
		}
		budget -= int64(len(name))
		v, err := io.ReadAll(io.LimitReader(part, max(budget, 0)+1))
		if err != nil {
			return nil, nil, postFormErr(err)
		}
		budget -= int64(len(v))
		if budget < 0 {
			return nil, nil, s3err.New(s3err.MaxPostPreDataLengthExceededError)
		}
		fields[name] = string(v)
	}
}

func postFormErr(err error) error {
	if errors.Is(err, errPostPreamble) {
		return s3err.New(s3err.MaxPostPreDataLengthExceededError)
	}
	return s3err.Wrap(s3err.MalformedPOSTRequest, err)
}

// postOnlyFields are the fields that shape the request rather than the object.
var postOnlyFields = map[string]bool{
	"key": true, "bucket": true, "policy": true, "tagging": true, "file": true,
	"success_action_status": true, "success_action_redirect": true, "redirect": true,
	sigv4.FieldAlgorithm: true, sigv4.FieldCredential: true, sigv4.FieldDate: true, sigv4.FieldSignature: true,
	sigv4.FieldAccessKeyV2: true, sigv4.FieldSignatureV2: true,
}

// postHeaders presents the object's fields as the request headers of a PutObject, so
// that the same code refuses what s3proxy does not provide (checkObjectWrite) and
// reads content type, stored headers, metadata and checksums. The canned ACL is the
// field "acl" in a form.
func postHeaders(fields map[string]string) http.Header {
	h := http.Header{}
	for name, v := range fields {
		switch {
		case postOnlyFields[name] || strings.HasPrefix(name, "x-ignore-"):
		case name == "acl":
			h.Set("x-amz-acl", v)
		default:
			h.Set(name, v)
		}
	}
	return h
}

// postResponse is the answer to success_action_status 201.
type postResponse struct {
	XMLName  xml.Name `xml:"PostResponse"`
	Location string   `xml:"Location"`
	Bucket   string   `xml:"Bucket"`
	Key      string   `xml:"Key"`
	ETag     string   `xml:"ETag"`
}

// postObject answers a POST Object. It authenticates the request itself (from the
// form): ServeHTTP routes it here before header authentication.
func (s *Server) postObject(rq *request) error {
	r := rq.r
	if rq.bucket == "" {
		return s3err.New(s3err.MethodNotAllowed)
	}
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		return s3err.New(s3err.RequestIsNotMultiPartContent)
	}
	if params["boundary"] == "" {
		return s3err.New(s3err.MalformedPOSTRequest)
	}
	pre := &preambleReader{r: r.Body, limit: maxPostPreamble}
	fields, file, err := readPostForm(multipart.NewReader(pre, params["boundary"]))
	if err != nil {
		return err
	}
	pre.off = true
	key, ok := fields["key"]
	if !ok || key == "" {
		return sigv4.MissingField("key")
	}
	auth, err := s.verifier.VerifyPost(fields)
	if err != nil {
		return err
	}
	if auth.Anonymous {
		// Allowed only where the bucket's policy lets anyone PutObject (authorizeAccess
		// below), and written as the bucket owner's, as an anonymous PUT is.
		rq.principal = translate.Principal{Anonymous: true}
	} else {
		cred := s.credential(auth.AccessKey)
		rq.principal = translate.Principal{AccessKey: auth.AccessKey, Admin: cred.Admin}
	}
	if file == nil {
		return s3err.New(s3err.IncorrectNumberOfFilesInPostRequest)
	}
	key = sigv4.ExpandKey(key, file.FileName())
	fields["key"] = key
	rq.key = key
	if !addressableKey(key) {
		// No request could name such an object afterwards: refused as S3 refuses the
		// path of a PUT.
		return badKeyPath()
	}
	if b, ok := fields["bucket"]; ok && b != rq.bucket {
		return s3err.Newf(s3err.InvalidArgument, "The bucket field of the form names another bucket than the one posted to.")
	}
	if err := auth.Policy.Check(fields, rq.bucket); err != nil {
		return err
	}
	// The form's signer writes under the bucket's policy like any PutObject, the
	// form's fields in place of its headers.
	rq.form = fields
	if err := s.authorizeAccess(rq, rq.bucket, "s3:PutObject", true, key); err != nil {
		return err
	}
	if err := s.checkExpectedOwner(rq, rq.bucket, "x-amz-expected-bucket-owner"); err != nil {
		return err
	}

	h := postHeaders(fields)
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
	ct, headers, um, err := parseObjectAttrs(h)
	if err != nil {
		return err
	}
	if v := fields["tagging"]; v != "" {
		// In a form, tags are a Tagging document, not the header's query string.
		var tg tagging
		if err := xml.Unmarshal([]byte(v), &tg); err != nil {
			return s3err.Wrap(s3err.MalformedXML, err)
		}
		enc, err := encodeTags(tg.TagSet)
		if err != nil {
			return err
		}
		if enc != "" {
			headers[translate.TaggingKey] = enc
		}
	}
	// The largest object (and S3's 5 GB) is enforced by PutObject on every body of
	// undeclared length; the policy's range only narrows it.
	lo, hi, ok := auth.Policy.LengthRange()
	if !ok {
		hi = math.MaxInt64 - 1 // no maximum: one byte past it must stay representable
	}
	// The file's length is unknown until its end (a part declares none): the body
	// goes to PutObject as a stream of unknown size, checked while it is read.
	body, err := bodyFrom(h, &sigv4.Auth{Body: &postFileReader{r: file, min: lo, max: hi}, DecodedLength: -1})
	if err != nil {
		return err
	}
	out, err := s.svc.PutObject(r.Context(), &translate.PutObjectInput{Principal: rq.principal, Bucket: rq.bucket, Key: key,
		Body: body, ContentType: ct, Headers: headers, UserMeta: um, Lock: lock})
	if err != nil {
		return err
	}
	return s.postAnswer(rq, fields, key, `"`+out.ETag+`"`, out)
}

// postAnswer sends what the form asked for: a 303 to success_action_redirect (or the
// older redirect) with bucket, key and etag added to its query; otherwise the
// success_action_status, 200, 201 (with a PostResponse document) or 204 (the default,
// also for any other value, as S3 does).
func (s *Server) postAnswer(rq *request, fields map[string]string, key, etag string, out *translate.PutObjectOutput) error {
	h := rq.w.Header()
	h.Set("ETag", etag)
	setChecksumHeaders(h, out.Checksums, out.ChecksumType)
	setExpiration(h, out.Expiration)
	setSSE(h, out.Encrypted)
	setVersionID(h, out.VersionID)
	loc := objectLocation(rq.r, rq.bucket, key)
	h.Set("Location", loc)
	redirect := fields["success_action_redirect"]
	if redirect == "" {
		redirect = fields["redirect"]
	}
	if u, err := url.Parse(redirect); redirect != "" && err == nil && (u.Scheme == "http" || u.Scheme == "https") {
		q := u.Query()
		q.Set("bucket", rq.bucket)
		q.Set("key", key)
		q.Set("etag", etag)
		u.RawQuery = q.Encode()
		h.Set("Location", u.String())
		rq.w.WriteHeader(http.StatusSeeOther)
		return nil
	}
	switch fields["success_action_status"] {
	case "200":
		rq.w.WriteHeader(http.StatusOK)
	case "201":
		return s.writeXML(rq, http.StatusCreated, postResponse{Location: loc, Bucket: rq.bucket, Key: key, ETag: etag})
	default:
		rq.w.WriteHeader(http.StatusNoContent)
	}
	return nil
}

// objectLocation is the URL of a stored object as the client addressed the bucket:
// virtual-host style when the bucket was in the Host, path style otherwise.
func objectLocation(r *http.Request, bucket, key string) string {
	return locationURL(r, bucket, key, strings.Trim(r.URL.Path, "/") != bucket)
}

// locationURL is the absolute URL of bucket/key, with the bucket in the Host (virtual)
// or in the path, which S3 returns as a Location: clients may fetch it.
func locationURL(r *http.Request, bucket, key string, virtual bool) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	path := "/" + s3URLEncode(key)
	if !virtual {
		path = "/" + bucket + path
	}
	return scheme + "://" + r.Host + path
}
