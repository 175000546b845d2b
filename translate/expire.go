package translate

import (
	"context"
	"errors"
	"fmt"
	"time"

	"s3proxy/meta"
	"s3proxy/translate/lifecycle"
)

// Lifecycle actions, as LifecycleAction.Kind names them.
const (
	ActionExpire = "expire" // a current object deleted by an Expiration
	ActionAbort  = "abort"  // an upload aborted by an AbortIncompleteMultipartUpload
	// ActionExpireVersion: a noncurrent version removed by a NoncurrentVersionExpiration.
	ActionExpireVersion = "expire-version"
	// ActionRemoveMarker: an expired delete marker (its key's only version) removed by
	// an Expiration with ExpiredObjectDeleteMarker.
	ActionRemoveMarker = "remove-marker"
)

// LifecycleOptions tune one lifecycle pass.
type LifecycleOptions struct {
	// Bucket limits the pass to one bucket ("": every bucket with a configuration).
	Bucket string
	// DryRun reports what is due (OnAction) and changes nothing.
	DryRun bool
	// At evaluates the rules as of this instant instead of the service's clock (a dry
	// run's "what would be due then").
	At time.Time
	// OnAction is told of every object expired and upload aborted (in a dry run: due),
	// in the pass's goroutine.
	OnAction func(LifecycleAction)
	// Progress receives the running totals after each page of keys or uploads.
	Progress func(LifecycleResult)

	page int // keys or uploads read at once (tests); 0: lifecyclePage
}

// LifecycleAction is one thing a pass did (or, in a dry run, would do).
type LifecycleAction struct {
	Kind      string // ActionExpire, ActionAbort, ActionExpireVersion or ActionRemoveMarker
	Bucket    string
	Key       string
	UploadID  string // ActionAbort
	VersionID string // ActionExpireVersion, ActionRemoveMarker ("" the null version)
	Size      int64  // ActionExpire, ActionExpireVersion
	RuleID    string
}

// LifecycleResult counts what a pass did.
type LifecycleResult struct {
	Buckets      int   // buckets with an enabled expiration or abort rule
	Objects      int64 // objects examined
	Uploads      int64 // uploads examined
	Expired      int64 // objects deleted (in a dry run: due)
	ExpiredBytes int64
	Aborted      int64 // uploads aborted (in a dry run: due)
	Versions     int64 // noncurrent versions and delete markers examined
	// NoncurrentExpired counts noncurrent versions removed (in a dry run: due).
	NoncurrentExpired int64
	NoncurrentBytes   int64
	MarkersRemoved    int64 // expired delete markers removed (in a dry run: due)
	Locked            int64 // due versions Object Lock kept
	// Changed counts objects and uploads found due that were overwritten, retagged,
	// deleted or completed before the action, which then left them alone.
	Changed int64
	// Errors counts objects and uploads whose action failed; the pass went on.
	Errors int64
}

// lifecyclePage is how many keys or uploads a pass reads at once: a pass never holds
// more than one page of a bucket.
const lifecyclePage = 1000

// ApplyLifecycle runs one lifecycle pass: in every bucket with a lifecycle configuration
// (or opts.Bucket), it deletes the current objects an enabled Expiration rule has made
// due and aborts the uploads an enabled AbortIncompleteMultipartUpload rule has.
//
// Keys are read a page at a time from the listing index, under the fewest prefixes
// that cover the rules; tags are read (one object lookup) only for an object that a
// tag-filtered rule would otherwise select. A delete goes the way DeleteObject's goes
// (references released in the same transaction, caches invalidated, chunks left to the
// collector), pinned to the version judged: the ETag and the modification time listed,
// and, when tags decided, the tag set read; an object overwritten or retagged meanwhile
// is left alone (Changed) and judged again by the next pass. An error on one object or
// upload is logged and counted and the pass goes on; one reading the store, or a
// cancelled ctx, ends it.
func (s *Service) ApplyLifecycle(ctx context.Context, opts LifecycleOptions) (LifecycleResult, error) {
	p := &lifecyclePass{s: s, opts: opts, now: opts.At}
	if p.opts.page <= 0 {
		p.opts.page = lifecyclePage
	}
	if p.now.IsZero() {
		p.now = s.now()
	}
	p.now = p.now.UTC()
	if opts.Bucket != "" {
		c, err := s.meta.GetBucketConfig(ctx, opts.Bucket, lifecycle.Kind)
		if errors.Is(err, meta.ErrNotFound) {
			return p.res, nil
		}
		if err != nil {
			return p.res, fmt.Errorf("lifecycle of %s: %w", opts.Bucket, err)
		}
		return p.res, p.bucket(ctx, c)
	}
	after := ""
	for {
		cs, err := s.meta.ListBucketConfigs(ctx, lifecycle.Kind, after, p.opts.page)
		if err != nil {
			return p.res, fmt.Errorf("lifecycle: list configurations: %w", err)
		}
		for _, c := range cs {
			if err := p.bucket(ctx, c); err != nil {
				return p.res, err
			}
		}
		if len(cs) < p.opts.page {
			return p.res, nil
		}
		after = cs[len(cs)-1].Bucket
	}
}

