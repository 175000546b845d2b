package translate

import (
	"context"
	"errors"
	"maps"
	"time"

	"s3proxy/meta"
	"s3proxy/translate/bucketdoc"
)

// Object Lock: S3's write-once-read-many protection of object versions.
//
// A bucket's Object Lock configuration is a bucket configuration document (kind
// ObjectLockKind), read through the per-node configuration cache. A bucket gets one when
// it is created with Object Lock (which also enables versioning) or, once versioning is
// enabled, by PutObjectLockConfiguration; it is never removed, and versioning can then
// no longer be suspended, as on S3.
//
// A version's lock state (its retention mode and date, and its legal hold) is kept among
// its stored headers under the names of S3's headers (LockModeKey, LockUntilKey,
// LegalHoldKey), as tags are: it travels with the version through every path that
// stores, archives, caches or completes one, and GET and HEAD answer it as S3 does. It is
// set on a write (from the request's headers or the bucket's default retention) and by
// PutObjectRetention and PutObjectLegalHold; a copy never takes the source's.
//
// What it protects is a version from removal by id (DeleteObject with a versionId,
// DeleteObjects, lifecycle): a version under a legal hold, or retained in COMPLIANCE
// mode, or in GOVERNANCE mode without the bypass, is refused with AccessDenied. The
// removal is conditional on the lock state it was judged by (meta.VersionCondition's
// IfHeaders), so a hold placed meanwhile wins. Writes and deletes without a version id
// make new versions and delete markers, which S3 allows on locked objects too.

// ObjectLockKind is the bucket configuration kind of the Object Lock configuration.
const ObjectLockKind = "objectLock"

// Retention modes.
const (
	LockGovernance = "GOVERNANCE"
	LockCompliance = "COMPLIANCE"
)

// The stored headers holding a version's lock state.
const (
	LockModeKey  = "x-amz-object-lock-mode"
	LockUntilKey = "x-amz-object-lock-retain-until-date"
	LegalHoldKey = "x-amz-object-lock-legal-hold"
)

// lockTimeFormat is how a retain-until date is stored and answered (S3's ISO 8601).
const lockTimeFormat = "2006-01-02T15:04:05.000Z"

// ObjectLockConfig is a bucket's Object Lock configuration: enabled, and optionally a
// default retention (Mode with Days or Years) for versions written without one.
type ObjectLockConfig struct {
	Mode  string `json:"mode,omitempty"`
	Days  int    `json:"days,omitempty"`
	Years int    `json:"years,omitempty"`
}

// LockRequest is the lock state a write asks for (x-amz-object-lock-* headers); s3api
// has validated each value.
type LockRequest struct {
	Mode        string
	RetainUntil time.Time
	LegalHold   string // ON, OFF or ""
}

func (r *LockRequest) empty() bool {
	return r == nil || r.Mode == "" && r.RetainUntil.IsZero() && r.LegalHold == ""
}

func decodeObjectLock(v string) (ObjectLockConfig, error) {
	var c ObjectLockConfig
	err := bucketdoc.Decode(ObjectLockKind, v, &c)
	return c, err
}

// loadObjectLock reads a bucket's Object Lock configuration (nil: none, or no bucket).
func (s *Service) loadObjectLock(ctx context.Context, bucket string) (*ObjectLockConfig, error) {
	return loadConfig(ctx, s.meta, bucket, ObjectLockKind, decodeObjectLock)
}

func errObjectLocked() *Error {
	return errorf(CodeAccessDenied, "Access Denied because object protected by object lock.")
}

func errNoObjectLock() *Error {
	return errorf(CodeInvalidRequest, "Bucket is missing Object Lock Configuration")
}

// EnableObjectLock turns Object Lock on for a bucket being created with it
// (x-amz-bucket-object-lock-enabled): versioning enabled, no default retention.
func (s *Service) EnableObjectLock(ctx context.Context, p Principal, bucket string) error {
	if err := s.SetBucketVersioning(ctx, p, bucket, VersioningEnabled); err != nil {
		return err
	}
	return s.putObjectLock(ctx, bucket, ObjectLockConfig{})
}

func (s *Service) putObjectLock(ctx context.Context, bucket string, c ObjectLockConfig) error {
	doc, err := bucketdoc.Encode(ObjectLockKind, c)
	if err != nil {
		return wrapErr(CodeInternalError, err)
	}
	err = s.meta.PutBucketConfig(ctx, meta.BucketConfig{Bucket: bucket, Kind: ObjectLockKind, Value: doc})
	s.objectLocks.forget(bucket)
	return metaErr(err, CodeNoSuchBucket)
}

// ObjectLockConfiguration returns the bucket's configuration (GetObjectLockConfiguration);
// ok is false when Object Lock is not enabled on it.
func (s *Service) ObjectLockConfiguration(ctx context.Context, p Principal, bucket string) (cfg ObjectLockConfig, ok bool, err error) {
	if _, err := s.bucketFor(ctx, p, bucket); err != nil {
		return cfg, false, err
	}
	c, err := s.loadObjectLock(ctx, bucket)
	if err != nil || c == nil {
		return cfg, false, err
	}
	return *c, true, nil
}

