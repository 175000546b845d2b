// Package translate implements S3 semantics on the object model: buckets and their
// owners, put/get/head/copy/delete/list of objects, ranges, conditional requests, ETags,
// multipart uploads and instant upload. It knows nothing of HTTP: s3api parses requests
// into the inputs here and renders the outputs and errors.
package translate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"s3proxy/dedup"
	"s3proxy/meta"
	"s3proxy/translate/cors"
	"s3proxy/translate/lifecycle"
	"s3proxy/translate/policy"
	"s3proxy/translate/publicaccess"
)

// Error codes are S3's: s3api renders them with their HTTP status.
const (
	CodeAccessDenied            = "AccessDenied"
	CodeBadDigest               = "BadDigest"
	CodeBucketAlreadyOwnedByYou = "BucketAlreadyOwnedByYou"
	CodeBucketAlreadyExists     = "BucketAlreadyExists"
	CodeBucketNotEmpty          = "BucketNotEmpty"
	CodeEntityTooLarge          = "EntityTooLarge"
	CodeEntityTooSmall          = "EntityTooSmall"
	CodeIncompleteBody          = "IncompleteBody"
	CodeInternalError           = "InternalError"
	CodeInvalidArgument         = "InvalidArgument"
	CodeInvalidBucketName       = "InvalidBucketName"
	CodeInvalidDigest           = "InvalidDigest"
	CodeInvalidPart             = "InvalidPart"
	CodeInvalidPartOrder        = "InvalidPartOrder"
	CodeInvalidPartNumber       = "InvalidPartNumber"
	CodeInvalidRange            = "InvalidRange"
	CodeInvalidRequest          = "InvalidRequest"
	CodeKeyTooLong              = "KeyTooLongError"
	CodeMalformedXML            = "MalformedXML"
	CodeNoSuchBucket            = "NoSuchBucket"
	CodeNoSuchKey               = "NoSuchKey"
	CodeNoSuchUpload            = "NoSuchUpload"
	CodeNoSuchVersion           = "NoSuchVersion"
	CodeMethodNotAllowed        = "MethodNotAllowed"
	CodeNotModified             = "NotModified"
	CodePreconditionFailed      = "PreconditionFailed"
	CodeServiceUnavailable      = "ServiceUnavailable"
	CodeSlowDown                = "SlowDown"
	CodeConditionalConflict     = "ConditionalRequestConflict"
	CodeContentSHA256Mismatch   = "XAmzContentSHA256Mismatch"
	CodeMetadataTooLarge        = "MetadataTooLarge"
)

// Error is an S3-meaningful failure. Err, when set, is the cause (logged, never shown).
// Extra holds the additional elements S3 puts in some errors' XML (ArgumentName, ...).
type Error struct {
	Code    string
	Message string
	Extra   map[string]string
	// Headers are response headers S3 sends with this error (a delete marker's
	// x-amz-delete-marker and x-amz-version-id).
	Headers map[string]string
	Err     error
}

