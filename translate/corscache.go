package translate

import (
	"context"
	"errors"

	"s3proxy/meta"
	"s3proxy/translate/cors"
)

// loadCORS reads a bucket's configuration from the metadata store: nil when the bucket
// has none or does not exist.
func (s *Service) loadCORS(ctx context.Context, bucket string) (*cors.Configuration, error) {
	c, err := s.meta.GetBucketConfig(ctx, bucket, cors.Kind)
	if errors.Is(err, meta.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, metaErr(err, "")
	}
	cfg, err := cors.Decode(c.Value)
	if err != nil {
		return nil, wrapErr(CodeInternalError, err)
	}
	return &cfg, nil
}
