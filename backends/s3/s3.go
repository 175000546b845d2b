// Package s3 is the BlobStore on any S3-compatible object store (AWS S3, MinIO, Ceph RGW,
// R2, versitygw, ...), through aws-sdk-go-v2.
//
// # Layout
//
// A chunk with key K is the object <prefix>K in the configured bucket (the prefix is
// treated as a directory: "chunks" becomes "chunks/"). A chunk stored with multipart
// upload also has a sidecar object <prefix>_sha256/K holding its SHA-256 in hex (see
// below); List never yields sidecars and Delete removes them with the chunk.
//
// # Writes
//
// Put reads the body into a pooled part buffer (Config.PartSize) before sending
// anything, so a short, long, failing or cancelled body is detected before the store
// sees a complete request: nothing becomes visible. A body that fits in one part is one
// PutObject with a Content-Length; a larger (or unknown-size) body is a multipart upload
// of PartSize parts, Config.Concurrency of them in flight, aborted on any error. Memory
// per Put is therefore at most (Concurrency+1) × PartSize. Part bodies are seekable, so
// the SDK's retryer may resend them.
//
// # The recorded SHA-256
//
// A single PutObject carries x-amz-checksum-sha256 = PutOptions.SHA256 (the store checks
// it against the bytes and keeps it) and the same value as user metadata
// x-amz-meta-s3proxy-sha256, for servers that do not keep checksums. S3 offers no
// full-object SHA-256 for multipart uploads (only a composite of the parts' hashes,
// which parts are each verified by), so a multipart chunk's hash goes to the sidecar,
// written after CompleteMultipartUpload and before Put returns. Stat reads them in that
// order: a full-object checksum (HeadObject with ChecksumMode ENABLED), the metadata, the
// sidecar. List does not fill Info.SHA256 (that would cost a request per key).
//
// # Reads
//
// Get is one GetObject with a Range header; the contract's strict ranges are enforced
// from the response (Content-Length, and a HeadObject only to tell offset == size from
// offset > size when the store answers 416).
//
// # Errors
//
// classify maps SDK and network errors: NoSuchKey/NotFound → ErrNotFound, InvalidRange →
// ErrInvalid, SlowDown/503/429 → ErrExhausted, other 5xx, network, credential and
// missing-bucket errors → ErrUnavailable, a done context → ErrCanceled, the rest →
// ErrInternal. Throttling and 5xx are retried first by the SDK's standard retryer
// (Config.MaxAttempts, exponential backoff with jitter).
package s3

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"s3proxy/backends"
	"s3proxy/backends/internal/objstore"
)

// Defaults for the zero values of Config's tuning fields.
const (
	DefaultPartSize    = objstore.DefaultPartSize
	DefaultConcurrency = objstore.DefaultConcurrency
	DefaultMaxAttempts = objstore.DefaultMaxAttempts
	DefaultTimeout     = objstore.DefaultTimeout
	// minPartSize is S3's minimum for every part but the last.
	minPartSize = 5 << 20
	maxParts    = 10000
	shaMetaKey  = "s3proxy-sha256"
)

// Config configures an S3 store. Empty credentials and region fall back to the standard
// AWS chain (environment, shared config and credentials files, SSO, IMDS, ...).
type Config struct {
	Name      string
	Endpoint  string // e.g. https://minio.example:9000; empty for AWS
	Region    string
	Bucket    string
	Prefix    string
	AccessKey string
	SecretKey string
	PathStyle bool // path-style addressing (MinIO, most self-hosted stores)

	// PartSize is the size of one PutObject body or multipart part (min 5 MiB).
	PartSize int64
	// Concurrency is the number of parts of one Put uploaded at once.
	Concurrency int
	// MaxAttempts bounds the SDK's attempts per request (1 disables retries).
	MaxAttempts int
	// Timeout bounds connecting, the TLS handshake and waiting for response headers; a
	// body in flight is bounded by the caller's context instead.
	Timeout time.Duration
}

// Store is a BlobStore on an S3 bucket.
type Store struct {
	cfg       Config
	prefix    string
	client    *awss3.Client
	transport *http.Transport
	// up drives Puts: part buffers (bounded by objstore.BufferBudget across all Puts),
	// single or multipart requests.
	up *objstore.Uploader
}

var _ backends.BlobStore = (*Store)(nil)

