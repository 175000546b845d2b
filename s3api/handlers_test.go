package s3api

import (
	"crypto/tls"
	"net/http/httptest"
	"testing"

	"s3proxy/s3api/s3err"
	"s3proxy/translate"
)

func TestParseRange(t *testing.T) {
	tests := []struct {
		in   string
		want *translate.Range
	}{
		{"bytes=0-9", &translate.Range{Start: 0, End: 9}},
		{"bytes=5-", &translate.Range{Start: 5, End: -1}},
		{"bytes=-7", &translate.Range{IsSuffix: true, Suffix: 7}},
		{" bytes=1-2 ", &translate.Range{Start: 1, End: 2}},
		{"bytes=00-01", &translate.Range{Start: 0, End: 1}},
		{"bytes=-0", &translate.Range{IsSuffix: true, Suffix: 0}}, // unsatisfiable, not ignored
		{"bytes=9-1", nil},     // inverted: ignored, as S3 does
		{"bytes=0-1,4-5", nil}, // multiple ranges: ignored
		{"bytes=,", nil},
		{"items=0-1", nil}, // other units: ignored
		{"bytes=a-b", nil}, // garbage: ignored
		{"bytes=100-x", nil},
		{"bytes=-", nil},
		// White space or signs inside the range make it no range to S3.
		{"bytes= -1", nil},
		{"bytes=0 -1", nil},
		{"bytes= 1 - 2 ", nil},
		{"bytes=--1", nil},
		{"bytes=0--1", nil},
		{"bytes=+1-2", nil},
	}
	for _, tc := range tests {
		got := parseRange(tc.in)
		if (got == nil) != (tc.want == nil) || (got != nil && *got != *tc.want) {
			t.Errorf("parseRange(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

func TestOperation(t *testing.T) {
	tests := []struct {
		method, target string
		copySource     bool
		want           string
	}{
		{"GET", "/", false, "ListBuckets"},
		{"PUT", "/b", false, "CreateBucket"},
		{"GET", "/b?list-type=2&prefix=x", false, "ListObjectsV2"},
		{"GET", "/b", false, "ListObjects"},
		{"GET", "/b?location", false, "GetBucketLocation"},
		{"GET", "/b?versions", false, "ListObjectVersions"},
		{"GET", "/b?uploads", false, "ListMultipartUploads"},
		{"POST", "/b?delete", false, "DeleteObjects"},
		{"PUT", "/b?lifecycle", false, "PutBucketLifecycleConfiguration"},
		{"GET", "/b?lifecycle", false, "GetBucketLifecycleConfiguration"},
		{"DELETE", "/b?lifecycle", false, "DeleteBucketLifecycleConfiguration"},
		{"POST", "/b", false, "PostObject"},
		{"POST", "/b?unknown", false, "Unknown"},
		{"DELETE", "/b", false, "DeleteBucket"},
		{"HEAD", "/b", false, "HeadBucket"},
		{"PUT", "/b/k", false, "PutObject"},
		{"PUT", "/b/k", true, "CopyObject"},
		{"PUT", "/b/k?partNumber=1&uploadId=u", false, "UploadPart"},
		{"PUT", "/b/k?partNumber=1&uploadId=u", true, "UploadPartCopy"},
		{"POST", "/b/k?uploads", false, "CreateMultipartUpload"},
		{"POST", "/b/k?uploadId=u", false, "CompleteMultipartUpload"},
		{"DELETE", "/b/k?uploadId=u", false, "AbortMultipartUpload"},
		{"GET", "/b/k?uploadId=u", false, "ListParts"},
		{"GET", "/b/k", false, "GetObject"},
		{"HEAD", "/b/k", false, "HeadObject"},
		{"DELETE", "/b/k", false, "DeleteObject"},
		{"GET", "/b/k?tagging", false, "GetObjectTagging"},
		{"PUT", "/b/k?tagging", false, "PutObjectTagging"},
		{"DELETE", "/b/k?tagging", false, "DeleteObjectTagging"},
		{"GET", "/b/k?retention", false, "GetObjectRetention"},
		{"PUT", "/b/k?legal-hold", false, "PutObjectLegalHold"},
		{"GET", "/b/k?torrent", false, "GetObjectSubresource"},
		{"GET", "/b?tagging", false, "GetBucketTagging"},
		{"PUT", "/b?policy", false, "PutBucketPolicy"},
		{"DELETE", "/b?cors", false, "DeleteBucketCors"},
		{"PUT", "/b?publicAccessBlock", false, "PutPublicAccessBlock"},
		{"GET", "/b?publicAccessBlock", false, "GetPublicAccessBlock"},
		{"DELETE", "/b?publicAccessBlock", false, "DeletePublicAccessBlock"},
		{"GET", "/b?object-lock", false, "GetObjectLockConfiguration"},
		{"GET", "/b?analytics", false, "GetBucketSubresource"},
	}
	for _, tc := range tests {
		r := httptest.NewRequest(tc.method, tc.target, nil)
		if tc.copySource {
			r.Header.Set("x-amz-copy-source", "src/key")
		}
		s := &Server{}
		b, k := s.route(r)
		if got := operation(r, b, k); got != tc.want {
			t.Errorf("%s %s: %s, want %s", tc.method, tc.target, got, tc.want)
		}
	}
}

func TestRouteVirtualHost(t *testing.T) {
	s := &Server{domains: []string{"localhost", "s3.example.com"}}
	tests := []struct{ host, path, bucket, key string }{
		{"127.0.0.1:9000", "/b/dir/k", "b", "dir/k"},
		{"b.localhost:9000", "/dir/k", "b", "dir/k"},
		{"my.bucket.s3.example.com", "/k", "my.bucket", "k"},
		{"s3.example.com", "/b/k", "b", "k"},
		{"127.0.0.1", "/", "", ""},
	}
	for _, tc := range tests {
		r := httptest.NewRequest("GET", tc.path, nil)
		r.Host = tc.host
		b, k := s.route(r)
		if b != tc.bucket || k != tc.key {
			t.Errorf("%s%s: %q %q", tc.host, tc.path, b, k)
		}
	}
}

func TestCopySourceAndEncoding(t *testing.T) {
	for _, tc := range []struct {
		in, bucket, key string
		ok              bool
	}{
		{"src/a/b.txt", "src", "a/b.txt", true},
		{"/src/a%20b", "src", "a b", true},
		{"src/k?versionId=null", "src", "k", true},
		{"src/k?versionId=123", "src", "k", true},
		{"src", "", "", false},
	} {
		b, k, _, err := parseCopySource(tc.in)
		if (err == nil) != tc.ok || b != tc.bucket || k != tc.key {
			t.Errorf("parseCopySource(%q) = %q %q %v", tc.in, b, k, err)
		}
	}
	if got := s3URLEncode("a b/é+~"); got != "a%20b/%C3%A9%2B~" {
		t.Errorf("s3URLEncode: %s", got)
	}
	if got := stripAWSChunked("aws-chunked,gzip"); got != "gzip" {
		t.Errorf("stripAWSChunked: %q", got)
	}
}

func TestCompleteLocation(t *testing.T) {
	s := &Server{domains: []string{"localhost"}}
	tests := []struct {
		host, path string
		tls        bool
		want       string
	}{
		{"127.0.0.1:9000", "/b/dir/my%20key", false, "http://127.0.0.1:9000/b/dir/my%20key"},
		{"b.localhost:9000", "/dir/k", false, "http://b.localhost:9000/dir/k"},
		{"s3.example.com", "/b/k+1", true, "https://s3.example.com/b/k%2B1"},
	}
	for _, tc := range tests {
		r := httptest.NewRequest("POST", tc.path+"?uploadId=x", nil)
		r.Host = tc.host
		if !tc.tls {
			r.TLS = nil
		} else if r.TLS == nil {
			r.TLS = &tls.ConnectionState{}
		}
		rq := &request{r: r}
		rq.bucket, rq.key = s.route(r)
		if got := s.completeLocation(rq); got != tc.want {
			t.Errorf("%s%s: Location %q, want %q", tc.host, tc.path, got, tc.want)
		}
	}
}

func TestListLimit(t *testing.T) {
	tests := []struct {
		v, param, arg string
		n             int
		msg           string // "" for success
	}{
		{"0", "max-keys", "maxKeys", 0, ""},
		{"2147483647", "max-keys", "maxKeys", 2147483647, ""},
		{"-5", "max-keys", "maxKeys", 0, "Argument maxKeys must be an integer between 0 and 2147483647"},
		{"abc", "max-keys", "maxKeys", 0, "Provided max-keys not an integer or within integer range"},
		{"2147483648", "max-keys", "maxKeys", 0, "Provided max-keys not an integer or within integer range"},
		{"-3", "max-uploads", "max-uploads", 0, "Argument max-uploads must be an integer between 0 and 2147483647"},
		{"x", "part-number-marker", "part-number-marker", 0, "Provided part-number-marker not an integer or within integer range"},
	}
	for _, tc := range tests {
		n, err := listLimit(tc.v, tc.param, tc.arg)
		if tc.msg == "" {
			if err != nil || n != tc.n {
				t.Errorf("listLimit(%q) = %d, %v", tc.v, n, err)
			}
			continue
		}
		e := s3err.As(err)
		if e == nil || e.Code != s3err.InvalidArgument || e.Msg() != tc.msg || e.Extra["ArgumentName"] != tc.arg || e.Extra["ArgumentValue"] != tc.v {
			t.Errorf("listLimit(%q, %s) = %v (%+v), want %q", tc.v, tc.param, err, e, tc.msg)
		}
	}
}

func TestAddressableKey(t *testing.T) {
	for _, tc := range []struct {
		key string
		ok  bool
	}{
		{"a", true},
		{"a/b/c", true},
		{"//", true}, // no dot segment: a key like any other
		{"a//b", true},
		{"a/../b", true}, // resolves inside the bucket
		{"a//b/./c/../d", true},
		{".hidden", true},
		{"..backup", true},
		{"a/.../b", true},
		{".", false},
		{"..", false},
		{"./", false},
		{"/.", false},
		{"../", false},
		{"a/..", false},
		{"../x", false},
		{"for/../../bar/", false},
		{"a/a/a/../../../../../etc/passwd", false},
		{"/a/../../b/../../c/../../../etc/passwd", false},
	} {
		if got := addressableKey(tc.key); got != tc.ok {
			t.Errorf("addressableKey(%q) = %v, want %v", tc.key, got, tc.ok)
		}
	}
}
