package translate

import (
	"context"

	"s3proxy/meta"
)

// Server-side encryption (SSE-S3). A chunk is encrypted at rest exactly when it lives
// on a backend that encrypts (backends/encrypt); a bucket is encrypted when its
// placement is such a backend. Objects written into an encrypted bucket reference only
// encrypted chunks: content found already stored in clear (by deduplication, an instant
// upload, a copy) is moved onto the bucket's backend before or as the write commits.

// objectEncrypted reports whether every byte of an object is at rest encrypted: every
// chunk its manifest references is on an encrypting backend (an inline chunk is not).
// An empty object has no bytes; it counts as encrypted in an encrypted bucket.
func (s *Service) objectEncrypted(b meta.Bucket, manifest []meta.Extent) bool {
	if len(manifest) == 0 {
		return b.Name != "" && s.dedup.Encrypted(b.Backend)
	}
	for _, e := range manifest {
		if e.Chunk.Backend == "" || !s.dedup.Encrypted(e.Chunk.Backend) {
			return false
		}
	}
	return true
}

// ensureEncrypted moves the chunks of manifest that are stored in clear to bucket b's
// encrypting backend. A failure is an InternalError: the write asked for encryption at
// rest and would not have it.
func (s *Service) ensureEncrypted(ctx context.Context, b meta.Bucket, manifest []meta.Extent) error {
	chunks := make([]meta.Chunk, 0, len(manifest))
	for _, e := range manifest {
		if !s.dedup.Encrypted(e.Chunk.Backend) {
			chunks = append(chunks, e.Chunk)
		}
	}
	if len(chunks) == 0 {
		return nil
	}
	if err := s.dedup.EnsureEncrypted(ctx, b.Backend, chunks); err != nil {
		s.log.Error("translate: content of an encrypted bucket could not be moved to its encrypting backend", "bucket", b.Name, "err", err)
		return wrapErr(CodeInternalError, err)
	}
	return nil
}
