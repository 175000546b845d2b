package sigv4

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"s3proxy/s3api/s3err"
)

const (
	testAK     = "AKIDEXAMPLE"
	testSK     = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	testRegion = "us-east-1"
)

type staticCreds map[string]string

func (c staticCreds) SecretKey(ak string) (string, bool) { s, ok := c[ak]; return s, ok }

func testNow() time.Time { return time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC) }

func newVerifier() *Verifier {
	return &Verifier{Creds: staticCreds{testAK: testSK}, Region: testRegion, Now: testNow}
}

// toServer sends r through the HTTP/1.1 wire format and parses it back the
// way net/http's server does, so tests see RequestURI, Host and the header
// map exactly as a handler would.
func toServer(t testing.TB, r *http.Request) *http.Request {
	t.Helper()
	var buf bytes.Buffer
	if err := r.Write(&buf); err != nil {
		t.Fatal(err)
	}
	sr, err := http.ReadRequest(bufio.NewReader(&buf))
	if err != nil {
		t.Fatal(err)
	}
	return sr
}

type signOpts struct {
	method  string
	path    string // escaped, as on the wire
	query   string // raw
	headers map[string]string
	body    []byte
	payload string // x-amz-content-sha256; "" = sha256(body); "-" = no header
	at      time.Time
	region  string
	ak, sk  string
}

func (o *signOpts) defaults() {
	if o.method == "" {
		o.method = http.MethodGet
	}
	if o.path == "" {
		o.path = "/bucket/key"
	}
	if o.at.IsZero() {
		o.at = testNow()
	}
	if o.region == "" {
		o.region = testRegion
	}
	if o.ak == "" {
		o.ak, o.sk = testAK, testSK
	}
	if o.payload == "" {
		s := sha256.Sum256(o.body)
		o.payload = hex.EncodeToString(s[:])
	}
}

func sdkSigner() *v4.Signer {
	// S3 signs the path as sent: no double escaping.
	return v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
}

// clientRequest builds and header-signs a request with aws-sdk-go-v2's signer.
func clientRequest(t testing.TB, o signOpts) *http.Request {
	t.Helper()
	o.defaults()
	u := "http://example.com" + o.path
	if o.query != "" {
		u += "?" + o.query
	}
	var body io.Reader
	if o.body != nil {
		body = bytes.NewReader(o.body)
	}
	r, err := http.NewRequest(o.method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range o.headers {
		r.Header.Set(k, v)
	}
	hash := o.payload
	if o.payload == "-" {
		hash = UnsignedPayload
	} else {
		r.Header.Set("X-Amz-Content-Sha256", o.payload)
	}
	err = sdkSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: o.ak, SecretAccessKey: o.sk}, r, hash, "s3", o.region, o.at)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func signRequest(t testing.TB, o signOpts) *http.Request { return toServer(t, clientRequest(t, o)) }

