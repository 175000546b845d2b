package main

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"golang.org/x/net/http/httpguts"
)

// fuzzMethods are the methods FuzzS3API sends (its first argument picks one).
var fuzzMethods = []string{http.MethodGet, http.MethodPut, http.MethodPost, http.MethodDelete, http.MethodHead}

// fuzzSeeds are requests of every kind of S3 operation, with the headers and bodies
// real clients send: method, path, raw query, header lines ("Name: value"), body.
var fuzzSeeds = []struct {
	method      uint8
	path, query string
	headers     string
	body        string
}{
	{1, "/fzz/a", "", "Content-Type: text/plain\nx-amz-meta-k: v", "hello"},
	{0, "/fzz/a", "", "Range: bytes=1-3", ""},
	{0, "/fzz/a", "", "Range: bytes=-2\nIf-None-Match: \"x\"", ""},
	{4, "/fzz/a", "partNumber=1", "If-Modified-Since: Mon, 02 Jan 2006 15:04:05 GMT", ""},
	{0, "/fzz", "list-type=2&prefix=a&delimiter=/&max-keys=2&start-after=a", "", ""},
	{0, "/fzz", "versions&key-marker=a&max-keys=1", "", ""},
	{0, "/fzz", "uploads&prefix=a", "", ""},
	{1, "/fzz/b", "", "x-amz-copy-source: /fzz/a\nx-amz-metadata-directive: REPLACE\nx-amz-tagging: a=b", ""},
	{1, "/fzz/c", "", "Content-MD5: XUFAKrxLKna5cZ2REBfFkg==\nx-amz-checksum-crc32: NhCmhg==", "hello"},
	{1, "/fzz/d", "", "x-amz-content-sha256: STREAMING-UNSIGNED-PAYLOAD-TRAILER\nContent-Encoding: aws-chunked\nx-amz-decoded-content-length: 5\nx-amz-trailer: x-amz-checksum-crc32", "5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n"},
	{2, "/fzz/m", "uploads", "x-amz-checksum-algorithm: CRC32", ""},
	{1, "/fzz/m", "partNumber=1&uploadId=UPLOAD", "", "part"},
	{2, "/fzz/m", "uploadId=UPLOAD", "", `<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"f4c9385f1902f7334b00b9b4ecd164de"</ETag></Part></CompleteMultipartUpload>`},
	{0, "/fzz/m", "uploadId=UPLOAD&part-number-marker=1", "", ""},
	{3, "/fzz/m", "uploadId=UPLOAD", "", ""},
	{2, "/fzz", "delete", "Content-MD5: auto", `<Delete><Quiet>true</Quiet><Object><Key>a</Key></Object><Object><Key>b</Key><VersionId>null</VersionId></Object></Delete>`},
	{1, "/fzz/a", "tagging", "", `<Tagging><TagSet><Tag><Key>k</Key><Value>v</Value></Tag></TagSet></Tagging>`},
	{1, "/fzz", "tagging", "Content-MD5: auto", `<Tagging><TagSet><Tag><Key>k</Key><Value>v</Value></Tag></TagSet></Tagging>`},
	{1, "/fzz", "versioning", "", `<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>`},
	{1, "/fzz", "lifecycle", "Content-MD5: auto", `<LifecycleConfiguration><Rule><ID>r</ID><Filter><Prefix>a</Prefix></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule></LifecycleConfiguration>`},
	{1, "/fzz", "cors", "Content-MD5: auto", `<CORSConfiguration><CORSRule><AllowedMethod>GET</AllowedMethod><AllowedOrigin>*</AllowedOrigin></CORSRule></CORSConfiguration>`},
	{1, "/fzz", "policy", "", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:user/AKIATESTOTHER000002"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::fzz/*"}]}`},
	{1, "/fzzl", "object-lock", "Content-MD5: auto", `<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled></ObjectLockConfiguration>`},
	{0, "/fzzl/a", "retention", "", ""},
	{1, "/fzzl/a", "retention", "Content-MD5: auto", `<Retention><Mode>GOVERNANCE</Mode><RetainUntilDate>2030-01-01T00:00:00Z</RetainUntilDate></Retention>`},
	{2, "/fzz/a", "select&select-type=2", "", `<SelectObjectContentRequest/>`},
	{0, "/fzz/a", "attributes", "x-amz-object-attributes: ETag,ObjectSize,Checksum", ""},
	{3, "/fzz/a", "", "If-Match: *", ""},
	{1, "/fzz2", "", "x-amz-acl: private\nx-amz-bucket-object-lock-enabled: true", `<CreateBucketConfiguration><LocationConstraint>us-east-1</LocationConstraint></CreateBucketConfiguration>`},
	{3, "/fzz2", "", "", ""},
	{0, "/", "", "", ""},
}

// FuzzS3API sends signed requests made of arbitrary methods, paths, queries, headers and
// bodies through the whole stack (SigV4, routing, every handler's parsing, translate,
// SQLite and the local chunk store) and holds every answer to what a client may rely on:
// no internal error (a panic in a handler is one: the server recovers it as a 500), a
// status code that exists, an S3 error document for every refusal, and what a plain
// PutObject accepted is what a GET returns, with its MD5 as ETag. The seeds are every
// kind of operation with what real clients send; `go test` runs them as a test.
//
// Two directives let mutated inputs get past the checks a fuzzer cannot satisfy by
// chance and into the parsers behind them: the header "Content-MD5: auto" becomes the
// body's true Content-MD5, and "uploadId=UPLOAD" in the query the id of a multipart
// upload of fzz/m, made for the request, whose part 1 holds "part".
//
//	go test -run - -fuzz FuzzS3API -fuzztime 60s ./cmd/s3proxy
func FuzzS3API(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s.method, s.path, s.query, s.headers, []byte(s.body))
	}
	st := newStack(f)
	ctx := context.Background()
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	creds := aws.Credentials{AccessKeyID: testAK, SecretAccessKey: testSK}
	// send signs and serves one request; nil when net/http would not deliver it as such.
	send := func(tb testing.TB, method, path, query string, hdr http.Header, body []byte) *httptest.ResponseRecorder {
		u := &url.URL{Scheme: "http", Host: "s3.test", Path: path, RawQuery: query}
		req, err := http.NewRequestWithContext(ctx, method, u.String(), bytes.NewReader(body))
		if err != nil || req.URL.Path != path {
			return nil
		}
		for k, vs := range hdr {
			req.Header[k] = vs
		}
		ph := req.Header.Get("x-amz-content-sha256")
		if ph == "" {
			sum := sha256.Sum256(body)
			ph = hex.EncodeToString(sum[:])
			req.Header.Set("x-amz-content-sha256", ph)
		}
		if err := signer.SignHTTP(ctx, creds, req, ph, "s3", "us-east-1", time.Now()); err != nil {
			return nil
		}
		req.RemoteAddr = "192.0.2.1:1234"
		rr := httptest.NewRecorder()
		func() {
			defer func() {
				// A body failing after the head is sent aborts the connection, as
				// net/http does with this panic; anything else the server recovers.
				if p := recover(); p != nil && p != http.ErrAbortHandler {
					tb.Fatalf("%s %s?%s: panic %v", method, path, query, p)
				}
			}()
			st.handler.ServeHTTP(rr, req)
		}()
		return rr
	}
	// ok sends a request of the harness's own and reports whether it answered 200.
	ok := func(tb testing.TB, method, path, query string, hdr http.Header, body string) (string, bool) {
		rr := send(tb, method, path, query, hdr, []byte(body))
		if rr == nil || rr.Code != http.StatusOK {
			return "", false
		}
		return rr.Body.String(), true
	}
	// restore gives the inputs their buckets back (an input may delete one); Fatal only
	// when that fails in the set-up, before any input ran.
	restore := func(tb testing.TB) bool {
		for _, b := range []struct {
			path string
			hdr  http.Header
		}{{"/fzz", nil}, {"/fzzl", http.Header{"X-Amz-Bucket-Object-Lock-Enabled": {"true"}}}} {
			if rr := send(tb, http.MethodHead, b.path, "", nil, nil); rr != nil && rr.Code == http.StatusOK {
				continue
			}
			if _, done := ok(tb, http.MethodPut, b.path, "", b.hdr, ""); !done {
				return false
			}
		}
		return true
	}
	if !restore(f) {
		f.Fatal("set-up: cannot create the buckets")
	}
	if _, done := ok(f, http.MethodPut, "/fzzl/a", "", nil, "locked"); !done {
		f.Fatal("set-up: cannot put fzzl/a")
	}

	f.Fuzz(func(t *testing.T, m uint8, path, query, headers string, body []byte) {
		method := fuzzMethods[int(m)%len(fuzzMethods)]
		if !strings.HasPrefix(path, "/") {
			return
		}
		hdr := http.Header{}
		for _, line := range strings.Split(headers, "\n") {
			name, value, ok := strings.Cut(line, ":")
			name, value = strings.TrimSpace(name), strings.TrimSpace(value)
			if !ok || !httpguts.ValidHeaderFieldName(name) || !httpguts.ValidHeaderFieldValue(value) {
				continue
			}
			switch name = http.CanonicalHeaderKey(name); name {
			case "Host", "Content-Length", "Transfer-Encoding", "Authorization", "X-Amz-Date", "Connection":
				continue // set by the transport and the signer, as on a real connection
			case "Content-Md5":
				if value == "auto" {
					sum := md5.Sum(body)
					value = base64.StdEncoding.EncodeToString(sum[:])
				}
			}
			hdr.Add(name, value)
		}
		if strings.Contains(query, "uploadId=UPLOAD") {
			var created struct {
				UploadID string `xml:"UploadId"`
			}
			// An earlier input may have taken the harness's rights away (a bucket policy
			// denying them): the input is then only sent as it is.
			if doc, done := ok(t, http.MethodPost, "/fzz/m", "uploads", nil, ""); done && xml.Unmarshal([]byte(doc), &created) == nil {
				ok(t, http.MethodPut, "/fzz/m", "partNumber=1&uploadId="+created.UploadID, nil, "part")
			}
			query = strings.ReplaceAll(query, "uploadId=UPLOAD", "uploadId="+url.QueryEscape(created.UploadID))
		}
		rr := send(t, method, path, query, hdr, body)
		if rr == nil {
			return
		}
		if method == http.MethodDelete && rr.Code < 300 && !strings.Contains(strings.Trim(path, "/"), "/") {
			restore(t)
		}
		res := rr.Result()
		if res.StatusCode < 200 || res.StatusCode > 599 || http.StatusText(res.StatusCode) == "" {
			t.Fatalf("%s %s?%s: status %d", method, path, query, res.StatusCode)
		}
		if res.StatusCode >= 500 && res.StatusCode != http.StatusNotImplemented {
			t.Fatalf("%s %s?%s (headers %q, %d body bytes): %d %s", method, path, query, headers, len(body), res.StatusCode, rr.Body.String())
		}
		if res.StatusCode < 300 && plainPut(method, path, query, hdr) {
			// What a plain PutObject accepted is what a GET returns, with its MD5 as ETag.
			got := send(t, http.MethodGet, path, "", nil, nil)
			want := md5.Sum(body)
			switch {
			case got == nil || got.Code == http.StatusNotFound || got.Code == http.StatusOK && !bytes.Equal(got.Body.Bytes(), body):
				t.Fatalf("PUT %s (headers %q) answered %d, then GET: %v", path, headers, res.StatusCode, got)
			case got.Code != http.StatusOK:
				return // an input's bucket policy may deny the GET
			}
			if etag := got.Header().Get("ETag"); etag != `"`+hex.EncodeToString(want[:])+`"` || res.Header.Get("ETag") != etag {
				t.Fatalf("PUT %s: ETag %s, GET ETag %s, want the MD5 %x", path, res.Header.Get("ETag"), etag, want)
			}
		}
		if res.StatusCode < 400 || method == http.MethodHead {
			return
		}
		if res.StatusCode == http.StatusBadRequest && rr.Body.Len() == 0 && dotSegment(path) {
			return // S3's front end refuses a key path with "." or ".." segments bare (s3api.addressableKey)
		}
		var doc struct {
			XMLName xml.Name `xml:"Error"`
			Code    string   `xml:"Code"`
		}
		if err := xml.Unmarshal(rr.Body.Bytes(), &doc); err != nil || doc.Code == "" {
			t.Fatalf("%s %s?%s: %d without an S3 error document: %q", method, path, query, res.StatusCode, rr.Body.String())
		}
	})
}

// plainPut reports whether a request is a PutObject (a path with a key) whose body is
// the object as sent and readable back without more headers: no copy, no content
// encoding or payload hash of the input's own, no encryption.
func plainPut(method, path, query string, hdr http.Header) bool {
	_, key, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	if method != http.MethodPut || query != "" || key == "" {
		return false
	}
	for k := range hdr {
		switch {
		case k == "X-Amz-Copy-Source", k == "Content-Encoding", k == "X-Amz-Content-Sha256",
			strings.HasPrefix(k, "X-Amz-Server-Side-Encryption"):
			return false
		}
	}
	return true
}

// dotSegment reports whether a request path has a "." or ".." segment.
func dotSegment(path string) bool {
	for _, seg := range strings.Split(path, "/") {
		if seg == "." || seg == ".." {
			return true
		}
	}
	return false
}
