// Package s3api is the S3 front end: routing (path-style and virtual-host style),
// authentication (SigV4 header and presigned, aws-chunked bodies), request checksums,
// the XML wire format and S3 errors. It knows nothing of storage: every operation is a
// call on Service, implemented by translate.
package s3api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"s3proxy/s3api/clientip"
	"s3proxy/s3api/s3err"
	"s3proxy/s3api/sigv4"
	"s3proxy/translate"
	"s3proxy/translate/buckettags"
	"s3proxy/translate/cors"
	"s3proxy/translate/lifecycle"
	"s3proxy/translate/policy"
	"s3proxy/translate/publicaccess"
)

// Service is what the front end needs from the object model (implemented by translate).
type Service interface {
	ListBuckets(ctx context.Context, p translate.Principal) ([]translate.BucketInfo, error)
	CreateBucket(ctx context.Context, p translate.Principal, name, location string, tags buckettags.Set) error
	HeadBucket(ctx context.Context, p translate.Principal, name string) (translate.BucketInfo, error)
	DeleteBucket(ctx context.Context, p translate.Principal, name string) error
	BucketLifecycle(ctx context.Context, p translate.Principal, bucket string) (lifecycle.Configuration, error)
	SetBucketLifecycle(ctx context.Context, p translate.Principal, bucket string, cfg lifecycle.Configuration) error
	DeleteBucketLifecycle(ctx context.Context, p translate.Principal, bucket string) error
	BucketTagging(ctx context.Context, p translate.Principal, bucket string) (buckettags.Set, bool, error)
	SetBucketTagging(ctx context.Context, p translate.Principal, bucket string, tags buckettags.Set) error
	DeleteBucketTagging(ctx context.Context, p translate.Principal, bucket string) error
	BucketCORS(ctx context.Context, p translate.Principal, bucket string) (cors.Configuration, bool, error)
	SetBucketCORS(ctx context.Context, p translate.Principal, bucket string, cfg cors.Configuration) error
	DeleteBucketCORS(ctx context.Context, p translate.Principal, bucket string) error
	// BucketCORSRules is the bucket's own CORS configuration for evaluating a browser's
	// request, possibly unsigned: no principal, and a missing bucket answers as one
	// without a configuration (ok false). The configuration is shared: read only.
	BucketCORSRules(ctx context.Context, bucket string) (*cors.Configuration, bool, error)
	BucketPolicy(ctx context.Context, p translate.Principal, bucket string) (string, bool, error)
	BucketPolicyStatus(ctx context.Context, p translate.Principal, bucket string) (public, ok bool, err error)
	SetBucketPolicy(ctx context.Context, p translate.Principal, bucket string, pol *policy.Policy) error
	DeleteBucketPolicy(ctx context.Context, p translate.Principal, bucket string) error
	// PublicAccessBlock is the bucket's own Block Public Access configuration (ok
	// false: none); Set replaces it, Delete removes it.
	PublicAccessBlock(ctx context.Context, p translate.Principal, bucket string) (cfg publicaccess.Configuration, ok bool, err error)
	SetPublicAccessBlock(ctx context.Context, p translate.Principal, bucket string, cfg publicaccess.Configuration) error
	DeletePublicAccessBlock(ctx context.Context, p translate.Principal, bucket string) error
	// Authorize evaluates the bucket's policy for one permission a request needs and
	// returns the principal to run the operation as (carrying what the policy granted).
	Authorize(ctx context.Context, p translate.Principal, a translate.Access) (translate.Principal, error)

	PutObject(ctx context.Context, in *translate.PutObjectInput) (*translate.PutObjectOutput, error)
	GetObject(ctx context.Context, in *translate.GetObjectInput) (*translate.GetObjectOutput, error)
	CopyObject(ctx context.Context, in *translate.CopyObjectInput) (*translate.ObjectInfo, error)
	DeleteObject(ctx context.Context, p translate.Principal, bucket, key, versionID, ifMatch string, bypass bool) (translate.DeleteResult, error)
	EnableObjectLock(ctx context.Context, p translate.Principal, bucket string) error
	ObjectLockConfiguration(ctx context.Context, p translate.Principal, bucket string) (translate.ObjectLockConfig, bool, error)
	SetObjectLockConfiguration(ctx context.Context, p translate.Principal, bucket string, cfg translate.ObjectLockConfig) error
	ObjectRetention(ctx context.Context, p translate.Principal, bucket, key, versionID string) (mode string, until time.Time, version string, err error)
	SetObjectRetention(ctx context.Context, p translate.Principal, bucket, key, versionID, mode string, until time.Time, bypass bool) (string, error)
	ObjectLegalHold(ctx context.Context, p translate.Principal, bucket, key, versionID string) (status, version string, err error)
	SetObjectLegalHold(ctx context.Context, p translate.Principal, bucket, key, versionID, status string) (string, error)
	ListObjectVersions(ctx context.Context, in *translate.ListVersionsInput) (*translate.ListVersionsOutput, error)
	BucketVersioning(ctx context.Context, p translate.Principal, bucket string) (string, error)
	SetBucketVersioning(ctx context.Context, p translate.Principal, bucket, status string) error
	ListObjects(ctx context.Context, in *translate.ListObjectsInput) (*translate.ListObjectsOutput, error)
	ObjectTagging(ctx context.Context, p translate.Principal, bucket, key, versionID string) (tags, version string, err error)
	SetObjectTagging(ctx context.Context, p translate.Principal, bucket, key, versionID, tagging string) (string, error)
	StoredTags(ctx context.Context, bucket, key, versionID string) (tags string, ok bool, err error)
	ObjectAttributes(ctx context.Context, p translate.Principal, bucket, key, versionID string) (translate.ObjectInfo, []translate.PartInfo, error)

	CreateMultipartUpload(ctx context.Context, in *translate.CreateUploadInput) (*translate.CreateUploadOutput, error)
	UploadPart(ctx context.Context, in *translate.UploadPartInput) (*translate.UploadPartOutput, error)
	UploadPartCopy(ctx context.Context, in *translate.UploadPartCopyInput) (*translate.UploadPartOutput, error)
	CompleteMultipartUpload(ctx context.Context, in *translate.CompleteUploadInput) (*translate.CompleteUploadOutput, error)
	AbortMultipartUpload(ctx context.Context, p translate.Principal, bucket, key, uploadID string, ifInitiated *time.Time) error
	ListParts(ctx context.Context, in *translate.ListPartsInput) (*translate.ListPartsOutput, error)
	ListMultipartUploads(ctx context.Context, in *translate.ListUploadsInput) (*translate.ListUploadsOutput, error)
}

