package cors

import (
	"reflect"
	"strings"
	"testing"
)

func i32(v int32) *int32 { return &v }

// docExample is the configuration of S3's user guide ("Elements of a CORS
// configuration"): two rules for named origins with PUT, POST and DELETE and any
// header, then a rule allowing GET from any origin.
var docExample = Configuration{Rules: []Rule{
	{AllowedOrigins: []string{"http://www.example1.com"}, AllowedMethods: []string{"PUT", "POST", "DELETE"}, AllowedHeaders: []string{"*"}},
	{AllowedOrigins: []string{"http://www.example2.com"}, AllowedMethods: []string{"PUT", "POST", "DELETE"}, AllowedHeaders: []string{"*"}},
	{AllowedOrigins: []string{"*"}, AllowedMethods: []string{"GET"}},
}}

// TestEvaluate: S3's evaluation, first matching rule wins, on S3's documented example
// and on the origin patterns of ceph's s3-tests (test_cors_origin_response), which run
// against AWS too.
func TestEvaluate(t *testing.T) {
	s3tests := Configuration{Rules: []Rule{
		{ID: "suffix", AllowedOrigins: []string{"*suffix"}, AllowedMethods: []string{"GET"}},
		{ID: "start-end", AllowedOrigins: []string{"start*end"}, AllowedMethods: []string{"GET"}},
		{ID: "prefix", AllowedOrigins: []string{"prefix*"}, AllowedMethods: []string{"GET"}},
		{ID: "put", AllowedOrigins: []string{"*.put"}, AllowedMethods: []string{"PUT"}},
	}}
	headers := Configuration{Rules: []Rule{
		{ID: "amz", AllowedOrigins: []string{"https://app.example.com"}, AllowedMethods: []string{"PUT"},
			AllowedHeaders: []string{"x-amz-*", "Content-Type"}, ExposeHeaders: []string{"ETag"}, MaxAgeSeconds: i32(600)},
		{ID: "none", AllowedOrigins: []string{"https://app.example.com"}, AllowedMethods: []string{"GET"}},
		{ID: "mixed", AllowedOrigins: []string{"https://named.example", "*"}, AllowedMethods: []string{"HEAD"}},
	}}
	for _, tc := range []struct {
		name    string
		cfg     Configuration
		req     Request
		rule    int // index of the matching rule, -1 for none
		anyOrig bool
	}{
		{"doc: example1 PUT", docExample, Request{Origin: "http://www.example1.com", Method: "PUT", Headers: []string{"content-type"}}, 0, false},
		{"doc: example2 DELETE", docExample, Request{Origin: "http://www.example2.com", Method: "DELETE"}, 1, false},
		{"doc: anyone GET", docExample, Request{Origin: "https://elsewhere.example", Method: "GET"}, 2, true},
		{"doc: example1 GET falls to the third rule", docExample, Request{Origin: "http://www.example1.com", Method: "GET"}, 2, true},
		{"doc: anyone PUT", docExample, Request{Origin: "https://elsewhere.example", Method: "PUT"}, -1, false},
		{"doc: GET with a header no rule allows", docExample, Request{Origin: "https://elsewhere.example", Method: "GET", Headers: []string{"x-amz-date"}}, -1, false},
		{"doc: another scheme is another origin", docExample, Request{Origin: "https://www.example1.com", Method: "PUT"}, -1, false},
		{"doc: a port is part of the origin", docExample, Request{Origin: "http://www.example1.com:80", Method: "PUT"}, -1, false},

		{"s3-tests: *suffix", s3tests, Request{Origin: "foo.suffix", Method: "GET"}, 0, false},
		{"s3-tests: * matches nothing", s3tests, Request{Origin: "suffix", Method: "GET"}, 0, false},
		{"s3-tests: start*end", s3tests, Request{Origin: "start12end", Method: "GET"}, 1, false},
		{"s3-tests: startend", s3tests, Request{Origin: "startend", Method: "GET"}, 1, false},
		{"s3-tests: prefix*", s3tests, Request{Origin: "prefix.suffix", Method: "GET"}, 0, false},
		{"s3-tests: prefix alone", s3tests, Request{Origin: "prefix", Method: "GET"}, 2, false},
		{"s3-tests: anchored at the end", s3tests, Request{Origin: "foo.suffix.get", Method: "GET"}, -1, false},
		{"s3-tests: anchored at the start", s3tests, Request{Origin: "0start12end", Method: "GET"}, -1, false},
		{"s3-tests: bla.prefix", s3tests, Request{Origin: "bla.prefix", Method: "GET"}, -1, false},
		{"s3-tests: foo.put GET", s3tests, Request{Origin: "foo.put", Method: "GET"}, -1, false},
		{"s3-tests: foo.put PUT", s3tests, Request{Origin: "foo.put", Method: "PUT"}, 3, false},

		{"headers: wildcard and named, any case", headers, Request{Origin: "https://app.example.com", Method: "PUT",
			Headers: []string{"x-amz-date", "x-amz-content-sha256", "content-type"}}, 0, false},
		{"headers: the bare prefix matches x-amz-*", headers, Request{Origin: "https://app.example.com", Method: "PUT", Headers: []string{"x-amz-"}}, 0, false},
		{"headers: one header not allowed refuses all", headers, Request{Origin: "https://app.example.com", Method: "PUT",
			Headers: []string{"x-amz-date", "authorization"}}, -1, false},
		{"headers: a rule without AllowedHeader allows none", headers, Request{Origin: "https://app.example.com", Method: "GET", Headers: []string{"range"}}, -1, false},
		{"headers: but the request without headers", headers, Request{Origin: "https://app.example.com", Method: "GET"}, 1, false},
		{"origins are case-insensitive", headers, Request{Origin: "HTTPS://APP.example.com", Method: "GET"}, 1, false},
		{"a named origin beside * is echoed", headers, Request{Origin: "https://named.example", Method: "HEAD"}, 2, false},
		{"another origin gets *", headers, Request{Origin: "https://other.example", Method: "HEAD"}, 2, true},
		{"methods are case-sensitive", headers, Request{Origin: "https://other.example", Method: "head"}, -1, false},
		{"no method", headers, Request{Origin: "https://other.example"}, -1, false},
	} {
		m, ok := tc.cfg.Evaluate(tc.req)
		switch {
		case tc.rule < 0 && ok:
			t.Errorf("%s: rule %q matched, want none", tc.name, m.Rule.ID)
		case tc.rule >= 0 && !ok:
			t.Errorf("%s: nothing matched, want rule %d", tc.name, tc.rule)
		case tc.rule >= 0 && (m.Rule != &tc.cfg.Rules[tc.rule] || m.AnyOrigin != tc.anyOrig):
			t.Errorf("%s: matched %+v (any origin %v), want rule %d (any origin %v)", tc.name, *m.Rule, m.AnyOrigin, tc.rule, tc.anyOrig)
		}
	}
}

