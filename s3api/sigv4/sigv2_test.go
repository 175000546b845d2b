package sigv4

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7/pkg/signer"

	"s3proxy/s3api/s3err"
)

// The credential of the SigV2 examples in S3's "Signing and Authenticating REST
// Requests".
const (
	docAK = "AKIAIOSFODNN7EXAMPLE"
	docSK = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
)

// docBucket plays the router for the documentation's hosts: "<bucket>.….amazonaws.com"
// and "<bucket>.localhost" are virtual-host style, and static.johnsmith.net is a
// bucket reached by its own DNS name (a CNAME).
func docBucket(r *http.Request) string {
	h := r.Host
	if hh, _, err := net.SplitHostPort(h); err == nil {
		h = hh
	}
	if strings.HasSuffix(h, ".amazonaws.com") {
		return h[:strings.IndexByte(h, '.')]
	}
	if b, ok := strings.CutSuffix(h, ".localhost"); ok {
		return b
	}
	if h == "static.johnsmith.net" {
		return h
	}
	return ""
}

func v2Verifier(now func() time.Time) *Verifier {
	return &Verifier{Creds: staticCreds{docAK: docSK, testAK: testSK}, Region: testRegion, Now: now, SigV2: true, VirtualBucket: docBucket}
}

func at(s string) func() time.Time {
	t, err := time.Parse(time.RFC1123Z, s)
	if err != nil {
		panic(err)
	}
	return func() time.Time { return t }
}

