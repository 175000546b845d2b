package sigv4

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7/pkg/signer"

	"s3proxy/s3api/s3err"
)

// postForm builds the signed fields of a POST form for policy (JSON), signing it with
// minio-go's POST signer: an implementation independent of ours.
func postForm(policy string, at time.Time, ak, sk string) map[string]string {
	b64 := base64.StdEncoding.EncodeToString([]byte(policy))
	return map[string]string{
		"policy":           b64,
		"x-amz-algorithm":  "AWS4-HMAC-SHA256",
		"x-amz-credential": ak + "/" + at.Format("20060102") + "/" + testRegion + "/s3/aws4_request",
		"x-amz-date":       at.Format("20060102T150405Z"),
		"x-amz-signature":  signer.PostPresignSignatureV4(b64, at, sk, testRegion),
	}
}

const okPolicy = `{"expiration":"2026-11-29T13:00:00.000Z","conditions":[{"bucket":"b"}]}`

func codeOf(err error) s3err.Code {
	if e := s3err.As(err); e != nil {
		return e.Code
	}
	return ""
}

func TestVerifyPost(t *testing.T) {
	v := newVerifier()
	at := testNow().Add(-time.Hour) // a form served an hour ago is still good
	cases := []struct {
		name   string
		fields func() map[string]string
		code   s3err.Code
		msg    string // substring of the message
	}{
		{"valid", func() map[string]string { return postForm(okPolicy, at, testAK, testSK) }, "", ""},
		{"wrong secret", func() map[string]string { return postForm(okPolicy, at, testAK, "other") }, s3err.SignatureDoesNotMatch, ""},
		{"unknown key", func() map[string]string { return postForm(okPolicy, at, "NOPE", testSK) }, s3err.InvalidAccessKeyID, ""},
		{"policy swapped after signing", func() map[string]string {
			f := postForm(okPolicy, at, testAK, testSK)
			f["policy"] = base64.StdEncoding.EncodeToString([]byte(strings.Replace(okPolicy, `"b"`, `"c"`, 1)))
			return f
		}, s3err.SignatureDoesNotMatch, ""},
		{"signature not hex", func() map[string]string {
			f := postForm(okPolicy, at, testAK, testSK)
			f["x-amz-signature"] = "zz"
			return f
		}, s3err.SignatureDoesNotMatch, ""},
		{"expired", func() map[string]string {
			return postForm(`{"expiration":"2026-11-29T11:59:59.000Z","conditions":[]}`, at, testAK, testSK)
		}, s3err.AccessDenied, "Invalid according to Policy: Policy expired."},
		{"expiration without milliseconds", func() map[string]string {
			return postForm(`{"expiration":"2026-11-29T13:00:00Z","conditions":[]}`, at, testAK, testSK)
		}, "", ""},
		{"expiration more than 7 days after signing", func() map[string]string {
			return postForm(`{"expiration":"2026-12-06T11:15:01.000Z","conditions":[]}`, at, testAK, testSK)
		}, s3err.AccessDenied, "Policy expiration must be at most"},
		{"expiration 7 days after signing, within the clock's slack", func() map[string]string {
			return postForm(`{"expiration":"2026-12-06T11:00:00.505Z","conditions":[]}`, at, testAK, testSK)
		}, "", ""},
		{"signed in the future", func() map[string]string {
			return postForm(`{"expiration":"2026-11-29T14:00:00.000Z","conditions":[]}`, testNow().Add(time.Hour), testAK, testSK)
		}, s3err.AccessDenied, "Policy expiration must be at most"},
		{"anonymous", func() map[string]string { return map[string]string{"key": "k"} }, "", ""},
		{"sigv2", func() map[string]string {
			return map[string]string{"policy": "e30=", "awsaccesskeyid": testAK, "signature": "x"}
		}, s3err.UnsupportedSignature, ""},
		{"other algorithm", func() map[string]string {
			f := postForm(okPolicy, at, testAK, testSK)
			f["x-amz-algorithm"] = "AWS4-ECDSA-P256-SHA256"
			return f
		}, s3err.UnsupportedSignature, ""},
		{"no policy", func() map[string]string {
			f := postForm(okPolicy, at, testAK, testSK)
			delete(f, "policy")
			return f
		}, s3err.InvalidArgument, "Bucket POST must contain a field named 'Policy'."},
		{"no credential", func() map[string]string {
			f := postForm(okPolicy, at, testAK, testSK)
			delete(f, "x-amz-credential")
			return f
		}, s3err.InvalidArgument, "Bucket POST must contain a field named 'X-Amz-Credential'.  If it is specified, please check the order of the fields."},
		{"no signature", func() map[string]string {
			f := postForm(okPolicy, at, testAK, testSK)
			delete(f, "x-amz-signature")
			return f
		}, s3err.InvalidArgument, "'X-Amz-Signature'"},
		{"credential date differs from x-amz-date", func() map[string]string {
			f := postForm(okPolicy, at, testAK, testSK)
			f["x-amz-date"] = "20261128T110000Z"
			return f
		}, s3err.AuthorizationQueryParametersError, ""},
		{"wrong region", func() map[string]string {
			f := postForm(okPolicy, at, testAK, testSK)
			f["x-amz-credential"] = strings.Replace(f["x-amz-credential"], testRegion, "eu-west-1", 1)
			return f
		}, s3err.AuthorizationQueryParametersError, "expecting 'us-east-1'"},
		{"policy not base64", func() map[string]string { return signRaw("%%%", at) }, s3err.InvalidPolicyDocument, "Invalid Policy: Invalid Base64 Encoding."},
		{"policy not JSON", func() map[string]string { return signJSON(`{"expiration":`, at) }, s3err.InvalidPolicyDocument, "Invalid Policy: Invalid JSON."},
		{"trailing data", func() map[string]string { return signJSON(okPolicy+`{}`, at) }, s3err.InvalidPolicyDocument, "Invalid JSON"},
		{"no expiration", func() map[string]string { return signJSON(`{"conditions":[]}`, at) }, s3err.InvalidPolicyDocument, "Policy missing expiration."},
		{"no conditions", func() map[string]string {
			return signJSON(`{"expiration":"2026-11-29T13:00:00.000Z"}`, at)
		}, s3err.InvalidPolicyDocument, "Policy missing conditions."},
		{"bad expiration", func() map[string]string {
			return signJSON(`{"expiration":"tomorrow","conditions":[]}`, at)
		}, s3err.InvalidPolicyDocument, "Invalid 'expiration' value: 'tomorrow'"},
		{"two fields in one simple condition", func() map[string]string {
			return signJSON(`{"expiration":"2026-11-29T13:00:00.000Z","conditions":[{"a":"1","b":"2"}]}`, at)
		}, s3err.InvalidPolicyDocument, "Simple-Conditions must have exactly one property specified."},
		{"unknown condition", func() map[string]string {
			return signJSON(`{"expiration":"2026-11-29T13:00:00.000Z","conditions":[["ends-with","$key","x"]]}`, at)
		}, s3err.InvalidPolicyDocument, "Invalid Condition Type"},
		{"field without $", func() map[string]string {
			return signJSON(`{"expiration":"2026-11-29T13:00:00.000Z","conditions":[["eq","key","x"]]}`, at)
		}, s3err.InvalidPolicyDocument, "Invalid Condition"},
		{"bad range", func() map[string]string {
			return signJSON(`{"expiration":"2026-11-29T13:00:00.000Z","conditions":[["content-length-range",10,1]]}`, at)
		}, s3err.InvalidPolicyDocument, "content-length-range"},
		{"unknown top-level field", func() map[string]string {
			return signJSON(`{"expiration":"2026-11-29T13:00:00.000Z","conditions":[],"x":1}`, at)
		}, s3err.InvalidPolicyDocument, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, err := v.VerifyPost(tc.fields())
			if codeOf(err) != tc.code {
				t.Fatalf("got %v, want %s", err, tc.code)
			}
			if err != nil && !strings.Contains(s3err.As(err).Msg(), tc.msg) {
				t.Errorf("message %q does not contain %q", s3err.As(err).Msg(), tc.msg)
			}
			anonymous := tc.name == "anonymous" // no policy, no signature: the caller authorizes it
			if err == nil && (a.Anonymous != anonymous || !anonymous && (a.AccessKey != testAK || a.Policy == nil)) {
				t.Errorf("auth %+v", a)
			}
		})
	}
}

