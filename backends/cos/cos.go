// Package cos is the BlobStore on Tencent Cloud Object Storage (COS), through
// github.com/tencentyun/cos-go-sdk-v5 and COS's own request signatures.
//
// # Addressing
//
// COS serves a bucket on its own host name, <bucket>.cos.<region>.myqcloud.com. The
// configured endpoint is the service host (cos.ap-guangzhou.myqcloud.com, with or without
// a scheme; https when none) and the bucket goes in front of it, unless the endpoint's
// host already starts with "<bucket>." or PathStyle is set: then the endpoint is taken as
// the bucket's own address as it is (a custom domain, a private COS deployment, a test
// server on loopback). COS has no path-style addressing, so that is what the flag means
// here.
//
// # Layout, writes, the recorded SHA-256
//
// As in backends/s3: chunk K is the object <prefix>K. Put buffers parts (PartSize, at
// least COS's 1 MiB) before sending, so nothing half-written becomes visible; a chunk of
// one part is one PUT Object carrying x-cos-meta-s3proxy-sha256, a larger one is a
// multipart upload. A multipart object's metadata is fixed when the upload is initiated,
// before the hash is known, so its SHA-256 goes to a sidecar object
// <prefix>_sha256/K (hex), written after Complete and before Put returns; Stat reads the
// metadata first, then the sidecar; Delete removes both; List never yields sidecars.
//
// # Integrity
//
// The SDK checks every uploaded body against the CRC-64 COS reports
// (x-cos-hash-crc64ecma); a whole-chunk Get checks the bytes read against the same
// value.
//
// # Retries and errors
//
// The SDK's own retries are off (it retries no request with a streamed body, and others
// without backoff); every request goes through one policy instead: up to MaxAttempts
// with exponential backoff and jitter, on throttling (503 SlowDown, 429), other 5xx and
// network failures. kindOf maps the rest: NoSuchKey → ErrNotFound, InvalidRange →
// ErrInvalid, throttling → ErrExhausted, 5xx, network, credential, signature and
// missing-bucket errors → ErrUnavailable, a done context → ErrCanceled, else ErrInternal.
package cos

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc64"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	cos "github.com/tencentyun/cos-go-sdk-v5"

	"s3proxy/backends"
	"s3proxy/backends/internal/objstore"
)

// Defaults for the zero values of Config's tuning fields.
const (
	DefaultPartSize    = objstore.DefaultPartSize
	DefaultConcurrency = objstore.DefaultConcurrency
	DefaultMaxAttempts = objstore.DefaultMaxAttempts
	DefaultTimeout     = objstore.DefaultTimeout
	// MinPartSize is COS's minimum for every part but the last.
	MinPartSize = 1 << 20
	maxParts    = 10000
	shaMeta     = "x-cos-meta-s3proxy-sha256"
)

// Config configures a COS store.
type Config struct {
	Name      string
	Endpoint  string // service host (cos.ap-guangzhou.myqcloud.com) or the bucket's URL
	Region    string // builds the endpoint when Endpoint is empty
	Bucket    string // <name>-<appid>
	Prefix    string
	AccessKey string // SecretId
	SecretKey string
	PathStyle bool // Endpoint is the bucket's own address; see the package doc

	// PartSize is the size of one PUT body or multipart part (min 1 MiB).
	PartSize int64
	// Concurrency is the number of parts of one Put uploaded at once.
	Concurrency int
	// MaxAttempts bounds the attempts per request (1 disables retries).
	MaxAttempts int
	// Timeout bounds connecting, the TLS handshake and waiting for response headers; a
	// body in flight is bounded by the caller's context instead.
	Timeout time.Duration
	// RetryBase is the first backoff's upper bound (default 100ms).
	RetryBase time.Duration
}

// Store is a BlobStore on a COS bucket.
type Store struct {
	cfg       Config
	label     string
	prefix    string
	client    *cos.Client
	transport *http.Transport
	up        *objstore.Uploader
	retry     objstore.Retry
}

var _ backends.BlobStore = (*Store)(nil)

