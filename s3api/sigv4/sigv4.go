// Package sigv4 authenticates S3 requests signed with AWS Signature Version 4:
// the Authorization header, presigned query strings, and the aws-chunked
// streaming payloads (signed chunks, unsigned chunks with trailers, signed
// chunks with signed trailers), and, when enabled, AWS Signature Version 2
// (sigv2.go), which unmodified clients still use for presigned URLs.
//
// Verify is the only entry point a handler needs: it checks the request
// signature and hands back the principal plus a body reader that removes the
// aws-chunked framing and verifies each chunk as it streams. Every failure is
// an *s3err.Error carrying the code S3 itself returns.
package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"s3proxy/s3api/s3err"
)

// Payload modes: the values x-amz-content-sha256 may take besides a hex hash.
const (
	UnsignedPayload          = "UNSIGNED-PAYLOAD"
	StreamingSigned          = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
	StreamingSignedTrailer   = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
	StreamingUnsignedTrailer = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
	// SigV4a streaming modes: recognised only to answer NotImplemented
	// instead of a confusing signature error.
	streamingECDSA        = "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD"
	streamingECDSATrailer = "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER"
)

const (
	algorithm       = "AWS4-HMAC-SHA256"
	timeFormat      = "20060102T150405Z"
	dateFormat      = "20060102"
	service         = "s3"
	terminator      = "aws4_request"
	emptySHA256     = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	maxPresignLimit = 7 * 24 * time.Hour // S3's hard limit for X-Amz-Expires
	defaultSkew     = 15 * time.Minute
	keyCacheSize    = 64
)

// Credentials looks up the secret of an access key. The server's credential
// list implements it; declaring it here keeps sigv4 free of configuration.
type Credentials interface {
	SecretKey(accessKey string) (secret string, ok bool)
}

// Verifier checks SigV4 signatures. The zero value of the optional fields
// selects S3's defaults. A Verifier is safe for concurrent use; it must not
// be copied after first use (it holds a mutex).
type Verifier struct {
	Creds Credentials
	// Region is the region requests must be signed for. S3 rejects a scope
	// naming another region with AuthorizationHeaderMalformed, and so do we
	// when Region is set. Empty accepts any region: the region is still part
	// of the signed scope, so this only relaxes configuration matching (handy
	// for clients that insist on "auto" or their own default), not security.
	Region string
	// MaxSkew bounds |server clock - request time| (default 15 min).
	MaxSkew time.Duration
	// MaxPresignExpiry bounds X-Amz-Expires (default and ceiling 7 days).
	MaxPresignExpiry time.Duration
	// Now is the clock (default time.Now); tests pin it.
	Now func() time.Time
	// SigV2 accepts AWS Signature Version 2 (header, presigned URL, POST form,
	// sigv2.go) besides SigV4. False answers it UnsupportedSignature.
	SigV2 bool
	// VirtualBucket returns the bucket a virtual-host-style request names in its
	// Host, "" for path style. SigV2 signs "/bucket/key" whatever the addressing,
	// and only the router knows the domains that make a Host a bucket's. Nil:
	// every request is taken as path style.
	VirtualBucket func(r *http.Request) string

	// Signing keys cost four HMACs to derive and are the same for every
	// request of one credential per day, so they are cached. The cache is
	// bounded and simply reset when full: the working set is tiny (keys x
	// regions x at most two dates around midnight).
	mu   sync.Mutex
	keys map[keyID][]byte
}

type keyID struct{ secret, date, region string }

