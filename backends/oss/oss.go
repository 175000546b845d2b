// Package oss is the BlobStore on Alibaba Cloud Object Storage Service (OSS), through
// github.com/aliyun/aliyun-oss-go-sdk and OSS's own request signatures.
//
// # Addressing and signatures
//
// The endpoint is the region's service host (oss-cn-hangzhou.aliyuncs.com, with or
// without a scheme; https when none); the SDK puts the bucket in front of it, or after
// it with PathStyle (and always for an IP address). With a Region the requests are
// signed with OSS's V4 scheme (OSS4-HMAC-SHA256, the one Aliyun recommends); without,
// with V1 (HMAC-SHA1), which every OSS-compatible store understands. A region may be
// given as "cn-hangzhou" or "oss-cn-hangzhou".
//
// # Layout, writes, the recorded SHA-256
//
// As in backends/s3 and backends/cos: chunk K is the object <prefix>K; Put buffers parts
// (PartSize, at least OSS's 100 KiB) before sending, so nothing half-written becomes
// visible; one part is one PutObject carrying x-oss-meta-s3proxy-sha256; a larger chunk
// is a multipart upload whose hash (unknown when its metadata is fixed at initiation)
// goes to the sidecar object <prefix>_sha256/K, written after Complete and before Put
// returns. Stat reads the metadata, then the sidecar; Delete removes both; List hides
// sidecars.
//
// # Integrity
//
// The SDK checks every uploaded body against the CRC-64 OSS reports
// (x-oss-hash-crc64ecma); a whole-chunk Get checks the bytes read against the same value.
// Ranged reads ask for x-oss-range-behavior: standard, so that an unsatisfiable range is
// a 416 rather than the whole object.
//
// # Retries and errors
//
// The SDK does not retry; every request goes through one policy: up to MaxAttempts with
// exponential backoff and jitter, on throttling, 5xx and network failures. kindOf maps:
// NoSuchKey → ErrNotFound, InvalidRange → ErrInvalid, throttling (503, 429) →
// ErrExhausted, 5xx, network, credential, signature and missing-bucket errors →
// ErrUnavailable, a done context → ErrCanceled, else ErrInternal.
package oss

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	aoss "github.com/aliyun/aliyun-oss-go-sdk/oss"

	"s3proxy/backends"
	"s3proxy/backends/internal/objstore"
)

// Defaults for the zero values of Config's tuning fields.
const (
	DefaultPartSize    = objstore.DefaultPartSize
	DefaultConcurrency = objstore.DefaultConcurrency
	DefaultMaxAttempts = objstore.DefaultMaxAttempts
	DefaultTimeout     = objstore.DefaultTimeout
	// MinPartSize is OSS's minimum for every part but the last.
	MinPartSize = 100 << 10
	maxParts    = 10000
	shaMeta     = "s3proxy-sha256" // x-oss-meta-s3proxy-sha256
)