// BucketURL is the bucket's address for cfg (see the package doc).
func BucketURL(cfg Config) (*url.URL, error) {
	ep := cfg.Endpoint
	if ep == "" {
		if cfg.Region == "" {
			return nil, errors.New("endpoint or region is required")
		}
		ep = "cos." + cfg.Region + ".myqcloud.com"
	}
	if !strings.Contains(ep, "://") {
		ep = "https://" + ep
	}
	u, err := url.Parse(ep)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("endpoint %q is not a host or an http(s) URL", cfg.Endpoint)
	}
	u.Path, u.RawQuery = "", ""
	if !cfg.PathStyle && !strings.HasPrefix(u.Host, cfg.Bucket+".") {
		u.Host = cfg.Bucket + "." + u.Host
	}
	return u, nil
}

// New builds a store. It does not contact the server; call Health for that.
func New(ctx context.Context, cfg Config) (*Store, error) {
	label := "cos " + cfg.Name
	if cfg.Bucket == "" {
		return nil, fmt.Errorf("%s: bucket is required: %w", label, backends.ErrInvalid)
	}
	if (cfg.AccessKey == "") != (cfg.SecretKey == "") {
		return nil, fmt.Errorf("%s: access_key and secret_key go together: %w", label, backends.ErrInvalid)
	}
	tu, err := objstore.Tuning{
		PartSize: cfg.PartSize, Concurrency: cfg.Concurrency, MaxAttempts: cfg.MaxAttempts, Timeout: cfg.Timeout, RetryBase: cfg.RetryBase,
	}.WithDefaults(label, MinPartSize, "COS's minimum of 1 MiB")
	if err != nil {
		return nil, err
	}
	cfg.PartSize, cfg.Concurrency, cfg.MaxAttempts, cfg.Timeout, cfg.RetryBase = tu.PartSize, tu.Concurrency, tu.MaxAttempts, tu.Timeout, tu.RetryBase
	bu, err := BucketURL(cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %w", label, backends.ErrInvalid, err)
	}
	tr := objstore.NewTransport(cfg.Timeout)
	client := cos.NewClient(&cos.BaseURL{BucketURL: bu}, &http.Client{
		Transport: &cos.AuthorizationTransport{SecretID: cfg.AccessKey, SecretKey: cfg.SecretKey, Transport: tr},
		// A redirect (a wrong region or domain) is an error to report, not to follow.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	})
	client.Conf.RetryOpt.Count = 1 // our Retry does it, with backoff
	return &Store{
		cfg: cfg, label: label, prefix: objstore.Prefix(cfg.Prefix), client: client, transport: tr,
		up:    objstore.NewUploader(cfg.PartSize, cfg.Concurrency, maxParts),
		retry: objstore.Retry{MaxAttempts: cfg.MaxAttempts, Base: cfg.RetryBase, Max: 10 * time.Second},
	}, nil
}

// Name implements backends.BlobStore.
func (s *Store) Name() string { return s.cfg.Name }

func (s *Store) object(key string) string  { return s.prefix + key }
func (s *Store) sidecar(key string) string { return s.prefix + objstore.SidecarDir + key }

// ---- errors ----

// classify wraps err in the backends error kind it belongs to.
func (s *Store) classify(ctx context.Context, op, key string, err error) error {
	return objstore.Classify(s.label, op, key, kindOf(ctx, err), err)
}

// kind and classifier are kindOf and classify for the objstore helpers.
func (s *Store) kind(ctx context.Context) func(error) error {
	return func(err error) error { return kindOf(ctx, err) }
}

func (s *Store) classifier(ctx context.Context, op, key string) func(error) error {
	return func(err error) error { return s.classify(ctx, op, key, err) }
}

// apiError finds the COS error response in err; the SDK wraps transport errors in a
// RetryError that does not unwrap, so look inside it too.
func apiError(err error) (*cos.ErrorResponse, bool) {
	var re *cos.ErrorResponse
	if errors.As(err, &re) && re.Response != nil {
		return re, true
	}
	return nil, false
}

// cause unwraps the SDK's RetryError (which has no Unwrap) to the last real error.
func cause(err error) error {
	var re *cos.RetryError
	if errors.As(err, &re) && len(re.Errs) > 0 {
		return re.Errs[len(re.Errs)-1]
	}
	return err
}

// codes are COS's error codes beyond their HTTP status.
func codes() objstore.Codes {
	return objstore.Codes{
		Throttled: func(code string) bool {
			switch code {
			case "SlowDown", "TooManyRequests", "RequestLimitExceeded", "ServiceUnavailable":
				return true
			}
			return false
		},
		Unusable: func(code string) bool {
			switch code {
			case "NoSuchBucket", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch",
				"RequestTimeTooSkewed", "ExpiredToken", "InvalidToken", "InvalidBucketName",
				"UserNotExists", "InvalidSecurityToken":
				return true
			}
			return false
		},
	}
}

func kindOf(ctx context.Context, err error) error {
	err = cause(err)
	if objstore.Canceled(ctx, err) {
		return backends.ErrCanceled
	}
	if re, ok := apiError(err); ok {
		return codes().Kind(re.Code, re.Response.StatusCode)
	}
	return objstore.TransportKind(err)
}

// retryable says whether another attempt may succeed: throttling, 5xx, a failed or
// dropped connection, a mismatched upload CRC (bytes damaged in transit).
func retryable(ctx context.Context) func(error) bool {
	return func(err error) bool {
		if ctx.Err() != nil {
			return false
		}
		err = cause(err)
		if re, ok := apiError(err); ok {
			return codes().Retryable(re.Code, re.Response.StatusCode)
		}
		return !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
	}
}

// do runs one request under the retry policy, closing the bodies of failed attempts.
func (s *Store) do(ctx context.Context, fn func() (*cos.Response, error)) (*cos.Response, error) {
	var resp *cos.Response
	err := s.retry.Do(ctx, retryable(ctx), func() error {
		var err error
		resp, err = fn()
		return err
	})
	return resp, err
}

// ---- Put ----

// Put implements backends.BlobStore.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, size int64, opts backends.PutOptions) error {
	return s.up.Put(ctx, (*target)(s), s.label, key, r, size, opts)
}

// target is the Store's side of objstore.Uploader.
type target Store

func (t *target) PutObject(ctx context.Context, key string, data []byte, sum *[32]byte) error {
	s := (*Store)(t)
	hdr := &cos.ObjectPutHeaderOptions{ContentType: "application/octet-stream", ContentLength: int64(len(data))}
	if sum != nil {
		hdr.XCosMetaXXX = &http.Header{shaMeta: []string{hex.EncodeToString(sum[:])}}
	}
	_, err := s.do(ctx, func() (*cos.Response, error) {
		return s.client.Object.Put(ctx, s.object(key), bytes.NewReader(data), &cos.ObjectPutOptions{ObjectPutHeaderOptions: hdr})
	})
	if err != nil {
		return s.classify(ctx, "put", key, err)
	}
	return nil
}

func (t *target) Initiate(ctx context.Context, key string) (string, error) {
	s := (*Store)(t)
	var id string
	_, err := s.do(ctx, func() (*cos.Response, error) {
		res, resp, err := s.client.Object.InitiateMultipartUpload(ctx, s.object(key), &cos.InitiateMultipartUploadOptions{
			ObjectPutHeaderOptions: &cos.ObjectPutHeaderOptions{ContentType: "application/octet-stream"},
		})
		if err == nil {
			id = res.UploadID
		}
		return resp, err
	})
	if err != nil {
		return "", s.classify(ctx, "put: initiate multipart upload", key, err)
	}
	if id == "" {
		return "", fmt.Errorf("%s: put %s: initiate multipart upload returned no upload id: %w", s.label, key, backends.ErrInternal)
	}
	return id, nil
}

func (t *target) UploadPart(ctx context.Context, key, uploadID string, num int, data []byte) (objstore.Part, error) {
	s := (*Store)(t)
	resp, err := s.do(ctx, func() (*cos.Response, error) {
		return s.client.Object.UploadPart(ctx, s.object(key), uploadID, num, bytes.NewReader(data),
			&cos.ObjectUploadPartOptions{ContentLength: int64(len(data))})
	})
	if err != nil {
		return objstore.Part{}, s.classify(ctx, fmt.Sprintf("put: part %d", num), key, err)
	}
	return objstore.Part{Number: num, ETag: resp.Header.Get("ETag")}, nil
}

func (t *target) Complete(ctx context.Context, key, uploadID string, parts []objstore.Part) error {
	s := (*Store)(t)
	opt := &cos.CompleteMultipartUploadOptions{}
	for _, p := range parts {
		opt.Parts = append(opt.Parts, cos.Object{PartNumber: p.Number, ETag: p.ETag})
	}
	_, err := s.do(ctx, func() (*cos.Response, error) {
		_, resp, err := s.client.Object.CompleteMultipartUpload(ctx, s.object(key), uploadID, opt)
		return resp, err
	})
	if err != nil {
		return s.classify(ctx, "put: complete multipart upload", key, err)
	}
	return nil
}

// Abort: a failure here only costs storage until the bucket's lifecycle rule for
// incomplete multipart uploads (recommended) runs.
func (t *target) Abort(ctx context.Context, key, uploadID string) {
	s := (*Store)(t)
	_, _ = s.do(ctx, func() (*cos.Response, error) {
		return s.client.Object.AbortMultipartUpload(ctx, s.object(key), uploadID)
	})
}

func (t *target) RecordSHA(ctx context.Context, key string, sum [32]byte) error {
	s := (*Store)(t)
	v := hex.EncodeToString(sum[:])
	_, err := s.do(ctx, func() (*cos.Response, error) {
		return s.client.Object.Put(ctx, s.sidecar(key), strings.NewReader(v), &cos.ObjectPutOptions{
			ObjectPutHeaderOptions: &cos.ObjectPutHeaderOptions{ContentType: "text/plain", ContentLength: int64(len(v))},
		})
	})
	if err != nil {
		return s.classify(ctx, "put: recording sha256", key, err)
	}
	return nil
}

func (t *target) Remove(ctx context.Context, key string) { _ = (*Store)(t).Delete(ctx, key) }

// ---- Get ----

// Get implements backends.BlobStore.
func (s *Store) Get(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	if err := objstore.CheckGet(ctx, s.label, key, offset, length); err != nil {
		return nil, err
	}
	if length == 0 {
		// An empty range has no Range header; only existence and bounds matter.
		return s.emptyAt(ctx, key, offset)
	}
	opt := &cos.ObjectGetOptions{Range: objstore.Range(offset, length)}
	resp, err := s.do(ctx, func() (*cos.Response, error) { return s.client.Object.Get(ctx, s.object(key), opt) })
	if err != nil {
		if errors.Is(kindOf(ctx, err), backends.ErrInvalid) && length == -1 {
			// 416 for bytes=size- : the contract wants an empty reader at offset == size.
			return s.emptyAt(ctx, key, offset)
		}
		return nil, s.classify(ctx, "get", key, err)
	}
	got := resp.ContentLength
	if err := objstore.CheckServed(s.label, key, offset, length, got, opt.Range != "", resp.Header.Get("Content-Range") != ""); err != nil {
		resp.Body.Close()
		return nil, err
	}
	rd := &objstore.Reader{Ctx: ctx, RC: resp.Body, Left: got, Classify: func(err error) error { return s.classify(ctx, "get: reading", key, err) }}
	if want, err := strconv.ParseUint(resp.Header.Get("x-cos-hash-crc64ecma"), 10, 64); err == nil && opt.Range == "" {
		// A whole chunk: check what arrived against the CRC COS computed at upload.
		h := crc64.New(crc64.MakeTable(crc64.ECMA))
		rd.RC = readCloser{io.TeeReader(resp.Body, h), resp.Body}
		rd.Check = func() error {
			if got := h.Sum64(); got != want {
				return fmt.Errorf("%s: get %s: CRC-64 %d of the bytes read, %d recorded: %w", s.label, key, got, want, backends.ErrInternal)
			}
			return nil
		}
	}
	return rd, nil
}

type readCloser struct {
	io.Reader
	io.Closer
}

// emptyAt returns an empty reader if offset is within key's bounds.
func (s *Store) emptyAt(ctx context.Context, key string, offset int64) (io.ReadCloser, error) {
	info, _, err := s.head(ctx, key)
	return objstore.EmptyAt(s.label, key, offset, info, err)
}

// ---- Stat, Delete, List, Health ----

// Stat implements backends.BlobStore.
func (s *Store) Stat(ctx context.Context, key string) (backends.Info, error) {
	if err := objstore.CheckKey(s.label, key); err != nil {
		return backends.Info{}, err
	}
	info, hdr, err := s.head(ctx, key)
	if err != nil {
		return backends.Info{}, err
	}
	return objstore.WithSHA(info, hdr.Get(shaMeta), func() ([32]byte, bool, error) { return s.readSidecar(ctx, key) })
}

func (s *Store) head(ctx context.Context, key string) (backends.Info, http.Header, error) {
	resp, err := s.do(ctx, func() (*cos.Response, error) { return s.client.Object.Head(ctx, s.object(key), nil) })
	if err != nil {
		return backends.Info{}, nil, s.classify(ctx, "stat", key, err)
	}
	mod, _ := http.ParseTime(resp.Header.Get("Last-Modified"))
	return backends.Info{Key: key, Size: resp.ContentLength, ModTime: mod}, resp.Header, nil
}

func (s *Store) readSidecar(ctx context.Context, key string) ([32]byte, bool, error) {
	return objstore.ReadSidecar(s.label, key, func() ([]byte, error) {
		var v []byte
		_, err := s.do(ctx, func() (*cos.Response, error) {
			resp, err := s.client.Object.Get(ctx, s.sidecar(key), nil)
			if err != nil {
				return resp, err
			}
			defer resp.Body.Close()
			v, err = io.ReadAll(io.LimitReader(resp.Body, objstore.SidecarMax))
			return resp, err
		})
		return v, err
	}, s.kind(ctx), s.classifier(ctx, "stat: reading sha256 sidecar", key))
}

// Delete implements backends.BlobStore: the chunk first, then any sidecar, so that a
// failure in between leaves at most a sidecar without its chunk (harmless and invisible).
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := objstore.CheckKey(s.label, key); err != nil {
		return err
	}
	return objstore.Delete(s.object(key), s.sidecar(key), func(name string) error {
		_, err := s.do(ctx, func() (*cos.Response, error) { return s.client.Object.Delete(ctx, name) })
		return err
	}, s.kind(ctx), s.classifier(ctx, "delete", key))
}

