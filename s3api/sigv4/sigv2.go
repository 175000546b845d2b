package sigv4

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"s3proxy/s3api/s3err"
)

// AWS Signature Version 2 ("Signing and Authenticating REST Requests" and "Query
// String Request Authentication Alternative" in the S3 documentation). It is still
// what unmodified clients send: the aws cli v1 presigns with it by default, s3cmd
// signurl always, and s3cmd or boto configured for it sign every request with it.
//
//	Signature    = Base64(HMAC-SHA1(secret, StringToSign))
//	StringToSign = Method \n Content-MD5 \n Content-Type \n Date-or-Expires \n
//	               CanonicalizedAmzHeaders CanonicalizedResource
//
// SigV2 signs neither the Host nor the body: the body is taken as unsigned (as
// UNSIGNED-PAYLOAD is for SigV4), unless the client declared its SHA-256 in an
// x-amz-content-sha256 header, which the signature covers like every x-amz-* header.

const v2Prefix = "AWS "

// isSubresourceV2 reports whether a query parameter belongs to the
// CanonicalizedResource: the sub-resources S3 documents, the response-* overrides,
// and the further ones botocore (the aws cli and boto3, the commonest SigV2
// signers) signs. Anything else in the query is not signed, as in S3.
func isSubresourceV2(name string) bool {
	switch name {
	case "accelerate", "acl", "analytics", "cors", "defaultObjectAcl", "delete", "inventory",
		"lifecycle", "location", "logging", "metrics", "notification", "object-lock", "partNumber",
		"policy", "replication", "requestPayment", "restore", "select", "select-type", "storageClass",
		"tagging", "torrent", "uploadId", "uploads", "versionId", "versioning", "versions", "website",
		"response-cache-control", "response-content-disposition", "response-content-encoding",
		"response-content-language", "response-content-type", "response-expires":
		return true
	}
	return false
}

// isOptionalSubresourceV2 names sub-resources that some signers include and others
// do not (minio-go and MinIO sign them, botocore does not). A request carrying one is
// checked both ways; this is no weaker than leaving it out, since an unsigned
// parameter can be added to any SigV2 request anyway.
func isOptionalSubresourceV2(name string) bool {
	switch name {
	case "encryption", "legal-hold", "retention":
		return true
	}
	return false
}

