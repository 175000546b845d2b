package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"s3proxy/meta"
	"s3proxy/translate"
)

// errLifecycleFailed makes `s3proxy lifecycle` exit non-zero after its report.
type errLifecycleFailed struct{ n int64 }

func (e errLifecycleFailed) Error() string {
	return fmt.Sprintf("%d objects or uploads could not be expired or aborted (see the log)", e.n)
}

// lifecycleCmd runs a lifecycle pass now (what servers do every lifecycle_interval):
// due objects expired, due uploads aborted, in every bucket with a configuration or in
// one (--bucket). --dry-run lists what is due and changes nothing; with --at it lists
// what will be due at that instant.
func lifecycleCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var bucket, at *string
	var dryRun *bool
	cfg, err := loadConfig(args, getenv, stderr, "lifecycle", func(fs *flag.FlagSet) {
		bucket = fs.String("bucket", "", "only this bucket")
		dryRun = fs.Bool("dry-run", false, "list what is due; change nothing")
		at = fs.String("at", "", "with --dry-run: list what is due at this time (2026-07-01 or 2026-07-01T12:00:00Z) instead of now")
	})
	if err != nil {
		return err
	}
	opts := translate.LifecycleOptions{Bucket: *bucket, DryRun: *dryRun}
	if *at != "" {
		if !*dryRun {
			return fmt.Errorf("--at needs --dry-run: a pass expires only what is due now")
		}
		if opts.At, err = parseAt(*at); err != nil {
			return err
		}
	}
	if err := cfg.EnsureNodeID(); err != nil {
		return err
	}
	log := newLogger(cfg, stderr)
	a, err := openApp(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.close()
	if !*dryRun {
		// Servers' passes and this one never overlap.
		release, err := holdAdminLock(ctx, a.meta, lockLifecycle, cfg.NodeID+"/lifecycle-cli", stderr)
		if err != nil {
			return err
		}
		defer release()
	}
	verb := map[bool]string{false: "expired", true: "would expire"}[*dryRun]
	prog := newProgress(stderr, log, "lifecycle")
	opts.Progress = func(r translate.LifecycleResult) {
		prog.update(progressState{done: r.Objects + r.Uploads, unit: "objects and uploads examined",
			note: fmt.Sprintf("%d %s, %d uploads", r.Expired, verb, r.Aborted), fields: []any{"expired", r.Expired, "aborted", r.Aborted}})
	}
	if *dryRun {
		opts.OnAction = func(act translate.LifecycleAction) {
			switch act.Kind {
			case translate.ActionExpire:
				fmt.Fprintf(stdout, "expire %s/%s (%s, rule %s)\n", act.Bucket, act.Key, human(act.Size), act.RuleID)
			case translate.ActionAbort:
				fmt.Fprintf(stdout, "abort %s/%s upload %s (rule %s)\n", act.Bucket, act.Key, act.UploadID, act.RuleID)
			case translate.ActionExpireVersion:
				fmt.Fprintf(stdout, "expire %s/%s version %s (%s, rule %s)\n", act.Bucket, act.Key, translate.ListedVersionID(act.VersionID), human(act.Size), act.RuleID)
			case translate.ActionRemoveMarker:
				fmt.Fprintf(stdout, "remove delete marker %s/%s version %s (rule %s)\n", act.Bucket, act.Key, translate.ListedVersionID(act.VersionID), act.RuleID)
			}
		}
	}
	res, err := a.svc.ApplyLifecycle(ctx, opts)
	prog.finish()
	if err != nil {
		return err
	}
	aborted := map[bool]string{false: "aborted", true: "would abort"}[*dryRun]
	fmt.Fprintf(stdout, "%s %d objects (%s) and %s %d multipart uploads in %d buckets with lifecycle rules; %d changed since listed and left for the next pass; %d errors\n",
		verb, res.Expired, human(res.ExpiredBytes), aborted, res.Aborted, res.Buckets, res.Changed, res.Errors)
	if res.Versions > 0 {
		removed := map[bool]string{false: "removed", true: "would remove"}[*dryRun]
		fmt.Fprintf(stdout, "%s %d noncurrent versions (%s) and %d expired delete markers of %d versions examined\n",
			removed, res.NoncurrentExpired, human(res.NoncurrentBytes), res.MarkersRemoved, res.Versions)
	}
	if res.Errors > 0 {
		return errLifecycleFailed{n: res.Errors}
	}
	return nil
}

func parseAt(v string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339, time.DateOnly} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("--at %q: want a date (2026-07-01) or a UTC time (2026-07-01T12:00:00Z)", v)
}

// holdAdminLock takes a lock that servers' background work also takes, waiting while
// another holder runs, and keeps it (renewing a short expiry, so that a crashed command
// does not block servers for long) until release is called.
func holdAdminLock(ctx context.Context, ms meta.MetaStore, name, owner string, stderr io.Writer) (release func(), err error) {
	const ttl = 2 * time.Minute
	for {
		ok, err := ms.TryLock(ctx, name, owner, ttl)
		if err != nil {
			return nil, err
		}
		if ok {
			break
		}
		fmt.Fprintf(stderr, "waiting for a running %s pass to finish…\n", name)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(ttl / 4)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				_, _ = ms.TryLock(context.WithoutCancel(ctx), name, owner, ttl)
			}
		}
	}()
	return func() {
		close(done)
		<-stopped
		_ = ms.Unlock(context.WithoutCancel(ctx), name, owner)
	}, nil
}
