package translate

import (
	"context"
	"errors"

	"s3proxy/meta"
	"s3proxy/translate/lifecycle"
)

// CodeNoSuchLifecycleConfiguration is S3's answer for a bucket without a lifecycle
// configuration.
const CodeNoSuchLifecycleConfiguration = "NoSuchLifecycleConfiguration"

// BucketLifecycle returns the bucket's lifecycle configuration
// (GetBucketLifecycleConfiguration); NoSuchLifecycleConfiguration when it has none.
func (s *Service) BucketLifecycle(ctx context.Context, p Principal, bucket string) (lifecycle.Configuration, error) {
	if _, err := s.bucketFor(ctx, p, bucket); err != nil {
		return lifecycle.Configuration{}, err
	}
	c, err := s.meta.GetBucketConfig(ctx, bucket, lifecycle.Kind)
	if errors.Is(err, meta.ErrNotFound) {
		return lifecycle.Configuration{}, errorf(CodeNoSuchLifecycleConfiguration, "The lifecycle configuration does not exist")
	}
	if err != nil {
		return lifecycle.Configuration{}, metaErr(err, "")
	}
	cfg, err := lifecycle.Decode(c.Value)
	if err != nil {
		return lifecycle.Configuration{}, wrapErr(CodeInternalError, err)
	}
	return cfg, nil
}

// SetBucketLifecycle replaces the bucket's lifecycle configuration
// (PutBucketLifecycleConfiguration) with cfg, which s3api has validated. The expiration
// worker applies it from its next pass on.
func (s *Service) SetBucketLifecycle(ctx context.Context, p Principal, bucket string, cfg lifecycle.Configuration) error {
	if _, err := s.bucketFor(ctx, p, bucket); err != nil {
		return err
	}
	doc, err := cfg.Encode()
	if err != nil {
		return wrapErr(CodeInternalError, err)
	}
	err = s.meta.PutBucketConfig(ctx, meta.BucketConfig{Bucket: bucket, Kind: lifecycle.Kind, Value: doc})
	s.lifecycles.forget(bucket)
	return metaErr(err, CodeNoSuchBucket)
}

// DeleteBucketLifecycle removes the bucket's lifecycle configuration; removing none
// succeeds, as on S3.
func (s *Service) DeleteBucketLifecycle(ctx context.Context, p Principal, bucket string) error {
	if _, err := s.bucketFor(ctx, p, bucket); err != nil {
		return err
	}
	err := s.meta.DeleteBucketConfig(ctx, bucket, lifecycle.Kind)
	s.lifecycles.forget(bucket)
	return metaErr(err, "")
}