// presign returns a server-side GET of a URL presigned by the SDK.
func presign(t testing.TB, o signOpts, expires string) *http.Request {
	t.Helper()
	o.defaults()
	q := o.query
	if expires != "" {
		if q != "" {
			q += "&"
		}
		q += "X-Amz-Expires=" + expires
	}
	r, err := http.NewRequest(o.method, "http://example.com"+o.path+"?"+q, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range o.headers {
		r.Header.Set(k, v)
	}
	uri, hdr, err := sdkSigner().PresignHTTP(context.Background(), aws.Credentials{AccessKeyID: o.ak, SecretAccessKey: o.sk}, r, UnsignedPayload, "s3", o.region, o.at)
	if err != nil {
		t.Fatal(err)
	}
	pr, err := http.NewRequest(o.method, uri, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range hdr {
		if !strings.EqualFold(k, "Host") {
			pr.Header[k] = vs
		}
	}
	return toServer(t, pr)
}

func wantCode(t testing.TB, err error, code s3err.Code) {
	t.Helper()
	if code == "" {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	var e *s3err.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v, want %s", err, code)
	}
	if e.Code != code {
		t.Fatalf("error %v, want code %s", err, code)
	}
}

func TestHeaderAuthPaths(t *testing.T) {
	// Keys as the SDK escapes them, plus forms other clients put on the wire.
	paths := []string{
		"/",
		"/bucket",
		"/bucket/key",
		"/bucket/a%20b",
		"/bucket/a%2Bb",
		"/bucket/a+b",
		"/bucket/100%25",
		"/bucket/%E2%82%AC%20unicode%20%C3%A9",
		"/bucket//double//slash/",
		"/bucket/a%2Fb",
		"/bucket/lower%2bhex",
		"/bucket/%21%27%28%29%2A",
		"/bucket/a~b_c-d.e",
	}
	for _, p := range paths {
		t.Run(p, func(t *testing.T) {
			r := signRequest(t, signOpts{path: p})
			a, err := newVerifier().Verify(r)
			wantCode(t, err, "")
			if a.AccessKey != testAK || a.Presigned {
				t.Fatalf("auth = %+v", a)
			}
		})
	}
}

func TestHeaderAuth(t *testing.T) {
	body := []byte("<Delete><Object><Key>k</Key></Object></Delete>")
	cases := []struct {
		name   string
		opts   signOpts
		mutate func(r *http.Request)
		v      func(v *Verifier)
		code   s3err.Code
		msg    string // in the error, when set
	}{
		{name: "ok"},
		{name: "ok query", opts: signOpts{query: "list-type=2&prefix=a%20b%2Bc&delimiter=%2F&encoding-type=url&empty="}},
		{name: "ok put with metadata", opts: signOpts{method: "PUT", body: body, headers: map[string]string{"X-Amz-Meta-Color": "  blue   and   green ", "Content-Type": "text/plain"}}},
		{name: "ok unsigned payload", opts: signOpts{method: "PUT", body: body, payload: UnsignedPayload}},
		{name: "ok skew inside", opts: signOpts{at: testNow().Add(-14 * time.Minute)}},
		{name: "ok any region when unset", opts: signOpts{region: "eu-west-1"}, v: func(v *Verifier) { v.Region = "" }},
		{name: "tampered signed header", opts: signOpts{method: "PUT", body: body, headers: map[string]string{"X-Amz-Meta-Color": "blue"}},
			mutate: func(r *http.Request) { r.Header.Set("X-Amz-Meta-Color", "red") }, code: s3err.SignatureDoesNotMatch},
		{name: "unsigned amz header", mutate: func(r *http.Request) { r.Header.Set("X-Amz-Meta-Evil", "1") }, code: s3err.AccessDenied},
		{name: "tampered path", mutate: func(r *http.Request) { r.RequestURI = "/bucket/other" }, code: s3err.SignatureDoesNotMatch},
		{name: "tampered path encoding", opts: signOpts{path: "/bucket/a%20b"}, mutate: func(r *http.Request) { r.RequestURI = "/bucket/a+b" }, code: s3err.SignatureDoesNotMatch},
		{name: "tampered query", opts: signOpts{query: "prefix=a"}, mutate: func(r *http.Request) { r.URL.RawQuery = "prefix=b" }, code: s3err.SignatureDoesNotMatch},
		{name: "added query", mutate: func(r *http.Request) { r.URL.RawQuery = "acl" }, code: s3err.SignatureDoesNotMatch},
		{name: "tampered method", mutate: func(r *http.Request) { r.Method = "DELETE" }, code: s3err.SignatureDoesNotMatch},
		{name: "tampered host", mutate: func(r *http.Request) { r.Host = "evil.example.com" }, code: s3err.SignatureDoesNotMatch},
		{name: "tampered body hash", opts: signOpts{method: "PUT", body: body},
			mutate: func(r *http.Request) { r.Header.Set("X-Amz-Content-Sha256", emptySHA256) }, code: s3err.SignatureDoesNotMatch},
		{name: "tampered date", mutate: func(r *http.Request) {
			r.Header.Set("X-Amz-Date", testNow().Add(time.Second).Format(timeFormat))
		}, code: s3err.SignatureDoesNotMatch},
		{name: "tampered signature", mutate: func(r *http.Request) {
			a := r.Header.Get("Authorization")
			r.Header.Set("Authorization", a[:len(a)-1]+flipHex(a[len(a)-1:]))
		}, code: s3err.SignatureDoesNotMatch},
		{name: "unknown key", opts: signOpts{ak: "NOSUCHKEY", sk: "x"}, code: s3err.InvalidAccessKeyID},
		{name: "wrong secret", opts: signOpts{ak: testAK, sk: "wrong"}, code: s3err.SignatureDoesNotMatch},
		{name: "too old", opts: signOpts{at: testNow().Add(-16 * time.Minute)}, code: s3err.RequestTimeTooSkewed},
		{name: "too new", opts: signOpts{at: testNow().Add(16 * time.Minute)}, code: s3err.RequestTimeTooSkewed},
		{name: "custom skew", opts: signOpts{at: testNow().Add(-2 * time.Minute)}, v: func(v *Verifier) { v.MaxSkew = time.Minute }, code: s3err.RequestTimeTooSkewed},
		{name: "missing content sha", opts: signOpts{payload: "-"}, code: s3err.InvalidRequest},
		{name: "content sha not signed", mutate: func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), ";x-amz-content-sha256", "", 1))
		}, code: s3err.InvalidRequest},
		{name: "bad content sha", opts: signOpts{payload: "not-a-hash"}, code: s3err.InvalidArgument},
		{name: "sigv4a streaming", opts: signOpts{payload: streamingECDSA}, code: s3err.NotImplemented},
		{name: "missing date", mutate: func(r *http.Request) { r.Header.Del("X-Amz-Date") }, code: s3err.AccessDenied},
		{name: "bad date", mutate: func(r *http.Request) { r.Header.Set("X-Amz-Date", "yesterday") }, code: s3err.AccessDenied},
		{name: "wrong region", opts: signOpts{region: "eu-west-1"}, code: s3err.AuthorizationHeaderMalformed},
		{name: "scope date mismatch", mutate: func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "/20261129/", "/20261128/", 1))
		}, code: s3err.AuthorizationHeaderMalformed},
		{name: "wrong service", mutate: func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "/s3/", "/ec2/", 1))
		}, code: s3err.AuthorizationHeaderMalformed},
		{name: "malformed header", mutate: func(r *http.Request) {
			r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+testAK+"/20261129/us-east-1/s3/aws4_request")
		}, code: s3err.AuthorizationHeaderMalformed},
		{name: "garbage component", mutate: func(r *http.Request) {
			r.Header.Set("Authorization", r.Header.Get("Authorization")+", junk")
		}, code: s3err.AuthorizationHeaderMalformed},
		{name: "sigv2", mutate: func(r *http.Request) { r.Header.Set("Authorization", "AWS "+testAK+":c2lnbmF0dXJl") }, code: s3err.UnsupportedSignature},
		{name: "no scheme", mutate: func(r *http.Request) { r.Header.Set("Authorization", "invalid_header") }, code: s3err.InvalidArgument,
			msg: "Authorization header is invalid -- one and only one ' ' (space) required."},
		{name: "unknown scheme", mutate: func(r *http.Request) { r.Header.Set("Authorization", "Bearer token") }, code: s3err.InvalidArgument,
			msg: "Unsupported Authorization Type"},
		{name: "unknown algorithm", mutate: func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256", "AWS2-HMAC-SHA1", 1))
		}, code: s3err.InvalidArgument, msg: "Unsupported Authorization Type"},
		{name: "two components", mutate: func(r *http.Request) {
			r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+testAK+"/20261129/us-east-1/s3/aws4_request,Signature=00")
		}, code: s3err.AuthorizationHeaderMalformed, msg: "requires three components: Credential, SignedHeaders, and Signature."},
		{name: "no Credential", mutate: func(r *http.Request) {
			r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Cred="+testAK+"/20261129/us-east-1/s3/aws4_request,SignedHeaders=host,Signature=00")
		}, code: s3err.AuthorizationHeaderMalformed, msg: "missing Credential."},
		{name: "no SignedHeaders", mutate: func(r *http.Request) {
			r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+testAK+"/20261129/us-east-1/s3/aws4_request,missing=host,Signature=00")
		}, code: s3err.AuthorizationHeaderMalformed, msg: "missing SignedHeaders."},
		{name: "six-field credential", mutate: func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "/aws4_request", "/extra/aws4_request", 1))
		}, code: s3err.AuthorizationHeaderMalformed, msg: "the Credential is mal-formed"},
		{name: "service checked before the date", mutate: func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "/20261129/us-east-1/s3/", "/32234/us-east-1/ec2/", 1))
		}, code: s3err.AuthorizationHeaderMalformed, msg: `incorrect service "ec2"`},
		{name: "terminal checked before the date", mutate: func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "/20261129/us-east-1/s3/aws4_request", "/32234/us-east-1/s3/aws_request", 1))
		}, code: s3err.AuthorizationHeaderMalformed, msg: `incorrect terminal "aws_request"`},
		{name: "session token", mutate: func(r *http.Request) { r.Header.Set("X-Amz-Security-Token", "token") }, code: s3err.InvalidToken},
		{name: "anonymous", mutate: func(r *http.Request) { r.Header.Del("Authorization") }, code: s3err.AccessDenied},
		{name: "header and query", mutate: func(r *http.Request) { r.URL.RawQuery = "X-Amz-Algorithm=AWS4-HMAC-SHA256" }, code: s3err.InvalidArgument},
		{name: "no creds", v: func(v *Verifier) { v.Creds = nil }, code: s3err.InvalidAccessKeyID},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := signRequest(t, c.opts)
			if c.mutate != nil {
				c.mutate(r)
			}
			v := newVerifier()
			if c.v != nil {
				c.v(v)
			}
			a, err := v.Verify(r)
			wantCode(t, err, c.code)
			if c.msg != "" && (err == nil || !strings.Contains(err.Error(), c.msg)) {
				t.Fatalf("error %v, want message %q", err, c.msg)
			}
			if err != nil {
				return
			}
			got, err := io.ReadAll(a.Body)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, c.opts.body) && !(len(got) == 0 && c.opts.body == nil) {
				t.Fatalf("body = %q", got)
			}
		})
	}
}