// Auth is the result of a successful Verify.
type Auth struct {
	AccessKey string
	Presigned bool
	// ContentSHA256 is the x-amz-content-sha256 value as sent (the payload
	// mode): UNSIGNED-PAYLOAD, a hex SHA-256, or one of the STREAMING-* values.
	// Presigned requests without the header report UNSIGNED-PAYLOAD.
	ContentSHA256 string
	// SignedPayloadSHA256 is the 32-byte hash when the request signed a hex
	// payload hash. Body does NOT check it: the caller hashes the body anyway
	// (content addressing) and compares once, or wraps Body with VerifyPayload.
	SignedPayloadSHA256 []byte
	// Body is the payload to read in place of r.Body: the decoded data for
	// aws-chunked requests (framing removed, chunk and trailer signatures
	// verified while streaming, errors surfacing from Read before io.EOF),
	// otherwise r.Body itself.
	Body io.Reader
	// DecodedLength is x-amz-decoded-content-length for aws-chunked bodies,
	// else Content-Length; -1 when unknown.
	DecodedLength int64
	// Trailer returns the trailing headers (canonical MIME keys, e.g.
	// X-Amz-Checksum-Crc32) once Body has returned io.EOF; nil before, and
	// an empty header for requests without trailers.
	Trailer func() http.Header
	// TrailerNames are the lower-case names declared in x-amz-trailer.
	TrailerNames []string
	// Chunked reports an aws-chunked payload; the caller should then drop
	// "aws-chunked" from the Content-Encoding it stores.
	Chunked bool
	// SigV2 reports a request signed with Signature Version 2: its body is
	// unsigned unless it declared a hex x-amz-content-sha256.
	SigV2 bool
}

// request is what the header and the query forms have in common once parsed.
type request struct {
	accessKey     string
	date          string // scope date, yyyymmdd
	region        string
	signedHeaders []string
	signature     string
	amzDate       string // the timestamp as signed (ISO 8601 basic)
	t             time.Time
}

func (p *request) scope() string {
	return p.date + "/" + p.region + "/" + service + "/" + terminator
}

// Verify authenticates r by its Authorization header (AWS4-HMAC-SHA256, or
// "AWS" for SigV2 when enabled) or its presigned query (X-Amz-Algorithm, or
// SigV2's AWSAccessKeyId/Signature/Expires). It does not read the body; the
// returned Auth.Body does, verifying as it goes.
func (v *Verifier) Verify(r *http.Request) (*Auth, error) {
	authz := r.Header.Get("Authorization")
	query := r.URL.Query()
	_, hasAlg := query["X-Amz-Algorithm"]
	hasV2Query := query.Has("AWSAccessKeyId") || query.Has("Signature")
	if (authz != "" || hasAlg || hasV2Query) && (r.Header.Get("X-Amz-Security-Token") != "" || query.Get("X-Amz-Security-Token") != "") {
		// A session token belongs to temporary credentials, which s3proxy never
		// issues: whatever it is, it is not valid here.
		return nil, s3err.New(s3err.InvalidToken)
	}
	switch {
	case authz != "" && hasAlg, v.SigV2 && hasV2Query && (authz != "" || hasAlg):
		return nil, s3err.Newf(s3err.InvalidArgument, "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified")
	case authz != "":
		if strings.HasPrefix(authz, v2Prefix) && v.SigV2 {
			return v.verifyV2Header(r, authz)
		}
		return v.verifyHeader(r, authz)
	case hasAlg:
		return v.verifyPresigned(r, query)
	case hasV2Query:
		if !v.SigV2 {
			return nil, s3err.Newf(s3err.UnsupportedSignature, "SigV2 presigned URLs are not supported; presign with Signature Version 4")
		}
		return v.verifyV2Presigned(r, query)
	}
	return nil, s3err.Newf(s3err.AccessDenied, "Anonymous access is not allowed")
}

