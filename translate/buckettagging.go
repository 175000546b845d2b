package translate

import (
	"context"
	"errors"

	"s3proxy/meta"
	"s3proxy/translate/buckettags"
)

// BucketTagging returns the bucket's tags (GetBucketTagging); ok is false when it has
// none (S3's NoSuchTagSet).
func (s *Service) BucketTagging(ctx context.Context, p Principal, bucket string) (tags buckettags.Set, ok bool, err error) {
	if _, err := s.bucketFor(ctx, p, bucket); err != nil {
		return nil, false, err
	}
	c, err := s.meta.GetBucketConfig(ctx, bucket, buckettags.Kind)
	if errors.Is(err, meta.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, metaErr(err, "")
	}
	tags, err = buckettags.Decode(c.Value)
	if err != nil {
		return nil, false, wrapErr(CodeInternalError, err)
	}
	return tags, true, nil
}

// SetBucketTagging replaces the bucket's tags (PutBucketTagging) with tags, which s3api
// has checked. An empty set leaves the bucket without tags, as DeleteBucketTagging.
func (s *Service) SetBucketTagging(ctx context.Context, p Principal, bucket string, tags buckettags.Set) error {
	if _, err := s.bucketFor(ctx, p, bucket); err != nil {
		return err
	}
	return s.putBucketTags(ctx, bucket, tags)
}

// DeleteBucketTagging removes the bucket's tags; removing none succeeds, as on S3.
func (s *Service) DeleteBucketTagging(ctx context.Context, p Principal, bucket string) error {
	if _, err := s.bucketFor(ctx, p, bucket); err != nil {
		return err
	}
	return metaErr(s.meta.DeleteBucketConfig(ctx, bucket, buckettags.Kind), "")
}

func (s *Service) putBucketTags(ctx context.Context, bucket string, tags buckettags.Set) error {
	if len(tags) == 0 {
		return metaErr(s.meta.DeleteBucketConfig(ctx, bucket, buckettags.Kind), "")
	}
	doc, err := tags.Encode()
	if err != nil {
		return wrapErr(CodeInternalError, err)
	}
	return metaErr(s.meta.PutBucketConfig(ctx, meta.BucketConfig{Bucket: bucket, Kind: buckettags.Kind, Value: doc}), CodeNoSuchBucket)
}