// Config configures an OSS store.
type Config struct {
	Name      string
	Endpoint  string // oss-cn-hangzhou.aliyuncs.com or an http(s) URL
	Region    string // selects V4 signatures (cn-hangzhou)
	Bucket    string
	Prefix    string
	AccessKey string
	SecretKey string
	PathStyle bool

	// PartSize is the size of one PutObject body or multipart part (min 100 KiB).
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

// Store is a BlobStore on an OSS bucket.
type Store struct {
	cfg       Config
	label     string
	prefix    string
	bucket    *aoss.Bucket
	transport *http.Transport
	up        *objstore.Uploader
	retry     objstore.Retry
}

var _ backends.BlobStore = (*Store)(nil)

// New builds a store. It does not contact the server; call Health for that.
func New(ctx context.Context, cfg Config) (*Store, error) {
	label := "oss " + cfg.Name
	if cfg.Bucket == "" {
		return nil, fmt.Errorf("%s: bucket is required: %w", label, backends.ErrInvalid)
	}
	if cfg.Endpoint == "" {
		return nil, fmt.Errorf("%s: endpoint is required: %w", label, backends.ErrInvalid)
	}
	if (cfg.AccessKey == "") != (cfg.SecretKey == "") {
		return nil, fmt.Errorf("%s: access_key and secret_key go together: %w", label, backends.ErrInvalid)
	}
	tu, err := objstore.Tuning{
		PartSize: cfg.PartSize, Concurrency: cfg.Concurrency, MaxAttempts: cfg.MaxAttempts, Timeout: cfg.Timeout, RetryBase: cfg.RetryBase,
	}.WithDefaults(label, MinPartSize, "OSS's minimum of 100 KiB")
	if err != nil {
		return nil, err
	}
	cfg.PartSize, cfg.Concurrency, cfg.MaxAttempts, cfg.Timeout, cfg.RetryBase = tu.PartSize, tu.Concurrency, tu.MaxAttempts, tu.Timeout, tu.RetryBase
	endpoint := cfg.Endpoint
	if !strings.Contains(endpoint, "://") {
		endpoint = "https://" + endpoint // the SDK would assume plain http
	}
	if u, err := url.Parse(endpoint); err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("%s: endpoint %q is not a host or an http(s) URL: %w", label, cfg.Endpoint, backends.ErrInvalid)
	}
	tr := objstore.NewTransport(cfg.Timeout)
	opts := []aoss.ClientOption{
		aoss.HTTPClient(&http.Client{
			Transport: tr,
			// A redirect (a wrong region) is an error to report, not to follow.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}),
		aoss.ForcePathStyle(cfg.PathStyle),
	}
	if cfg.Region != "" {
		opts = append(opts, aoss.AuthVersion(aoss.AuthV4), aoss.Region(strings.TrimPrefix(cfg.Region, "oss-")))
	}
	client, err := aoss.New(endpoint, cfg.AccessKey, cfg.SecretKey, opts...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %w", label, backends.ErrInvalid, err)
	}
	bucket, err := client.Bucket(cfg.Bucket)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %w", label, backends.ErrInvalid, err)
	}
	return &Store{
		cfg: cfg, label: label, prefix: objstore.Prefix(cfg.Prefix), bucket: bucket, transport: tr,
		up:    objstore.NewUploader(cfg.PartSize, cfg.Concurrency, maxParts),
		retry: objstore.Retry{MaxAttempts: cfg.MaxAttempts, Base: cfg.RetryBase, Max: 10 * time.Second},
	}, nil
}

// Name implements backends.BlobStore.
func (s *Store) Name() string { return s.cfg.Name }

func (s *Store) object(key string) string  { return s.prefix + key }
func (s *Store) sidecar(key string) string { return s.prefix + objstore.SidecarDir + key }

// ---- errors ----

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

// codes are OSS's error codes beyond their HTTP status.
func codes() objstore.Codes {
	return objstore.Codes{
		Throttled: func(code string) bool {
			switch code {
			case "SlowDown", "TooManyRequests", "RequestLimitExceeded", "ServiceUnavailable", "QpsLimitExceeded",
				"DownloadTrafficRateLimitExceeded", "UploadTrafficRateLimitExceeded":
				return true
			}
			return false
		},
		Unusable: func(code string) bool {
			switch code {
			case "NoSuchBucket", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch",
				"RequestTimeTooSkewed", "SecurityTokenExpired", "InvalidSecurityToken", "InvalidBucketName",
				"UserDisable":
				return true
			}
			return false
		},
	}
}

func kindOf(ctx context.Context, err error) error {
	if objstore.Canceled(ctx, err) {
		return backends.ErrCanceled
	}
	var se aoss.ServiceError
	if errors.As(err, &se) {
		return codes().Kind(se.Code, se.StatusCode)
	}
	return objstore.TransportKind(err)
}

// retryable says whether another attempt may succeed: throttling, 5xx, a failed or
// dropped connection, a mismatched upload CRC (bytes damaged in transit).
func retryable(ctx context.Context) func(error) bool {
	return func(err error) bool {
		if ctx.Err() != nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return false
		}
		var se aoss.ServiceError
		if errors.As(err, &se) {
			return codes().Retryable(se.Code, se.StatusCode)
		}
		return true
	}
}

// do runs one request under the retry policy.
func (s *Store) do(ctx context.Context, fn func() error) error {
	return s.retry.Do(ctx, retryable(ctx), fn)
}

// ---- Put ----

