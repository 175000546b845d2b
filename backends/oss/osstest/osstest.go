// Package osstest is an Aliyun OSS test server on loopback: the part of the OSS API that
// backends/oss uses (PUT/GET with Range and x-oss-range-behavior/HEAD/DELETE object, GET
// bucket (ListObjects) with prefix/delimiter/marker and encoding-type=url,
// initiate/upload part/complete/abort multipart), path-style, with objects in memory,
// and OSS request signatures checked the way OSS checks them: V1 ("OSS ak:signature",
// HMAC-SHA1 over verb, Content-MD5, Content-Type, Date, the x-oss- headers and the
// canonicalized resource with its sub-resources) and V4 ("OSS4-HMAC-SHA256
// Credential=ak/day/region/oss/aliyun_v4_request", HMAC-SHA256 over the canonical
// request). A wrong key or signature gets OSS's error XML. Test code only.
package osstest

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"s3proxy/backends/internal/objtest"
)

// MinPartSize is OSS's minimum size of every part but the last.
const MinPartSize = 100 << 10

const metaPrefix = "x-oss-meta-"

// Options configures a server.
type Options struct {
	Bucket    string // default "chunks"
	AccessKey string // default "LTAItest"
	SecretKey string // default "oss-test-secret"
	Region    string // the region V4 signatures must name; default "cn-hangzhou"
	// NoBucket starts the server without its bucket (every request: NoSuchBucket).
	NoBucket bool
}

// Server is a running test server.
type Server struct {
	URL       string // the endpoint (path-style: /bucket/key)
	Bucket    string
	AccessKey string
	SecretKey string
	Region    string
	Store     *objtest.Store
	Faults    *objtest.Faults
	// Now is the server's clock for request dates (tests of skewed clocks).
	Now func() time.Time

	front        *objtest.Front
	subResources map[string]bool
	mu           sync.Mutex
	signed       map[string]int // authentic requests by signature version
}

// New starts a server that stops when the test ends.
func New(t testing.TB, o Options) *Server {
	t.Helper()
	if o.Bucket == "" {
		o.Bucket = "chunks"
	}
	if o.AccessKey == "" {
		o.AccessKey = "LTAItest"
	}
	if o.SecretKey == "" {
		o.SecretKey = "oss-test-secret"
	}
	if o.Region == "" {
		o.Region = "cn-hangzhou"
	}
	s := &Server{Bucket: o.Bucket, AccessKey: o.AccessKey, SecretKey: o.SecretKey, Region: o.Region,
		Faults: objtest.NewFaults(), Now: time.Now, subResources: map[string]bool{}, signed: map[string]int{}}
	for _, k := range strings.Fields(subResourceList) {
		s.subResources[k] = true
	}
	if o.NoBucket {
		s.Store = objtest.NewStore()
	} else {
		s.Store = objtest.NewStore(o.Bucket)
	}
	s.front = &objtest.Front{
		Store: s.Store, MetaPrefix: metaPrefix, CRCHeader: "x-oss-hash-crc64ecma", MinPartSize: MinPartSize,
		Fail: fail,
		Location: func(r *http.Request, bucket, key string) string {
			return "http://" + r.Host + "/" + bucket + "/" + key
		},
		// Without x-oss-range-behavior: standard, OSS serves an unsatisfiable range as
		// the whole object (200), for compatibility with old clients.
		StrictRange: func(r *http.Request) bool {
			return strings.EqualFold(r.Header.Get("x-oss-range-behavior"), "standard")
		},
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
	w.Header().Set("Server", "AliyunOSS")
	w.Header().Set("x-oss-request-id", objtest.RequestID())
	bucket, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if code, msg := s.authenticate(r, bucket, key); code != "" {
		fail(w, r, code, msg)
		return
	}
	if bucket == "" {
		fail(w, r, "InvalidBucketName", "path-style requests name the bucket first")
		return
	}
	if key != "" {
		s.front.ServeObject(w, r, bucket, key)
		return
	}
	if r.Method == http.MethodGet {
		s.list(w, r, bucket)
		return
	}
	fail(w, r, "MethodNotAllowed", "The specified method is not allowed against this resource.")
}

func (s *Server) list(w http.ResponseWriter, r *http.Request, bucket string) {
	q := r.URL.Query()
	maxKeys := 100 // OSS's default page
	if v := q.Get("max-keys"); v != "" {
		maxKeys, _ = strconv.Atoi(v)
	}
	l, err := s.Store.List(bucket, q.Get("prefix"), q.Get("delimiter"), q.Get("marker"), maxKeys)
	if err != nil {
		s.front.FailErr(w, r, err)
		return
	}
	enc := func(v string) string { return v }
	if q.Get("encoding-type") == "url" {
		enc = url.QueryEscape
	}
	type content struct {
		Key          string
		LastModified string
		ETag         string
		Type         string
		Size         int64
		StorageClass string
	}
	res := struct {
		XMLName        xml.Name `xml:"ListBucketResult"`
		Name           string
		Prefix         string
		Marker         string
		MaxKeys        int
		Delimiter      string
		IsTruncated    bool
		NextMarker     string    `xml:",omitempty"`
		EncodingType   string    `xml:",omitempty"`
		Contents       []content `xml:"Contents"`
		CommonPrefixes []string  `xml:"CommonPrefixes>Prefix"`
	}{Name: bucket, Prefix: enc(q.Get("prefix")), Marker: enc(q.Get("marker")), MaxKeys: maxKeys, Delimiter: enc(q.Get("delimiter")),
		IsTruncated: l.Truncated, NextMarker: enc(l.NextMarker), EncodingType: q.Get("encoding-type")}
	for _, p := range l.CommonPrefixes {
		res.CommonPrefixes = append(res.CommonPrefixes, enc(p))
	}
	for _, o := range l.Objects {
		res.Contents = append(res.Contents, content{Key: enc(o.Key), LastModified: o.Modified.Format("2006-01-02T15:04:05.000Z"),
			ETag: o.ETag, Type: "Normal", Size: int64(len(o.Data)), StorageClass: "Standard"})
	}
	objtest.WriteXML(w, http.StatusOK, res)
}

// ---- errors ----

func fail(w http.ResponseWriter, r *http.Request, code, msg string) {
	WriteError(w, r, objtest.StatusOf(code), code, msg)
}

// WriteError writes OSS's error response: the XML body, or for HEAD (which has no body)
// the same XML base64-encoded in x-oss-err, as OSS does. Fault injectors use it too.
func WriteError(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	id := objtest.ErrorID(w, r, "x-oss-request-id")
	b, _ := xml.Marshal(struct {
		XMLName   xml.Name `xml:"Error"`
		Code      string
		Message   string
		RequestID string `xml:"RequestId"`
		HostID    string `xml:"HostId"`
		EC        string
	}{Code: code, Message: msg, RequestID: id, HostID: r.Host, EC: "0000-00000000"})
	w.Header().Set("x-oss-ec", "0000-00000000")
	if r.Method == http.MethodHead {
		w.Header().Set("x-oss-err", base64.StdEncoding.EncodeToString(b))
		w.WriteHeader(status)
		return
	}
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, xml.Header)
	_, _ = w.Write(b)
}