// Credential is one access key the gateway accepts.
type Credential struct {
	AccessKey, SecretKey string
	Admin                bool
}

// Observer is told of every finished request (metrics). Op is the S3 operation name.
type Observer interface {
	ObserveRequest(op string, status int, dur time.Duration, bytesIn, bytesOut int64)
}

// Config wires a Server.
type Config struct {
	Service     Service
	Credentials []Credential
	Region      string
	// Domains are the base host names for virtual-host-style addressing: a request to
	// "<bucket>.<domain>" addresses <bucket>. "localhost" is always included.
	Domains  []string
	Log      *slog.Logger
	Observer Observer
	Now      func() time.Time
	// CORSOrigins are the browser origins allowed to call the API ("*": any); none:
	// no CORS (cors.go).
	CORSOrigins []string
	// SigV2 accepts AWS Signature Version 2 (headers, presigned URLs, POST forms)
	// besides SigV4; false refuses it with UnsupportedSignature.
	SigV2 bool
	// TrustedProxies are the reverse proxies whose X-Forwarded-For (or Forwarded)
	// header names the client, for aws:SourceIp and the access log (clientip); none:
	// the socket's peer is the client, whatever a header says.
	TrustedProxies []netip.Prefix
}

// Server serves the S3 API.
type Server struct {
	svc      Service
	verifier *sigv4.Verifier
	// creds is replaced whole by SetCredentials (a reload); a request reads it once.
	creds    atomic.Pointer[credTable]
	region   string
	domains  []string
	log      *slog.Logger
	observer Observer
	cors     corsPolicy
	now      func() time.Time
	proxies  clientip.Trusted
}

