package translate

import (
	"context"
	"crypto/rand"
	"errors"
	"time"

	"github.com/oklog/ulid/v2"

	"s3proxy/meta"
)

// Bucket versioning. A bucket's state is a bucket configuration document (kind
// VersioningKind: "Enabled" or "Suspended"; none for a bucket never versioned), read
// through a per-node cache like CORS and lifecycle: another node applies a change
// within configCacheTTL (S3 itself asks clients to wait after enabling versioning).
// What a write does with the version it replaces is the metadata store's
// (meta.Versioning); here versions get their ids and their S3 names.

// VersioningKind is the bucket configuration kind holding the versioning state.
const VersioningKind = "versioning"

// Versioning states (VersioningConfiguration's Status).
const (
	VersioningEnabled   = "Enabled"
	VersioningSuspended = "Suspended"
)

// NullVersion is how S3 names the null version: the version of every object written
// while versioning was never enabled or was suspended.
const NullVersion = "null"

// newVersionID makes a version id: a ULID (26 characters of Crockford base32: the
// millisecond, then 80 random bits), so that ids are URL-safe, never "null", and a
// key's versions sort by age for anyone reading them. versitygw makes the same kind.
func newVersionID(now time.Time) string {
	return ulid.MustNew(ulid.Timestamp(now), rand.Reader).String()
}

// storedVersionID turns a version id from a request into the store's form: "null" is
// the null version (""), anything else must be an id s3proxy could have made (a ULID),
// or the request is refused as S3 refuses a malformed one; a well-formed id of no
// version is the caller's NoSuchVersion.
func storedVersionID(id string) (string, error) {
	if id == NullVersion {
		return "", nil
	}
	if _, err := ulid.ParseStrict(id); err != nil {
		return "", invalidVersionID(id)
	}
	return id, nil
}

func invalidVersionID(id string) *Error {
	e := errorf(CodeInvalidArgument, "Invalid version id specified")
	e.Extra = map[string]string{"ArgumentName": "versionId", "ArgumentValue": id}
	return e
}

// shownVersionID is the x-amz-version-id S3 answers for a version of a bucket in mode:
// none for a bucket never versioned, "null" for the null version.
func shownVersionID(id string, mode meta.Versioning) string {
	switch {
	case id != "":
		return id
	case mode == meta.Unversioned:
		return ""
	default:
		return NullVersion
	}
}

// ListedVersionID is a version id as a listing (or a report) shows it: the null
// version is "null" there even in a bucket never versioned.
func ListedVersionID(id string) string {
	if id == "" {
		return NullVersion
	}
	return id
}

func decodeVersioning(v string) (string, error) { return v, nil }

// loadVersioning reads a bucket's versioning state (nil: never enabled, or no bucket).
func (s *Service) loadVersioning(ctx context.Context, bucket string) (*string, error) {
	return loadConfig(ctx, s.meta, bucket, VersioningKind, decodeVersioning)
}

// versioningOf is the bucket's versioning state as writes apply it.
func (s *Service) versioningOf(ctx context.Context, bucket string) (meta.Versioning, error) {
	st, err := s.versionings.get(ctx, bucket)
	if err != nil || st == nil {
		return meta.Unversioned, err
	}
	switch *st {
	case VersioningEnabled:
		return meta.VersionsEnabled, nil
	case VersioningSuspended:
		return meta.VersionsSuspended, nil
	}
	return meta.Unversioned, nil
}

// BucketVersioning returns the bucket's versioning state (GetBucketVersioning): "" for
// a bucket never versioned.
func (s *Service) BucketVersioning(ctx context.Context, p Principal, bucket string) (string, error) {
	if _, err := s.bucketFor(ctx, p, bucket); err != nil {
		return "", err
	}
	st, err := s.loadVersioning(ctx, bucket)
	if err != nil || st == nil {
		return "", err
	}
	return *st, nil
}

// SetBucketVersioning enables or suspends versioning (PutBucketVersioning). As on S3 a
// bucket once versioned is never unversioned again: it can only be suspended.
func (s *Service) SetBucketVersioning(ctx context.Context, p Principal, bucket, status string) error {
	if _, err := s.bucketFor(ctx, p, bucket); err != nil {
		return err
	}
	if status != VersioningEnabled && status != VersioningSuspended {
		return errorf(CodeMalformedXML, "The XML you provided was not well-formed or did not validate against our published schema")
	}
	if err := s.lockedVersioning(ctx, bucket, status); err != nil {
		return err
	}
	err := s.meta.PutBucketConfig(ctx, meta.BucketConfig{Bucket: bucket, Kind: VersioningKind, Value: status})
	s.versionings.forget(bucket)
	return metaErr(err, CodeNoSuchBucket)
}