func flipHex(s string) string {
	if s == "0" {
		return "1"
	}
	return "0"
}

func TestDateHeaderInsteadOfAmzDate(t *testing.T) {
	// Hand-signed: the SDK always sends x-amz-date, but S3 also takes Date.
	r, _ := http.NewRequest("GET", "http://example.com/bucket/key", nil)
	r.Header.Set("Date", testNow().Format(http.TimeFormat))
	r.Header.Set("X-Amz-Content-Sha256", emptySHA256)
	sr := toServer(t, r)
	p := &request{accessKey: testAK, date: "20261129", region: testRegion, amzDate: testNow().Format(timeFormat),
		signedHeaders: []string{"date", "host", "x-amz-content-sha256"}}
	canon := canonicalRequest(sr, p.signedHeaders, "", emptySHA256)
	sum := sha256.Sum256([]byte(canon))
	sig := hmacHex(deriveKey(testSK, p.date, p.region), algorithm+"\n"+p.amzDate+"\n"+p.scope()+"\n"+hex.EncodeToString(sum[:]))
	sr.Header.Set("Authorization", algorithm+" Credential="+testAK+"/"+p.scope()+", SignedHeaders=date;host;x-amz-content-sha256, Signature="+sig)
	_, err := newVerifier().Verify(sr)
	wantCode(t, err, "")
}