func signJSON(policy string, at time.Time) map[string]string {
	return signRaw(base64.StdEncoding.EncodeToString([]byte(policy)), at)
}

// signRaw signs a policy field exactly as given (even when it is not base64).
func signRaw(b64 string, at time.Time) map[string]string {
	f := postForm(okPolicy, at, testAK, testSK)
	f["policy"] = b64
	f["x-amz-signature"] = signer.PostPresignSignatureV4(b64, at, testSK, testRegion)
	return f
}

func TestPostPolicyCheck(t *testing.T) {
	policy := func(conds string) *PostPolicy {
		t.Helper()
		p, err := ParsePostPolicy(base64.StdEncoding.EncodeToString([]byte(`{"expiration":"2030-01-01T00:00:00.000Z","conditions":[` + conds + `]}`)))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	signed := map[string]string{"policy": "p", "x-amz-signature": "s"} // exempt
	with := func(kv ...string) map[string]string {
		f := map[string]string{}
		for k, v := range signed {
			f[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			f[kv[i]] = kv[i+1]
		}
		return f
	}
	cases := []struct {
		name   string
		conds  string
		fields map[string]string
		msg    string // "" = passes
	}{
		{"exact, object form", `{"key":"a/b"}`, with("key", "a/b"), ""},
		{"exact, object form, fails", `{"key":"a/b"}`, with("key", "a/c"), `Policy Condition failed: {"key": "a/b"}`},
		{"eq", `["eq","$key","a"]`, with("key", "a"), ""},
		{"eq fails", `["eq","$key","a"]`, with("key", "ab"), `Policy Condition failed: ["eq", "$key", "a"]`},
		{"eq on a missing field", `["eq","$x-amz-meta-a","v"]`, with(), `["eq", "$x-amz-meta-a", "v"]`},
		{"starts-with", `["starts-with","$key","user/1/"]`, with("key", "user/1/f.txt"), ""},
		{"starts-with fails", `["starts-with","$key","user/1/"]`, with("key", "user/2/f.txt"), `["starts-with", "$key", "user/1/"]`},
		{"starts-with empty accepts anything", `["starts-with","$x-amz-meta-tag",""]`, with("x-amz-meta-tag", "whatever"), ""},
		{"starts-with empty accepts absence", `["starts-with","$x-amz-meta-tag",""]`, with(), ""},
		{"operator case", `["Starts-With","$key","a"]`, with("key", "ab"), ""},
		{"field names are case-insensitive", `["starts-with","$Content-Type","image/"]`, with("content-type", "image/png"), ""},
		{"object-form names too", `{"X-Amz-Meta-Uuid":"14365123651274"}`, with("x-amz-meta-uuid", "14365123651274"), ""},
		{"values are case-sensitive", `{"key":"A"}`, with("key", "a"), "Policy Condition failed"},
		{"Content-Type list, each value checked", `["starts-with","$Content-Type","image/"]`, with("content-type", "image/png, image/jpeg"), ""},
		{"Content-Type list, one fails", `["starts-with","$Content-Type","image/"]`, with("content-type", "image/png,text/plain"), "Policy Condition failed"},
		{"bucket is the bucket posted to", `{"bucket":"b"}`, with(), ""},
		{"bucket fails", `{"bucket":"other"}`, with(), `{"bucket": "other"}`},
		{"numbers compare as text", `{"success_action_status":201}`, with("success_action_status", "201"), ""},
		{"extra field", `{"key":"k"}`, with("key", "k", "x-amz-meta-note", "n"), "Invalid according to Policy: Extra input fields: x-amz-meta-note"},
		{"extra fields listed", `{"key":"k"}`, with("key", "k", "b-field", "1", "a-field", "2"), "Extra input fields: a-field, b-field"},
		{"x-ignore- fields need no condition", `{"key":"k"}`, with("key", "k", "x-ignore-flash", "1"), ""},
		{"file needs no condition", `{"key":"k"}`, with("key", "k", "file", "x"), ""},
		{"signature fields do", `{"key":"k"}`, with("key", "k", "x-amz-date", "20261129T000000Z"), "Extra input fields: x-amz-date"},
		{"range is not a field condition", `["content-length-range",1,10]`, with(), ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := policy(tc.conds).Check(tc.fields, "b")
			if tc.msg == "" {
				if err != nil {
					t.Fatalf("unexpected %v", err)
				}
				return
			}
			if codeOf(err) != s3err.AccessDenied || !strings.Contains(s3err.As(err).Msg(), tc.msg) {
				t.Fatalf("got %v, want AccessDenied with %q", err, tc.msg)
			}
		})
	}
}

func TestPostPolicyLengthRange(t *testing.T) {
	cases := []struct {
		conds  string
		lo, hi int64
		ok     bool
	}{
		{``, 0, 0, false},
		{`["content-length-range",1,1048576]`, 1, 1048576, true},
		{`["content-length-range","5","10"]`, 5, 10, true},                                 // some clients quote numbers
		{`["content-length-range",1,100],["content-length-range",10,1000]`, 10, 100, true}, // the narrowest
	}
	for _, tc := range cases {
		p, err := ParsePostPolicy(base64.StdEncoding.EncodeToString([]byte(`{"expiration":"2030-01-01T00:00:00.000Z","conditions":[` + tc.conds + `]}`)))
		if err != nil {
			t.Fatal(err)
		}
		lo, hi, ok := p.LengthRange()
		if ok != tc.ok || (ok && (lo != tc.lo || hi != tc.hi)) {
			t.Errorf("%s: got %d-%d %v", tc.conds, lo, hi, ok)
		}
	}
}

func TestExpandKey(t *testing.T) {
	for _, tc := range []struct{ key, file, want string }{
		{"uploads/${filename}", "photo.jpg", "uploads/photo.jpg"},
		{"a/${filename}/b/${filename}", "x", "a/x/b/x"},
		{"fixed", "photo.jpg", "fixed"},
		{"user/${filename}", "", "user/"},
	} {
		if got := ExpandKey(tc.key, tc.file); got != tc.want {
			t.Errorf("ExpandKey(%q, %q) = %q, want %q", tc.key, tc.file, got, tc.want)
		}
	}
	// Conditions see the expanded key.
	p, _ := ParsePostPolicy(base64.StdEncoding.EncodeToString([]byte(`{"expiration":"2030-01-01T00:00:00.000Z","conditions":[["starts-with","$key","user/1/"]]}`)))
	if err := p.Check(map[string]string{"key": ExpandKey("user/1/${filename}", "a.txt")}, "b"); err != nil {
		t.Error(err)
	}
}

// FuzzPostPolicy: any policy document either parses into conditions that can be
// checked, or is refused as InvalidPolicyDocument; nothing panics.
func FuzzPostPolicy(f *testing.F) {
	for _, seed := range []string{
		okPolicy,
		`{"expiration":"2026-11-29T13:00:00Z","conditions":[["starts-with","$key","a/"],["content-length-range",1,10],{"x-amz-meta-a":"b"},["eq","$Content-Type","text/plain"]]}`,
		`{"expiration":"2026-11-29T13:00:00.000Z","conditions":[["content-length-range","1","x"]]}`,
		`{"expiration":"","conditions":[[]]}`,
		`{"conditions":[{"a":1}]}`,
	} {
		f.Add(seed, "a/b", "text/plain")
	}
	f.Fuzz(func(t *testing.T, doc, key, contentType string) {
		p, err := ParsePostPolicy(base64.StdEncoding.EncodeToString([]byte(doc)))
		if err != nil {
			if codeOf(err) != s3err.InvalidPolicyDocument {
				t.Fatalf("refused with %v", err)
			}
			return
		}
		if lo, hi, ok := p.LengthRange(); ok && (lo < 0 || hi < lo) {
			t.Fatalf("length range %d..%d", lo, hi)
		}
		err = p.Check(map[string]string{"key": key, "content-type": contentType, "bucket": "b"}, "b")
		if err != nil && codeOf(err) != s3err.AccessDenied {
			t.Fatalf("check refused with %v", err)
		}
	})
}