// New builds a store. It does not contact the server; call Health for that.
func New(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Bucket == "" {
		return nil, fmt.Errorf("s3 backend %q: bucket is required: %w", cfg.Name, backends.ErrInvalid)
	}
	if (cfg.AccessKey == "") != (cfg.SecretKey == "") {
		return nil, fmt.Errorf("s3 backend %q: access_key and secret_key go together: %w", cfg.Name, backends.ErrInvalid)
	}
	// S3 has no RetryBase: the SDK's retryer has its own backoff.
	tu, err := objstore.Tuning{
		PartSize: cfg.PartSize, Concurrency: cfg.Concurrency, MaxAttempts: cfg.MaxAttempts, Timeout: cfg.Timeout,
	}.WithDefaults(fmt.Sprintf("s3 backend %q", cfg.Name), minPartSize, "S3's minimum of 5 MiB")
	if err != nil {
		return nil, err
	}
	cfg.PartSize, cfg.Concurrency, cfg.MaxAttempts, cfg.Timeout = tu.PartSize, tu.Concurrency, tu.MaxAttempts, tu.Timeout

	// The loader only knows how to add AWS_CA_BUNDLE's roots to a *BuildableClient, and
	// fails with any other custom client while that variable is set. So give it one,
	// then take the transport it configured (bundle included) and own it, so that Close
	// can release its idle connections.
	buildable := awshttp.NewBuildableClient().
		WithDialerOptions(func(d *net.Dialer) { d.Timeout = cfg.Timeout }).
		WithTransportOptions(func(tr *http.Transport) {
			tr.TLSHandshakeTimeout = cfg.Timeout
			tr.ResponseHeaderTimeout = cfg.Timeout
			tr.IdleConnTimeout = 90 * time.Second
			// One gateway talks to one endpoint: keep enough idle connections for the
			// parts and reads in flight instead of Go's default of 2 per host.
			tr.MaxIdleConns = 256
			tr.MaxIdleConnsPerHost = 128
		})
	opts := []func(*config.LoadOptions) error{
		config.WithHTTPClient(buildable),
		config.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = cfg.MaxAttempts
				o.MaxBackoff = 10 * time.Second
				// The client-side retry quota would turn a burst of throttling into
				// immediate failures for every caller; backoff alone is enough here.
				o.RateLimiter = ratelimit.None
			})
		}),
	}
	if cfg.Region != "" {
		opts = append(opts, config.WithRegion(cfg.Region))
	}
	if cfg.AccessKey != "" {
		opts = append(opts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(cfg.AccessKey, cfg.SecretKey, "")))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("s3 backend %q: loading AWS configuration: %w: %w", cfg.Name, backends.ErrInvalid, err)
	}
	var tr *http.Transport
	if bc, ok := awsCfg.HTTPClient.(*awshttp.BuildableClient); ok {
		tr = bc.GetTransport()
	} else {
		tr = buildable.GetTransport()
	}
	awsCfg.HTTPClient = &http.Client{
		Transport: tr,
		// S3 redirects (a wrong region) are errors to report, not to follow.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	if awsCfg.Region == "" {
		// S3-compatible stores mostly ignore the region, but SigV4 needs one.
		awsCfg.Region = "us-east-1"
	}
	client := awss3.NewFromConfig(awsCfg, func(o *awss3.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.UsePathStyle = cfg.PathStyle
		// Validate response checksums only where Get asks for it (whole-chunk reads):
		// some servers send the whole object's checksum with a ranged response too.
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		o.DisableLogOutputChecksumValidationSkipped = true
	})
	return &Store{
		cfg: cfg, prefix: objstore.Prefix(cfg.Prefix), client: client, transport: tr,
		up: objstore.NewUploader(cfg.PartSize, cfg.Concurrency, maxParts),
	}, nil
}

// Name implements backends.BlobStore.
func (s *Store) Name() string { return s.cfg.Name }

func (s *Store) object(key string) string  { return s.prefix + key }
func (s *Store) sidecar(key string) string { return s.prefix + objstore.SidecarDir + key }

// label prefixes the errors the store makes itself (and objstore's for it).
func (s *Store) label() string { return "s3 " + s.cfg.Name }

// classify wraps err in the backends error kind it belongs to.
func (s *Store) classify(ctx context.Context, op, key string, err error) error {
	if err == nil {
		return nil
	}
	return objstore.Classify(s.label(), op, key, kindOf(ctx, err), err)
}

// kind and classifier are kindOf and classify for the objstore helpers.
func (s *Store) kind(ctx context.Context) func(error) error {
	return func(err error) error { return kindOf(ctx, err) }
}

