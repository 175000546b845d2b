package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"s3proxy/cmd/s3proxy/config"
	"s3proxy/dedup"
)

// migrate moves chunks to another backend: s3proxy migrate --to NAME [--bucket B]; with
// --rekey it re-encrypts the chunks of the encrypting backend NAME under its current key.
// It works while servers run (they follow moved chunks); a lock keeps two migrations
// from running at once.
func migrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var to, bucket *string
	var delay *time.Duration
	var workers *int
	var rekey *bool
	cfg, err := loadConfig(args, getenv, stderr, "migrate", func(fs *flag.FlagSet) {
		to = fs.String("to", "", "backend to move chunks to (required)")
		bucket = fs.String("bucket", "", "move only the chunks of this bucket's objects")
		delay = fs.Duration("delete-delay", 30*time.Second, "keep each moved chunk's old copy this long for reads in flight")
		workers = fs.Int("workers", 4, "chunks copied at once")
		rekey = fs.Bool("rekey", false, "re-encrypt, on the encrypting backend --to, its chunks that use a key other than its current one (to retire an old key)")
	})
	if err != nil {
		return err
	}
	if *to == "" {
		return errors.New("--to is required: the name of a configured backend")
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
	if _, ok := a.stores[*to]; !ok {
		return fmt.Errorf("--to %q: no such backend (configured: %s)", *to, strings.Join(backendNames(cfg.Backends), ", "))
	}
	if *bucket != "" {
		if _, err := a.meta.GetBucket(ctx, *bucket); err != nil {
			return fmt.Errorf("--bucket %q: %w", *bucket, err)
		}
	}
	owner := cfg.NodeID + "/migrate"
	ok, err := a.meta.TryLock(ctx, "migrate", owner, 24*time.Hour)
	if err != nil {
		return err
	}
	if !ok {
		return errors.New("another migration is running (lock \"migrate\")")
	}
	defer a.meta.Unlock(context.WithoutCancel(ctx), "migrate", owner)

	prog := newProgress(stderr, log, "migrate")
	p, err := a.dedup.Migrate(ctx, dedup.MigrateOptions{To: *to, Bucket: *bucket, DeleteDelay: *delay, Workers: *workers, Rekey: *rekey,
		Progress: func(m dedup.MigrateProgress) {
			// With --rekey the total is every chunk of the backend, and those already under
			// the current key are done too.
			prog.update(progressState{done: m.Chunks + m.Current, total: m.TotalChunks, bytes: m.Bytes, totalBytes: m.TotalBytes, final: m.Done,
				note: plural(m.Failed, "failed"), fields: []any{"skipped", m.Skipped, "failed", m.Failed, "current", m.Current}})
		}})
	prog.finish()
	if *rekey {
		fmt.Fprintf(stdout, "re-encrypted %d chunks (%s) on %s; %d already under the current key, %d skipped, %d failed\n",
			p.Chunks, human(p.Bytes), *to, p.Current, p.Skipped, p.Failed)
		return err
	}
	fmt.Fprintf(stdout, "moved %d chunks (%s) to %s; %d skipped, %d failed\n", p.Chunks, human(p.Bytes), *to, p.Skipped, p.Failed)
	return err
}

func backendNames(bs []config.Backend) []string {
	names := make([]string, len(bs))
	for i, b := range bs {
		names[i] = b.Name
	}
	return names
}
