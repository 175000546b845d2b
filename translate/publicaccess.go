package translate

import (
	"context"

	"s3proxy/meta"
	"s3proxy/translate/publicaccess"
)

// Block Public Access per bucket: PutPublicAccessBlock, GetPublicAccessBlock and
// DeletePublicAccessBlock manage a bucket's configuration, kept as a bucket
// configuration document (kind "publicAccessBlock", dropped with the bucket) and read
// through the per-node configuration cache (configcache.go). What applies to a bucket
// is the gateway-wide block_public_policy OR the bucket's own settings
// (publicaccess.Effective): a bucket can be made stricter than the gateway, never
// laxer, as an S3 bucket cannot be laxer than its account.
//
// Like the CORS and lifecycle configurations, the document is managed by the bucket's
// owner, and by other credentials only as the bucket's policy allows
// (s3:PutBucketPublicAccessBlock, s3:GetBucketPublicAccessBlock). That cannot make a
// bucket public: only the owner sets the policy.

// PublicAccessBlock returns the bucket's own Block Public Access configuration
// (GetPublicAccessBlock); ok is false when it has none. The gateway-wide setting is not
// folded in: like an S3 account's settings, it is not the bucket's.
func (s *Service) PublicAccessBlock(ctx context.Context, p Principal, bucket string) (cfg publicaccess.Configuration, ok bool, err error) {
	if _, err := s.bucketFor(ctx, p, bucket); err != nil {
		return publicaccess.Configuration{}, false, err
	}
	c, err := s.loadPublicAccess(ctx, bucket)
	if err != nil || c == nil {
		return publicaccess.Configuration{}, false, err
	}
	return *c, true, nil
}

// SetPublicAccessBlock replaces the bucket's configuration (PutPublicAccessBlock). This
// node applies it at once, other nodes within configCacheTTL.
func (s *Service) SetPublicAccessBlock(ctx context.Context, p Principal, bucket string, cfg publicaccess.Configuration) error {
	if _, err := s.bucketFor(ctx, p, bucket); err != nil {
		return err
	}
	doc, err := cfg.Encode()
	if err != nil {
		return wrapErr(CodeInternalError, err)
	}
	err = s.meta.PutBucketConfig(ctx, meta.BucketConfig{Bucket: bucket, Kind: publicaccess.Kind, Value: doc})
	s.publicAccess.forget(bucket)
	return metaErr(err, CodeNoSuchBucket)
}

// DeletePublicAccessBlock removes the bucket's configuration; removing none succeeds,
// as on S3. The gateway-wide setting still applies.
func (s *Service) DeletePublicAccessBlock(ctx context.Context, p Principal, bucket string) error {
	if _, err := s.bucketFor(ctx, p, bucket); err != nil {
		return err
	}
	err := s.meta.DeleteBucketConfig(ctx, bucket, publicaccess.Kind)
	s.publicAccess.forget(bucket)
	return metaErr(err, "")
}

// effectivePublicAccess is what applies to the bucket now, read from the metadata
// store rather than the cache: for the policy's management (PutBucketPolicy,
// GetBucketPolicyStatus), where another node's change of the last second must count.
func (s *Service) effectivePublicAccess(ctx context.Context, bucket string) (publicaccess.Configuration, error) {
	c, err := s.loadPublicAccess(ctx, bucket)
	if err != nil {
		return publicaccess.Configuration{}, err
	}
	return publicaccess.Effective(s.cfg.BlockPublicPolicy, c), nil
}

// restrictsPublic reports whether a public policy of the bucket is kept from letting
// anonymous callers in (RestrictPublicBuckets in force). Asked by Authorize only for an
// anonymous request under a public policy, from the cache.
func (s *Service) restrictsPublic(ctx context.Context, bucket string) (bool, error) {
	if s.cfg.BlockPublicPolicy {
		return true, nil // no need to read the bucket's
	}
	c, err := s.publicAccess.get(ctx, bucket)
	if err != nil {
		return false, err
	}
	return publicaccess.Effective(false, c).RestrictPublicBuckets, nil
}

// loadPublicAccess reads a bucket's Block Public Access configuration: nil when the
// bucket has none or does not exist.
func (s *Service) loadPublicAccess(ctx context.Context, bucket string) (*publicaccess.Configuration, error) {
	return loadConfig(ctx, s.meta, bucket, publicaccess.Kind, publicaccess.Decode)
}
