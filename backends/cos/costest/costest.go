// Package costest is a Tencent COS test server on loopback: the part of the COS XML API
// that backends/cos uses (PUT/GET with Range/HEAD/DELETE object, GET bucket with
// prefix/delimiter/marker, HEAD bucket, initiate/upload part/complete/abort multipart),
// with objects in memory, and COS request signatures checked the way COS checks them
// (q-sign-algorithm=sha1, q-ak, q-sign-time, q-key-time, q-header-list,
// q-url-param-list, q-signature; see https://cloud.tencent.com/document/product/436/7778).
// A request with a wrong key or signature gets COS's error XML. Test code only.
package costest

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"s3proxy/backends/internal/objtest"
)

// MinPartSize is COS's minimum size of every part but the last.
const MinPartSize = 1 << 20

const metaPrefix = "x-cos-meta-"

// Options configures a server.
type Options struct {
	Bucket    string // default "chunks-1250000000"
	SecretID  string // default "AKIDtest"
	SecretKey string // default "cos-test-secret"
	// NoBucket starts the server without its bucket (every request: NoSuchBucket).
	NoBucket bool
}

// Server is a running test server.
type Server struct {
	// URL is the bucket's own URL (COS addresses a bucket by host name; on loopback the
	// server's address stands for it).
	URL       string
	Bucket    string
	SecretID  string
	SecretKey string
	Store     *objtest.Store
	Faults    *objtest.Faults
	// Now is the server's clock for signature validity (tests of expired signatures).
	Now func() time.Time
}

