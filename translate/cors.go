package translate

import (
	"context"

	"s3proxy/meta"
	"s3proxy/translate/cors"
)

// BucketCORS returns the bucket's own CORS configuration (GetBucketCors); ok is false
// when it has none.
func (s *Service) BucketCORS(ctx context.Context, p Principal, bucket string) (cfg cors.Configuration, ok bool, err error) {
	if _, err := s.bucketFor(ctx, p, bucket); err != nil {
		return cors.Configuration{}, false, err
	}
	c, err := s.loadCORS(ctx, bucket)
	if err != nil || c == nil {
		return cors.Configuration{}, false, err
	}
	return *c, true, nil
}

// SetBucketCORS replaces the bucket's CORS configuration (PutBucketCors) with cfg, which
// s3api has validated. This node evaluates requests with it at once, other nodes within
// configCacheTTL.
func (s *Service) SetBucketCORS(ctx context.Context, p Principal, bucket string, cfg cors.Configuration) error {
	if _, err := s.bucketFor(ctx, p, bucket); err != nil {
		return err
	}
	doc, err := cfg.Encode()
	if err != nil {
		return wrapErr(CodeInternalError, err)
	}
	err = s.meta.PutBucketConfig(ctx, meta.BucketConfig{Bucket: bucket, Kind: cors.Kind, Value: doc})
	s.cors.forget(bucket)
	return metaErr(err, CodeNoSuchBucket)
}

// DeleteBucketCORS removes the bucket's CORS configuration; removing none succeeds, as
// on S3.
func (s *Service) DeleteBucketCORS(ctx context.Context, p Principal, bucket string) error {
	if _, err := s.bucketFor(ctx, p, bucket); err != nil {
		return err
	}
	err := s.meta.DeleteBucketConfig(ctx, bucket, cors.Kind)
	s.cors.forget(bucket)
	return metaErr(err, "")
}

// BucketCORSRules returns the bucket's own CORS configuration for evaluating a
// browser's request, which may be unsigned (a preflight): no principal, no owner check,
// and a missing bucket answers exactly like a bucket without a configuration (ok
// false), so that an anonymous caller learns nothing about which buckets exist. Served
// from the CORS cache (configcache.go).
func (s *Service) BucketCORSRules(ctx context.Context, bucket string) (cfg *cors.Configuration, ok bool, err error) {
	if !ValidBucketName(bucket) {
		return nil, false, nil
	}
	c, err := s.cors.get(ctx, bucket)
	if err != nil || c == nil {
		return nil, false, err
	}
	return c, true, nil
}
