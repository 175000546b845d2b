package s3api

import (
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"s3proxy/translate/cors"
)

func i32p(v int32) *int32 { return &v }

// TestParseCORSExamples: the configurations of S3's documentation (PutBucketCors, the
// user guide's "Elements of a CORS configuration") parse into the rules they describe,
// in order, as set.
func TestParseCORSExamples(t *testing.T) {
	for _, tc := range []struct {
		name string
		doc  string
		want []cors.Rule
	}{
		{"API reference: named origin with three methods, then GET from anywhere", `<CORSConfiguration>
 <CORSRule>
   <AllowedOrigin>http://www.example.com</AllowedOrigin>
   <AllowedMethod>PUT</AllowedMethod>
   <AllowedMethod>POST</AllowedMethod>
   <AllowedMethod>DELETE</AllowedMethod>
   <AllowedHeader>*</AllowedHeader>
 </CORSRule>
 <CORSRule>
   <AllowedOrigin>*</AllowedOrigin>
   <AllowedMethod>GET</AllowedMethod>
 </CORSRule>
</CORSConfiguration>`, []cors.Rule{
			{AllowedOrigins: []string{"http://www.example.com"}, AllowedMethods: []string{"PUT", "POST", "DELETE"}, AllowedHeaders: []string{"*"}},
			{AllowedOrigins: []string{"*"}, AllowedMethods: []string{"GET"}},
		}},
		{"API reference: max age and exposed headers", `<CORSConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
 <CORSRule>
   <AllowedOrigin>http://www.example.com</AllowedOrigin>
   <AllowedMethod>PUT</AllowedMethod>
   <AllowedMethod>POST</AllowedMethod>
   <AllowedMethod>DELETE</AllowedMethod>
   <AllowedHeader>*</AllowedHeader>
  <MaxAgeSeconds>3000</MaxAgeSeconds>
  <ExposeHeader>x-amz-server-side-encryption</ExposeHeader>
  <ExposeHeader>x-amz-request-id</ExposeHeader>
  <ExposeHeader>x-amz-id-2</ExposeHeader>
 </CORSRule>
</CORSConfiguration>`, []cors.Rule{
			{AllowedOrigins: []string{"http://www.example.com"}, AllowedMethods: []string{"PUT", "POST", "DELETE"}, AllowedHeaders: []string{"*"},
				MaxAgeSeconds: i32p(3000), ExposeHeaders: []string{"x-amz-server-side-encryption", "x-amz-request-id", "x-amz-id-2"}},
		}},
		{"an ID, a wildcard in a header and an origin, a negative max age, an empty origin", `<CORSConfiguration><CORSRule>` +
			`<ID>web-app</ID><AllowedOrigin>https://*.example.com</AllowedOrigin><AllowedOrigin></AllowedOrigin><AllowedMethod>GET</AllowedMethod>` +
			`<AllowedHeader>x-amz-*</AllowedHeader><MaxAgeSeconds>-100</MaxAgeSeconds></CORSRule></CORSConfiguration>`, []cors.Rule{
			{ID: "web-app", AllowedOrigins: []string{"https://*.example.com", ""}, AllowedMethods: []string{"GET"}, AllowedHeaders: []string{"x-amz-*"},
				MaxAgeSeconds: i32p(-100)},
		}},
	} {
		got, err := parseCORS([]byte(tc.doc))
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if !reflect.DeepEqual(got.Rules, tc.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.name, got.Rules, tc.want)
		}
		// And it reads back as it was set.
		out := corsXML(got)
		if len(out.Rules) != len(tc.want) || !reflect.DeepEqual(out.Rules[0].AllowedMethods, tc.want[0].AllowedMethods) ||
			out.Rules[0].ID != tc.want[0].ID || !reflect.DeepEqual(out.Rules[0].MaxAgeSeconds, tc.want[0].MaxAgeSeconds) {
			t.Errorf("%s: GetBucketCors renders %+v", tc.name, out)
		}
	}
}

func corsDoc(rules ...string) string {
	return `<CORSConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">` + strings.Join(rules, "") + `</CORSConfiguration>`
}