// TestSigV2DocExamples verifies the requests of S3's SigV2 documentation with the
// signatures printed there.
func TestSigV2DocExamples(t *testing.T) {
	cases := []struct {
		name, method, url string
		headers           [][2]string
		now               func() time.Time
		sts               string // the documented StringToSign
	}{
		{"object GET", "GET", "http://awsexamplebucket1.us-west-1.s3.amazonaws.com/photos/puppy.jpg",
			[][2]string{{"Date", "Tue, 27 Mar 2007 19:36:42 +0000"}, {"Authorization", "AWS " + docAK + ":qgk2+6Sv9/oM7G3qLEjTH1a1l1g="}},
			at("Tue, 27 Mar 2007 19:36:42 +0000"), "GET\n\n\nTue, 27 Mar 2007 19:36:42 +0000\n/awsexamplebucket1/photos/puppy.jpg"},
		{"object PUT", "PUT", "http://awsexamplebucket1.s3.us-west-1.amazonaws.com/photos/puppy.jpg",
			[][2]string{{"Content-Type", "image/jpeg"}, {"Date", "Tue, 27 Mar 2007 21:15:45 +0000"}, {"Authorization", "AWS " + docAK + ":iqRzw+ileNPu1fhspnRs8nOjjIA="}},
			at("Tue, 27 Mar 2007 21:20:00 +0000"), "PUT\n\nimage/jpeg\nTue, 27 Mar 2007 21:15:45 +0000\n/awsexamplebucket1/photos/puppy.jpg"},
		{"list (query parameters are no sub-resources)", "GET", "http://awsexamplebucket1.s3.us-west-1.amazonaws.com/?prefix=photos&max-keys=50&marker=puppy",
			[][2]string{{"User-Agent", "Mozilla/5.0"}, {"Date", "Tue, 27 Mar 2007 19:42:41 +0000"}, {"Authorization", "AWS " + docAK + ":m0WP8eCtspQl5Ahe6L1SozdX9YA="}},
			at("Tue, 27 Mar 2007 19:42:41 +0000"), "GET\n\n\nTue, 27 Mar 2007 19:42:41 +0000\n/awsexamplebucket1/"},
		{"fetch ACL", "GET", "http://awsexamplebucket1.s3.us-west-1.amazonaws.com/?acl",
			[][2]string{{"Date", "Tue, 27 Mar 2007 19:44:46 +0000"}, {"Authorization", "AWS " + docAK + ":82ZHiFIjc+WbcwFKGUVEQspPn+0="}},
			at("Tue, 27 Mar 2007 19:44:46 +0000"), "GET\n\n\nTue, 27 Mar 2007 19:44:46 +0000\n/awsexamplebucket1/?acl"},
		{"upload: x-amz headers lower-cased, sorted, repeats merged", "PUT", "http://static.johnsmith.net:8080/db-backup.dat.gz",
			[][2]string{
				{"User-Agent", "curl/7.15.5"}, {"Date", "Tue, 27 Mar 2007 21:06:08 +0000"},
				{"x-amz-acl", "public-read"}, {"content-type", "application/x-download"},
				{"Content-MD5", "4gJE4saaMU4BqNR0kLY+lw=="},
				{"X-Amz-Meta-ReviewedBy", "joe@johnsmith.net"}, {"X-Amz-Meta-ReviewedBy", "jane@johnsmith.net"},
				{"X-Amz-Meta-FileChecksum", "0x02661779"}, {"X-Amz-Meta-ChecksumAlgorithm", "crc32"},
				{"Content-Disposition", "attachment; filename=database.dat"}, {"Content-Encoding", "gzip"},
				{"Authorization", "AWS " + docAK + ":ilyl83RwaSoYIEdixDQcA4OnAnc="},
			},
			at("Tue, 27 Mar 2007 21:06:08 +0000"),
			"PUT\n4gJE4saaMU4BqNR0kLY+lw==\napplication/x-download\nTue, 27 Mar 2007 21:06:08 +0000\n" +
				"x-amz-acl:public-read\nx-amz-meta-checksumalgorithm:crc32\nx-amz-meta-filechecksum:0x02661779\n" +
				"x-amz-meta-reviewedby:joe@johnsmith.net,jane@johnsmith.net\n/static.johnsmith.net/db-backup.dat.gz"},
		{"query string authentication", "GET", "http://johnsmith.s3.amazonaws.com/photos/puppy.jpg?AWSAccessKeyId=" + docAK + "&Signature=NpgCjnDzrM%2BWFzoENXmpNDUsSn8%3D&Expires=1175139620",
			nil, func() time.Time { return time.Unix(1175139620-600, 0) }, "GET\n\n\n1175139620\n/johnsmith/photos/puppy.jpg"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := v2Request(t, tc.method, tc.url, tc.headers)
			v := v2Verifier(tc.now)
			date := r.Header.Get("Date")
			presigned := r.URL.Query().Has("Expires")
			if presigned {
				date = r.URL.Query().Get("Expires")
			}
			if got := v.stringToSignV2(r, date, presigned, false); got != tc.sts {
				t.Errorf("StringToSign\n got %q\nwant %q", got, tc.sts)
			}
			a, err := v.Verify(r)
			wantCode(t, err, "")
			if a.AccessKey != docAK || !a.SigV2 || a.Presigned != presigned || a.ContentSHA256 != UnsignedPayload || a.SignedPayloadSHA256 != nil {
				t.Errorf("auth = %+v", a)
			}
		})
	}
}