func (s *Store) classifier(ctx context.Context, op, key string) func(error) error {
	return func(err error) error { return s.classify(ctx, op, key, err) }
}

func kindOf(ctx context.Context, err error) error {
	var (
		apiErr  smithy.APIError
		respErr *awshttp.ResponseError
		sendErr *smithyhttp.RequestSendError
		netErr  net.Error
		canErr  *aws.RequestCanceledError
	)
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.As(err, &canErr) || ctx.Err() != nil {
		return backends.ErrCanceled
	}
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode() {
		case "NoSuchKey", "NotFound":
			return backends.ErrNotFound
		case "InvalidRange":
			return backends.ErrInvalid
		case "SlowDown", "Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequests",
			"RequestThrottled", "ServiceUnavailable":
			return backends.ErrExhausted
		case "NoSuchBucket", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken",
			"InvalidToken", "PermanentRedirect", "AuthorizationHeaderMalformed", "RequestTimeTooSkewed":
			// The store is unusable as configured: report it, but as the backend's fault.
			return backends.ErrUnavailable
		}
	}
	if errors.As(err, &respErr) {
		switch code := respErr.HTTPStatusCode(); {
		case code == http.StatusNotFound:
			return backends.ErrNotFound
		case code == http.StatusRequestedRangeNotSatisfiable:
			return backends.ErrInvalid
		case code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable:
			return backends.ErrExhausted
		case code >= 500 || code == http.StatusForbidden || code == http.StatusUnauthorized:
			return backends.ErrUnavailable
		}
	}
	if errors.As(err, &sendErr) || errors.As(err, &netErr) || errors.Is(err, io.ErrUnexpectedEOF) {
		return backends.ErrUnavailable
	}
	return backends.ErrInternal
}

// ---- Put ----

// Put implements backends.BlobStore. The body reading, part buffers and multipart
// driving are objstore.Uploader's, shared with the other object stores; target supplies
// the S3 requests.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, size int64, opts backends.PutOptions) error {
	return s.up.Put(ctx, (*target)(s), s.label(), key, r, size, opts)
}

// target is the Store's side of objstore.Uploader. The SDK's retryer already retries
// its requests (their bodies are seekable), so each method is one SDK call, classified.
type target Store

func (t *target) PutObject(ctx context.Context, key string, data []byte, sum *[32]byte) error {
	s := (*Store)(t)
	in := &awss3.PutObjectInput{
		Bucket:        aws.String(s.cfg.Bucket),
		Key:           aws.String(s.object(key)),
		Body:          bytes.NewReader(data),
		ContentLength: aws.Int64(int64(len(data))),
	}
	if sum != nil {
		in.ChecksumSHA256 = aws.String(base64.StdEncoding.EncodeToString(sum[:]))
		in.Metadata = map[string]string{shaMetaKey: hex.EncodeToString(sum[:])}
	} else {
		in.ChecksumAlgorithm = types.ChecksumAlgorithmSha256
	}
	if _, err := s.client.PutObject(ctx, in); err != nil {
		return s.classify(ctx, "put", key, err)
	}
	return nil
}

func (t *target) Initiate(ctx context.Context, key string) (string, error) {
	s := (*Store)(t)
	created, err := s.client.CreateMultipartUpload(ctx, &awss3.CreateMultipartUploadInput{
		Bucket:            aws.String(s.cfg.Bucket),
		Key:               aws.String(s.object(key)),
		ChecksumAlgorithm: types.ChecksumAlgorithmSha256,
	})
	if err != nil {
		return "", s.classify(ctx, "put: create multipart upload", key, err)
	}
	return aws.ToString(created.UploadId), nil
}

// UploadPart sends the part's SHA-256, which the store verifies; Complete repeats the
// checksum it returns.
func (t *target) UploadPart(ctx context.Context, key, uploadID string, num int, data []byte) (objstore.Part, error) {
	s := (*Store)(t)
	sum := sha256.Sum256(data)
	out, err := s.client.UploadPart(ctx, &awss3.UploadPartInput{
		Bucket:         aws.String(s.cfg.Bucket),
		Key:            aws.String(s.object(key)),
		UploadId:       aws.String(uploadID),
		PartNumber:     aws.Int32(int32(num)),
		Body:           bytes.NewReader(data),
		ContentLength:  aws.Int64(int64(len(data))),
		ChecksumSHA256: aws.String(base64.StdEncoding.EncodeToString(sum[:])),
	})
	if err != nil {
		return objstore.Part{}, s.classify(ctx, fmt.Sprintf("put: part %d", num), key, err)
	}
	return objstore.Part{Number: num, ETag: aws.ToString(out.ETag), Checksum: aws.ToString(out.ChecksumSHA256)}, nil
}