// New starts a server that stops when the test ends.
func New(t testing.TB, o Options) *Server {
	t.Helper()
	if o.Bucket == "" {
		o.Bucket = "chunks-1250000000"
	}
	if o.SecretID == "" {
		o.SecretID = "AKIDtest"
	}
	if o.SecretKey == "" {
		o.SecretKey = "cos-test-secret"
	}
	s := &Server{Bucket: o.Bucket, SecretID: o.SecretID, SecretKey: o.SecretKey, Faults: objtest.NewFaults(), Now: time.Now}
	if o.NoBucket {
		s.Store = objtest.NewStore()
	} else {
		s.Store = objtest.NewStore(o.Bucket)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(func() { close(s.Faults.Release); ts.Close() })
	s.URL = ts.URL
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.Faults.Intercept(w, r) {
		return
	}
	w.Header().Set("Server", "tencent-cos")
	w.Header().Set("x-cos-request-id", requestID())
	if code, msg := s.authenticate(r); code != "" {
		s.fail(w, r, code, msg)
		return
	}
	bucket := s.bucketOf(r)
	q := r.URL.Query()
	key := strings.TrimPrefix(r.URL.Path, "/")
	if key == "" {
		switch r.Method {
		case http.MethodHead:
			if !s.Store.HasBucket(bucket) {
				s.fail(w, r, "NoSuchBucket", "The specified bucket does not exist.")
				return
			}
			w.WriteHeader(http.StatusOK)
		case http.MethodGet:
			s.list(w, r, bucket)
		default:
			s.fail(w, r, "MethodNotAllowed", "The specified method is not allowed against this resource.")
		}
		return
	}
	switch {
	case r.Method == http.MethodPut && q.Has("uploadId"):
		s.uploadPart(w, r, bucket, key)
	case r.Method == http.MethodPut:
		s.putObject(w, r, bucket, key)
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
		s.getObject(w, r, bucket, key)
	case r.Method == http.MethodDelete && q.Has("uploadId"):
		if err := s.Store.Abort(bucket, key, q.Get("uploadId")); err != nil {
			s.failErr(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case r.Method == http.MethodDelete:
		if err := s.Store.Delete(bucket, key); err != nil {
			s.failErr(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case r.Method == http.MethodPost && q.Has("uploads"):
		id, err := s.Store.Initiate(bucket, key, userMeta(r.Header))
		if err != nil {
			s.failErr(w, r, err)
			return
		}
		writeXML(w, http.StatusOK, struct {
			XMLName  xml.Name `xml:"InitiateMultipartUploadResult"`
			Bucket   string
			Key      string
			UploadID string `xml:"UploadId"`
		}{Bucket: bucket, Key: key, UploadID: id})
	case r.Method == http.MethodPost && q.Has("uploadId"):
		s.complete(w, r, bucket, key)
	default:
		s.fail(w, r, "MethodNotAllowed", "The specified method is not allowed against this resource.")
	}
}

// bucketOf names the bucket a request addresses: the first label of a virtual-hosted
// name, or on a bare address (loopback) the server's bucket.
func (s *Server) bucketOf(r *http.Request) string {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if net.ParseIP(host) == nil {
		if b, _, ok := strings.Cut(host, "."); ok {
			return b
		}
	}
	return s.Bucket
}

func userMeta(h http.Header) map[string]string {
	m := map[string]string{}
	for k, v := range h {
		if lk := strings.ToLower(k); strings.HasPrefix(lk, metaPrefix) && len(v) > 0 {
			m[strings.TrimPrefix(lk, metaPrefix)] = v[0]
		}
	}
	return m
}

// readBody reads exactly Content-Length bytes; a body cut short is an error (and
// nothing is stored), as on any real server.
func readBody(r *http.Request) ([]byte, error) {
	if r.ContentLength < 0 {
		return nil, errors.New("MissingContentLength")
	}
	data := make([]byte, r.ContentLength)
	if _, err := io.ReadFull(r.Body, data); err != nil {
		return nil, err
	}
	return data, nil
}

func (s *Server) putObject(w http.ResponseWriter, r *http.Request, bucket, key string) {
	data, err := readBody(r)
	if err != nil {
		s.fail(w, r, "IncompleteBody", err.Error())
		return
	}
	o, err := s.Store.Put(bucket, key, data, userMeta(r.Header))
	if err != nil {
		s.failErr(w, r, err)
		return
	}
	w.Header().Set("ETag", o.ETag)
	w.Header().Set("x-cos-hash-crc64ecma", strconv.FormatUint(o.CRC64, 10))
	w.WriteHeader(http.StatusOK)
}

func (s *Server) uploadPart(w http.ResponseWriter, r *http.Request, bucket, key string) {
	q := r.URL.Query()
	num, err := strconv.Atoi(q.Get("partNumber"))
	if err != nil {
		s.fail(w, r, "InvalidArgument", "partNumber")
		return
	}
	data, err := readBody(r)
	if err != nil {
		s.fail(w, r, "IncompleteBody", err.Error())
		return
	}
	etag, err := s.Store.UploadPart(bucket, key, q.Get("uploadId"), num, data)
	if err != nil {
		s.failErr(w, r, err)
		return
	}
	w.Header().Set("ETag", etag)
	w.Header().Set("x-cos-hash-crc64ecma", strconv.FormatUint(objtest.CRC64(data), 10))
	w.WriteHeader(http.StatusOK)
}

func (s *Server) complete(w http.ResponseWriter, r *http.Request, bucket, key string) {
	var req struct {
		Parts []struct {
			PartNumber int
			ETag       string
		} `xml:"Part"`
	}
	if err := xml.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
		s.fail(w, r, "MalformedXML", err.Error())
		return
	}
	refs := make([]objtest.PartRef, len(req.Parts))
	for i, p := range req.Parts {
		refs[i] = objtest.PartRef{Number: p.PartNumber, ETag: p.ETag}
	}
	o, err := s.Store.Complete(bucket, key, r.URL.Query().Get("uploadId"), refs, MinPartSize)
	if err != nil {
		s.failErr(w, r, err)
		return
	}
	w.Header().Set("x-cos-hash-crc64ecma", strconv.FormatUint(o.CRC64, 10))
	writeXML(w, http.StatusOK, struct {
		XMLName  xml.Name `xml:"CompleteMultipartUploadResult"`
		Location string
		Bucket   string
		Key      string
		ETag     string
	}{Location: r.Host + "/" + key, Bucket: bucket, Key: key, ETag: o.ETag})
}

func (s *Server) getObject(w http.ResponseWriter, r *http.Request, bucket, key string) {
	o, err := s.Store.Get(bucket, key)
	if err != nil {
		s.failErr(w, r, err)
		return
	}
	size := int64(len(o.Data))
	h := w.Header()
	for k, v := range o.Meta {
		h.Set(metaPrefix+k, v)
	}
	h.Set("ETag", o.ETag)
	h.Set("Last-Modified", o.Modified.Format(http.TimeFormat))
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Accept-Ranges", "bytes")
	h.Set("x-cos-hash-crc64ecma", strconv.FormatUint(o.CRC64, 10))
	start, end, ranged, err := objtest.ParseRange(r.Header.Get("Range"), size)
	if err != nil {
		h.Del("x-cos-hash-crc64ecma")
		s.fail(w, r, "InvalidRange", "The requested range is not satisfiable")
		return
	}
	status, body := http.StatusOK, o.Data
	if ranged {
		status, body = http.StatusPartialContent, o.Data[start:end+1]
		h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, end, size))
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	if r.Method == http.MethodGet {
		_, _ = w.Write(body)
	}
}

func (s *Server) list(w http.ResponseWriter, r *http.Request, bucket string) {
	q := r.URL.Query()
	maxKeys, _ := strconv.Atoi(q.Get("max-keys"))
	l, err := s.Store.List(bucket, q.Get("prefix"), q.Get("delimiter"), q.Get("marker"), maxKeys)
	if err != nil {
		s.failErr(w, r, err)
		return
	}
	type content struct {
		Key          string
		LastModified string
		ETag         string
		Size         int64
		StorageClass string
	}
	res := struct {
		XMLName        xml.Name `xml:"ListBucketResult"`
		Name           string
		Prefix         string
		Marker         string
		MaxKeys        int
		Delimiter      string `xml:",omitempty"`
		IsTruncated    bool
		NextMarker     string    `xml:",omitempty"`
		Contents       []content `xml:"Contents"`
		CommonPrefixes []string  `xml:"CommonPrefixes>Prefix"`
	}{Name: bucket, Prefix: q.Get("prefix"), Marker: q.Get("marker"), MaxKeys: max(maxKeys, 1000), Delimiter: q.Get("delimiter"),
		IsTruncated: l.Truncated, NextMarker: l.NextMarker, CommonPrefixes: l.CommonPrefixes}
	for _, o := range l.Objects {
		res.Contents = append(res.Contents, content{Key: o.Key, LastModified: o.Modified.Format("2006-01-02T15:04:05.000Z"),
			ETag: o.ETag, Size: int64(len(o.Data)), StorageClass: "STANDARD"})
	}
	writeXML(w, http.StatusOK, res)
}

// ---- errors ----

var statusOf = map[string]int{
	"AccessDenied":          http.StatusForbidden,
	"InvalidAccessKeyId":    http.StatusForbidden,
	"SignatureDoesNotMatch": http.StatusForbidden,
	"RequestTimeTooSkewed":  http.StatusForbidden,
	"NoSuchBucket":          http.StatusNotFound,
	"NoSuchKey":             http.StatusNotFound,
	"NoSuchUpload":          http.StatusNotFound,
	"InvalidRange":          http.StatusRequestedRangeNotSatisfiable,
	"MethodNotAllowed":      http.StatusMethodNotAllowed,
	"SlowDown":              http.StatusServiceUnavailable,
	"InternalError":         http.StatusInternalServerError,
}

func (s *Server) failErr(w http.ResponseWriter, r *http.Request, err error) {
	for _, known := range []error{objtest.ErrNoSuchBucket, objtest.ErrNoSuchKey, objtest.ErrNoSuchUpload, objtest.ErrInvalidPart,
		objtest.ErrInvalidPartOrder, objtest.ErrEntityTooSmall, objtest.ErrInvalidRange, objtest.ErrMalformedPartList} {
		if errors.Is(err, known) {
			s.fail(w, r, known.Error(), err.Error())
			return
		}
	}
	s.fail(w, r, "InternalError", err.Error())
}

// fail answers with COS's error XML (no body for HEAD, as COS does).
func (s *Server) fail(w http.ResponseWriter, r *http.Request, code, msg string) {
	status, ok := statusOf[code]
	if !ok {
		status = http.StatusBadRequest
	}
	WriteError(w, r, status, code, msg)
}

// WriteError writes COS's error response; fault injectors use it too.
func WriteError(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 64<<20))
	}
	if r.Method == http.MethodHead {
		w.WriteHeader(status)
		return
	}
	id := w.Header().Get("x-cos-request-id")
	if id == "" {
		id = requestID()
		w.Header().Set("x-cos-request-id", id)
	}
	writeXML(w, status, struct {
		XMLName   xml.Name `xml:"Error"`
		Code      string
		Message   string
		Resource  string
		RequestID string `xml:"RequestId"`
		TraceID   string `xml:"TraceId"`
	}{Code: code, Message: msg, Resource: r.Host + r.URL.Path, RequestID: id, TraceID: id})
}