func TestStringToSignV2(t *testing.T) {
	v := v2Verifier(nil)
	cases := []struct {
		name, method, url string
		headers           [][2]string
		date              string
		presigned         bool
		want              string
	}{
		{"sub-resources sorted, others dropped, values unescaped", "PUT", "http://h/b/k?versionId=3&uploadId=a%2Bb%2Fc&prefix=x&partNumber=2&x-id=UploadPart&acl",
			nil, "D", false, "PUT\n\n\nD\n/b/k?acl&partNumber=2&uploadId=a+b/c&versionId=3"},
		{"response overrides", "GET", "http://h/b/k?response-content-type=text%2Fplain&response-content-disposition=attachment%3B%20filename%3D%22a%20b.txt%22&response-expires=0&response-cache-control=no-cache&response-content-language=fr&response-content-encoding=gzip",
			nil, "D", false, "GET\n\n\nD\n/b/k?response-cache-control=no-cache&response-content-disposition=attachment; filename=\"a b.txt\"&response-content-encoding=gzip&response-content-language=fr&response-content-type=text/plain&response-expires=0"},
		{"bucket sub-resources", "GET", "http://h/b?versions&delete&tagging&cors&uploads&location&website&lifecycle&policy&logging&notification&versioning&requestPayment&torrent&restore",
			nil, "D", false, "GET\n\n\nD\n/b?cors&delete&lifecycle&location&logging&notification&policy&requestPayment&restore&tagging&torrent&uploads&versioning&versions&website"},
		{"virtual host", "GET", "http://b.localhost:9000/dir/k?tagging", nil, "D", false, "GET\n\n\nD\n/b/dir/k?tagging"},
		{"virtual host bucket root", "GET", "http://b.localhost:9000/", nil, "D", false, "GET\n\n\nD\n/b/"},
		{"path as sent", "GET", "http://h/b/a%20b%2Fc+d~%C3%A9", nil, "D", false, "GET\n\n\nD\n/b/a%20b%2Fc+d~%C3%A9"},
		{"amz headers folded, lower-cased, sorted, merged", "PUT", "http://h/b/k",
			[][2]string{{"X-Amz-Meta-B", "  two  "}, {"X-AMZ-META-A", "1"}, {"x-amz-meta-a", "2"}, {"X-Amz-Acl", "private"}, {"Content-Type", "text/plain"}, {"Content-MD5", "XrY7u+Ae7tCTyyK7j1rNww=="}, {"X-Other", "ignored"}},
			"D", false, "PUT\nXrY7u+Ae7tCTyyK7j1rNww==\ntext/plain\nD\nx-amz-acl:private\nx-amz-meta-a:1,2\nx-amz-meta-b:two\n/b/k"},
		{"presigned: x-amz-* query parameters are headers, auth parameters are not signed", "PUT", "http://h/b/k?AWSAccessKeyId=AK&Expires=99&Signature=s&x-amz-meta-color=blue&x-amz-acl=private",
			[][2]string{{"X-Amz-Meta-Size", "big"}}, "99", true, "PUT\n\n\n99\nx-amz-acl:private\nx-amz-meta-color:blue\nx-amz-meta-size:big\n/b/k"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := v2Request(t, tc.method, tc.url, tc.headers)
			if got := v.stringToSignV2(r, tc.date, tc.presigned, false); got != tc.want {
				t.Errorf("StringToSign\n got %q\nwant %q", got, tc.want)
			}
		})
	}
	if got := unfold(" a\r\n\t b "); got != "a b" {
		t.Errorf("unfold = %q", got)
	}
}

// signedV2 builds a server-side request signed with minio-go's SigV2 signer (an
// implementation independent of ours).
func signedV2(t *testing.T, method, url string, body []byte, hdr map[string]string, ak, sk string) *http.Request {
	t.Helper()
	req, _ := http.NewRequest(method, url, bytes.NewReader(body))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	return toServer(t, signer.SignV2(*req, ak, sk, false))
}

func presignedV2(t *testing.T, method, url string, expires int64, ak, sk string) *http.Request {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	return toServer(t, signer.PreSignV2(*req, ak, sk, expires, false))
}

// handSigned signs a hand-written string to sign (for what minio-go cannot
// produce: x-amz-date instead of Date, a chosen Expires).
func handSigned(r *http.Request, sk, sts string) string {
	return base64.StdEncoding.EncodeToString(signV2(sk, sts))
}