func (v *Verifier) verifyHeader(r *http.Request, authz string) (*Auth, error) {
	alg, rest, _ := strings.Cut(authz, " ")
	if alg != algorithm {
		if strings.HasPrefix(authz, "AWS ") {
			return nil, s3err.Newf(s3err.UnsupportedSignature, "Signature Version 2 is not supported; sign with AWS4-HMAC-SHA256")
		}
		// S3's answers to an Authorization header of no scheme it knows.
		e := s3err.Newf(s3err.InvalidArgument, "Unsupported Authorization Type")
		e.Extra = map[string]string{"ArgumentName": "Authorization", "ArgumentValue": alg}
		if !strings.Contains(authz, " ") {
			e = s3err.Newf(s3err.InvalidArgument, "Authorization header is invalid -- one and only one ' ' (space) required.")
			e.Extra = map[string]string{"ArgumentName": "Authorization", "ArgumentValue": authz}
		}
		return nil, e
	}
	p := &request{}
	var cred, signed string
	var haveCred, haveSigned, haveSig bool
	components := strings.Split(rest, ",")
	for _, kv := range components {
		k, val, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok {
			return nil, s3err.Newf(s3err.AuthorizationHeaderMalformed, "The authorization header is malformed; the authorization component %q is malformed.", strings.TrimSpace(kv))
		}
		switch k {
		case "Credential":
			cred, haveCred = val, true
		case "SignedHeaders":
			signed, haveSigned = val, true
		case "Signature":
			p.signature, haveSig = val, true
		}
	}
	// S3's wording: too few components, else the one that is missing.
	switch {
	case len(components) < 3:
		return nil, s3err.Newf(s3err.AuthorizationHeaderMalformed, "The authorization header is malformed; the authorization header requires three components: Credential, SignedHeaders, and Signature.")
	case !haveCred:
		return nil, s3err.Newf(s3err.AuthorizationHeaderMalformed, "The authorization header is malformed; missing Credential.")
	case !haveSigned:
		return nil, s3err.Newf(s3err.AuthorizationHeaderMalformed, "The authorization header is malformed; missing SignedHeaders.")
	case !haveSig:
		return nil, s3err.Newf(s3err.AuthorizationHeaderMalformed, "The authorization header is malformed; missing Signature.")
	}
	if err := v.parseCredential(p, cred, s3err.AuthorizationHeaderMalformed); err != nil {
		return nil, err
	}
	p.signedHeaders = strings.Split(signed, ";")

	// S3 accepts Date when x-amz-date is absent; the string to sign then
	// carries the same instant in ISO 8601 basic form.
	if d := r.Header.Get("X-Amz-Date"); d != "" {
		t, err := time.Parse(timeFormat, d)
		if err != nil {
			return nil, s3err.Newf(s3err.AccessDenied, "AWS authentication requires a valid Date or x-amz-date header")
		}
		p.t, p.amzDate = t, d
	} else if d := r.Header.Get("Date"); d != "" {
		t, err := http.ParseTime(d)
		if err != nil {
			return nil, s3err.Newf(s3err.AccessDenied, "AWS authentication requires a valid Date or x-amz-date header")
		}
		p.t, p.amzDate = t.UTC(), t.UTC().Format(timeFormat)
	} else {
		return nil, s3err.Newf(s3err.AccessDenied, "AWS authentication requires a valid Date or x-amz-date header")
	}
	if p.date != p.amzDate[:8] {
		return nil, s3err.Newf(s3err.AuthorizationHeaderMalformed, "The authorization header is malformed; Invalid credential date. Date is not the same as X-Amz-Date.")
	}

	// S3 needs the payload mode before it can do anything with the body, and
	// insists that it is signed (else a body hash could be swapped).
	payload := r.Header.Get("X-Amz-Content-Sha256")
	if payload == "" {
		return nil, s3err.Newf(s3err.InvalidRequest, "Missing required header for this request: x-amz-content-sha256")
	}
	if !contains(p.signedHeaders, "x-amz-content-sha256") {
		return nil, s3err.Newf(s3err.InvalidRequest, "header 'x-amz-content-sha256' must be included in signature")
	}
	if err := checkSignedHeaders(r, p.signedHeaders, true); err != nil {
		return nil, err
	}
	if err := checkPayloadMode(payload); err != nil {
		return nil, err
	}

	if err := v.checkSkew(p.t, p.amzDate); err != nil {
		return nil, err
	}
	key, err := v.signingKey(p)
	if err != nil {
		return nil, err
	}
	canon := canonicalRequest(r, p.signedHeaders, canonicalQuery(r.URL.RawQuery, false), payload)
	if err := checkSignature(p, key, canon); err != nil {
		return nil, err
	}
	return v.newAuth(r, p, key, payload, false)
}