type credTable map[string]Credential

// newCredTable indexes credentials by access key: at least one, each with both keys, no
// access key twice.
func newCredTable(cs []Credential) (credTable, error) {
	if len(cs) == 0 {
		return nil, errors.New("s3api: at least one credential is required")
	}
	t := make(credTable, len(cs))
	for _, c := range cs {
		if c.AccessKey == "" || c.SecretKey == "" {
			return nil, errors.New("s3api: a credential needs an access key and a secret key")
		}
		if _, dup := t[c.AccessKey]; dup {
			return nil, fmt.Errorf("s3api: access key %q is listed twice", c.AccessKey)
		}
		t[c.AccessKey] = c
	}
	return t, nil
}

// liveCreds gives the signature verifier the credentials in force at each request.
type liveCreds struct{ p *atomic.Pointer[credTable] }

func (l liveCreds) SecretKey(ak string) (string, bool) {
	c, ok := (*l.p.Load())[ak]
	return c.SecretKey, ok
}

// credential returns the credential of an access key the verifier accepted. A reload
// between the two lookups leaves the zero Credential (no admin rights): the request
// then acts as the access key it was signed with, and nothing more.
func (s *Server) credential(ak string) Credential {
	return (*s.creds.Load())[ak]
}

// SetCredentials replaces the credentials the server accepts (a configuration reload):
// requests verified from then on use the new set; one signed with a removed access key,
// or with a secret that changed, is refused as S3 refuses an unknown key or a wrong
// signature. An invalid set is refused and the current one kept.
func (s *Server) SetCredentials(cs []Credential) error {
	t, err := newCredTable(cs)
	if err != nil {
		return err
	}
	s.creds.Store(&t)
	return nil
}

// New returns a Server.
func New(cfg Config) (*Server, error) {
	if cfg.Service == nil {
		return nil, errors.New("s3api: a service is required")
	}
	creds, err := newCredTable(cfg.Credentials)
	if err != nil {
		return nil, err
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Server{svc: cfg.Service, region: cfg.Region, log: cfg.Log, observer: cfg.Observer, cors: newCORSPolicy(cfg.CORSOrigins), now: cfg.Now,
		proxies: clientip.Trusted(cfg.TrustedProxies)}
	s.creds.Store(&creds)
	domains := append([]string{"localhost"}, cfg.Domains...)
	s.domains = domains
	s.verifier = &sigv4.Verifier{Creds: liveCreds{&s.creds}, Region: cfg.Region, MaxSkew: 15 * time.Minute, MaxPresignExpiry: 7 * 24 * time.Hour, Now: cfg.Now,
		SigV2: cfg.SigV2,
		VirtualBucket: func(r *http.Request) string {
			bucket, _ := hostBucket(r.Host, domains)
			return bucket
		}}
	return s, nil
}

// request is the per-request state handlers share.
type request struct {
	w         *responseWriter
	r         *http.Request
	id        string
	bucket    string
	key       string
	op        string
	principal translate.Principal
	auth      *sigv4.Auth
	now       func() time.Time
	proxies   clientip.Trusted
	// origin is who sent the request (clientAddr), found once when first asked.
	origin *origin
	// stored is the object the authorization under way is about, for
	// s3:ExistingObjectTag (zero outside one).
	stored storedTags
	// body is a small body once read whole (smallBody): a policy asking for a
	// PutObjectTagging's tags (s3:RequestObjectTag) reads it before the handler does.
	body *bodyRead
	// form is a POST Object's form fields (lower-case names), which stand in for the
	// headers of a PutObject in its condition keys (s3:x-amz-acl, s3:RequestObjectTag).
	form map[string]string
}

type bodyRead struct {
	data []byte
	err  error
}

// origin is who sent a request: the socket's peer, or the client a trusted proxy
// names (forwarded).
type origin struct {
	addr      netip.Addr
	ok        bool
	forwarded bool
}

// clientAddr returns the request's client, behind trusted proxies (clientip): asked by
// aws:SourceIp and the access log.
func (rq *request) clientAddr() origin {
	if rq.origin == nil {
		a, fwd, ok := rq.proxies.Client(rq.r.RemoteAddr, rq.r.Header)
		rq.origin = &origin{addr: a, ok: ok, forwarded: fwd}
	}
	return *rq.origin
}

// logRemote is the access log's remote address: the socket's peer as ever, or the
// client a trusted proxy names, with the proxy as the peer.
func (rq *request) logRemote() (remote, peer string) {
	if len(rq.proxies) == 0 {
		return rq.r.RemoteAddr, ""
	}
	if c := rq.clientAddr(); c.forwarded {
		return c.addr.String(), rq.r.RemoteAddr
	}
	return rq.r.RemoteAddr, ""
}

// NewRequestID returns a request id as S3 shapes them (16 upper-case hex characters).
func NewRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return strings.ToUpper(hex.EncodeToString(b[:]))
}