func TestVerifySigV2(t *testing.T) {
	const base = "http://127.0.0.1:9000"
	sum := sha256.Sum256([]byte("hello"))
	hexSum := hex.EncodeToString(sum[:])
	cases := []struct {
		name  string
		req   func(t *testing.T) *http.Request
		off   bool // the switch
		code  s3err.Code
		msg   string
		check func(t *testing.T, a *Auth)
	}{
		{name: "header GET", req: func(t *testing.T) *http.Request {
			return signedV2(t, "GET", base+"/bucket/key?versionId=null", nil, nil, testAK, testSK)
		}, check: func(t *testing.T, a *Auth) {
			if a.Presigned || !a.SigV2 || a.ContentSHA256 != UnsignedPayload {
				t.Errorf("auth %+v", a)
			}
		}},
		{name: "header PUT with metadata and a declared SHA-256", req: func(t *testing.T) *http.Request {
			return signedV2(t, "PUT", base+"/bucket/key", []byte("hello"), map[string]string{"Content-Type": "text/plain", "X-Amz-Meta-A": "b", "X-Amz-Content-Sha256": hexSum}, testAK, testSK)
		}, check: func(t *testing.T, a *Auth) {
			if a.ContentSHA256 != hexSum || !bytes.Equal(a.SignedPayloadSHA256, sum[:]) || a.DecodedLength != 5 {
				t.Errorf("auth %+v", a)
			}
		}},
		{name: "presigned GET", req: func(t *testing.T) *http.Request {
			return presignedV2(t, "GET", base+"/bucket/key", 3600, testAK, testSK)
		}, check: func(t *testing.T, a *Auth) {
			if !a.Presigned || !a.SigV2 {
				t.Errorf("auth %+v", a)
			}
		}},
		{name: "presigned PUT", req: func(t *testing.T) *http.Request {
			return presignedV2(t, "PUT", base+"/bucket/key", 60, testAK, testSK)
		}},
		{name: "x-amz-date: empty Date line", req: func(t *testing.T) *http.Request {
			d := time.Now().UTC().Format(time.RFC1123Z)
			req, _ := http.NewRequest("DELETE", base+"/bucket/key", nil)
			req.Header.Set("X-Amz-Date", d)
			req.Header.Set("Date", "Mon, 01 Jan 2001 00:00:00 GMT") // ignored, as S3 ignores it
			req.Header.Set("Authorization", "AWS "+testAK+":"+handSigned(req, testSK, "DELETE\n\n\n\nx-amz-date:"+d+"\n/bucket/key"))
			return toServer(t, req)
		}},
		{name: "clock skew", req: func(t *testing.T) *http.Request {
			req, _ := http.NewRequest("GET", base+"/bucket/key", nil)
			req.Header.Set("Date", time.Now().Add(-20*time.Minute).UTC().Format(http.TimeFormat))
			return signedV2(t, "GET", base+"/bucket/key", nil, map[string]string{"Date": req.Header.Get("Date")}, testAK, testSK)
		}, code: s3err.RequestTimeTooSkewed},
		{name: "no date", req: func(t *testing.T) *http.Request {
			req, _ := http.NewRequest("GET", base+"/bucket/key", nil)
			req.Header.Set("Authorization", "AWS "+testAK+":"+handSigned(req, testSK, "GET\n\n\n\n/bucket/key"))
			return toServer(t, req)
		}, code: s3err.AccessDenied, msg: "valid Date or x-amz-date"},
		{name: "wrong secret", req: func(t *testing.T) *http.Request {
			return signedV2(t, "GET", base+"/bucket/key", nil, nil, testAK, "not-the-secret")
		}, code: s3err.SignatureDoesNotMatch, check: nil},
		{name: "tampered sub-resource", req: func(t *testing.T) *http.Request {
			r := signedV2(t, "GET", base+"/bucket/key?acl", nil, nil, testAK, testSK)
			r.URL.RawQuery = "tagging"
			return r
		}, code: s3err.SignatureDoesNotMatch},
		{name: "unknown key", req: func(t *testing.T) *http.Request {
			return signedV2(t, "GET", base+"/bucket/key", nil, nil, "NOSUCHKEY", testSK)
		}, code: s3err.InvalidAccessKeyID},
		{name: "malformed header", req: func(t *testing.T) *http.Request {
			req, _ := http.NewRequest("GET", base+"/bucket/key", nil)
			req.Header.Set("Authorization", "AWS "+testAK)
			return toServer(t, req)
		}, code: s3err.InvalidArgument},
		{name: "aws-chunked refused", req: func(t *testing.T) *http.Request {
			return signedV2(t, "PUT", base+"/bucket/key", []byte("x"), map[string]string{"X-Amz-Content-Sha256": StreamingSigned}, testAK, testSK)
		}, code: s3err.InvalidRequest, msg: "require Signature Version 4"},
		{name: "presigned expired", req: func(t *testing.T) *http.Request {
			exp := strconv.FormatInt(time.Now().Add(-time.Minute).Unix(), 10)
			req, _ := http.NewRequest("GET", base+"/bucket/key", nil)
			req.URL.RawQuery = "AWSAccessKeyId=" + testAK + "&Expires=" + exp + "&Signature=" + strings.NewReplacer("+", "%2B", "/", "%2F", "=", "%3D").Replace(handSigned(req, testSK, "GET\n\n\n"+exp+"\n/bucket/key"))
			return toServer(t, req)
		}, code: s3err.AccessDenied, msg: "Request has expired"},
		{name: "presigned too far ahead", req: func(t *testing.T) *http.Request {
			return presignedV2(t, "GET", base+"/bucket/key", 8*24*3600, testAK, testSK)
		}, code: s3err.AccessDenied, msg: "at most 604800 seconds"},
		{name: "presigned 7 days ahead", req: func(t *testing.T) *http.Request {
			return presignedV2(t, "GET", base+"/bucket/key", 7*24*3600, testAK, testSK)
		}},
		{name: "presigned with an unescaped '+' in the signature", req: func(t *testing.T) *http.Request {
			exp := strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10)
			for i := 0; ; i++ { // find a key whose signature has a '+'
				key := "/bucket/key" + strconv.Itoa(i)
				sig := handSigned(nil, testSK, "GET\n\n\n"+exp+"\n"+key)
				if strings.Contains(sig, "+") {
					req, _ := http.NewRequest("GET", base+key, nil)
					req.URL.RawQuery = "AWSAccessKeyId=" + testAK + "&Expires=" + exp + "&Signature=" + sig
					return toServer(t, req)
				}
			}
		}},
		{name: "presigned POST refused", req: func(t *testing.T) *http.Request {
			return presignedV2(t, "POST", base+"/bucket/key?uploads", 60, testAK, testSK)
		}, code: s3err.AccessDenied, msg: "GET, HEAD, PUT and DELETE only"},
		{name: "presigned without Expires", req: func(t *testing.T) *http.Request {
			req, _ := http.NewRequest("GET", base+"/bucket/key?AWSAccessKeyId="+testAK+"&Signature=abc", nil)
			return toServer(t, req)
		}, code: s3err.AccessDenied, msg: "requires the Signature, Expires and AWSAccessKeyId"},
		{name: "header and query auth together", req: func(t *testing.T) *http.Request {
			return signedV2(t, "GET", base+"/bucket/key?AWSAccessKeyId="+testAK, nil, nil, testAK, testSK)
		}, code: s3err.InvalidArgument},
		{name: "switch off: header", off: true, req: func(t *testing.T) *http.Request {
			return signedV2(t, "GET", base+"/bucket/key", nil, nil, testAK, testSK)
		}, code: s3err.UnsupportedSignature},
		{name: "switch off: presigned", off: true, req: func(t *testing.T) *http.Request {
			return presignedV2(t, "GET", base+"/bucket/key", 60, testAK, testSK)
		}, code: s3err.UnsupportedSignature},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := v2Verifier(nil) // minio-go signs with the real clock
			v.SigV2 = !tc.off
			a, err := v.Verify(tc.req(t))
			wantCode(t, err, tc.code)
			if tc.msg != "" && !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q lacks %q", err, tc.msg)
			}
			if tc.code == s3err.SignatureDoesNotMatch {
				if e := s3err.As(err); e.Extra["StringToSign"] == "" || e.Extra["AWSAccessKeyId"] != testAK {
					t.Errorf("mismatch without S3's details: %v", e.Extra)
				}
			}
			if tc.code == "" && tc.check != nil {
				tc.check(t, a)
			}
		})
	}
}

