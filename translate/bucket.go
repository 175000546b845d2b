package translate

import (
	"context"
	"errors"
	"net"
	"strings"
	"time"

	"s3proxy/meta"
	"s3proxy/translate/buckettags"
)

// BucketInfo describes a bucket.
type BucketInfo struct {
	Name      string
	Owner     string
	Region    string
	CreatedAt time.Time
	// Encrypted: the bucket's chunks go to a backend that encrypts at rest (SSE-S3).
	Encrypted bool
}

// ValidBucketName applies S3's general-purpose bucket naming rules.
func ValidBucketName(name string) bool {
	if len(name) < 3 || len(name) > 63 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-') {
			return false
		}
	}
	first, last := name[0], name[len(name)-1]
	if first == '.' || first == '-' || last == '.' || last == '-' {
		return false
	}
	if strings.Contains(name, "..") || strings.Contains(name, ".-") || strings.Contains(name, "-.") {
		return false
	}
	// Only digits and dots can spell an address here (':' is not a bucket character);
	// checking that first keeps net.ParseIP, which allocates an error for every name
	// that is not one, off the path every request takes.
	if strings.Trim(name, "0123456789.") == "" && net.ParseIP(name) != nil {
		return false
	}
	for _, p := range []string{"xn--", "sthree-", "amzn-s3-demo-"} {
		if strings.HasPrefix(name, p) {
			return false
		}
	}
	for _, sfx := range []string{"-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"} {
		if strings.HasSuffix(name, sfx) {
			return false
		}
	}
	return true
}

// bucketFor loads a bucket and checks the principal may use it.
func (s *Service) bucketFor(ctx context.Context, p Principal, name string) (meta.Bucket, error) {
	if !ValidBucketName(name) {
		// S3 answers names it could never have created as missing buckets.
		return meta.Bucket{}, errorf(CodeNoSuchBucket, "The specified bucket does not exist")
	}
	b, ok := s.buckets.get(name)
	if !ok {
		var err error
		if b, err = s.meta.GetBucket(ctx, name); err != nil {
			return b, metaErr(err, CodeNoSuchBucket)
		}
		s.buckets.put(b)
	}
	if !p.Admin && b.Owner != p.AccessKey && !p.grants(name) {
		return b, errorf(CodeAccessDenied, "Access Denied")
	}
	// The configured placement is the bucket's backend now, also for a bucket created
	// before it was set (docs/configuration.md: migrate a bucket, then set its
	// placement); what the bucket row recorded at creation holds otherwise.
	if name, ok := s.cfg.Placement[b.Name]; ok {
		b.Backend = name
	}
	return b, nil
}

// ListBuckets lists the buckets the principal owns (all of them for an admin).
func (s *Service) ListBuckets(ctx context.Context, p Principal) ([]BucketInfo, error) {
	bs, err := s.meta.ListBuckets(ctx)
	if err != nil {
		return nil, metaErr(err, "")
	}
	out := make([]BucketInfo, 0, len(bs))
	for _, b := range bs {
		if p.Admin || b.Owner == p.AccessKey {
			out = append(out, BucketInfo{Name: b.Name, Owner: b.Owner, Region: b.Region, CreatedAt: b.CreatedAt})
		}
	}
	return out, nil
}

// CreateBucket creates a bucket owned by the principal, with tags when CreateBucket's
// configuration carries them (S3 since 2025), which s3api has checked.
func (s *Service) CreateBucket(ctx context.Context, p Principal, name, location string, tags buckettags.Set) error {
	if !ValidBucketName(name) {
		return errorf(CodeInvalidBucketName, "The specified bucket is not valid.")
	}
	if location != "" && location != s.cfg.Region && !(location == "US" && s.cfg.Region == "us-east-1") {
		return &Error{Code: "InvalidLocationConstraint", Message: "The specified location-constraint is not valid for this server's region " + s.cfg.Region + "."}
	}
	b := meta.Bucket{Name: name, Owner: p.AccessKey, Region: s.cfg.Region, Backend: s.cfg.Placement[name], CreatedAt: s.now().UTC()}
	err := s.meta.CreateBucket(ctx, b)
	if errors.Is(err, meta.ErrAlreadyExists) {
		cur, gerr := s.meta.GetBucket(ctx, name)
		if gerr == nil && cur.Owner == p.AccessKey {
			return errorf(CodeBucketAlreadyOwnedByYou, "Your previous request to create the named bucket succeeded and you already own it.")
		}
		return errorf(CodeBucketAlreadyExists, "The requested bucket name is not available.")
	}
	// Configurations cached for an earlier bucket of this name are not this one's.
	s.forgetConfigs(name)
	if err != nil || len(tags) == 0 {
		return metaErr(err, "")
	}
	// The metadata store creates a bucket and its configurations in separate
	// transactions: a bucket whose tags cannot be stored is deleted again, so that the
	// request fails as a whole (the bucket is new and empty; a client that raced to
	// write into it in between keeps it, and the error says the tags are missing).
	if err := s.putBucketTags(ctx, name, tags); err != nil {
		if derr := s.meta.DeleteBucket(ctx, name); derr != nil && !errors.Is(derr, meta.ErrNotFound) {
			s.log.Error("bucket created without its tags", "bucket", name, "err", err, "delete_err", derr)
		}
		s.buckets.forget(name)
		return err
	}
	return nil
}

// HeadBucket checks that the bucket exists and the principal may use it.
func (s *Service) HeadBucket(ctx context.Context, p Principal, name string) (BucketInfo, error) {
	b, err := s.bucketFor(ctx, p, name)
	if err != nil {
		return BucketInfo{}, err
	}
	return BucketInfo{Name: b.Name, Owner: b.Owner, Region: b.Region, CreatedAt: b.CreatedAt, Encrypted: s.dedup.Encrypted(b.Backend)}, nil
}

// DeleteBucket deletes a bucket that holds no objects. Multipart uploads in progress go
// with it, aborted in the same metadata transaction, as on S3: `aws s3 rb --force` and
// `mc rb --force` delete the objects but leave uploads, and must still succeed.
func (s *Service) DeleteBucket(ctx context.Context, p Principal, name string) error {
	if _, err := s.bucketFor(ctx, p, name); err != nil {
		return err
	}
	mode, err := s.versioningOf(ctx, name)
	if err != nil {
		return err
	}
	s.buckets.forget(name)
	err = s.meta.DeleteBucket(ctx, name)
	s.buckets.forget(name) // a request racing the delete may have cached it again
	s.forgetConfigs(name)  // the configurations went with the bucket
	if errors.Is(err, meta.ErrNotEmpty) {
		if mode != meta.Unversioned {
			return errorf(CodeBucketNotEmpty, "The bucket you tried to delete is not empty. You must delete all versions in the bucket.")
		}
		return errorf(CodeBucketNotEmpty, "The bucket you tried to delete is not empty")
	}
	return metaErr(err, CodeNoSuchBucket)
}

// forgetConfigs drops the bucket's cached configuration documents.
func (s *Service) forgetConfigs(bucket string) {
	s.cors.forget(bucket)
	s.lifecycles.forget(bucket)
	s.policies.forget(bucket)
	s.versionings.forget(bucket)
	s.objectLocks.forget(bucket)
	s.publicAccess.forget(bucket)
}
