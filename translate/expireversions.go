package translate

import (
	"context"
	"errors"
	"fmt"
	"time"

	"s3proxy/meta"
	"s3proxy/translate/lifecycle"
)

// Lifecycle of versions: NoncurrentVersionExpiration and ExpiredObjectDeleteMarker.
//
// A version becomes noncurrent when the next newer version of its key (an object or a
// delete marker) is written, so its noncurrent age runs from that version's time: a
// key's versions are read newest first, and each one's noncurrent time is the
// modification time of the one read before it. A delete marker is expired when it is
// its key's only version.
//
// Versions are removed the way DeleteObject removes one by id, but never the current
// version (meta.MetaStore.DeleteObjectVersion with onlyNoncurrent): one judged
// noncurrent that has become current meanwhile (the versions above it removed) is left
// alone. The listing resumes after the last version of a page, which must still exist
// to be found: a page's removals are carried out after the next page is read.

// versionAction is a removal decided by a pass, carried out later.
type versionAction struct {
	act    LifecycleAction
	marker bool
}

// versionWalk is where a pass stands among a key's versions.
type versionWalk struct {
	key   string
	since time.Time // when the next version read became noncurrent
	newer int       // noncurrent versions of the key read so far (newer than the next)
	// lone is the key's latest version when it is a delete marker and, so far, the
	// key's only version.
	lone *meta.Object
}

// versions removes the due noncurrent versions and expired delete markers under prefix.
func (p *lifecyclePass) versions(ctx context.Context, bucket, prefix string, rules []lifecycle.Rule) error {
	q := meta.VersionListQuery{Prefix: prefix, Limit: p.opts.page}
	var w versionWalk
	var pending []versionAction
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		page, err := p.s.meta.ListObjectVersions(ctx, bucket, q)
		if errors.Is(err, meta.ErrNotFound) {
			return nil // the bucket went away
		}
		if err != nil {
			return fmt.Errorf("lifecycle: list versions %s/%s: %w", bucket, prefix, err)
		}
		if err := p.runVersionActions(ctx, pending); err != nil {
			return err
		}
		pending = pending[:0]
		for _, v := range page.Versions {
			p.res.Versions++
			if v.Key != w.key {
				pending = p.loneMarker(w, rules, pending)
				w = versionWalk{key: v.Key}
			}
			if v.IsLatest {
				w.since = v.ModTime
				if v.DeleteMarker {
					w.lone = &v
				}
				continue
			}
			w.lone = nil
			if a, ok, err := p.judgeVersion(ctx, v, w, rules); err != nil {
				return err
			} else if ok {
				pending = append(pending, a)
			}
			w.newer++
			w.since = v.ModTime
		}
		p.progress()
		if !page.Truncated || page.NextVersionIDMarker == nil {
			break
		}
		q.KeyMarker, q.VersionIDMarker = page.NextKeyMarker, page.NextVersionIDMarker
	}
	return p.runVersionActions(ctx, p.loneMarker(w, rules, pending))
}

// loneMarker adds the removal of w's key's delete marker when it was the key's only
// version and a rule removes expired markers there.
func (p *lifecyclePass) loneMarker(w versionWalk, rules []lifecycle.Rule, pending []versionAction) []versionAction {
	if w.lone == nil {
		return pending
	}
	for _, r := range rules {
		// A marker has no tags and no size: a rule filtering on either does not select it.
		if r.RemovesExpiredMarkers() && !r.Filter.NeedsTags() && r.Filter.SizeGreaterThan == nil && r.Filter.SizeLessThan == nil &&
			r.Filter.SelectsKeySize(w.lone.Key, 0) {
			return append(pending, versionAction{marker: true, act: LifecycleAction{Kind: ActionRemoveMarker,
				Bucket: w.lone.Bucket, Key: w.lone.Key, VersionID: w.lone.VersionID, RuleID: r.ID}})
		}
	}
	return pending
}