func (v *Verifier) verifyPresigned(r *http.Request, q url.Values) (*Auth, error) {
	qerr := func(format string, args ...any) error {
		return s3err.Newf(s3err.AuthorizationQueryParametersError, format, args...)
	}
	if q.Get("X-Amz-Algorithm") != algorithm {
		return nil, qerr("X-Amz-Algorithm only supports \"%s\"", algorithm)
	}
	for _, k := range []string{"X-Amz-Credential", "X-Amz-Signature", "X-Amz-SignedHeaders", "X-Amz-Date", "X-Amz-Expires"} {
		if q.Get(k) == "" {
			return nil, qerr("Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.")
		}
	}
	p := &request{signature: q.Get("X-Amz-Signature"), amzDate: q.Get("X-Amz-Date")}
	if err := v.parseCredential(p, q.Get("X-Amz-Credential"), s3err.AuthorizationQueryParametersError); err != nil {
		return nil, err
	}
	p.signedHeaders = strings.Split(q.Get("X-Amz-SignedHeaders"), ";")
	t, err := time.Parse(timeFormat, p.amzDate)
	if err != nil {
		return nil, qerr("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"")
	}
	p.t = t
	if p.date != p.amzDate[:8] {
		return nil, qerr("Invalid credential date \"%s\". This date is not the same as X-Amz-Date: \"%s\".", p.date, p.amzDate[:8])
	}
	exp, err := strconv.ParseInt(q.Get("X-Amz-Expires"), 10, 64)
	if err != nil {
		return nil, qerr("X-Amz-Expires should be a number")
	}
	if exp < 1 {
		return nil, qerr("X-Amz-Expires must be non-negative")
	}
	if limit := v.maxExpiry(); exp > int64(limit/time.Second) {
		return nil, qerr("X-Amz-Expires must be less than a week (in seconds) that is %d", int64(limit/time.Second))
	}
	// As on S3, every x-amz-* header sent with a presigned URL must be signed: an
	// unsigned x-amz-copy-source would turn a captured PUT URL into a CopyObject of
	// any object, x-amz-tagging or x-amz-meta-* would add what the signer never
	// allowed. x-amz-content-sha256 alone is exempt: tools add it blindly, and an
	// unsigned one is ignored below.
	if err := checkSignedHeaders(r, p.signedHeaders, true, "x-amz-content-sha256"); err != nil {
		return nil, err
	}
	now := v.now()
	// A URL dated in the future is not valid yet (beyond the allowed skew);
	// S3 answers AccessDenied, as for an expired one.
	if p.t.Sub(now) > v.maxSkew() {
		return nil, s3err.Newf(s3err.AccessDenied, "Request is not valid yet")
	}
	if expires := p.t.Add(time.Duration(exp) * time.Second); now.After(expires) {
		// S3's details: how long the URL lived, when it ended, the time now.
		e := s3err.Newf(s3err.AccessDenied, "Request has expired")
		e.Extra = map[string]string{"X-Amz-Expires": strconv.FormatInt(exp, 10), "Expires": expires.UTC().Format(time.RFC3339),
			"ServerTime": now.UTC().Format(time.RFC3339)}
		return nil, e
	}
	// A presigned URL cannot know the body, so its payload hash is
	// UNSIGNED-PAYLOAD unless the URL carries one (a hoisted
	// X-Amz-Content-Sha256 parameter) or the client sent and signed the
	// header. An unsigned header is ignored: tools add it blindly, and the
	// signature could not have covered it.
	payload := UnsignedPayload
	if qp := q.Get("X-Amz-Content-Sha256"); qp != "" {
		payload = qp
	} else if h := r.Header.Get("X-Amz-Content-Sha256"); h != "" && contains(p.signedHeaders, "x-amz-content-sha256") {
		payload = h
	}
	if err := checkPayloadMode(payload); err != nil {
		return nil, err
	}
	key, err := v.signingKey(p)
	if err != nil {
		return nil, err
	}
	canon := canonicalRequest(r, p.signedHeaders, canonicalQuery(r.URL.RawQuery, true), payload)
	if err := checkSignature(p, key, canon); err != nil {
		return nil, err
	}
	return v.newAuth(r, p, key, payload, true)
}

// checkSkew refuses a request whose time (raw: as the client wrote it) is
// further from the server clock than the allowed skew, with S3's details.
func (v *Verifier) checkSkew(t time.Time, raw string) error {
	now := v.now()
	if skew := now.Sub(t); skew > v.maxSkew() || -skew > v.maxSkew() {
		e := s3err.Newf(s3err.RequestTimeTooSkewed, "The difference between the request time and the current time is too large.")
		e.Extra = map[string]string{
			"RequestTime":                raw,
			"ServerTime":                 now.UTC().Format(time.RFC3339),
			"MaxAllowedSkewMilliseconds": strconv.FormatInt(v.maxSkew().Milliseconds(), 10),
		}
		return e
	}
	return nil
}

// parseCredential splits "AKID/yyyymmdd/region/s3/aws4_request". The access
// key is everything before the last four fields, so odd keys still parse.
func (v *Verifier) parseCredential(p *request, cred string, code s3err.Code) error {
	prefix := "The authorization header is malformed; "
	if code == s3err.AuthorizationQueryParametersError {
		prefix = "Error parsing the X-Amz-Credential parameter; "
	}
	// Access keys have no "/": a credential is exactly five fields. They are checked
	// in S3's order (service and terminal before the date), which decides the
	// message when several are wrong.
	parts := strings.Split(cred, "/")
	if len(parts) != 5 {
		return s3err.Newf(code, "%sthe Credential is mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\".", prefix)
	}
	p.accessKey, p.date, p.region = parts[0], parts[1], parts[2]
	if parts[3] != service {
		return s3err.Newf(code, "%sincorrect service %q. This endpoint belongs to \"s3\".", prefix, parts[3])
	}
	if parts[4] != terminator {
		return s3err.Newf(code, "%sincorrect terminal %q. This endpoint uses \"aws4_request\".", prefix, parts[4])
	}
	if _, err := time.Parse(dateFormat, p.date); err != nil {
		return s3err.Newf(code, "%sincorrect date format %q. This date in the credential must be in the format \"yyyyMMdd\".", prefix, p.date)
	}
	if v.Region != "" && p.region != v.Region {
		// Like S3, name the expected region: some SDKs (botocore) retry
		// with the region from this element.
		e := s3err.Newf(code, "%sthe region '%s' is wrong; expecting '%s'", prefix, p.region, v.Region)
		e.Extra = map[string]string{"Region": v.Region}
		return e
	}
	if p.accessKey == "" {
		return s3err.Newf(code, "%sthe access key is empty.", prefix)
	}
	return nil
}

// checkSignedHeaders enforces what S3 enforces: host is always signed, and
// every x-amz-* header present (but those exempt) is signed, so that metadata,
// conditions or a copy source cannot be injected into a captured request.
func checkSignedHeaders(r *http.Request, signed []string, allAmz bool, exempt ...string) error {
	if !contains(signed, "host") {
		return s3err.Newf(s3err.AccessDenied, "There were headers present in the request which were not signed: host")
	}
	if !allAmz {
		return nil
	}
	var missing []string
	for name := range r.Header {
		l := strings.ToLower(name)
		if strings.HasPrefix(l, "x-amz-") && !contains(signed, l) && !contains(exempt, l) {
			missing = append(missing, l)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		e := s3err.Newf(s3err.AccessDenied, "There were headers present in the request which were not signed")
		e.Extra = map[string]string{"HeadersNotSigned": strings.Join(missing, ", ")}
		return e
	}
	return nil
}

func checkPayloadMode(v string) error {
	switch v {
	case UnsignedPayload, StreamingSigned, StreamingSignedTrailer, StreamingUnsignedTrailer:
		return nil
	case streamingECDSA, streamingECDSATrailer:
		return s3err.Newf(s3err.NotImplemented, "SigV4a (ECDSA) streaming payloads are not supported")
	}
	if len(v) == 64 {
		if _, err := hex.DecodeString(v); err == nil {
			return nil
		}
	}
	return s3err.Newf(s3err.InvalidArgument, "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, or a valid sha256 value.")
}

func checkSignature(p *request, key []byte, canon string) error {
	sum := sha256.Sum256([]byte(canon))
	sts := algorithm + "\n" + p.amzDate + "\n" + p.scope() + "\n" + hex.EncodeToString(sum[:])
	want := hmacHex(key, sts)
	// Compare in constant time so the signature cannot be guessed byte by
	// byte from response timing. Clients send lower-case hex; so do we.
	if subtle.ConstantTimeCompare([]byte(want), []byte(p.signature)) != 1 {
		// S3's details, so that a client author can see which element differs.
		e := s3err.New(s3err.SignatureDoesNotMatch)
		e.Extra = map[string]string{"AWSAccessKeyId": p.accessKey, "StringToSign": sts, "SignatureProvided": p.signature,
			"StringToSignBytes": spacedHex(sts), "CanonicalRequest": canon, "CanonicalRequestBytes": spacedHex(canon)}
		return e
	}
	return nil
}

func (v *Verifier) newAuth(r *http.Request, p *request, key []byte, payload string, presigned bool) (*Auth, error) {
	a := &Auth{
		AccessKey:     p.accessKey,
		Presigned:     presigned,
		ContentSHA256: payload,
		Body:          r.Body,
		DecodedLength: r.ContentLength,
	}
	if a.Body == nil {
		a.Body = http.NoBody
	}
	for _, n := range strings.Split(r.Header.Get("X-Amz-Trailer"), ",") {
		if n = strings.ToLower(strings.TrimSpace(n)); n != "" {
			a.TrailerNames = append(a.TrailerNames, n)
		}
	}
	empty := http.Header{}
	a.Trailer = func() http.Header { return empty }
	switch payload {
	case UnsignedPayload:
	case StreamingSigned, StreamingSignedTrailer, StreamingUnsignedTrailer:
		// The STREAMING-* value alone decides the framing: some clients
		// omit "aws-chunked" from Content-Encoding, and storing the framing
		// as data would corrupt the object.
		dl := r.Header.Get("X-Amz-Decoded-Content-Length")
		if dl == "" {
			return nil, s3err.Newf(s3err.MissingContentLength, "You must provide the x-amz-decoded-content-length header for aws-chunked uploads.")
		}
		n, err := strconv.ParseInt(dl, 10, 64)
		if err != nil || n < 0 {
			return nil, s3err.Newf(s3err.InvalidArgument, "x-amz-decoded-content-length is not a valid length")
		}
		trailer := payload != StreamingSigned
		// S3 takes an unsigned-trailer body that declares no trailer (no checksum: the
		// object gets the default one); a signed one needs what its signature covers.
		if payload == StreamingSignedTrailer && len(a.TrailerNames) == 0 {
			return nil, s3err.Newf(s3err.InvalidRequest, "x-amz-trailer is required for %s", payload)
		}
		cr := newChunkReader(a.Body, chunkParams{
			signed:   payload != StreamingUnsignedTrailer,
			trailer:  trailer,
			key:      key,
			amzDate:  p.amzDate,
			scope:    p.scope(),
			seed:     p.signature,
			decoded:  n,
			declared: a.TrailerNames,
		})
		a.Body, a.DecodedLength, a.Chunked = cr, n, true
		a.Trailer = cr.trailerHeader
	default:
		a.SignedPayloadSHA256, _ = hex.DecodeString(payload)
	}
	return a, nil
}

// canonicalRequest builds the SigV4 canonical request the way S3 does: the
// path exactly as sent (S3 neither normalises nor double-encodes it).
func canonicalRequest(r *http.Request, signed []string, query, payload string) string {
	var b strings.Builder
	b.WriteString(r.Method)
	b.WriteByte('\n')
	b.WriteString(wirePath(r))
	b.WriteByte('\n')
	b.WriteString(query)
	b.WriteByte('\n')
	for _, h := range signed {
		b.WriteString(h)
		b.WriteByte(':')
		b.WriteString(headerValue(r, h))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.WriteString(strings.Join(signed, ";"))
	b.WriteByte('\n')
	b.WriteString(payload)
	return b.String()
}

// wirePath is the escaped path as the client sent it. RequestURI is the
// untouched request-target of a server request, which keeps encodings that
// EscapedPath would re-normalise (lower-case hex, raw UTF-8); requests built
// in-process have no RequestURI and fall back to EscapedPath.
func wirePath(r *http.Request) string {
	p := r.RequestURI
	if p == "" || p == "*" {
		p = r.URL.EscapedPath()
	} else {
		if i := strings.IndexByte(p, '?'); i >= 0 {
			p = p[:i]
		}
		// absolute-form request-target (proxies): drop scheme and authority
		if !strings.HasPrefix(p, "/") {
			if i := strings.Index(p, "://"); i >= 0 {
				p = p[i+3:]
				if j := strings.IndexByte(p, '/'); j >= 0 {
					p = p[j:]
				} else {
					p = ""
				}
			}
		}
	}
	if p == "" {
		return "/"
	}
	return p
}

// headerValue is the canonical value of one signed header: values trimmed,
// inner runs of spaces collapsed, repeats joined with commas. Go's server
// moves Host, Content-Length and Transfer-Encoding out of r.Header.
func headerValue(r *http.Request, name string) string {
	switch name {
	case "host":
		if r.Host != "" {
			return r.Host
		}
		return r.URL.Host
	case "content-length":
		if v := r.Header.Values("Content-Length"); len(v) == 0 {
			if r.ContentLength < 0 {
				return ""
			}
			return strconv.FormatInt(r.ContentLength, 10)
		}
	case "transfer-encoding":
		if len(r.TransferEncoding) > 0 && len(r.Header.Values("Transfer-Encoding")) == 0 {
			return strings.Join(r.TransferEncoding, ",")
		}
	}
	vals := r.Header.Values(name)
	out := make([]string, len(vals))
	for i, v := range vals {
		out[i] = strings.Join(strings.Fields(v), " ")
	}
	return strings.Join(out, ",")
}

// canonicalQuery sorts the parameters by encoded name then value, each
// re-encoded with the SigV4 rules. Presigned URLs leave X-Amz-Signature out.
func canonicalQuery(raw string, presigned bool) string {
	if raw == "" {
		return ""
	}
	type kv struct{ k, v string }
	var params []kv
	for _, part := range strings.Split(raw, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		k, v = unescape(k), unescape(v)
		if presigned && k == "X-Amz-Signature" {
			continue
		}
		params = append(params, kv{uriEncode(k), uriEncode(v)})
	}
	sort.Slice(params, func(i, j int) bool {
		if params[i].k != params[j].k {
			return params[i].k < params[j].k
		}
		return params[i].v < params[j].v
	})
	var b strings.Builder
	for i, p := range params {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.k)
		b.WriteByte('=')
		b.WriteString(p.v)
	}
	return b.String()
}

// unescape decodes a query component; a malformed escape is kept verbatim
// (the signature then decides), as there is no better reading of it.
func unescape(s string) string {
	if u, err := url.QueryUnescape(s); err == nil {
		return u
	}
	return s
}

// uriEncode is SigV4's UriEncode: everything but A-Z a-z 0-9 - _ . ~ is
// percent-encoded with upper-case hex.
func uriEncode(s string) string {
	const hexdig = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
		} else {
			b.WriteByte('%')
			b.WriteByte(hexdig[c>>4])
			b.WriteByte(hexdig[c&15])
		}
	}
	return b.String()
}

