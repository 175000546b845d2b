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
	"fmt"
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

	front *objtest.Front
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
	s.front = &objtest.Front{
		Store: s.Store, MetaPrefix: metaPrefix, CRCHeader: "x-cos-hash-crc64ecma", MinPartSize: MinPartSize,
		Fail:     fail,
		Location: func(r *http.Request, _, key string) string { return r.Host + "/" + key },
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
	w.Header().Set("x-cos-request-id", objtest.RequestID())
	if code, msg := s.authenticate(r); code != "" {
		fail(w, r, code, msg)
		return
	}
	bucket := s.bucketOf(r)
	key := strings.TrimPrefix(r.URL.Path, "/")
	if key != "" {
		s.front.ServeObject(w, r, bucket, key)
		return
	}
	switch r.Method {
	case http.MethodHead:
		if !s.Store.HasBucket(bucket) {
			fail(w, r, "NoSuchBucket", "The specified bucket does not exist.")
			return
		}
		w.WriteHeader(http.StatusOK)
	case http.MethodGet:
		s.list(w, r, bucket)
	default:
		fail(w, r, "MethodNotAllowed", "The specified method is not allowed against this resource.")
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

func (s *Server) list(w http.ResponseWriter, r *http.Request, bucket string) {
	q := r.URL.Query()
	maxKeys, _ := strconv.Atoi(q.Get("max-keys"))
	l, err := s.Store.List(bucket, q.Get("prefix"), q.Get("delimiter"), q.Get("marker"), maxKeys)
	if err != nil {
		s.front.FailErr(w, r, err)
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
	objtest.WriteXML(w, http.StatusOK, res)
}

// ---- errors ----

// fail answers with COS's error XML (no body for HEAD, as COS does).
func fail(w http.ResponseWriter, r *http.Request, code, msg string) {
	WriteError(w, r, objtest.StatusOf(code), code, msg)
}

// WriteError writes COS's error response; fault injectors use it too.
func WriteError(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	id := objtest.ErrorID(w, r, "x-cos-request-id")
	if r.Method == http.MethodHead {
		w.WriteHeader(status)
		return
	}
	objtest.WriteXML(w, status, struct {
		XMLName   xml.Name `xml:"Error"`
		Code      string
		Message   string
		Resource  string
		RequestID string `xml:"RequestId"`
		TraceID   string `xml:"TraceId"`
	}{Code: code, Message: msg, Resource: r.Host + r.URL.Path, RequestID: id, TraceID: id})
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