// ---- signatures ----

// subResourceList names the query parameters a V1 signature covers (OSS's list).
const subResourceList = `acl uploads location cors logging website referer lifecycle delete append
		tagging objectMeta uploadId partNumber security-token position img style styleName replication
		replicationProgress replicationLocation cname bucketInfo comp qos live status vod startTime endTime
		symlink x-oss-process response-content-type x-oss-traffic-limit response-content-language
		response-expires response-cache-control response-content-disposition response-content-encoding udf
		udfName udfImage udfId udfImageDesc udfApplication udfApplicationLog restore callback callback-var
		qosInfo policy stat encryption versions versioning versionId requestPayment x-oss-request-payer
		sequential inventory inventoryId continuation-token asyncFetch worm wormId wormExtend withHashContext
		x-oss-enable-md5 x-oss-enable-sha1 x-oss-enable-sha256 x-oss-hash-ctx x-oss-md5-ctx
		transferAcceleration regionList cloudboxes metaQuery resourceGroup rtc responseHeader`

// authenticate checks the Authorization header and returns the error code and message
// to answer with, or "" when the request is authentic.
func (s *Server) authenticate(r *http.Request, bucket, key string) (code, msg string) {
	auth := r.Header.Get("Authorization")
	switch {
	case auth == "":
		return "AccessDenied", "You have no right to access this object because of bucket acl."
	case strings.HasPrefix(auth, "OSS "):
		return s.checkV1(r, auth, bucket, key)
	case strings.HasPrefix(auth, "OSS4-HMAC-SHA256 "):
		return s.checkV4(r, auth, bucket, key)
	}
	return "InvalidArgument", "Authorization header is invalid."
}

func (s *Server) checkDate(v string, layout string) (string, string) {
	t, err := time.Parse(layout, v)
	if err != nil {
		return "AccessDenied", "OSS authentication requires a valid Date."
	}
	if d := s.Now().Sub(t); d > 15*time.Minute || d < -15*time.Minute {
		return "RequestTimeTooSkewed", "The difference between the request time and the current time is too large."
	}
	return "", ""
}

// checkV1: Signature = base64(HMAC-SHA1(secret, VERB\nContent-MD5\nContent-Type\nDate\n
// CanonicalizedOSSHeaders CanonicalizedResource)).
func (s *Server) checkV1(r *http.Request, auth, bucket, key string) (string, string) {
	ak, sig, ok := strings.Cut(strings.TrimPrefix(auth, "OSS "), ":")
	if !ok {
		return "InvalidArgument", "Authorization header is invalid."
	}
	if ak != s.AccessKey {
		return "InvalidAccessKeyId", "The OSS Access Key Id you provided does not exist in our records."
	}
	if code, msg := s.checkDate(r.Header.Get("Date"), http.TimeFormat); code != "" {
		return code, msg
	}
	var sub []string
	for k, vs := range r.URL.Query() {
		if s.subResources[k] {
			if vs[0] == "" {
				sub = append(sub, k)
			} else {
				sub = append(sub, k+"="+vs[0])
			}
		}
	}
	sort.Strings(sub)
	resource := "/" + bucket + "/" + key
	if bucket == "" {
		resource = "/"
	}
	if len(sub) > 0 {
		resource += "?" + strings.Join(sub, "&")
	}
	toSign := r.Method + "\n" + r.Header.Get("Content-MD5") + "\n" + r.Header.Get("Content-Type") + "\n" +
		r.Header.Get("Date") + "\n" + canonHeaders(r.Header, nil, false) + resource
	m := hmac.New(sha1.New, []byte(s.SecretKey))
	m.Write([]byte(toSign))
	if !hmac.Equal([]byte(base64.StdEncoding.EncodeToString(m.Sum(nil))), []byte(sig)) {
		return "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided."
	}
	s.count("OSS")
	return "", ""
}