func TestSignedPayloadHash(t *testing.T) {
	body := []byte("hello")
	r := signRequest(t, signOpts{method: "PUT", body: body})
	a, err := newVerifier().Verify(r)
	wantCode(t, err, "")
	sum := sha256.Sum256(body)
	if !bytes.Equal(a.SignedPayloadSHA256, sum[:]) || a.DecodedLength != 5 || a.Chunked {
		t.Fatalf("auth = %+v", a)
	}
	// The caller verifies while hashing; VerifyPayload is the helper for that.
	if _, err := io.ReadAll(VerifyPayload(a.Body, a.SignedPayloadSHA256)); err != nil {
		t.Fatal(err)
	}
	// A body that differs from its signed hash fails at EOF.
	r = signRequest(t, signOpts{method: "PUT", body: body})
	r.Body = io.NopCloser(strings.NewReader("HELLO"))
	a, err = newVerifier().Verify(r)
	wantCode(t, err, "")
	_, err = io.ReadAll(VerifyPayload(a.Body, a.SignedPayloadSHA256))
	wantCode(t, err, s3err.XAmzContentSHA256Mismatch)
}

func TestPresigned(t *testing.T) {
	cases := []struct {
		name    string
		opts    signOpts
		expires string
		mutate  func(r *http.Request)
		v       func(v *Verifier)
		code    s3err.Code
		msg     string
	}{
		{name: "ok", expires: "900"},
		{name: "ok special key", opts: signOpts{path: "/bucket/a%20b%2Bc/%E2%82%AC//x"}, expires: "60"},
		{name: "ok with query", opts: signOpts{query: "response-content-type=text%2Fplain&versionId=null"}, expires: "60"},
		{name: "ok hoisted amz header", opts: signOpts{method: "PUT", headers: map[string]string{"X-Amz-Meta-A": "b"}}, expires: "60"},
		{name: "ok one week", expires: "604800", opts: signOpts{at: testNow().Add(-6 * 24 * time.Hour)}},
		{name: "ok slightly future", expires: "60", opts: signOpts{at: testNow().Add(5 * time.Minute)}},
		{name: "expired", expires: "60", opts: signOpts{at: testNow().Add(-2 * time.Minute)}, code: s3err.AccessDenied, msg: "Request has expired"},
		{name: "future", expires: "3600", opts: signOpts{at: testNow().Add(20 * time.Minute)}, code: s3err.AccessDenied},
		{name: "expires zero", expires: "0", code: s3err.AuthorizationQueryParametersError},
		{name: "expires negative", expires: "-5", code: s3err.AuthorizationQueryParametersError},
		{name: "expires too long", expires: "604801", code: s3err.AuthorizationQueryParametersError},
		{name: "expires over configured", expires: "7200", v: func(v *Verifier) { v.MaxPresignExpiry = time.Hour }, code: s3err.AuthorizationQueryParametersError},
		{name: "expires not number", expires: "soon", code: s3err.AuthorizationQueryParametersError},
		{name: "expires missing", expires: "", code: s3err.AuthorizationQueryParametersError},
		{name: "unknown key", expires: "60", opts: signOpts{ak: "NOSUCHKEY", sk: "x"}, code: s3err.InvalidAccessKeyID},
		{name: "wrong region", expires: "60", opts: signOpts{region: "eu-west-1"}, code: s3err.AuthorizationQueryParametersError},
		{name: "tampered path", expires: "60", mutate: func(r *http.Request) { r.RequestURI = strings.Replace(r.RequestURI, "/key", "/kez", 1) }, code: s3err.SignatureDoesNotMatch},
		{name: "tampered expires", expires: "60", mutate: func(r *http.Request) { setQuery(r, "X-Amz-Expires", "600") }, code: s3err.SignatureDoesNotMatch},
		{name: "tampered date", expires: "60", mutate: func(r *http.Request) {
			setQuery(r, "X-Amz-Date", testNow().Add(time.Minute).Format(timeFormat))
		}, code: s3err.SignatureDoesNotMatch},
		{name: "added query", expires: "60", mutate: func(r *http.Request) { r.URL.RawQuery += "&acl=" }, code: s3err.SignatureDoesNotMatch},
		{name: "tampered signature", expires: "60", mutate: func(r *http.Request) {
			s := r.URL.Query().Get("X-Amz-Signature")
			setQuery(r, "X-Amz-Signature", s[:63]+flipHex(s[63:]))
		}, code: s3err.SignatureDoesNotMatch},
		{name: "tampered method", expires: "60", mutate: func(r *http.Request) { r.Method = "PUT" }, code: s3err.SignatureDoesNotMatch},
		{name: "bad algorithm", expires: "60", mutate: func(r *http.Request) { setQuery(r, "X-Amz-Algorithm", "AWS4-HMAC-SHA1") }, code: s3err.AuthorizationQueryParametersError},
		{name: "missing credential", expires: "60", mutate: func(r *http.Request) { delQuery(r, "X-Amz-Credential") }, code: s3err.AuthorizationQueryParametersError},
		{name: "credential date mismatch", expires: "60", mutate: func(r *http.Request) {
			setQuery(r, "X-Amz-Credential", testAK+"/20261128/us-east-1/s3/aws4_request")
		}, code: s3err.AuthorizationQueryParametersError},
		{name: "plus authorization header", expires: "60", mutate: func(r *http.Request) { r.Header.Set("Authorization", "AWS4-HMAC-SHA256 x") }, code: s3err.InvalidArgument},
		{name: "sigv2 presign", mutate: func(r *http.Request) { r.URL.RawQuery = "AWSAccessKeyId=" + testAK + "&Signature=x&Expires=1" }, code: s3err.UnsupportedSignature},
		// Headers the URL did not sign may not say what the request does.
		{name: "unsigned copy source", expires: "60", mutate: func(r *http.Request) { r.Header.Set("X-Amz-Copy-Source", "other/key") }, code: s3err.AccessDenied,
			msg: "not signed"},
		{name: "unsigned tagging", expires: "60", mutate: func(r *http.Request) { r.Header.Set("X-Amz-Tagging", "a=b") }, code: s3err.AccessDenied},
		{name: "unsigned content sha is ignored", expires: "60", mutate: func(r *http.Request) { r.Header.Set("X-Amz-Content-Sha256", UnsignedPayload) }},
		{name: "unsigned other header", expires: "60", mutate: func(r *http.Request) { r.Header.Set("X-Custom-Header", "v") }},
		{name: "session token", expires: "60", mutate: func(r *http.Request) { r.URL.RawQuery += "&X-Amz-Security-Token=t" }, code: s3err.InvalidToken},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := presign(t, c.opts, c.expires)
			if c.mutate != nil {
				c.mutate(r)
			}
			v := newVerifier()
			if c.v != nil {
				c.v(v)
			}
			a, err := v.Verify(r)
			wantCode(t, err, c.code)
			if c.msg != "" && !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("error %v, want message %q", err, c.msg)
			}
			if err == nil && (!a.Presigned || a.ContentSHA256 != UnsignedPayload || a.AccessKey != testAK) {
				t.Fatalf("auth = %+v", a)
			}
		})
	}
}

