package sigv4

import (
	"net/http"

	"s3proxy/s3api/s3err"
)

// Unsigned reports whether r carries no signature of any kind: no Authorization header
// (not even an empty one), no presigned query (SigV4's X-Amz-* or SigV2's
// AWSAccessKeyId/Signature) and no session token. Such a request is anonymous; any
// request with one of them goes through Verify, so that a bad signature is refused and
// never taken for an anonymous request.
func Unsigned(r *http.Request) bool {
	if _, ok := r.Header["Authorization"]; ok {
		return false
	}
	if r.Header.Get("X-Amz-Security-Token") != "" {
		return false
	}
	q := r.URL.Query()
	for _, k := range []string{"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-Security-Token", "AWSAccessKeyId", "Signature"} {
		if q.Has(k) {
			return false
		}
	}
	return true
}

// Anonymous returns the Auth of an unsigned request: its body as sent. A declared
// x-amz-content-sha256 is not trusted (nothing signs it), except that
// STREAMING-UNSIGNED-PAYLOAD-TRAILER frames the body as aws-chunked, which must be
// decoded (SDKs send it without credentials too); signed streaming needs a signature.
func (v *Verifier) Anonymous(r *http.Request) (*Auth, error) {
	payload := UnsignedPayload
	switch mode := r.Header.Get("X-Amz-Content-Sha256"); mode {
	case StreamingUnsignedTrailer:
		payload = mode
	case StreamingSigned, StreamingSignedTrailer:
		return nil, s3err.Newf(s3err.AccessDenied, "A signed aws-chunked body needs a signed request.")
	}
	return v.newAuth(r, &request{}, nil, payload, false)
}