// parseV2Time reads the forms a SigV2 Date or x-amz-date takes: RFC 1123 with
// "GMT" (botocore, minio-go) or a numeric zone (s3cmd's "+0000"), the older HTTP
// forms, and SigV4's ISO 8601 basic form, which some tools put in x-amz-date.
func parseV2Time(s string) (time.Time, bool) {
	for _, f := range []string{http.TimeFormat, time.RFC1123, time.RFC1123Z, time.RFC850, time.ANSIC, timeFormat} {
		if t, err := time.Parse(f, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

func (v *Verifier) verifyV2Header(r *http.Request, authz string) (*Auth, error) {
	cred := strings.TrimSpace(strings.TrimPrefix(authz, v2Prefix))
	// An access key may contain ':' in principle; a base64 signature never does.
	i := strings.LastIndexByte(cred, ':')
	if i <= 0 || i == len(cred)-1 {
		return nil, s3err.Newf(s3err.InvalidArgument, "AWS authorization header is invalid.  Expected AwsAccessKeyId:signature")
	}
	ak, sig := cred[:i], cred[i+1:]

	// With x-amz-date the Date line of the string to sign is empty (the
	// timestamp is signed among the x-amz-* headers), as S3 documents for
	// clients that cannot set Date.
	raw, date := r.Header.Get("X-Amz-Date"), ""
	if raw == "" {
		raw = r.Header.Get("Date")
		date = strings.TrimSpace(raw)
	}
	t, ok := parseV2Time(strings.TrimSpace(raw))
	if raw == "" || !ok {
		return nil, s3err.Newf(s3err.AccessDenied, "AWS authentication requires a valid Date or x-amz-date header")
	}
	if err := v.checkSkew(t, raw); err != nil {
		return nil, err
	}
	return v.authV2(r, ak, sig, date, false)
}

func (v *Verifier) verifyV2Presigned(r *http.Request, q url.Values) (*Auth, error) {
	ak, expires := q.Get("AWSAccessKeyId"), q.Get("Expires")
	// Query decoding turns a '+' left unescaped into a space; base64 has no
	// spaces, so that can only be a '+'.
	sig := strings.ReplaceAll(q.Get("Signature"), " ", "+")
	if ak == "" || sig == "" || expires == "" {
		return nil, s3err.Newf(s3err.AccessDenied, "Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters")
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete:
	default:
		// What a SigV2 URL is shared for is fetching, uploading or deleting one
		// object; anything else (POST: multipart, multi-object delete, restore)
		// is for signed requests or SigV4 URLs.
		return nil, s3err.Newf(s3err.AccessDenied, "Signature Version 2 presigned URLs are accepted for GET, HEAD, PUT and DELETE only; presign %s requests with Signature Version 4", r.Method)
	}
	exp, err := strconv.ParseInt(expires, 10, 64)
	if err != nil {
		return nil, s3err.Newf(s3err.AccessDenied, "Invalid date (should be seconds since epoch): %s", expires)
	}
	now := v.now()
	if now.Unix() > exp {
		return nil, s3err.Newf(s3err.AccessDenied, "Request has expired")
	}
	// A SigV2 URL says when it ends, not when it was made, so its lifetime is
	// bounded from now: no further ahead than a SigV4 URL may live, plus the
	// allowed skew as slack for a client clock slightly ahead (the aws cli's
	// largest --expires-in is exactly 7 days).
	if time.Unix(exp, 0).Sub(now) > v.maxExpiry()+v.maxSkew() {
		return nil, s3err.Newf(s3err.AccessDenied, "Expires must be at most %d seconds (7 days) ahead of the current time", int64(v.maxExpiry()/time.Second))
	}
	return v.authV2(r, ak, sig, expires, true)
}

// authV2 finishes a SigV2 verification once the time is checked: the payload mode,
// the caller's secret, the signature over the string to sign (date is its Date line),
// and the Auth.
func (v *Verifier) authV2(r *http.Request, ak, sig, date string, presigned bool) (*Auth, error) {
	payload, err := payloadV2(r)
	if err != nil {
		return nil, err
	}
	secret, err := v.secret(ak)
	if err != nil {
		return nil, err
	}
	if err := v.checkSignatureV2(r, secret, ak, sig, date, presigned); err != nil {
		return nil, err
	}
	return v.newAuthV2(r, ak, payload, presigned)
}

// payloadV2 is the payload mode of a SigV2 request: unsigned unless the client
// declared (and so signed) a hex SHA-256. aws-chunked framing carries SigV4 chunk
// signatures seeded by a SigV4 request signature, so it cannot follow SigV2.
func payloadV2(r *http.Request) (string, error) {
	h := r.Header.Get("X-Amz-Content-Sha256")
	if strings.HasPrefix(h, "STREAMING-") || hasToken(r.Header.Values("Content-Encoding"), "aws-chunked") {
		return "", s3err.Newf(s3err.InvalidRequest, "aws-chunked payloads (x-amz-content-sha256: STREAMING-*) require Signature Version 4; this request is signed with Signature Version 2")
	}
	if h == "" {
		return UnsignedPayload, nil
	}
	if err := checkPayloadMode(h); err != nil {
		return "", err
	}
	return h, nil
}

func hasToken(vals []string, token string) bool {
	for _, v := range vals {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

func (v *Verifier) newAuthV2(r *http.Request, ak, payload string, presigned bool) (*Auth, error) {
	// No streaming mode gets here, so no signing key or scope is needed.
	a, err := v.newAuth(r, &request{accessKey: ak}, nil, payload, presigned)
	if err != nil {
		return nil, err
	}
	a.SigV2 = true
	return a, nil
}

func (v *Verifier) secret(ak string) (string, error) {
	if v.Creds == nil {
		return "", s3err.New(s3err.InvalidAccessKeyID)
	}
	secret, ok := v.Creds.SecretKey(ak)
	if !ok {
		return "", unknownKey(ak)
	}
	return secret, nil
}

// checkSignatureV2 compares the decoded signatures in constant time. A mismatch
// carries the string to sign, as S3's does, so that a client author can see
// which element differs.
func (v *Verifier) checkSignatureV2(r *http.Request, secret, ak, sig, date string, presigned bool) error {
	got, decErr := base64.StdEncoding.DecodeString(sig)
	sts := v.stringToSignV2(r, date, presigned, false)
	if decErr == nil && hmac.Equal(signV2(secret, sts), got) {
		return nil
	}
	if decErr == nil && hasOptionalSubresource(r.URL.RawQuery) {
		if hmac.Equal(signV2(secret, v.stringToSignV2(r, date, presigned, true)), got) {
			return nil
		}
	}
	e := s3err.New(s3err.SignatureDoesNotMatch)
	e.Extra = map[string]string{"AWSAccessKeyId": ak, "StringToSign": sts, "SignatureProvided": sig, "StringToSignBytes": spacedHex(sts)}
	return e
}

func signV2(secret, sts string) []byte {
	h := hmac.New(sha1.New, []byte(secret))
	h.Write([]byte(sts))
	return h.Sum(nil)
}

func hasOptionalSubresource(rawQuery string) bool {
	for _, part := range strings.Split(rawQuery, "&") {
		k, _, _ := strings.Cut(part, "=")
		if isOptionalSubresourceV2(unescape(k)) {
			return true
		}
	}
	return false
}

// stringToSignV2 builds the SigV2 string to sign of r. date is the Date line: the
// Date header as sent, "" when x-amz-date is present, or the Expires parameter of a
// presigned URL. In a presigned URL, x-amz-* query parameters count as headers
// (botocore moves x-amz-* headers into the URL it presigns). optional adds the
// sub-resources not every signer includes.
func (v *Verifier) stringToSignV2(r *http.Request, date string, presigned, optional bool) string {
	var b strings.Builder
	b.WriteString(r.Method)
	b.WriteByte('\n')
	b.WriteString(strings.TrimSpace(r.Header.Get("Content-MD5")))
	b.WriteByte('\n')
	b.WriteString(strings.TrimSpace(r.Header.Get("Content-Type")))
	b.WriteByte('\n')
	b.WriteString(date)
	b.WriteByte('\n')
	b.WriteString(canonicalAmzHeadersV2(r, presigned))
	b.WriteString(v.canonicalResourceV2(r, optional))
	return b.String()
}

// canonicalAmzHeadersV2: every x-amz-* header, name lower-cased, values trimmed
// (folded lines unfolded) and repeats joined with commas, sorted by name, one
// "name:value\n" line each.
func canonicalAmzHeadersV2(r *http.Request, presigned bool) string {
	vals := map[string][]string{}
	for name, vs := range r.Header {
		l := strings.ToLower(name)
		if !strings.HasPrefix(l, "x-amz-") {
			continue
		}
		for _, s := range vs {
			vals[l] = append(vals[l], unfold(s))
		}
	}
	if presigned {
		for _, part := range strings.Split(r.URL.RawQuery, "&") {
			k, val, _ := strings.Cut(part, "=")
			if l := strings.ToLower(unescape(k)); strings.HasPrefix(l, "x-amz-") {
				vals[l] = append(vals[l], unfold(unescape(val)))
			}
		}
	}
	names := make([]string, 0, len(vals))
	for n := range vals {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		b.WriteString(n)
		b.WriteByte(':')
		b.WriteString(strings.Join(vals[n], ","))
		b.WriteByte('\n')
	}
	return b.String()
}

// unfold trims a header value and replaces line folding (a line break and the
// whitespace after it) by one space, as S3 specifies.
func unfold(s string) string {
	s = strings.TrimSpace(s)
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	lines := strings.FieldsFunc(s, func(c rune) bool { return c == '\r' || c == '\n' })
	for i := range lines {
		lines[i] = strings.TrimSpace(lines[i])
	}
	return strings.Join(lines, " ")
}

// canonicalResourceV2 is "/bucket" (from the Host for virtual-host style, else
// already in the path) + the path exactly as sent + the sub-resources, sorted by
// name, values unescaped.
func (v *Verifier) canonicalResourceV2(r *http.Request, optional bool) string {
	var b strings.Builder
	if v.VirtualBucket != nil {
		if bucket := v.VirtualBucket(r); bucket != "" {
			b.WriteByte('/')
			b.WriteString(bucket)
		}
	}
	b.WriteString(wirePath(r))
	type kv struct {
		k, v   string
		hasVal bool
	}
	var subs []kv
	for _, part := range strings.Split(r.URL.RawQuery, "&") {
		k, val, _ := strings.Cut(part, "=")
		k = unescape(k)
		if !isSubresourceV2(k) && !(optional && isOptionalSubresourceV2(k)) {
			continue
		}
		val = unescape(val)
		subs = append(subs, kv{k, val, val != ""})
	}
	sort.SliceStable(subs, func(i, j int) bool { return subs[i].k < subs[j].k })
	for i, s := range subs {
		if i == 0 {
			b.WriteByte('?')
		} else {
			b.WriteByte('&')
		}
		b.WriteString(s.k)
		if s.hasVal {
			b.WriteByte('=')
			b.WriteString(s.v)
		}
	}
	return b.String()
}