type ctxKey struct{}

// RequestIDFrom returns the request id stored in ctx by the server.
func RequestIDFrom(ctx context.Context) string {
	s, _ := ctx.Value(ctxKey{}).(string)
	return s
}

// ServeHTTP authenticates, routes and answers one S3 request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	id := NewRequestID()
	rw := &responseWriter{ResponseWriter: w}
	rq := &request{w: rw, r: r, id: id, op: "Unknown", now: s.now, proxies: s.proxies}
	r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, id))
	rq.r = r
	h := w.Header()
	h.Set("x-amz-request-id", id)
	h.Set("x-amz-id-2", id)
	h.Set("Server", "s3proxy")
	if r.ContentLength == 0 && strings.EqualFold(r.Header.Get("Expect"), "100-continue") {
		// An empty body is never asked for, so the answer comes without a 100
		// Continue. botocore (the aws cli, boto3) then keeps that answer's status line
		// for the connection and misreads the next response on it after its own 100
		// Continue: the aws cli's sync of an empty file and another hung 60 s on its
		// read timeout. A new connection resets it. (S3 sends 100 Continue even here.)
		h.Set("Connection", "close")
	}
	var bodyIn countingReader
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			s.log.Error("panic serving request", "request_id", id, "panic", p)
			s.writeError(rq, s3err.New(s3err.InternalError))
		}
		dur := time.Since(start)
		if s.observer != nil {
			s.observer.ObserveRequest(rq.op, rw.status(), dur, bodyIn.n, rw.n)
		}
		remote, peer := rq.logRemote()
		attrs := []any{"request_id", id, "op", rq.op, "method", r.Method, "bucket", rq.bucket, "key", rq.key,
			"status", rw.status(), "bytes_in", bodyIn.n, "bytes_out", rw.n, "ms", dur.Milliseconds(),
			"access_key", rq.principal.AccessKey, "remote", remote}
		if peer != "" {
			attrs = append(attrs, "peer", peer)
		}
		s.log.Info("request", attrs...)
	}()
	bodyIn.r = r.Body
	r.Body = &bodyIn
	rq.bucket, rq.key = s.route(r)
	rq.op = operation(r, rq.bucket, rq.key)
	if rq.key != "" && !addressableKey(rq.key) {
		s.writeError(rq, badKeyPath())
		return
	}
	if n := headerSectionSize(r.Header); n > maxHeaderSection {
		e := s3err.New(s3err.RequestHeaderSectionTooLarge)
		e.Extra = map[string]string{"MaxSizeAllowed": itoa(maxHeaderSection)}
		s.writeError(rq, e)
		return
	}
	if r.Method == http.MethodOptions {
		// A browser's CORS preflight: unsigned by design.
		rq.op = "PreflightRequest"
		if err := s.preflight(rq); err != nil {
			s.writeError(rq, err)
		}
		return
	}
	s.decorateCORS(rq)
	if rq.op == "PostObject" {
		// Its credentials are in the form, not in the headers or the query.
		if err := s.postObject(rq); err != nil {
			s.writeError(rq, err)
		}
		return
	}

	var auth *sigv4.Auth
	var err error
	if sigv4.Unsigned(r) {
		// No signature of any kind: an anonymous request, which only a bucket's
		// policy can let in (authorize). It never names no bucket or creates one.
		if rq.bucket == "" || rq.op == "CreateBucket" {
			s.writeError(rq, s3err.New(s3err.AccessDenied))
			return
		}
		auth, err = s.verifier.Anonymous(r)
		rq.principal = translate.Principal{Anonymous: true}
	} else {
		// A request that carries a signature is verified; one that fails is refused,
		// never taken for anonymous.
		auth, err = s.verifier.Verify(r)
	}
	if err != nil {
		s.writeError(rq, err)
		return
	}
	rq.auth = auth
	if auth.Chunked && rq.op != "PutObject" && rq.op != "UploadPart" {
		// S3 takes aws-chunked bodies (trailers included) as object data only.
		s.writeError(rq, s3err.Newf(s3err.InvalidRequest, "The value of x-amz-content-sha256 header is invalid."))
		return
	}
	if !rq.principal.Anonymous {
		cred := s.credential(auth.AccessKey)
		rq.principal = translate.Principal{AccessKey: auth.AccessKey, Admin: cred.Admin}
	}
	if err := s.dispatch(rq); err != nil {
		s.writeError(rq, s.missingKey(rq, err))
	}
}