func setQuery(r *http.Request, k, v string) {
	q := r.URL.Query()
	q.Set(k, v)
	r.URL.RawQuery = q.Encode()
}

func delQuery(r *http.Request, k string) {
	q := r.URL.Query()
	q.Del(k)
	r.URL.RawQuery = q.Encode()
}

func TestCanonicalQuery(t *testing.T) {
	cases := map[string]string{
		"":                        "",
		"acl":                     "acl=",
		"b=2&a=1&a=0":             "a=0&a=1&b=2",
		"prefix=a+b":              "prefix=a%20b", // form encoding: + is a space
		"prefix=a%2Bb":            "prefix=a%2Bb",
		"k=%e2%82%ac":             "k=%E2%82%AC",
		"x=a/b~c":                 "x=a%2Fb~c",
		"X-Amz-Signature=s&a=1":   "X-Amz-Signature=s&a=1",
		"bad=%zz":                 "bad=%25zz",
		"uploads&prefix=&marker=": "marker=&prefix=&uploads=",
	}
	for in, want := range cases {
		if got := canonicalQuery(in, false); got != want {
			t.Errorf("canonicalQuery(%q) = %q, want %q", in, got, want)
		}
	}
	if got := canonicalQuery("X-Amz-Signature=s&a=1", true); got != "a=1" {
		t.Errorf("presigned canonicalQuery = %q", got)
	}
}