// versionedWrite prepares a write of o into its bucket: the condition learns the
// bucket's versioning state, and o a new version id when versioning is enabled (the
// null version otherwise).
func (s *Service) versionedWrite(ctx context.Context, o *meta.Object, cond meta.WriteCondition) (meta.WriteCondition, error) {
	mode, err := s.versioningOf(ctx, o.Bucket)
	if err != nil {
		return cond, err
	}
	cond.Versioning = mode
	o.VersionID = ""
	if mode == meta.VersionsEnabled {
		o.VersionID = newVersionID(s.now())
	}
	return cond, nil
}

// DeleteResult is what a DELETE did, in S3's terms: the version it removed or the
// delete marker it made (VersionID, "" for a bucket never versioned). Versioned is set
// in a bucket with versioning, whose answers always say whether a marker was involved.
type DeleteResult struct {
	VersionID    string
	DeleteMarker bool
	Versioned    bool
}

// deleteVersioned deletes bucket/key in a bucket with versioning (mode other than
// Unversioned): without a version id, a delete marker becomes the newest version; with
// one, that version is removed for good (nothing to remove is no error, as on S3).
func (s *Service) deleteVersioned(ctx context.Context, bucket, key, versionID, owner string, mode meta.Versioning, cond meta.WriteCondition, bypass bool) (DeleteResult, error) {
	if versionID == "" {
		m, err := s.putDeleteMarker(ctx, bucket, key, owner, mode, cond)
		if err != nil {
			return DeleteResult{}, metaErr(err, CodeNoSuchKey)
		}
		return DeleteResult{VersionID: shownVersionID(m.VersionID, mode), DeleteMarker: true, Versioned: true}, nil
	}
	stored, err := storedVersionID(versionID)
	if err != nil {
		return DeleteResult{}, err
	}
	old, err := s.removeVersion(ctx, bucket, key, stored, meta.VersionCondition{}, bypass)
	if errors.Is(err, meta.ErrNotFound) {
		return DeleteResult{VersionID: versionID, Versioned: true}, nil
	}
	if err != nil {
		return DeleteResult{}, metaErr(err, CodeNoSuchKey)
	}
	return DeleteResult{VersionID: versionID, DeleteMarker: old.DeleteMarker, Versioned: true}, nil
}

// readVersion reads the current version of bucket/key (versionID "") or the one named.
func (s *Service) readVersion(ctx context.Context, bucket, key, versionID string) (meta.Object, error) {
	if versionID != "" {
		return s.getVersion(ctx, bucket, key, versionID)
	}
	o, err := s.meta.GetObject(ctx, bucket, key)
	if err != nil {
		return meta.Object{}, s.missingObject(ctx, bucket, key, err)
	}
	return o, nil
}

// shownVersion is the x-amz-version-id of o: its id, or for the null version "null"
// in a bucket that has versioning and nothing in one never versioned.
func (s *Service) shownVersion(ctx context.Context, o meta.Object) (string, error) {
	if o.VersionID != "" {
		return o.VersionID, nil
	}
	mode, err := s.versioningOf(ctx, o.Bucket)
	return shownVersionID("", mode), err
}

// putDeleteMarker makes a delete marker the newest version of bucket/key under mode
// (not Unversioned) and cond, and returns it.
func (s *Service) putDeleteMarker(ctx context.Context, bucket, key, owner string, mode meta.Versioning, cond meta.WriteCondition) (meta.Object, error) {
	m := meta.Object{Bucket: bucket, Key: key, Owner: owner, ModTime: s.now().UTC()}
	if mode == meta.VersionsEnabled {
		m.VersionID = newVersionID(s.now())
	}
	cond.Versioning = mode
	_, err := s.meta.PutDeleteMarker(ctx, m, cond)
	return m, err
}