// TestParseCORSRefusals: what S3 refuses, with its codes and messages.
func TestParseCORSRefusals(t *testing.T) {
	rule := func(inner string) string { return "<CORSRule>" + inner + "</CORSRule>" }
	ok := `<AllowedOrigin>https://a.example</AllowedOrigin><AllowedMethod>GET</AllowedMethod>`
	many := strings.Repeat(rule(ok), 101)
	for _, tc := range []struct {
		name, doc, code, msg string
	}{
		{"no rules", corsDoc(), "MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema."},
		{"101 rules", corsDoc(many), "MalformedXML", ""},
		{"no method", corsDoc(rule(`<AllowedOrigin>x</AllowedOrigin>`)), "MalformedXML", ""},
		{"no origin", corsDoc(rule(`<AllowedMethod>GET</AllowedMethod>`)), "MalformedXML", ""},
		{"empty rule", corsDoc(rule(``)), "MalformedXML", ""},
		{"unknown method", corsDoc(rule(ok + `<AllowedMethod>PATCH</AllowedMethod>`)), "InvalidRequest",
			"Found unsupported HTTP method in CORS config. Unsupported method is PATCH"},
		{"lower-case method", corsDoc(rule(`<AllowedOrigin>x</AllowedOrigin><AllowedMethod>get</AllowedMethod>`)), "InvalidRequest",
			"Found unsupported HTTP method in CORS config. Unsupported method is get"},
		{"empty method", corsDoc(rule(`<AllowedOrigin>x</AllowedOrigin><AllowedMethod></AllowedMethod>`)), "InvalidRequest",
			"Found unsupported HTTP method in CORS config. Unsupported method is "},
		{"OPTIONS", corsDoc(rule(ok + `<AllowedMethod>OPTIONS</AllowedMethod>`)), "InvalidRequest",
			"Found unsupported HTTP method in CORS config. Unsupported method is OPTIONS"},
		{"two wildcards in an origin", corsDoc(rule(`<AllowedOrigin>*example.com*</AllowedOrigin><AllowedMethod>GET</AllowedMethod>`)), "InvalidRequest",
			`AllowedOrigin "*example.com*" can not have more than one wildcard.`},
		{"two wildcards in a header", corsDoc(rule(ok + `<AllowedHeader>x-*-*</AllowedHeader>`)), "InvalidRequest",
			`AllowedHeader "x-*-*" can not have more than one wildcard.`},
		{"a header with a space", corsDoc(rule(ok + `<AllowedHeader>invalid header</AllowedHeader>`)), "InvalidRequest",
			`AllowedHeader "invalid header" contains invalid character.`},
		{"a header with a colon", corsDoc(rule(ok + `<AllowedHeader>X-Custom:Header</AllowedHeader>`)), "InvalidRequest",
			`AllowedHeader "X-Custom:Header" contains invalid character.`},
		{"an exposed header with a quote", corsDoc(rule(ok + `<ExposeHeader>X"Quote"</ExposeHeader>`)), "InvalidRequest",
			`AllowedHeader "X"Quote"" contains invalid character.`},
		{"an ID of 256 characters", corsDoc(rule(ok + `<ID>` + strings.Repeat("i", 256) + `</ID>`)), "InvalidArgument", ""},
		{"max age not a number", corsDoc(rule(ok + `<MaxAgeSeconds>soon</MaxAgeSeconds>`)), "MalformedXML", ""},
		{"max age past 32 bits", corsDoc(rule(ok + `<MaxAgeSeconds>2147483648</MaxAgeSeconds>`)), "MalformedXML", ""},
		{"two max ages", corsDoc(rule(ok + `<MaxAgeSeconds>1</MaxAgeSeconds><MaxAgeSeconds>2</MaxAgeSeconds>`)), "MalformedXML", ""},
		{"two IDs", corsDoc(rule(ok + `<ID>a</ID><ID>b</ID>`)), "MalformedXML", ""},
		{"a misspelt element", corsDoc(rule(ok + `<AllowedHeaders>*</AllowedHeaders>`)), "MalformedXML", ""},
		{"another root", `<CORSRules>` + rule(ok) + `</CORSRules>`, "MalformedXML", ""},
		{"not XML", `CORS please`, "MalformedXML", ""},
	} {
		_, err := parseCORS([]byte(tc.doc))
		code, msg := errCode(err)
		if code != tc.code || (tc.msg != "" && msg != tc.msg) {
			t.Errorf("%s: %s %q, want %s %q", tc.name, code, msg, tc.code, tc.msg)
		}
	}
	// 100 rules are allowed.
	if _, err := parseCORS([]byte(corsDoc(strings.Repeat(rule(ok), 100)))); err != nil {
		t.Errorf("100 rules: %v", err)
	}
}