func TestSigningKeyCacheBounded(t *testing.T) {
	v := newVerifier()
	for i := 0; i < 3*keyCacheSize; i++ {
		p := &request{accessKey: testAK, date: "20261129", region: "r" + strconv.Itoa(i)}
		k, err := v.signingKey(p)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(k, deriveKey(testSK, p.date, p.region)) {
			t.Fatal("cached key differs from derived key")
		}
	}
	if len(v.keys) > keyCacheSize {
		t.Fatalf("cache holds %d keys", len(v.keys))
	}
}

func TestWirePath(t *testing.T) {
	for in, want := range map[string]string{
		"/a%2bb?x=1":                "/a%2bb",
		"http://host/a/b?x":         "/a/b",
		"http://host":               "/",
		"/":                         "/",
		"/%E2%82%AC//x":             "/%E2%82%AC//x",
		"/bucket/a%20b?uploads=1&z": "/bucket/a%20b",
	} {
		r := &http.Request{RequestURI: in, URL: &url.URL{Path: "/ignored"}}
		if got := wirePath(r); got != want {
			t.Errorf("wirePath(%q) = %q, want %q", in, got, want)
		}
	}
	r := &http.Request{URL: &url.URL{Path: "/a b", RawPath: "/a%20b"}}
	if got := wirePath(r); got != "/a%20b" {
		t.Errorf("client-side wirePath = %q", got)
	}
}