// judgeVersion decides whether noncurrent version v (as listed: no headers) is due.
func (p *lifecyclePass) judgeVersion(ctx context.Context, v meta.Object, w versionWalk, rules []lifecycle.Rule) (versionAction, bool, error) {
	var tags map[string]string
	for _, r := range rules {
		due, ok := r.NoncurrentExpiresAt(w.since, w.newer)
		if !ok || p.now.Before(due) || !r.Filter.SelectsKeySize(v.Key, v.Size) {
			continue
		}
		if r.Filter.NeedsTags() {
			if v.DeleteMarker {
				continue
			}
			if tags == nil {
				full, err := p.s.meta.GetObjectVersion(ctx, v.Bucket, v.Key, v.VersionID)
				if errors.Is(err, meta.ErrNotFound) {
					p.res.Changed++
					return versionAction{}, false, nil
				}
				if err != nil {
					return versionAction{}, false, p.failed(ctx, "read tags of a version of", v.Bucket, v.Key, err)
				}
				if tags, err = tagsOf(full.Headers); err != nil {
					return versionAction{}, false, p.failed(ctx, "parse tags of a version of", v.Bucket, v.Key, err)
				}
			}
			if !r.Filter.SelectsTags(tags) {
				continue
			}
		}
		return versionAction{act: LifecycleAction{Kind: ActionExpireVersion, Bucket: v.Bucket, Key: v.Key, VersionID: v.VersionID,
			Size: v.Size, RuleID: r.ID}}, true, nil
	}
	return versionAction{}, false, nil
}

// runVersionActions carries out (or, in a dry run, reports) removals decided earlier.
func (p *lifecyclePass) runVersionActions(ctx context.Context, acts []versionAction) error {
	for _, a := range acts {
		if p.opts.DryRun {
			locked, err := p.lockedNow(ctx, a)
			if err != nil {
				if err := p.failed(ctx, "read the lock of a version of", a.act.Bucket, a.act.Key, err); err != nil {
					return err
				}
				continue
			}
			if locked {
				p.res.Locked++
				continue
			}
		} else {
			_, err := p.s.removeVersion(ctx, a.act.Bucket, a.act.Key, a.act.VersionID, meta.VersionCondition{OnlyNoncurrent: !a.marker}, false)
			if errors.Is(err, meta.ErrPreconditionFailed) || errors.Is(err, meta.ErrNotFound) {
				p.res.Changed++ // became current, or was removed, meanwhile
				continue
			}
			var te *Error
			if errors.As(err, &te) && te.Code == CodeAccessDenied {
				p.res.Locked++ // Object Lock protects it: S3's lifecycle leaves it too
				continue
			}
			if err != nil {
				if err := p.failed(ctx, "remove a version of", a.act.Bucket, a.act.Key, err); err != nil {
					return err
				}
				continue
			}
		}
		if a.marker {
			p.res.MarkersRemoved++
		} else {
			p.res.NoncurrentExpired++
			p.res.NoncurrentBytes += a.act.Size
		}
		if p.opts.OnAction != nil {
			p.opts.OnAction(a.act)
		}
	}
	return nil
}

// lockedNow reports, for a dry run, whether Object Lock would keep a's version at the
// pass's instant, so that the report counts it as the real pass would. (A real removal
// is conditional on the lock state of the row it removes.)
func (p *lifecyclePass) lockedNow(ctx context.Context, a versionAction) (bool, error) {
	if a.marker {
		return false, nil // a delete marker carries no lock
	}
	cfg, err := p.s.objectLocks.get(ctx, a.act.Bucket)
	if err != nil || cfg == nil {
		return false, err
	}
	v, err := p.s.meta.GetObjectVersion(ctx, a.act.Bucket, a.act.Key, a.act.VersionID)
	if errors.Is(err, meta.ErrNotFound) {
		return false, nil // removed meanwhile: the real pass would count it as changed
	}
	if err != nil {
		return false, err
	}
	return !removable(v.Headers, p.now, false), nil
}