// SetObjectLockConfiguration enables Object Lock on a versioned bucket, or replaces its
// default retention (PutObjectLockConfiguration; s3api has validated cfg).
func (s *Service) SetObjectLockConfiguration(ctx context.Context, p Principal, bucket string, cfg ObjectLockConfig) error {
	if _, err := s.bucketFor(ctx, p, bucket); err != nil {
		return err
	}
	cur, err := s.loadObjectLock(ctx, bucket)
	if err != nil {
		return err
	}
	if cur == nil {
		st, err := s.loadVersioning(ctx, bucket)
		if err != nil {
			return err
		}
		if st == nil || *st != VersioningEnabled {
			return errorf("InvalidBucketState", "Versioning must be 'Enabled' on the bucket to apply a Object Lock configuration")
		}
	}
	return s.putObjectLock(ctx, bucket, cfg)
}

// lockedVersioning refuses to suspend versioning on a bucket with Object Lock.
func (s *Service) lockedVersioning(ctx context.Context, bucket, status string) error {
	if status == VersioningEnabled {
		return nil
	}
	c, err := s.loadObjectLock(ctx, bucket)
	if err != nil {
		return err
	}
	if c != nil {
		return errorf("InvalidBucketState", "An Object Lock configuration is present on this bucket, so the versioning state cannot be changed.")
	}
	return nil
}

// withLock returns headers with the lock state a write into bucket gets: what the
// request asks for or, without a retention asked for, the bucket's default retention.
// Lock state the headers carried (a copy's source's) is dropped first. headers itself
// is left untouched (it may be a cached object's).
func (s *Service) withLock(ctx context.Context, bucket string, headers map[string]string, req *LockRequest) (map[string]string, error) {
	cfg, err := s.objectLocks.get(ctx, bucket)
	if err != nil {
		return nil, err
	}
	if cfg == nil {
		if !req.empty() {
			return nil, errorf(CodeInvalidRequest, "Bucket is missing ObjectLockConfiguration")
		}
		if headers[LockModeKey] == "" && headers[LockUntilKey] == "" && headers[LegalHoldKey] == "" {
			return headers, nil
		}
	}
	out := maps.Clone(headers)
	if out == nil {
		out = map[string]string{}
	}
	delete(out, LockModeKey)
	delete(out, LockUntilKey)
	delete(out, LegalHoldKey)
	switch {
	case req != nil && req.Mode != "":
		out[LockModeKey], out[LockUntilKey] = req.Mode, req.RetainUntil.UTC().Format(lockTimeFormat)
	case cfg != nil && cfg.Mode != "":
		until := s.now().UTC().AddDate(cfg.Years, 0, cfg.Days)
		out[LockModeKey], out[LockUntilKey] = cfg.Mode, until.Format(lockTimeFormat)
	}
	if req != nil && req.LegalHold != "" {
		out[LegalHoldKey] = req.LegalHold
	}
	return out, nil
}

// locks reports whether a version with these headers is locked when written: a
// retention or a legal hold.
func locks(h map[string]string) bool {
	return h[LockModeKey] != "" || h[LegalHoldKey] == "ON"
}

// errLockNeedsIntegrity refuses a locked write (a PutObject, or a part of an upload
// that will be locked) whose body nothing checks. S3 requires a Content-MD5 or a
// checksum of every PutObject with Object Lock parameters, the bucket's default
// retention included, since a body corrupted on the way would be locked in. A signed
// payload proves the same, and s3proxy verifies it as it does the others: it takes
// those too, so that clients that sign their payloads and send no MD5 (kopia,
// Cyberduck and s3fs all meet S3's refusal) can write to a locked bucket.
func errLockNeedsIntegrity(request string) *Error {
	return errorf(CodeInvalidRequest, "Content-MD5 OR x-amz-checksum- HTTP header is required for %s requests with Object Lock parameters", request)
}

// lockState is the part of a version's headers that decides whether it may be removed:
// what a removal is conditional on ("" for absent).
func lockState(h map[string]string) map[string]string {
	return map[string]string{LockModeKey: h[LockModeKey], LockUntilKey: h[LockUntilKey], LegalHoldKey: h[LegalHoldKey]}
}

// retainedUntil is a version's retain-until date (zero when none).
func retainedUntil(h map[string]string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, h[LockUntilKey])
	if err != nil {
		return time.Time{}
	}
	return t
}

// removable reports whether a version with headers h may be removed at now: no legal
// hold, and no retention in force (GOVERNANCE gives way to bypass).
func removable(h map[string]string, now time.Time, bypass bool) bool {
	if h[LegalHoldKey] == "ON" {
		return false
	}
	if h[LockModeKey] == "" || !now.Before(retainedUntil(h)) {
		return true
	}
	return h[LockModeKey] == LockGovernance && bypass
}