func BenchmarkVerifyHeader(b *testing.B) {
	r := signRequest(b, signOpts{query: "list-type=2&prefix=photos%2F"})
	v := newVerifier()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(r); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzVerify throws arbitrary authentication material at Verify: it must
// never panic, and every failure must be a typed S3 error.
func FuzzVerify(f *testing.F) {
	good := signRequest(f, signOpts{query: "a=1"})
	f.Add(good.Header.Get("Authorization"), good.Header.Get("X-Amz-Date"), good.Header.Get("X-Amz-Content-Sha256"), "a=1", "/bucket/key")
	pre := presign(f, signOpts{}, "60")
	f.Add("", "", "", pre.URL.RawQuery, "/bucket/key")
	f.Add("AWS4-HMAC-SHA256 Credential=a/b/c/d/e, SignedHeaders=, Signature=", "20261129T120000Z", "x", "", "/")
	f.Add("AWS4-HMAC-SHA256 ,,,==", "2", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=%2F%2F%2F%2F&X-Amz-Date=1&X-Amz-Expires=1&X-Amz-SignedHeaders=host&X-Amz-Signature=1", "")
	f.Fuzz(func(t *testing.T, authz, date, sha, query, path string) {
		r := &http.Request{Method: "PUT", Host: "example.com", RequestURI: path, Header: http.Header{},
			URL: &url.URL{Path: path, RawQuery: query}, Body: http.NoBody}
		if authz != "" {
			r.Header.Set("Authorization", authz)
		}
		if date != "" {
			r.Header.Set("X-Amz-Date", date)
		}
		if sha != "" {
			r.Header.Set("X-Amz-Content-Sha256", sha)
		}
		r.Header.Set("X-Amz-Decoded-Content-Length", "3")
		r.Header.Set("X-Amz-Trailer", "x-amz-checksum-crc32")
		a, err := newVerifier().Verify(r)
		if err != nil {
			if s3err.As(err) == nil {
				t.Fatalf("untyped error %T %v", err, err)
			}
			return
		}
		io.Copy(io.Discard, a.Body)
	})
}

func TestVerifyConcurrent(t *testing.T) {
	// Signed up front: t.Fatal must not run on other goroutines.
	reqs := make([]*http.Request, 8*20)
	for i := range reqs {
		reqs[i] = signRequest(t, signOpts{query: "n=" + strconv.Itoa(i)})
	}
	v := newVerifier()
	done := make(chan error)
	for i := 0; i < 8; i++ {
		go func(rs []*http.Request) {
			var err error
			for _, r := range rs {
				if _, err = v.Verify(r); err != nil {
					break
				}
			}
			done <- err
		}(reqs[i*20 : (i+1)*20])
	}
	for i := 0; i < 8; i++ {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}