// route splits a request into bucket and key, path-style or virtual-host style.
func (s *Server) route(r *http.Request) (bucket, key string) {
	path := r.URL.Path
	if b, ok := hostBucket(r.Host, s.domains); ok {
		return b, strings.TrimPrefix(path, "/")
	}
	p := strings.TrimPrefix(path, "/")
	if p == "" {
		return "", ""
	}
	bucket, key, _ = strings.Cut(p, "/")
	return bucket, key
}

// hostBucket returns the bucket a virtual-host-style Host names ("<bucket>.<domain>").
func hostBucket(host string, domains []string) (string, bool) {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.ToLower(host)
	for _, d := range domains {
		if strings.HasSuffix(host, "."+d) {
			return strings.TrimSuffix(host, "."+d), true
		}
	}
	return "", false
}

// toS3Error returns the S3 error for err, logging what the client must not see.
func (s *Server) toS3Error(rq *request, err error) *s3err.Error {
	if e := s3err.As(err); e != nil {
		return e
	}
	var te *translate.Error
	if errors.As(err, &te) {
		e := &s3err.Error{Code: s3err.Code(te.Code), Message: te.Message, Extra: te.Extra, Err: te.Err}
		if te.Code == translate.CodeInternalError {
			s.log.Error("internal error", "request_id", rq.id, "op", rq.op, "err", err)
		}
		return e
	}
	if errors.Is(err, context.Canceled) {
		return s3err.Wrap(s3err.RequestTimeout, err)
	}
	s.log.Error("internal error", "request_id", rq.id, "op", rq.op, "bucket", rq.bucket, "key", rq.key, "err", err)
	return s3err.Wrap(s3err.InternalError, err)
}