func (t *target) Complete(ctx context.Context, key, uploadID string, parts []objstore.Part) error {
	s := (*Store)(t)
	cps := make([]types.CompletedPart, len(parts))
	for i, p := range parts {
		cps[i] = types.CompletedPart{PartNumber: aws.Int32(int32(p.Number))}
		if p.ETag != "" { // as the server sent it: no ETag stays absent
			cps[i].ETag = aws.String(p.ETag)
		}
		if p.Checksum != "" {
			cps[i].ChecksumSHA256 = aws.String(p.Checksum)
		}
	}
	if _, err := s.client.CompleteMultipartUpload(ctx, &awss3.CompleteMultipartUploadInput{
		Bucket:          aws.String(s.cfg.Bucket),
		Key:             aws.String(s.object(key)),
		UploadId:        aws.String(uploadID),
		MultipartUpload: &types.CompletedMultipartUpload{Parts: cps},
	}); err != nil {
		return s.classify(ctx, "put: complete multipart upload", key, err)
	}
	return nil
}

// Abort releases a failed multipart upload's parts. A failure here only costs storage
// until the bucket's AbortIncompleteMultipartUpload lifecycle rule (recommended) runs.
func (t *target) Abort(ctx context.Context, key, uploadID string) {
	s := (*Store)(t)
	_, _ = s.client.AbortMultipartUpload(ctx, &awss3.AbortMultipartUploadInput{
		Bucket: aws.String(s.cfg.Bucket), Key: aws.String(s.object(key)), UploadId: aws.String(uploadID),
	})
}

func (t *target) RecordSHA(ctx context.Context, key string, sum [32]byte) error {
	s := (*Store)(t)
	_, err := s.client.PutObject(ctx, &awss3.PutObjectInput{
		Bucket:        aws.String(s.cfg.Bucket),
		Key:           aws.String(s.sidecar(key)),
		Body:          strings.NewReader(hex.EncodeToString(sum[:])),
		ContentLength: aws.Int64(int64(hex.EncodedLen(len(sum)))),
		ContentType:   aws.String("text/plain"),
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
	if err := objstore.CheckGet(ctx, s.label(), key, offset, length); err != nil {
		return nil, err
	}
	if length == 0 {
		// An empty range has no Range header; only existence and bounds matter.
		return s.emptyAt(ctx, key, offset)
	}
	in := &awss3.GetObjectInput{Bucket: aws.String(s.cfg.Bucket), Key: aws.String(s.object(key))}
	if r := objstore.Range(offset, length); r != "" {
		in.Range = aws.String(r)
	} else {
		// A whole chunk: have the SDK verify the stored full-object checksum at EOF.
		in.ChecksumMode = types.ChecksumModeEnabled
	}
	out, err := s.client.GetObject(ctx, in)
	if err != nil {
		if errors.Is(kindOf(ctx, err), backends.ErrInvalid) && length == -1 {
			// 416 for bytes=size- : the contract wants an empty reader at offset == size.
			return s.emptyAt(ctx, key, offset)
		}
		return nil, s.classify(ctx, "get", key, err)
	}
	got := aws.ToInt64(out.ContentLength)
	if err := objstore.CheckServed(s.label(), key, offset, length, got, in.Range != nil, out.ContentRange != nil); err != nil {
		out.Body.Close()
		return nil, err
	}
	return &objstore.Reader{Ctx: ctx, RC: out.Body, Left: got, Classify: func(err error) error { return s.classify(ctx, "get: reading", key, err) }}, nil
}

// emptyAt returns an empty reader if offset is within key's bounds.
func (s *Store) emptyAt(ctx context.Context, key string, offset int64) (io.ReadCloser, error) {
	info, err := s.head(ctx, key)
	return objstore.EmptyAt(s.label(), key, offset, info, err)
}

// ---- Stat, Delete, List, Health ----

// Stat implements backends.BlobStore.
func (s *Store) Stat(ctx context.Context, key string) (backends.Info, error) {
	if err := objstore.CheckKey(s.label(), key); err != nil {
		return backends.Info{}, err
	}
	info, err := s.head(ctx, key)
	if err != nil {
		return backends.Info{}, err
	}
	return info, nil
}

func (s *Store) head(ctx context.Context, key string) (backends.Info, error) {
	out, err := s.client.HeadObject(ctx, &awss3.HeadObjectInput{
		Bucket:       aws.String(s.cfg.Bucket),
		Key:          aws.String(s.object(key)),
		ChecksumMode: types.ChecksumModeEnabled,
	})
	if err != nil {
		return backends.Info{}, s.classify(ctx, "stat", key, err)
	}
	info := backends.Info{Key: key, Size: aws.ToInt64(out.ContentLength), ModTime: aws.ToTime(out.LastModified)}
	if sum, ok := recordedSHA(out); ok {
		info.SHA256, info.HasSHA = sum, true
		return info, nil
	}
	// A multipart chunk (or one put without a hash): its hash is in the sidecar, if it
	// was recorded. Not every server's multipart ETag says "-N", so always look.
	sum, ok, err := s.readSidecar(ctx, key)
	if err != nil {
		return backends.Info{}, err
	}
	info.SHA256, info.HasSHA = sum, ok
	return info, nil
}

// recordedSHA finds the hash a single PutObject recorded: the full-object checksum the
// store kept, else our metadata copy (for stores that keep no checksums).
func recordedSHA(out *awss3.HeadObjectOutput) ([32]byte, bool) {
	if out.ChecksumSHA256 != nil && out.ChecksumType != types.ChecksumTypeComposite {
		if b, err := base64.StdEncoding.DecodeString(*out.ChecksumSHA256); err == nil && len(b) == sha256.Size {
			return [32]byte(b), true
		}
	}
	return objstore.HexSHA(out.Metadata[shaMetaKey])
}

func (s *Store) readSidecar(ctx context.Context, key string) ([32]byte, bool, error) {
	return objstore.ReadSidecar(s.label(), key, func() ([]byte, error) {
		out, err := s.client.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(s.cfg.Bucket), Key: aws.String(s.sidecar(key))})
		if err != nil {
			return nil, err
		}
		defer out.Body.Close()
		return io.ReadAll(io.LimitReader(out.Body, objstore.SidecarMax))
	}, s.kind(ctx), s.classifier(ctx, "stat: reading sha256 sidecar", key))
}

