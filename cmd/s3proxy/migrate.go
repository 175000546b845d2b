package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"s3proxy/cmd/s3proxy/config"
	"s3proxy/dedup"
)

// migrate moves chunks to another backend: s3proxy migrate --to NAME [--bucket B].
// It works while servers run (they follow moved chunks); a lock keeps two migrations
// from running at once.
func migrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var to, bucket *string
	var delay *time.Duration
	var workers *int
	cfg, err := loadConfig(args, getenv, stderr, "migrate", func(fs *flag.FlagSet) {
		to = fs.String("to", "", "backend to move chunks to (required)")
		bucket = fs.String("bucket", "", "move only the chunks of this bucket's objects")
		delay = fs.Duration("delete-delay", 30*time.Second, "keep each moved chunk's old copy this long for reads in flight")
		workers = fs.Int("workers", 4, "chunks copied at once")
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

	prog := newProgress(stderr, log)
	p, err := a.dedup.Migrate(ctx, dedup.MigrateOptions{To: *to, Bucket: *bucket, DeleteDelay: *delay, Workers: *workers, Progress: prog.update})
	prog.finish()
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

// progress shows a migration's progress: a bar redrawn in place when stderr is a
// terminal, a log line every few seconds otherwise (so that logs stay readable).
type progress struct {
	w     io.Writer
	log   *slog.Logger
	tty   bool
	start time.Time
	mu    sync.Mutex
	last  time.Time
	drawn bool
}

func newProgress(w io.Writer, log *slog.Logger) *progress {
	tty := false
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil {
			tty = fi.Mode()&os.ModeCharDevice != 0
		}
	}
	return &progress{w: w, log: log, tty: tty, start: time.Now()}
}

func (p *progress) update(m dedup.MigrateProgress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	every := 5 * time.Second
	if p.tty {
		every = 100 * time.Millisecond
	}
	if !m.Done && now.Sub(p.last) < every {
		return
	}
	p.last = now
	rate := float64(m.Bytes) / max(now.Sub(p.start).Seconds(), 0.001)
	if !p.tty {
		p.log.Info("migrate progress", "chunks", m.Chunks, "of", m.TotalChunks, "bytes", m.Bytes, "total_bytes", m.TotalBytes,
			"skipped", m.Skipped, "failed", m.Failed, "bytes_per_second", int64(rate))
		return
	}
	fmt.Fprintf(p.w, "\r%s", bar(m, rate))
	p.drawn = true
}

func (p *progress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		fmt.Fprintln(p.w)
	}
}

// bar renders one line: [=====>     ]  45%  123/456 chunks  1.2 GiB/3.4 GiB  12.3 MiB/s
func bar(m dedup.MigrateProgress, rate float64) string {
	const width = 30
	frac := 1.0
	if m.TotalBytes > 0 {
		frac = float64(m.Bytes) / float64(m.TotalBytes)
	} else if m.TotalChunks > 0 {
		frac = float64(m.Chunks) / float64(m.TotalChunks)
	}
	frac = min(max(frac, 0), 1)
	filled := int(frac * width)
	b := strings.Repeat("=", filled)
	if filled < width {
		b += ">" + strings.Repeat(" ", width-filled-1)
	}
	line := fmt.Sprintf("[%s] %3.0f%%  %d/%d chunks  %s/%s  %s/s", b, frac*100, m.Chunks, m.TotalChunks,
		human(m.Bytes), human(m.TotalBytes), human(int64(rate)))
	if m.Failed > 0 {
		line += fmt.Sprintf("  %d failed", m.Failed)
	}
	return line + "\033[K" // clear what a longer previous line left
}