// List implements backends.BlobStore.
func (s *Store) List(ctx context.Context, prefix string, fn func(backends.Info) error) error {
	return objstore.List(s.label, s.prefix, prefix, func(marker string) (objstore.Page, error) {
		opt := &cos.BucketGetOptions{Prefix: s.prefix + prefix, Delimiter: "/", Marker: marker, MaxKeys: 1000}
		var res *cos.BucketGetResult
		_, err := s.do(ctx, func() (*cos.Response, error) {
			var (
				resp *cos.Response
				err  error
			)
			res, resp, err = s.client.Bucket.Get(ctx, opt)
			return resp, err
		})
		if err != nil {
			return objstore.Page{}, s.classify(ctx, "list", "", err)
		}
		page := objstore.Page{Truncated: res.IsTruncated, NextMarker: res.NextMarker}
		for _, o := range res.Contents {
			mod, _ := time.Parse(time.RFC3339, o.LastModified)
			page.Objects = append(page.Objects, backends.Info{Key: o.Key, Size: o.Size, ModTime: mod})
		}
		if page.NextMarker == "" && len(res.Contents) > 0 {
			// A truncated page without NextMarker continues after its last key.
			page.NextMarker = res.Contents[len(res.Contents)-1].Key
		}
		return page, nil
	}, fn)
}

// Health implements backends.BlobStore: the bucket must exist and accept our
// credentials.
func (s *Store) Health(ctx context.Context) error {
	_, err := s.do(ctx, func() (*cos.Response, error) { return s.client.Bucket.Head(ctx) })
	if err == nil {
		return nil
	}
	if re, ok := apiError(cause(err)); ok && re.Response.StatusCode == http.StatusNotFound {
		// A missing bucket is a broken backend, not a missing chunk.
		return fmt.Errorf("%s: health: bucket %q does not exist: %w: %w", s.label, s.cfg.Bucket, backends.ErrUnavailable, err)
	}
	return s.classify(ctx, "health: bucket "+s.cfg.Bucket, "", err)
}

// Close implements backends.BlobStore.
func (s *Store) Close() error {
	s.transport.CloseIdleConnections()
	return nil
}