// Delete implements backends.BlobStore: the chunk first, then any sidecar, so that a
// failure in between leaves at most a sidecar without its chunk (harmless and invisible).
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := objstore.CheckKey(s.label(), key); err != nil {
		return err
	}
	return objstore.Delete(s.object(key), s.sidecar(key), func(name string) error {
		_, err := s.client.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String(s.cfg.Bucket), Key: aws.String(name)})
		return err
	}, s.kind(ctx), s.classifier(ctx, "delete", key))
}

// List implements backends.BlobStore. With "/" as delimiter, the sidecar directory
// comes back as a common prefix and is skipped.
func (s *Store) List(ctx context.Context, prefix string, fn func(backends.Info) error) error {
	if strings.Contains(prefix, "/") {
		return nil // no key has one
	}
	p := awss3.NewListObjectsV2Paginator(s.client, &awss3.ListObjectsV2Input{
		Bucket:    aws.String(s.cfg.Bucket),
		Prefix:    aws.String(s.prefix + prefix),
		Delimiter: aws.String("/"),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return s.classify(ctx, "list", "", err)
		}
		for _, o := range page.Contents {
			key := strings.TrimPrefix(aws.ToString(o.Key), s.prefix)
			if key == "" || strings.Contains(key, "/") {
				continue
			}
			if err := fn(backends.Info{Key: key, Size: aws.ToInt64(o.Size), ModTime: aws.ToTime(o.LastModified)}); err != nil {
				return err
			}
		}
	}
	return nil
}

// Health implements backends.BlobStore: the bucket must exist and accept our
// credentials.
func (s *Store) Health(ctx context.Context) error {
	if _, err := s.client.HeadBucket(ctx, &awss3.HeadBucketInput{Bucket: aws.String(s.cfg.Bucket)}); err != nil {
		if kindOf(ctx, err) == backends.ErrNotFound {
			// A missing bucket is a broken backend, not a missing chunk.
			return fmt.Errorf("s3 %s: health: bucket %q does not exist: %w: %w", s.cfg.Name, s.cfg.Bucket, backends.ErrUnavailable, err)
		}
		return s.classify(ctx, "health: bucket "+s.cfg.Bucket, "", err)
	}
	return nil
}

// Close implements backends.BlobStore.
func (s *Store) Close() error {
	s.transport.CloseIdleConnections()
	return nil
}