// signingKey looks up the secret and returns the (cached) derived key.
func (v *Verifier) signingKey(p *request) ([]byte, error) {
	if v.Creds == nil {
		return nil, s3err.New(s3err.InvalidAccessKeyID)
	}
	secret, ok := v.Creds.SecretKey(p.accessKey)
	if !ok {
		return nil, unknownKey(p.accessKey)
	}
	id := keyID{secret, p.date, p.region}
	v.mu.Lock()
	k, ok := v.keys[id]
	v.mu.Unlock()
	if ok {
		return k, nil
	}
	k = deriveKey(secret, p.date, p.region)
	v.mu.Lock()
	if v.keys == nil || len(v.keys) >= keyCacheSize {
		v.keys = make(map[keyID][]byte, keyCacheSize)
	}
	v.keys[id] = k
	v.mu.Unlock()
	return k, nil
}

func deriveKey(secret, date, region string) []byte {
	k := hmacSum([]byte("AWS4"+secret), date)
	k = hmacSum(k, region)
	k = hmacSum(k, service)
	return hmacSum(k, terminator)
}

func hmacSum(key []byte, data string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(data))
	return h.Sum(nil)
}

func hmacHex(key []byte, data string) string { return hex.EncodeToString(hmacSum(key, data)) }

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

func (v *Verifier) maxSkew() time.Duration {
	if v.MaxSkew > 0 {
		return v.MaxSkew
	}
	return defaultSkew
}

func (v *Verifier) maxExpiry() time.Duration {
	if v.MaxPresignExpiry > 0 && v.MaxPresignExpiry < maxPresignLimit {
		return v.MaxPresignExpiry
	}
	return maxPresignLimit
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// unknownKey is S3's InvalidAccessKeyId, naming the key.
func unknownKey(ak string) *s3err.Error {
	e := s3err.New(s3err.InvalidAccessKeyID)
	e.Extra = map[string]string{"AWSAccessKeyId": ak}
	return e
}

// spacedHex renders s as S3 renders the ...Bytes elements of SignatureDoesNotMatch:
// its bytes in hex, separated by spaces.
func spacedHex(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(hex.EncodeToString([]byte{s[i]}))
	}
	return b.String()
}