// lifecyclePass is the state of one ApplyLifecycle.
type lifecyclePass struct {
	s    *Service
	opts LifecycleOptions
	now  time.Time
	res  LifecycleResult
}

func (p *lifecyclePass) bucket(ctx context.Context, c meta.BucketConfig) error {
	cfg, err := lifecycle.Decode(c.Value)
	if err != nil {
		p.res.Errors++
		p.s.log.Error("lifecycle: unreadable configuration; bucket skipped", "bucket", c.Bucket, "err", err)
		return nil
	}
	var expire, abort, versions []lifecycle.Rule
	for _, r := range cfg.Rules {
		if r.Expires() {
			expire = append(expire, r)
		}
		if r.Aborts() {
			abort = append(abort, r)
		}
		if r.ExpiresNoncurrent() || r.RemovesExpiredMarkers() {
			versions = append(versions, r)
		}
	}
	if len(versions) > 0 {
		// A bucket never versioned has no noncurrent version nor delete marker.
		if mode, err := p.s.versioningOf(ctx, c.Bucket); err != nil || mode == meta.Unversioned {
			versions = nil
		}
	}
	if len(expire) == 0 && len(abort) == 0 && len(versions) == 0 {
		return nil
	}
	p.res.Buckets++
	before := p.res
	for _, prefix := range lifecycle.ScanPrefixes(expire) {
		if err := p.objects(ctx, c.Bucket, prefix, expire); err != nil {
			return err
		}
	}
	for _, prefix := range lifecycle.ScanPrefixes(abort) {
		if err := p.uploads(ctx, c.Bucket, prefix, abort); err != nil {
			return err
		}
	}
	for _, prefix := range lifecycle.ScanPrefixes(versions) {
		if err := p.versions(ctx, c.Bucket, prefix, versions); err != nil {
			return err
		}
	}
	if d := p.res.Expired - before.Expired + p.res.Aborted - before.Aborted + p.res.Errors - before.Errors +
		p.res.NoncurrentExpired - before.NoncurrentExpired + p.res.MarkersRemoved - before.MarkersRemoved; d > 0 {
		p.s.log.Info("lifecycle: bucket done", "bucket", c.Bucket, "dry_run", p.opts.DryRun,
			"expired", p.res.Expired-before.Expired, "expired_bytes", p.res.ExpiredBytes-before.ExpiredBytes,
			"noncurrent_expired", p.res.NoncurrentExpired-before.NoncurrentExpired,
			"noncurrent_bytes", p.res.NoncurrentBytes-before.NoncurrentBytes,
			"markers_removed", p.res.MarkersRemoved-before.MarkersRemoved,
			"aborted", p.res.Aborted-before.Aborted, "changed", p.res.Changed-before.Changed, "errors", p.res.Errors-before.Errors)
	}
	return nil
}

// objects expires the due objects under prefix, a page at a time. Deleting keys behind
// the listing position does not disturb the next page, which starts after the last key
// listed.
func (p *lifecyclePass) objects(ctx context.Context, bucket, prefix string, rules []lifecycle.Rule) error {
	after := ""
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		page, err := p.s.meta.ListObjects(ctx, bucket, meta.ListQuery{Prefix: prefix, After: after, Limit: p.opts.page})
		if errors.Is(err, meta.ErrNotFound) {
			return nil // the bucket went away
		}
		if err != nil {
			return fmt.Errorf("lifecycle: list %s/%s: %w", bucket, prefix, err)
		}
		for _, o := range page.Objects {
			p.res.Objects++
			if err := p.object(ctx, o, rules); err != nil {
				return err
			}
		}
		p.progress()
		if !page.Truncated || len(page.Objects) == 0 {
			return nil
		}
		after = page.NextAfter
	}
}

// object expires o (as listed: no headers) if a rule makes it due.
func (p *lifecyclePass) object(ctx context.Context, o meta.Object, rules []lifecycle.Rule) error {
	var byTags []lifecycle.Rule
	for _, r := range rules {
		if !r.Filter.SelectsKeySize(o.Key, o.Size) {
			continue
		}
		if due, _ := r.ExpiresAt(o.ModTime); p.now.Before(due) {
			continue
		}
		if r.Filter.NeedsTags() {
			byTags = append(byTags, r)
			continue
		}
		return p.expire(ctx, o, r, meta.WriteCondition{IfMatch: o.ETag, IfModTime: o.ModTime})
	}
	if len(byTags) == 0 {
		return nil
	}
	// The listing has no tags: read them, from the version listed.
	cur, err := p.s.meta.GetObject(ctx, o.Bucket, o.Key)
	switch {
	case errors.Is(err, meta.ErrNotFound):
		p.res.Changed++
		return nil
	case err != nil:
		return p.failed(ctx, "read tags of", o.Bucket, o.Key, err)
	case cur.ETag != o.ETag || !cur.ModTime.Equal(o.ModTime):
		p.res.Changed++ // overwritten since listed: the next pass judges the new version
		return nil
	}
	tagging := cur.Headers[TaggingKey]
	tags, err := tagsOf(cur.Headers)
	if err != nil {
		return p.failed(ctx, "parse tags of", o.Bucket, o.Key, err)
	}
	for _, r := range byTags {
		if r.Filter.SelectsTags(tags) {
			return p.expire(ctx, o, r, meta.WriteCondition{IfMatch: o.ETag, IfModTime: o.ModTime,
				IfHeaders: map[string]string{TaggingKey: tagging}})
		}
	}
	return nil
}