// canonHeaders renders the x-oss- headers (and for V4 Content-MD5, Content-Type and the
// additional headers) as sorted "name:value\n" lines.
func canonHeaders(h http.Header, additional map[string]bool, v4 bool) string {
	var keys []string
	vals := map[string]string{}
	for k, vs := range h {
		lk := strings.ToLower(k)
		if strings.HasPrefix(lk, "x-oss-") || additional[lk] || v4 && (lk == "content-md5" || lk == "content-type") {
			keys = append(keys, lk)
			vals[lk] = vs[0]
			if v4 {
				vals[lk] = strings.Trim(vs[0], " ")
			}
		}
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k + ":" + vals[k] + "\n")
	}
	return b.String()
}

func v4Escape(v string) string { return strings.ReplaceAll(url.QueryEscape(v), "+", "%20") }

// checkV4: the canonical request (verb, resource, sorted query, canonical headers,
// additional header names, payload hash) is hashed into the string to sign, which is
// signed with a key derived from "aliyun_v4"+secret, the day, the region and "oss".
func (s *Server) checkV4(r *http.Request, auth, bucket, key string) (string, string) {
	fields := map[string]string{}
	for _, f := range strings.Split(strings.TrimPrefix(auth, "OSS4-HMAC-SHA256 "), ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(f), "=")
		fields[k] = v
	}
	cred := strings.Split(fields["Credential"], "/")
	if len(cred) != 5 || cred[3] != "oss" || cred[4] != "aliyun_v4_request" || fields["Signature"] == "" {
		return "InvalidArgument", "Authorization header is invalid."
	}
	ak, day, region := cred[0], cred[1], cred[2]
	if ak != s.AccessKey {
		return "InvalidAccessKeyId", "The OSS Access Key Id you provided does not exist in our records."
	}
	if region != s.Region {
		return "SignatureDoesNotMatch", "Invalid signing region in Authorization header."
	}
	signDate := r.Header.Get("x-oss-date")
	if signDate != "" {
		if code, msg := s.checkDate(signDate, "20060102T150405Z"); code != "" {
			return code, msg
		}
	} else {
		signDate = r.Header.Get("Date")
		if code, msg := s.checkDate(signDate, http.TimeFormat); code != "" {
			return code, msg
		}
	}
	additional := map[string]bool{}
	var addList []string
	if v := fields["AdditionalHeaders"]; v != "" {
		addList = strings.Split(v, ";")
		for _, h := range addList {
			additional[strings.ToLower(h)] = true
		}
	}
	var sub []string
	for k, vs := range r.URL.Query() {
		if vs[0] == "" {
			sub = append(sub, v4Escape(k))
		} else {
			sub = append(sub, v4Escape(k)+"="+v4Escape(vs[0]))
		}
	}
	sort.Strings(sub)
	resource := "/"
	if bucket != "" {
		resource = "/" + bucket + "/" + strings.ReplaceAll(v4Escape(key), "%2F", "/")
	}
	payload := r.Header.Get("x-oss-content-sha256")
	if payload == "" {
		payload = "UNSIGNED-PAYLOAD"
	}
	canonical := r.Method + "\n" + resource + "\n" + strings.Join(sub, "&") + "\n" + canonHeaders(r.Header, additional, true) + "\n" +
		strings.Join(addList, ";") + "\n" + payload
	sum := sha256.Sum256([]byte(canonical))
	toSign := "OSS4-HMAC-SHA256\n" + signDate + "\n" + day + "/" + region + "/oss/aliyun_v4_request\n" + hex.EncodeToString(sum[:])
	k := hmacSHA256([]byte("aliyun_v4"+s.SecretKey), day)
	k = hmacSHA256(k, region)
	k = hmacSHA256(k, "oss")
	k = hmacSHA256(k, "aliyun_v4_request")
	if !hmac.Equal([]byte(hex.EncodeToString(hmacSHA256(k, toSign))), []byte(fields["Signature"])) {
		return "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided."
	}
	s.count("OSS4-HMAC-SHA256")
	return "", ""
}

func hmacSHA256(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

func (s *Server) count(version string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.signed[version]++
}

// Signed counts the authentic requests signed with version ("OSS" for V1,
// "OSS4-HMAC-SHA256" for V4).
func (s *Server) Signed(version string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.signed[version]
}