func writeXML(w http.ResponseWriter, status int, v any) {
	b, err := xml.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("Content-Length", strconv.Itoa(len(xml.Header)+len(b)))
	w.WriteHeader(status)
	_, _ = io.WriteString(w, xml.Header)
	_, _ = w.Write(b)
}

func requestID() string {
	return strconv.FormatInt(time.Now().UnixNano(), 36)
}

// ---- signatures ----

// authenticate checks the Authorization header as COS does and returns the error code
// and message to answer with, or "" when the request is authentic.
func (s *Server) authenticate(r *http.Request) (code, msg string) {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		return "AccessDenied", "Access Denied."
	}
	p := map[string]string{}
	for _, kv := range strings.Split(auth, "&") {
		k, v, _ := strings.Cut(kv, "=")
		p[k] = v
	}
	for _, k := range []string{"q-sign-algorithm", "q-ak", "q-sign-time", "q-key-time", "q-header-list", "q-url-param-list", "q-signature"} {
		if _, ok := p[k]; !ok {
			return "AccessDenied", "Authorization is malformed: missing " + k
		}
	}
	if p["q-sign-algorithm"] != "sha1" {
		return "AccessDenied", "unsupported q-sign-algorithm " + p["q-sign-algorithm"]
	}
	if p["q-ak"] != s.SecretID {
		return "InvalidAccessKeyId", "The access key Id format you provided is invalid."
	}
	if !within(p["q-sign-time"], s.Now()) || !within(p["q-key-time"], s.Now()) {
		return "AccessDenied", "Request has expired"
	}
	want := Signature(s.SecretKey, p["q-key-time"], r, splitList(p["q-header-list"]), splitList(p["q-url-param-list"]))
	if !hmac.Equal([]byte(want), []byte(p["q-signature"])) {
		return "SignatureDoesNotMatch", "The Signature you specified is invalid."
	}
	// Everything a COS client must sign is signed: the host, and every parameter.
	signedHeaders := map[string]bool{}
	for _, h := range splitList(p["q-header-list"]) {
		signedHeaders[h] = true
	}
	if !signedHeaders["host"] {
		return "AccessDenied", "the host header must be signed"
	}
	signedParams := map[string]bool{}
	for _, k := range splitList(p["q-url-param-list"]) {
		signedParams[k] = true
	}
	for k := range r.URL.Query() {
		if !signedParams[strings.ToLower(encode(k))] {
			return "AccessDenied", "parameter " + k + " is not signed"
		}
	}
	return "", ""
}