// TestSigV2OptionalSubresource: minio-go signs ?encryption, botocore does not;
// both verify.
func TestSigV2OptionalSubresource(t *testing.T) {
	v := v2Verifier(nil)
	r := signedV2(t, "GET", "http://127.0.0.1:9000/bucket?encryption", nil, nil, testAK, testSK)
	if _, err := v.Verify(r); err != nil {
		t.Fatalf("minio-go's form: %v", err)
	}
	d := time.Now().UTC().Format(http.TimeFormat)
	req, _ := http.NewRequest("GET", "http://127.0.0.1:9000/bucket?encryption", nil)
	req.Header.Set("Date", d)
	req.Header.Set("Authorization", "AWS "+testAK+":"+handSigned(req, testSK, "GET\n\n\n"+d+"\n/bucket"))
	if _, err := v.Verify(toServer(t, req)); err != nil {
		t.Fatalf("botocore's form: %v", err)
	}
}

func TestVerifyPostV2(t *testing.T) {
	v := v2Verifier(testNow)
	form := func(policy, ak, sk string) map[string]string {
		b64 := base64.StdEncoding.EncodeToString([]byte(policy))
		return map[string]string{"policy": b64, "awsaccesskeyid": ak, "signature": signer.PostPresignSignatureV2(b64, sk), "key": "k"}
	}
	const pol = `{"expiration":"2026-11-29T13:00:00.000Z","conditions":[{"bucket":"b"},{"key":"k"}]}`
	cases := []struct {
		name   string
		fields map[string]string
		off    bool
		code   s3err.Code
		msg    string
	}{
		{"ok", form(pol, testAK, testSK), false, "", ""},
		{"wrong secret", form(pol, testAK, "nope"), false, s3err.SignatureDoesNotMatch, ""},
		{"unknown key", form(pol, "NOSUCHKEY", testSK), false, s3err.InvalidAccessKeyID, ""},
		{"expired", form(`{"expiration":"2026-11-29T11:00:00.000Z","conditions":[]}`, testAK, testSK), false, s3err.AccessDenied, "Policy expired"},
		{"too far ahead", form(`{"expiration":"2026-12-07T12:00:00.000Z","conditions":[]}`, testAK, testSK), false, s3err.AccessDenied, "at most"},
		{"no access key", func() map[string]string { f := form(pol, testAK, testSK); delete(f, "awsaccesskeyid"); return f }(), false, s3err.InvalidArgument, "AWSAccessKeyId"},
		{"switch off", form(pol, testAK, testSK), true, s3err.UnsupportedSignature, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v.SigV2 = !tc.off
			a, err := v.VerifyPost(tc.fields)
			wantCode(t, err, tc.code)
			if tc.msg != "" && !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q lacks %q", err, tc.msg)
			}
			if err != nil {
				return
			}
			if a.AccessKey != testAK {
				t.Errorf("access key %q", a.AccessKey)
			}
			// The signature fields need no condition; any other field does.
			if err := a.Policy.Check(tc.fields, "b"); err != nil {
				t.Errorf("Check: %v", err)
			}
			tc.fields["x-amz-meta-a"] = "1"
			if err := a.Policy.Check(tc.fields, "b"); err == nil || !strings.Contains(err.Error(), "Extra input fields: x-amz-meta-a") {
				t.Errorf("Check with an extra field: %v", err)
			}
		})
	}
}

// v2Request is the request a server receives for method, url and headers (added in
// order, so repeats stay repeats).
func v2Request(t *testing.T, method, url string, headers [][2]string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range headers {
		req.Header.Add(h[0], h[1])
	}
	return toServer(t, req)
}