func (s *Server) writeError(rq *request, err error) {
	e := s.toS3Error(rq, err)
	if rq.w.wrote {
		// Headers are gone: the only honest signal left is to cut the connection.
		s.log.Warn("error after response started", "request_id", rq.id, "err", err)
		panic(http.ErrAbortHandler)
	}
	if e.Resource == "" {
		e.Resource = rq.r.URL.Path
	}
	status := e.Status()
	h := rq.w.Header()
	var te *translate.Error
	if errors.As(err, &te) {
		for k, v := range te.Headers {
			h.Set(k, v)
		}
	}
	if status == http.StatusNotModified || rq.r.Method == http.MethodHead {
		h.Del("Content-Type")
		rq.w.WriteHeader(status)
		return
	}
	if e.Bare {
		h.Del("Content-Type")
		h.Set("Content-Length", "0")
		if rq.r.ContentLength != 0 {
			h.Set("Connection", "close")
		}
		rq.w.WriteHeader(status)
		if rq.r.ContentLength != 0 {
			drainAfterAnswer(rq, errDrainMax)
		}
		return
	}
	body := e.XML(rq.id)
	h.Set("Content-Type", "application/xml")
	h.Set("Content-Length", itoa(int64(len(body))))
	// An error sent before the body was read leaves unread bytes on the connection.
	if rq.r.ContentLength != 0 {
		h.Set("Connection", "close")
	}
	rq.w.WriteHeader(status)
	_, _ = rq.w.Write(body)
	if rq.r.ContentLength != 0 {
		drainAfterAnswer(rq, errDrainMax)
	}
}

// responseWriter records status and bytes written.
type responseWriter struct {
	http.ResponseWriter
	code  int
	n     int64
	wrote bool
}

func (w *responseWriter) WriteHeader(code int) {
	if w.wrote {
		return
	}
	w.code, w.wrote = code, true
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseWriter) Write(p []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	n, err := w.ResponseWriter.Write(p)
	w.n += int64(n)
	return n, err
}

// ReadFrom keeps the sendfile path of the underlying writer reachable from io.Copy.
func (w *responseWriter) ReadFrom(r io.Reader) (int64, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		n, err := rf.ReadFrom(r)
		w.n += n
		return n, err
	}
	n, err := io.Copy(struct{ io.Writer }{w.ResponseWriter}, r)
	w.n += n
	return n, err
}

// Unwrap lets http.ResponseController reach the connection (read deadlines).
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *responseWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *responseWriter) status() int {
	if !w.wrote {
		return http.StatusOK
	}
	return w.code
}

// countingReader counts request body bytes actually read from the connection.
type countingReader struct {
	r io.ReadCloser
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func (c *countingReader) Close() error { return c.r.Close() }

// maxHeaderSection is S3's limit on a request's header section (8 KB, of which user
// metadata may take 2 KB). The transport accepts more (64 KiB), so that a
// request over S3's limit gets S3's error rather than a bare 431.
const maxHeaderSection = 8 << 10

// headerSectionSize is the size of the header lines as sent ("Name: value\r\n").
func headerSectionSize(h http.Header) int {
	n := 0
	for k, vs := range h {
		for _, v := range vs {
			n += len(k) + len(v) + 4
		}
	}
	return n
}

// addressableKey reports whether a key can be named in a request path as S3 takes
// one: its "." and ".." segments (if any) must resolve to a key inside the bucket, not
// to the bucket itself or above it. S3's front end refuses such paths ("a/../../x",
// "..", "./") with a bare 400 before S3 sees them, so no such object can be stored, and
// clients or proxies that normalise paths cannot be made to address another object
// than the one named. "a/../b" and "a//b" resolve inside the bucket and are keys like
// any other.
func addressableKey(key string) bool {
	depth, dots := 0, false
	for _, seg := range strings.Split(key, "/") {
		switch seg {
		case "..":
			dots = true
			if depth--; depth < 0 {
				return false
			}
		case ".":
			dots = true
		case "":
		default:
			depth++
		}
	}
	return !dots || depth > 0
}

// badKeyPath is the answer to a key addressableKey refuses: S3's front end's bare 400.
func badKeyPath() *s3err.Error {
	return &s3err.Error{Code: s3err.BadRequest, Bare: true}
}
