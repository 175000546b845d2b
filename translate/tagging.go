package translate

import (
	"context"
	"errors"
	"maps"

	"s3proxy/meta"
)

// TaggingKey is where an object's tag set is kept among its stored headers, in the form
// of S3's x-amz-tagging header (URL query encoding: k1=v1&k2=v2), so that it travels
// with the object through every path that stores, copies, caches or completes one
// without a column or codec of its own. Representation headers are stored in their
// canonical case, so the lower-case name cannot collide with one; the API layer never
// sends it back as a header (x-amz-tagging-count instead).
const TaggingKey = "x-amz-tagging"

// withTagging returns headers with the tag set replaced by tagging ("" removes it),
// leaving headers itself untouched (it may be a cached object's).
func withTagging(headers map[string]string, tagging string) map[string]string {
	out := maps.Clone(headers)
	if out == nil {
		out = map[string]string{}
	}
	if tagging == "" {
		delete(out, TaggingKey)
	} else {
		out[TaggingKey] = tagging
	}
	return out
}

// ObjectTagging returns the tag set of the object (or of its version versionID) in
// x-amz-tagging form ("" when none), and the version's x-amz-version-id.
func (s *Service) ObjectTagging(ctx context.Context, p Principal, bucket, key, versionID string) (tags, version string, err error) {
	out, err := s.GetObject(ctx, &GetObjectInput{Principal: p, Bucket: bucket, Key: key, VersionID: versionID, HeadOnly: true})
	if err != nil {
		return "", "", err
	}
	return out.Info.Headers[TaggingKey], out.Info.VersionID, nil
}

// SetObjectTagging replaces the object's tag set (PutObjectTagging; "" for
// DeleteObjectTagging). Like S3's, it changes neither the ETag nor Last-Modified. The
// object is written again with the same manifest, conditional on its ETag, so a
// concurrent overwrite with other content is not undone: the tags then go to the new
// object, as they would had the two requests arrived the other way round. (One with the
// same content, hence the same ETag, can lose its new metadata to the old: the window is
// one metadata read wide.)
//
// With a versionID it tags that version: a noncurrent one in place, the current one as
// above. It returns the x-amz-version-id of the version tagged.
func (s *Service) SetObjectTagging(ctx context.Context, p Principal, bucket, key, versionID, tagging string) (string, error) {
	if _, err := s.bucketFor(ctx, p, bucket); err != nil {
		return "", err
	}
	return s.updateHeaders(ctx, bucket, key, versionID, func(h map[string]string) (map[string]string, error) {
		return withTagging(h, tagging), nil // the same tags: equal headers, nothing written
	})
}

// updateHeaders changes the stored headers of a version (the current one for versionID
// "") as change says, without making a new version: a noncurrent version in place, the
// current one written again with the same manifest, conditional on its ETag and
// modification time, so a concurrent overwrite with other content is not undone. Both
// writes are conditional on the lock state read, so that change judges what is
// written over. Headers equal to the version's are not written. It returns the
// x-amz-version-id of the version changed.
func (s *Service) updateHeaders(ctx context.Context, bucket, key, versionID string, change func(map[string]string) (map[string]string, error)) (string, error) {
	for attempt := 0; ; attempt++ {
		var cur meta.Object
		var err error
		if versionID == "" {
			cur, err = s.meta.GetObject(ctx, bucket, key)
			err = s.missingObject(ctx, bucket, key, err)
		} else {
			cur, err = s.getVersion(ctx, bucket, key, versionID)
		}
		if err != nil {
			return "", err
		}
		shown, err := s.shownVersion(ctx, cur)
		if err != nil {
			return "", err
		}
		next, err := change(cur.Headers)
		if err != nil {
			return "", err
		}
		if maps.Equal(next, cur.Headers) {
			return shown, nil
		}
		if versionID != "" {
			// A noncurrent version is changed in place; the current one (not found among
			// the noncurrent) is written again below.
			err := s.meta.SetVersionHeaders(ctx, bucket, key, cur.VersionID, next, lockState(cur.Headers))
			if err == nil {
				return shown, nil
			}
			if errors.Is(err, meta.ErrPreconditionFailed) && attempt < 3 {
				continue
			}
			if !errors.Is(err, meta.ErrNotFound) {
				return "", s.writeErr(err)
			}
			if cur, err = s.meta.GetObject(ctx, bucket, key); err != nil || cur.VersionID != versionID {
				if attempt < 3 {
					continue // became current, or was replaced, meanwhile: look again
				}
				return "", errorf(CodeNoSuchVersion, "The specified version does not exist.")
			}
			if next, err = change(cur.Headers); err != nil {
				return "", err
			}
		}
		o := cur
		o.Headers = next
		o.Manifest = stripChunks(cur.Manifest)
		// Rewritten in place (meta.Unversioned keeps its version id), pinned to the
		// version read: not a new version.
		_, err = s.meta.PutObject(ctx, o, meta.WriteCondition{IfMatch: cur.ETag, IfModTime: cur.ModTime, IfHeaders: lockState(cur.Headers)})
		if (errors.Is(err, meta.ErrConflict) || errors.Is(err, meta.ErrPreconditionFailed)) && attempt < 3 {
			continue // replaced or deleted meanwhile: read it again
		}
		if err != nil {
			return "", s.writeErr(err)
		}
		return shown, nil
	}
}

// StoredTags returns the tag set stored with bucket/key (its current version, or the
// one versionID names) in the x-amz-tagging form, for a bucket policy's
// s3:ExistingObjectTag conditions. It checks no access itself: it runs inside the
// authorization that asks. ok is false when there is no such object or version (a
// delete marker included): the condition key is then absent, as on S3.
func (s *Service) StoredTags(ctx context.Context, bucket, key, versionID string) (tags string, ok bool, err error) {
	o, err := s.readVersion(ctx, bucket, key, versionID)
	var te *Error
	if errors.Is(err, meta.ErrNotFound) || errors.As(err, &te) && (te.Code == CodeNoSuchKey || te.Code == CodeNoSuchVersion ||
		te.Code == CodeMethodNotAllowed || te.Code == CodeInvalidArgument) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	if o.DeleteMarker {
		return "", false, nil
	}
	return o.Headers[TaggingKey], true, nil
}