func splitList(v string) []string {
	if v == "" {
		return nil
	}
	return strings.Split(v, ";")
}

// within reports whether "start;end" (Unix seconds) covers now.
func within(span string, now time.Time) bool {
	a, b, ok := strings.Cut(span, ";")
	if !ok {
		return false
	}
	start, err1 := strconv.ParseInt(a, 10, 64)
	end, err2 := strconv.ParseInt(b, 10, 64)
	return err1 == nil && err2 == nil && start <= now.Unix()+60 && now.Unix() <= end
}

// Signature computes q-signature for r over the named (lower-case) headers and query
// parameters: SignKey = HMAC-SHA1(SecretKey, KeyTime); HttpString =
// method\nURI-path\nparams\nheaders\n; StringToSign = sha1\nKeyTime\nSHA1(HttpString)\n;
// Signature = HMAC-SHA1(SignKey, StringToSign), all in lower-case hex.
func Signature(secretKey, keyTime string, r *http.Request, headers, params []string) string {
	hv := map[string][]string{}
	for k, vs := range r.Header {
		hv[strings.ToLower(encode(k))] = append(hv[strings.ToLower(encode(k))], vs...)
	}
	hv["host"] = []string{r.Host}
	pv := map[string][]string{}
	for k, vs := range r.URL.Query() {
		pv[strings.ToLower(encode(k))] = append(pv[strings.ToLower(encode(k))], vs...)
	}
	httpString := strings.ToLower(r.Method) + "\n" + r.URL.Path + "\n" + canon(pv, params) + "\n" + canon(hv, headers) + "\n"
	sum := sha1.Sum([]byte(httpString))
	stringToSign := "sha1\n" + keyTime + "\n" + hex.EncodeToString(sum[:]) + "\n"
	return hmacHex(hmacHex(secretKey, keyTime), stringToSign)
}

// canon renders the listed names of m as sorted name=encoded-value pairs joined by &.
func canon(m map[string][]string, names []string) string {
	names = append([]string(nil), names...)
	sort.Strings(names)
	var pairs []string
	for i, k := range names {
		if i > 0 && names[i-1] == k {
			continue
		}
		vs := append([]string(nil), m[k]...)
		sort.Strings(vs)
		if len(vs) == 0 {
			vs = []string{""}
		}
		for _, v := range vs {
			pairs = append(pairs, k+"="+encode(v))
		}
	}
	return strings.Join(pairs, "&")
}

func hmacHex(key, msg string) string {
	m := hmac.New(sha1.New, []byte(key))
	m.Write([]byte(msg))
	return hex.EncodeToString(m.Sum(nil))
}

// encode percent-encodes everything but RFC 3986's unreserved characters.
func encode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}