// expireObject deletes o as S3's Expiration action does: removed in a bucket never
// versioned, hidden behind a delete marker (made by the bucket's owner) in one with
// versioning, where its version stays until removed by version.
func (s *Service) expireObject(ctx context.Context, o meta.Object, cond meta.WriteCondition) error {
	mode, err := s.versioningOf(ctx, o.Bucket)
	if err != nil {
		return err
	}
	if mode == meta.Unversioned {
		return s.removeObject(ctx, o.Bucket, o.Key, cond)
	}
	owner := ""
	if b, err := s.meta.GetBucket(ctx, o.Bucket); err == nil {
		owner = b.Owner
	}
	_, err = s.putDeleteMarker(ctx, o.Bucket, o.Key, owner, mode, cond)
	return err
}

// expire deletes o under rule r, if o is still the version cond describes.
func (p *lifecyclePass) expire(ctx context.Context, o meta.Object, r lifecycle.Rule, cond meta.WriteCondition) error {
	act := LifecycleAction{Kind: ActionExpire, Bucket: o.Bucket, Key: o.Key, Size: o.Size, RuleID: r.ID}
	if !p.opts.DryRun {
		err := p.s.expireObject(ctx, o, cond)
		if errors.Is(err, meta.ErrPreconditionFailed) || errors.Is(err, meta.ErrNotFound) {
			p.res.Changed++
			return nil
		}
		if err != nil {
			return p.failed(ctx, "expire", o.Bucket, o.Key, err)
		}
	}
	p.res.Expired++
	p.res.ExpiredBytes += o.Size
	if p.opts.OnAction != nil {
		p.opts.OnAction(act)
	}
	return nil
}

// uploads aborts the due uploads under prefix, a page at a time.
func (p *lifecyclePass) uploads(ctx context.Context, bucket, prefix string, rules []lifecycle.Rule) error {
	q := meta.UploadListQuery{Prefix: prefix, Limit: p.opts.page}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		page, err := p.s.meta.ListUploads(ctx, bucket, q)
		if errors.Is(err, meta.ErrNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("lifecycle: list uploads %s/%s: %w", bucket, prefix, err)
		}
		for _, u := range page.Uploads {
			p.res.Uploads++
			if err := p.upload(ctx, u, rules); err != nil {
				return err
			}
		}
		p.progress()
		if !page.Truncated || len(page.Uploads) == 0 {
			return nil
		}
		q.KeyMarker, q.UploadIDMarker = page.NextKeyMarker, page.NextUploadIDMarker
	}
}

func (p *lifecyclePass) upload(ctx context.Context, u meta.Upload, rules []lifecycle.Rule) error {
	for _, r := range rules {
		if !r.Filter.SelectsUpload(u.Key) {
			continue
		}
		if due, _ := r.AbortsAt(u.Initiated); p.now.Before(due) {
			continue
		}
		if !p.opts.DryRun {
			err := p.s.meta.AbortUpload(ctx, u.ID)
			if errors.Is(err, meta.ErrNotFound) {
				p.res.Changed++ // completed or aborted meanwhile
				return nil
			}
			if err != nil {
				return p.failed(ctx, "abort upload "+u.ID+" of", u.Bucket, u.Key, err)
			}
		}
		p.res.Aborted++
		if p.opts.OnAction != nil {
			p.opts.OnAction(LifecycleAction{Kind: ActionAbort, Bucket: u.Bucket, Key: u.Key, UploadID: u.ID, RuleID: r.ID})
		}
		return nil
	}
	return nil
}

// failed decides what an error on one object or upload means: a cancelled pass or an
// unreachable store ends the pass; anything else is logged and counted, and the pass
// goes on to the next key.
func (p *lifecyclePass) failed(ctx context.Context, what, bucket, key string, err error) error {
	if ctx.Err() != nil || errors.Is(err, meta.ErrUnavailable) {
		return fmt.Errorf("lifecycle: %s %s/%s: %w", what, bucket, key, err)
	}
	p.res.Errors++
	p.s.log.Warn("lifecycle: "+what+" failed", "bucket", bucket, "key", key, "err", err)
	return nil
}

func (p *lifecyclePass) progress() {
	if p.opts.Progress != nil {
		p.opts.Progress(p.res)
	}
}