// Put implements backends.BlobStore.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, size int64, opts backends.PutOptions) error {
	return s.up.Put(ctx, (*target)(s), s.label, key, r, size, opts)
}

// target is the Store's side of objstore.Uploader.
type target Store

func (t *target) upload(key, id string) aoss.InitiateMultipartUploadResult {
	s := (*Store)(t)
	return aoss.InitiateMultipartUploadResult{Bucket: s.cfg.Bucket, Key: s.object(key), UploadID: id}
}

func (t *target) PutObject(ctx context.Context, key string, data []byte, sum *[32]byte) error {
	s := (*Store)(t)
	opts := []aoss.Option{aoss.WithContext(ctx), aoss.ContentType("application/octet-stream")}
	if sum != nil {
		opts = append(opts, aoss.Meta(shaMeta, hex.EncodeToString(sum[:])))
	}
	err := s.do(ctx, func() error {
		// An empty but non-nil body would go out chunked (net/http cannot tell it is
		// empty); no body at all goes out with Content-Length: 0.
		var body io.Reader
		if len(data) > 0 {
			body = bytes.NewReader(data)
		}
		return s.bucket.PutObject(s.object(key), body, opts...)
	})
	if err != nil {
		return s.classify(ctx, "put", key, err)
	}
	return nil
}