func (e *Error) Error() string {
	s := e.Code
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

func errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

func wrapErr(code string, err error) *Error { return &Error{Code: code, Err: err} }

// Principal is the caller: a credential, or no one (an unsigned request).
type Principal struct {
	AccessKey string
	Admin     bool
	// Anonymous marks an unsigned request (AccessKey empty). It may use a bucket only
	// as its policy allows (Authorize), writes as the bucket's owner, and never gets
	// an instant upload.
	Anonymous bool
	// granted are the buckets whose policy allowed this request (set by Authorize
	// only): bucketFor lets the principal use them although it does not own them.
	granted []string
}

// grants reports whether a bucket policy let the principal use the bucket.
func (p Principal) grants(bucket string) bool {
	for _, b := range p.granted {
		if b == bucket {
			return true
		}
	}
	return false
}

// Scope modes.
const (
	ScopeCredential = "credential"
	ScopeGlobal     = "global"
)

// Config wires a Service.
type Config struct {
	Meta   meta.MetaStore
	Dedup  *dedup.Engine
	Region string
	// DedupScope is ScopeCredential (default) or ScopeGlobal.
	DedupScope string
	// Placement maps bucket -> backend for new buckets' chunks.
	Placement     map[string]string
	MaxObjectSize int64
	Log           *slog.Logger
	Now           func() time.Time
	// OnInstant, if set, is told of every instant upload and the body bytes it saved.
	OnInstant func(bytes int64)
	// BlockPublicPolicy refuses bucket policies that are public (PutBucketPolicy is
	// AccessDenied) and keeps a stored public policy from letting anonymous callers in:
	// S3's BlockPublicPolicy and RestrictPublicBuckets, gateway-wide. A bucket's own
	// Block Public Access configuration adds to it (publicaccess.Effective).
	BlockPublicPolicy bool
}

// Service implements the S3 operations.
type Service struct {
	meta  meta.MetaStore
	dedup *dedup.Engine
	cfg   Config
	log   *slog.Logger
	now   func() time.Time
	// buckets caches bucket rows for the per-request ownership check.
	buckets *bucketCache
	// cors caches buckets' CORS configurations for evaluating browsers' requests.
	cors *configCache[cors.Configuration]
	// lifecycles caches buckets' lifecycle configurations for the x-amz-expiration
	// header.
	lifecycles *configCache[lifecycle.Configuration]
	// policies caches buckets' policies (and their absence) for Authorize.
	policies *configCache[policy.Policy]
	// versionings caches each bucket's versioning state (versioning.go).
	versionings *configCache[string]
	// objectLocks caches each bucket's Object Lock configuration (objectlock.go).
	objectLocks *configCache[ObjectLockConfig]
	// publicAccess caches buckets' Block Public Access configurations for Authorize,
	// which consults them only for anonymous requests under a public policy.
	publicAccess *configCache[publicaccess.Configuration]
}

// New returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Meta == nil || cfg.Dedup == nil {
		return nil, errors.New("translate: meta store and dedup engine are required")
	}
	if cfg.DedupScope == "" {
		cfg.DedupScope = ScopeCredential
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if cfg.MaxObjectSize <= 0 {
		cfg.MaxObjectSize = 5 << 40
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Service{meta: cfg.Meta, dedup: cfg.Dedup, cfg: cfg, log: cfg.Log, now: cfg.Now, buckets: newBucketCache(cfg.Now)}
	s.cors = newConfigCache(cfg.Now, s.loadCORS)
	s.lifecycles = newConfigCache(cfg.Now, s.loadLifecycle)
	s.policies = newConfigCache(cfg.Now, s.loadPolicy)
	s.versionings = newConfigCache(cfg.Now, s.loadVersioning)
	s.objectLocks = newConfigCache(cfg.Now, s.loadObjectLock)
	s.publicAccess = newConfigCache(cfg.Now, s.loadPublicAccess)
	return s, nil
}

// scope returns the dedup scope of a principal: its access key, or "" when global.
// An anonymous writer has no key: its content goes in the scope of the bucket's owner
// (owner), whose bucket it is writing to; "" there would be the global scope.
func (s *Service) scope(p Principal, owner string) string {
	if s.cfg.DedupScope == ScopeGlobal {
		return ""
	}
	return writer(p, owner)
}

// writer is who an object or upload written by p into a bucket of owner's belongs
// to: the credential that wrote it, or for an anonymous writer the bucket's owner.
func writer(p Principal, owner string) string {
	if p.Anonymous {
		return owner
	}
	return p.AccessKey
}

// metaErr maps a metadata error to S3 meaning in context.
func metaErr(err error, notFound string) error {
	if err == nil {
		return nil
	}
	var te *Error
	if errors.As(err, &te) {
		return err
	}
	switch {
	case errors.Is(err, meta.ErrNotFound) && notFound != "":
		return wrapErr(notFound, err)
	case errors.Is(err, meta.ErrPreconditionFailed):
		return wrapErr(CodePreconditionFailed, err)
	case errors.Is(err, meta.ErrUnavailable):
		return wrapErr(CodeServiceUnavailable, err)
	case errors.Is(err, meta.ErrConflict):
		return wrapErr(CodeConditionalConflict, err)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	}
	return wrapErr(CodeInternalError, err)
}

// readErr maps a chunk read failure: a missing chunk under an existing manifest is
// corruption (500, logged loudly), never a 404.
func (s *Service) readErr(bucket, key string, err error) error {
	switch {
	case errors.Is(err, dedup.ErrChunkMissing), errors.Is(err, dedup.ErrChunkCorrupt):
		s.log.Error("object data is missing or corrupt", "bucket", bucket, "key", key, "err", err)
		return &Error{Code: CodeInternalError, Message: "The object's data is damaged and cannot be read.", Err: err}
	case errors.Is(err, dedup.ErrChunkUnavailable):
		s.log.Warn("object data unavailable", "bucket", bucket, "key", key, "err", err)
		return &Error{Code: CodeServiceUnavailable, Message: "The storage holding this object is unavailable. Please retry.", Err: err}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	}
	return wrapErr(CodeInternalError, err)
}