// getVersion reads one version for GET, HEAD or a copy source. A delete marker named
// by its id is MethodNotAllowed (405) with the marker's headers, as on S3; a version
// that does not exist is NoSuchVersion.
func (s *Service) getVersion(ctx context.Context, bucket, key, versionID string) (meta.Object, error) {
	stored, err := storedVersionID(versionID)
	if err != nil {
		return meta.Object{}, err
	}
	o, err := s.meta.GetObjectVersion(ctx, bucket, key, stored)
	if errors.Is(err, meta.ErrNotFound) {
		e := errorf(CodeNoSuchVersion, "The specified version does not exist.")
		e.Extra = map[string]string{"Key": key, "VersionId": versionID}
		return meta.Object{}, e
	}
	if err != nil {
		return meta.Object{}, metaErr(err, CodeNoSuchKey)
	}
	if o.DeleteMarker {
		e := errorf(CodeMethodNotAllowed, "The specified method is not allowed against this resource.")
		e.Extra = map[string]string{"Method": "GET", "ResourceType": "DeleteMarker"}
		e.Headers = map[string]string{"x-amz-delete-marker": "true", "x-amz-version-id": versionID,
			"Last-Modified": o.ModTime.UTC().Format(time.RFC1123)}
		return meta.Object{}, e
	}
	return o, nil
}

// missingObject is the NoSuchKey for a key without a current version; in a bucket with
// versioning, when the key's newest version is a delete marker, it carries the marker's
// headers as S3's does.
func (s *Service) missingObject(ctx context.Context, bucket, key string, err error) error {
	e := metaErr(err, CodeNoSuchKey)
	var te *Error
	if !errors.Is(err, meta.ErrNotFound) || !errors.As(e, &te) || te.Code != CodeNoSuchKey {
		return e
	}
	mode, verr := s.versioningOf(ctx, bucket)
	if verr != nil || mode == meta.Unversioned {
		return e
	}
	res, lerr := s.meta.ListObjectVersions(ctx, bucket, meta.VersionListQuery{Prefix: key, Limit: 1})
	if lerr != nil || len(res.Versions) == 0 {
		return e
	}
	if v := res.Versions[0]; v.Key == key && v.DeleteMarker && v.IsLatest {
		te.Headers = map[string]string{"x-amz-delete-marker": "true", "x-amz-version-id": shownVersionID(v.VersionID, mode)}
	}
	return te
}

// ListVersionsInput is one page of ListObjectVersions.
type ListVersionsInput struct {
	Principal       Principal
	Bucket          string
	Prefix          string
	Delimiter       string
	KeyMarker       string
	VersionIDMarker string
	MaxKeys         int
}

// VersionInfo is one entry of a version listing: a version or a delete marker.
type VersionInfo struct {
	ObjectInfo
	IsLatest     bool
	DeleteMarker bool
}

// ListVersionsOutput is one page of versions.
type ListVersionsOutput struct {
	Versions            []VersionInfo
	CommonPrefixes      []string
	Truncated           bool
	NextKeyMarker       string
	NextVersionIDMarker string
}

// ListObjectVersions lists every version of the bucket's keys (keys in byte order,
// each key's versions newest first), delete markers among them. A bucket never
// versioned lists its objects as their null versions.
func (s *Service) ListObjectVersions(ctx context.Context, in *ListVersionsInput) (*ListVersionsOutput, error) {
	if _, err := s.bucketFor(ctx, in.Principal, in.Bucket); err != nil {
		return nil, err
	}
	q := meta.VersionListQuery{Prefix: in.Prefix, Delimiter: in.Delimiter, KeyMarker: in.KeyMarker, Limit: min(in.MaxKeys, 1000)}
	if in.VersionIDMarker != "" {
		if in.KeyMarker == "" {
			return nil, errorf(CodeInvalidArgument, "A version-id marker cannot be specified without a key marker.")
		}
		stored, err := storedVersionID(in.VersionIDMarker)
		if err != nil {
			return nil, err
		}
		q.VersionIDMarker = &stored
	}
	if in.MaxKeys <= 0 {
		return &ListVersionsOutput{}, nil
	}
	res, err := s.meta.ListObjectVersions(ctx, in.Bucket, q)
	if errors.Is(err, meta.ErrInvalid) {
		return nil, invalidVersionID(in.VersionIDMarker)
	}
	if err != nil {
		return nil, metaErr(err, CodeNoSuchBucket)
	}
	out := &ListVersionsOutput{CommonPrefixes: res.CommonPrefixes, Truncated: res.Truncated, NextKeyMarker: res.NextKeyMarker}
	if res.NextVersionIDMarker != nil {
		out.NextVersionIDMarker = ListedVersionID(*res.NextVersionIDMarker)
	}
	for _, v := range res.Versions {
		info := infoOf(v)
		info.VersionID = ListedVersionID(v.VersionID)
		out.Versions = append(out.Versions, VersionInfo{ObjectInfo: info, IsLatest: v.IsLatest, DeleteMarker: v.DeleteMarker})
	}
	return out, nil
}