func (t *target) Initiate(ctx context.Context, key string) (string, error) {
	s := (*Store)(t)
	var id string
	err := s.do(ctx, func() error {
		res, err := s.bucket.InitiateMultipartUpload(s.object(key), aoss.WithContext(ctx), aoss.ContentType("application/octet-stream"))
		id = res.UploadID
		return err
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
	var etag string
	err := s.do(ctx, func() error {
		p, err := s.bucket.UploadPart(t.upload(key, uploadID), bytes.NewReader(data), int64(len(data)), num, aoss.WithContext(ctx))
		etag = p.ETag
		return err
	})
	if err != nil {
		return objstore.Part{}, s.classify(ctx, fmt.Sprintf("put: part %d", num), key, err)
	}
	return objstore.Part{Number: num, ETag: etag}, nil
}

func (t *target) Complete(ctx context.Context, key, uploadID string, parts []objstore.Part) error {
	s := (*Store)(t)
	ps := make([]aoss.UploadPart, len(parts))
	for i, p := range parts {
		ps[i] = aoss.UploadPart{PartNumber: p.Number, ETag: p.ETag}
	}
	err := s.do(ctx, func() error {
		_, err := s.bucket.CompleteMultipartUpload(t.upload(key, uploadID), ps, aoss.WithContext(ctx))
		return err
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
	_ = s.do(ctx, func() error { return s.bucket.AbortMultipartUpload(t.upload(key, uploadID), aoss.WithContext(ctx)) })
}

func (t *target) RecordSHA(ctx context.Context, key string, sum [32]byte) error {
	s := (*Store)(t)
	v := hex.EncodeToString(sum[:])
	err := s.do(ctx, func() error {
		return s.bucket.PutObject(s.sidecar(key), strings.NewReader(v), aoss.WithContext(ctx), aoss.ContentType("text/plain"))
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
	opts := []aoss.Option{aoss.WithContext(ctx)}
	ranged := true
	switch {
	case offset == 0 && length == -1:
		ranged = false
	case length == -1:
		opts = append(opts, aoss.NormalizedRange(fmt.Sprintf("%d-", offset)), aoss.RangeBehavior("standard"))
	default:
		opts = append(opts, aoss.Range(offset, offset+length-1), aoss.RangeBehavior("standard"))
	}
	var res *aoss.GetObjectResult
	err := s.do(ctx, func() error {
		var err error
		res, err = s.bucket.DoGetObject(&aoss.GetObjectRequest{ObjectKey: s.object(key)}, opts)
		return err
	})
	if err != nil {
		if errors.Is(kindOf(ctx, err), backends.ErrInvalid) && length == -1 {
			// 416 for bytes=size- : the contract wants an empty reader at offset == size.
			return s.emptyAt(ctx, key, offset)
		}
		return nil, s.classify(ctx, "get", key, err)
	}
	body := res.Response.Body
	var got int64
	if _, err := fmt.Sscan(res.Response.Headers.Get("Content-Length"), &got); err != nil {
		body.Close()
		return nil, fmt.Errorf("%s: get %s: no Content-Length: %w", s.label, key, backends.ErrInternal)
	}
	if err := objstore.CheckServed(s.label, key, offset, length, got, ranged, res.Response.Headers.Get("Content-Range") != ""); err != nil {
		body.Close()
		return nil, err
	}
	rd := &objstore.Reader{Ctx: ctx, RC: body, Left: got, Classify: func(err error) error { return s.classify(ctx, "get: reading", key, err) }}
	if !ranged && res.ClientCRC != nil && res.ServerCRC != 0 {
		// A whole chunk: the SDK hashed what we read; compare with what OSS recorded.
		rd.Check = func() error {
			if got := res.ClientCRC.Sum64(); got != res.ServerCRC {
				return fmt.Errorf("%s: get %s: CRC-64 %d of the bytes read, %d recorded: %w", s.label, key, got, res.ServerCRC, backends.ErrInternal)
			}
			return nil
		}
	}
	return rd, nil
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
	return objstore.WithSHA(info, hdr.Get("x-oss-meta-"+shaMeta), func() ([32]byte, bool, error) { return s.readSidecar(ctx, key) })
}

func (s *Store) head(ctx context.Context, key string) (backends.Info, http.Header, error) {
	var hdr http.Header
	err := s.do(ctx, func() error {
		var err error
		hdr, err = s.bucket.GetObjectDetailedMeta(s.object(key), aoss.WithContext(ctx))
		return err
	})
	if err != nil {
		return backends.Info{}, nil, s.classify(ctx, "stat", key, err)
	}
	var size int64
	if _, err := fmt.Sscan(hdr.Get("Content-Length"), &size); err != nil {
		return backends.Info{}, nil, fmt.Errorf("%s: stat %s: no Content-Length: %w", s.label, key, backends.ErrInternal)
	}
	mod, _ := http.ParseTime(hdr.Get("Last-Modified"))
	return backends.Info{Key: key, Size: size, ModTime: mod}, hdr, nil
}

func (s *Store) readSidecar(ctx context.Context, key string) ([32]byte, bool, error) {
	return objstore.ReadSidecar(s.label, key, func() ([]byte, error) {
		var v []byte
		err := s.do(ctx, func() error {
			rc, err := s.bucket.GetObject(s.sidecar(key), aoss.WithContext(ctx))
			if err != nil {
				return err
			}
			defer rc.Close()
			v, err = io.ReadAll(io.LimitReader(rc, objstore.SidecarMax))
			return err
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
		return s.do(ctx, func() error { return s.bucket.DeleteObject(name, aoss.WithContext(ctx)) })
	}, s.kind(ctx), s.classifier(ctx, "delete", key))
}

// List implements backends.BlobStore.
func (s *Store) List(ctx context.Context, prefix string, fn func(backends.Info) error) error {
	return objstore.List(s.label, s.prefix, prefix, func(marker string) (objstore.Page, error) {
		var res aoss.ListObjectsResult
		err := s.do(ctx, func() error {
			var err error
			res, err = s.bucket.ListObjects(aoss.WithContext(ctx), aoss.Prefix(s.prefix+prefix), aoss.Delimiter("/"),
				aoss.Marker(marker), aoss.MaxKeys(1000))
			return err
		})
		if err != nil {
			return objstore.Page{}, s.classify(ctx, "list", "", err)
		}
		page := objstore.Page{Truncated: res.IsTruncated, NextMarker: res.NextMarker}
		for _, o := range res.Objects {
			page.Objects = append(page.Objects, backends.Info{Key: o.Key, Size: o.Size, ModTime: o.LastModified})
		}
		return page, nil
	}, fn)
}

// Health implements backends.BlobStore: the bucket must exist and accept our
// credentials for listing (which the collector's orphan sweep needs anyway).
func (s *Store) Health(ctx context.Context) error {
	err := s.do(ctx, func() error {
		_, err := s.bucket.ListObjects(aoss.WithContext(ctx), aoss.Prefix(s.prefix), aoss.MaxKeys(1))
		return err
	})
	if err == nil {
		return nil
	}
	var se aoss.ServiceError
	if errors.As(err, &se) && se.Code == "NoSuchBucket" {
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