func TestWildcard(t *testing.T) {
	for _, tc := range []struct {
		pattern, s string
		want       bool
	}{
		{"*", "", true}, {"*", "anything", true}, {"", "", true}, {"", "x", false},
		{"http://*.example.com", "http://a.example.com", true}, {"http://*.example.com", "http://.example.com", true},
		{"http://*.example.com", "http://example.com", false}, {"http://*.example.com", "https://a.example.com", false},
		{"ab*ba", "aba", false}, // prefix and suffix may not overlap
		{"ab*ba", "abba", true},
		{"X-Amz-*", "x-amz-meta-a", true},
		{"Content-Type", "content-type", true},
	} {
		if got := Wildcard(tc.pattern, tc.s); got != tc.want {
			t.Errorf("Wildcard(%q, %q) = %v", tc.pattern, tc.s, got)
		}
	}
}

// TestEncodeDecode: a configuration reads back as set, and a document of an unknown
// version is refused rather than misread.
func TestEncodeDecode(t *testing.T) {
	cfg := Configuration{Rules: []Rule{
		{ID: "a", AllowedOrigins: []string{"https://app.example.com", ""}, AllowedMethods: []string{"GET", "PUT"},
			AllowedHeaders: []string{"*"}, ExposeHeaders: []string{"ETag", "x-amz-request-id"}, MaxAgeSeconds: i32(-100)},
		{AllowedOrigins: []string{"*"}, AllowedMethods: []string{"HEAD"}},
	}}
	doc, err := cfg.Encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(doc)
	if err != nil || !reflect.DeepEqual(got, cfg) {
		t.Fatalf("round trip: %+v %v, want %+v", got, err, cfg)
	}
	if _, err := Decode(strings.Replace(doc, `"v":1`, `"v":2`, 1)); err == nil {
		t.Error("a document of version 2 was read")
	}
	if _, err := Decode("not json"); err == nil {
		t.Error("garbage was read")
	}
}
