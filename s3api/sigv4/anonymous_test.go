package sigv4

import (
	"net/http/httptest"
	"testing"
)

// TestUnsigned: only a request without any trace of a signature is anonymous; one with
// an empty Authorization header, a presigned query (SigV4 or SigV2) or a session token
// goes through Verify and is refused there if it does not verify.
func TestUnsigned(t *testing.T) {
	for _, c := range []struct {
		name   string
		target string
		header map[string]string
		want   bool
	}{
		{"plain", "/b/k", nil, true},
		{"query of a listing", "/b?list-type=2&prefix=a", nil, true},
		{"authorization", "/b/k", map[string]string{"Authorization": "AWS4-HMAC-SHA256 Credential=x"}, false},
		{"empty authorization", "/b/k", map[string]string{"Authorization": ""}, false},
		{"presigned v4", "/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256", nil, false},
		{"presigned v4 signature only", "/b/k?X-Amz-Signature=00", nil, false},
		{"presigned v2", "/b/k?AWSAccessKeyId=AK&Signature=x&Expires=1", nil, false},
		{"v2 signature only", "/b/k?Signature=x", nil, false},
		{"token header", "/b/k", map[string]string{"X-Amz-Security-Token": "t"}, false},
		{"token query", "/b/k?X-Amz-Security-Token=t", nil, false},
	} {
		r := httptest.NewRequest("GET", c.target, nil)
		for k, v := range c.header {
			r.Header[k] = []string{v}
		}
		if got := Unsigned(r); got != c.want {
			t.Errorf("%s: Unsigned = %v, want %v", c.name, got, c.want)
		}
	}
}

// TestAnonymousAuth: an unsigned body is taken as sent, an unsigned aws-chunked one is
// decoded, a signed aws-chunked one is refused (it needs a signature).
func TestAnonymousAuth(t *testing.T) {
	v := &Verifier{}
	r := httptest.NewRequest("PUT", "/b/k", nil)
	r.Header.Set("X-Amz-Content-Sha256", "0000000000000000000000000000000000000000000000000000000000000000")
	a, err := v.Anonymous(r)
	if err != nil || a.Chunked || a.SignedPayloadSHA256 != nil || a.AccessKey != "" {
		t.Errorf("declared hash: %+v %v (must not be trusted)", a, err)
	}
	r.Header.Set("X-Amz-Content-Sha256", StreamingUnsignedTrailer)
	r.Header.Set("X-Amz-Decoded-Content-Length", "0")
	if a, err := v.Anonymous(r); err != nil || !a.Chunked {
		t.Errorf("unsigned aws-chunked: %+v %v", a, err)
	}
	r.Header.Set("X-Amz-Content-Sha256", StreamingSigned)
	if _, err := v.Anonymous(r); err == nil {
		t.Error("signed aws-chunked without a signature was accepted")
	}
}