// TestReadCORSRequest: what a preflight says about itself, and what S3 refuses in it.
func TestReadCORSRequest(t *testing.T) {
	for _, tc := range []struct {
		name           string
		method, acrm   string
		acrh           []string
		wantMethod     string
		wantHeaders    []string
		code, message  string
		noRequestedHdr bool
	}{
		{"a preflight", "OPTIONS", "PUT", []string{"content-type,x-amz-date"}, "PUT", []string{"content-type", "x-amz-date"}, "", "", false},
		{"names in any case, with spaces", "OPTIONS", "GET", []string{"X-Amz-Date, X-AMZ-Content-Sha256 ,"}, "GET", []string{"x-amz-date", "x-amz-content-sha256"}, "", "", false},
		{"several header lines", "OPTIONS", "GET", []string{"a", "b"}, "GET", []string{"a", "b"}, "", "", false},
		{"an actual request", "PUT", "", nil, "PUT", nil, "", "", true},
		{"an actual request naming a method", "PUT", "GET", nil, "GET", nil, "", "", false},
		{"a lower-case method", "OPTIONS", "get", nil, "", nil, "BadRequest", "Invalid Access-Control-Request-Method: get", false},
		{"PATCH", "OPTIONS", "PATCH", nil, "", nil, "BadRequest", "Invalid Access-Control-Request-Method: PATCH", false},
		{"a space in a name", "OPTIONS", "GET", []string{"X-Amz-Date,invalid header"}, "", nil, "BadRequest",
			`Access-Control-Request-Headers "invalid header" contains invalid character.`, false},
		{"an @", "OPTIONS", "GET", []string{"Accept-Encoding,bad@char"}, "", nil, "BadRequest",
			`Access-Control-Request-Headers "bad@char" contains invalid character.`, false},
		{"not ASCII", "OPTIONS", "GET", []string{"NonAsciiŁ"}, "", nil, "BadRequest",
			`Access-Control-Request-Headers "NonAsciiŁ" contains invalid character.`, false},
	} {
		r := httptest.NewRequest(tc.method, "/b/k", nil)
		r.Header.Set("Origin", "https://app.example.com")
		if tc.acrm != "" {
			r.Header.Set("Access-Control-Request-Method", tc.acrm)
		}
		for _, v := range tc.acrh {
			r.Header.Add("Access-Control-Request-Headers", v)
		}
		cr, err := readCORSRequest(r)
		code, msg := errCode(err)
		if code != tc.code || (tc.message != "" && msg != tc.message) {
			t.Errorf("%s: %s %q, want %s %q", tc.name, code, msg, tc.code, tc.message)
			continue
		}
		if err == nil && (cr.method != tc.wantMethod || !reflect.DeepEqual(cr.headers, tc.wantHeaders) || cr.hasMethod == tc.noRequestedHdr) {
			t.Errorf("%s: %+v", tc.name, cr)
		}
	}
}

// TestSetCORSHeaders: the headers of an allowed request, as S3 sends them: the origin
// echoed with credentials, or "*" without; the rule's methods; the requested headers;
// exposed headers and max age only when the rule has them.
func TestSetCORSHeaders(t *testing.T) {
	rule := &cors.Rule{AllowedMethods: []string{"GET", "PUT"}, ExposeHeaders: []string{"ETag", "x-amz-request-id"}, MaxAgeSeconds: i32p(3000)}
	h := http.Header{}
	setCORSHeaders(h, corsRequest{origin: "https://app.example.com", headers: []string{"content-type", "x-amz-date"}}, cors.Match{Rule: rule})
	want := http.Header{
		"Access-Control-Allow-Origin":      {"https://app.example.com"},
		"Access-Control-Allow-Credentials": {"true"},
		"Access-Control-Allow-Methods":     {"GET, PUT"},
		"Access-Control-Allow-Headers":     {"content-type, x-amz-date"},
		"Access-Control-Expose-Headers":    {"ETag, x-amz-request-id"},
		"Access-Control-Max-Age":           {"3000"},
		"Vary":                             {"Origin, Access-Control-Request-Headers, Access-Control-Request-Method"},
	}
	if !reflect.DeepEqual(h, want) {
		t.Errorf("named origin:\n got %v\nwant %v", h, want)
	}
	h = http.Header{}
	setCORSHeaders(h, corsRequest{origin: "https://any.example"}, cors.Match{Rule: &cors.Rule{AllowedMethods: []string{"GET"}}, AnyOrigin: true})
	want = http.Header{
		"Access-Control-Allow-Origin":  {"*"},
		"Access-Control-Allow-Methods": {"GET"},
		"Vary":                         {"Origin, Access-Control-Request-Headers, Access-Control-Request-Method"},
	}
	if !reflect.DeepEqual(h, want) {
		t.Errorf("any origin:\n got %v\nwant %v", h, want)
	}
}

// FuzzCORS: whatever PutBucketCors accepts, its stored form decodes to the same rules,
// GetBucketCors's rendering of them is accepted again as the same rules, and a
// browser's request is evaluated against them without panicking.
//
//	go test -run - -fuzz FuzzCORS -fuzztime 60s ./s3api
func FuzzCORS(f *testing.F) {
	for _, doc := range []string{
		`<CORSConfiguration><CORSRule><AllowedOrigin>http://www.example.com</AllowedOrigin><AllowedMethod>PUT</AllowedMethod><AllowedHeader>*</AllowedHeader></CORSRule>` +
			`<CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule></CORSConfiguration>`,
		`<CORSConfiguration><CORSRule><ID>web-app</ID><AllowedOrigin>https://*.example.com</AllowedOrigin><AllowedOrigin></AllowedOrigin><AllowedMethod>GET</AllowedMethod>` +
			`<AllowedHeader>x-amz-*</AllowedHeader><MaxAgeSeconds>-100</MaxAgeSeconds><ExposeHeader>ETag</ExposeHeader></CORSRule></CORSConfiguration>`,
	} {
		f.Add([]byte(doc), "https://app.example.com", "GET", "x-amz-date")
	}
	f.Fuzz(func(t *testing.T, doc []byte, origin, method, header string) {
		cfg, err := parseCORS(doc)
		if err != nil {
			return
		}
		checkRoundTrip(t, cfg, cors.Configuration.Encode, cors.Decode, func(c cors.Configuration) any { return corsXML(c) }, parseCORS)
		cfg.Evaluate(cors.Request{Origin: origin, Method: method, Headers: []string{header}})
		cfg.Evaluate(cors.Request{Origin: origin, Method: method})
	})
}