// removeVersion removes one version by id, as DeleteObject with a versionId, DeleteObjects
// and lifecycle do: in a bucket with Object Lock only a version no lock protects, and
// only while its lock state is what it was judged by.
func (s *Service) removeVersion(ctx context.Context, bucket, key, versionID string, cond meta.VersionCondition, bypass bool) (meta.Object, error) {
	cfg, err := s.objectLocks.get(ctx, bucket)
	if err != nil {
		return meta.Object{}, err
	}
	if cfg == nil {
		return s.meta.DeleteObjectVersion(ctx, bucket, key, versionID, cond)
	}
	for attempt := 0; ; attempt++ {
		v, err := s.meta.GetObjectVersion(ctx, bucket, key, versionID)
		if err != nil {
			return meta.Object{}, err
		}
		if !v.DeleteMarker && !removable(v.Headers, s.now(), bypass) {
			return meta.Object{}, errObjectLocked()
		}
		c := cond
		c.IfHeaders = lockState(v.Headers)
		out, err := s.meta.DeleteObjectVersion(ctx, bucket, key, versionID, c)
		if errors.Is(err, meta.ErrPreconditionFailed) && !cond.OnlyNoncurrent && attempt < 3 {
			continue // its lock changed meanwhile: judge it again
		}
		return out, err
	}
}

// lockedVersion reads a version (the current one for versionID "") of a bucket with
// Object Lock for the retention and legal-hold requests, and its x-amz-version-id.
func (s *Service) lockedVersion(ctx context.Context, p Principal, bucket, key, versionID string) (meta.Object, string, error) {
	if _, err := s.bucketFor(ctx, p, bucket); err != nil {
		return meta.Object{}, "", err
	}
	// The version first, as S3 answers: a missing key before a bucket without Object Lock.
	o, err := s.readVersion(ctx, bucket, key, versionID)
	if err != nil {
		return meta.Object{}, "", err
	}
	cfg, err := s.objectLocks.get(ctx, bucket)
	if err != nil {
		return meta.Object{}, "", err
	}
	if cfg == nil {
		return meta.Object{}, "", errNoObjectLock()
	}
	shown, err := s.shownVersion(ctx, o)
	return o, shown, err
}

// ObjectRetention returns a version's retention (GetObjectRetention):
// NoSuchObjectLockConfiguration when it has none.
func (s *Service) ObjectRetention(ctx context.Context, p Principal, bucket, key, versionID string) (mode string, until time.Time, version string, err error) {
	o, shown, err := s.lockedVersion(ctx, p, bucket, key, versionID)
	if err != nil {
		return "", time.Time{}, "", err
	}
	if o.Headers[LockModeKey] == "" {
		return "", time.Time{}, shown, errorf("NoSuchObjectLockConfiguration", "The specified object does not have a ObjectLock configuration.")
	}
	return o.Headers[LockModeKey], retainedUntil(o.Headers), shown, nil
}

// SetObjectRetention sets a version's retention (PutObjectRetention; mode "" removes
// it). A COMPLIANCE retention can only be extended; a GOVERNANCE one can be shortened,
// changed or removed only with bypass.
func (s *Service) SetObjectRetention(ctx context.Context, p Principal, bucket, key, versionID, mode string, until time.Time, bypass bool) (string, error) {
	if _, _, err := s.lockedVersion(ctx, p, bucket, key, versionID); err != nil {
		return "", err
	}
	return s.updateHeaders(ctx, bucket, key, versionID, func(h map[string]string) (map[string]string, error) {
		now := s.now()
		if cur := h[LockModeKey]; cur != "" && now.Before(retainedUntil(h)) {
			weaker := mode != cur || until.Before(retainedUntil(h))
			if weaker && (cur == LockCompliance || !bypass) {
				return nil, errObjectLocked()
			}
		}
		out := maps.Clone(h)
		if out == nil {
			out = map[string]string{}
		}
		if mode == "" {
			delete(out, LockModeKey)
			delete(out, LockUntilKey)
		} else {
			out[LockModeKey], out[LockUntilKey] = mode, until.UTC().Format(lockTimeFormat)
		}
		return out, nil
	})
}

// ObjectLegalHold returns a version's legal hold (GetObjectLegalHold):
// NoSuchObjectLockConfiguration when none was ever set.
func (s *Service) ObjectLegalHold(ctx context.Context, p Principal, bucket, key, versionID string) (status, version string, err error) {
	o, shown, err := s.lockedVersion(ctx, p, bucket, key, versionID)
	if err != nil {
		return "", "", err
	}
	if o.Headers[LegalHoldKey] == "" {
		return "", shown, errorf("NoSuchObjectLockConfiguration", "The specified object does not have a ObjectLock configuration.")
	}
	return o.Headers[LegalHoldKey], shown, nil
}

// SetObjectLegalHold places (ON) or lifts (OFF) a version's legal hold.
func (s *Service) SetObjectLegalHold(ctx context.Context, p Principal, bucket, key, versionID, status string) (string, error) {
	if _, _, err := s.lockedVersion(ctx, p, bucket, key, versionID); err != nil {
		return "", err
	}
	return s.updateHeaders(ctx, bucket, key, versionID, func(h map[string]string) (map[string]string, error) {
		out := maps.Clone(h)
		if out == nil {
			out = map[string]string{}
		}
		out[LegalHoldKey] = status
		return out, nil
	})
}
