// Command bench is s3proxy's load generator and side-by-side benchmark.
//
// It starts s3proxy (fresh data directory, SQLite metadata; a second instance on
// PostgreSQL for the metadata-bound profile) and versitygw (posix backend on a
// temporary directory), runs a fixed, bounded set of profiles against each of them,
// alternating, several times, and prints every figure for both with the ratio.
//
// The clients are the real SDKs, sending what they send by default: minio-go for
// uploads (a PutObject or UploadPart of known size over plain HTTP is a signed
// aws-chunked body, STREAMING-AWS4-HMAC-SHA256-PAYLOAD), aws-sdk-go-v2 for reads,
// small objects and listings (a signed hex x-amz-content-sha256), and aws-sdk-go-v2's
// SigV4 signer on a plain net/http request for the uploads that carry their content's
// SHA-256 and Expect: 100-continue (what the aws cli sends for every part).
//
// Server cost is read from /proc: CPU seconds (utime+stime) over each run, and the
// highest resident set size sampled during it.
//
//	go run ./bench                 the full benchmark (make bench)
//	go run ./bench -short          a small smoke run (make bench-smoke; CI), which fails
//	                               only on errors, never on a timing
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// options are the command's flags.
type options struct {
	short       bool
	reps        int
	profiles    string
	s3proxyBin  string
	versitygw   string
	pgDSN       string
	redisURL    string
	requirePG   bool
	listKeys    int
	listKeysVGW int
	vgwParts    int
	out         string
	keep        bool
	only        string
	verbose     bool
	pprof       bool
	compare     string
	noSync      bool
	tls         bool
}

func main() {
	// aws-sdk-go-v2 refuses a custom CA bundle together with a custom HTTP client;
	// the benchmark talks plain HTTP on loopback, so the variable has nothing to do.
	os.Unsetenv("AWS_CA_BUNDLE")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o options
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.BoolVar(&o.short, "short", os.Getenv("BENCH_SHORT") == "1", "smoke run: tiny sizes, one repetition (also BENCH_SHORT=1)")
	fs.IntVar(&o.reps, "reps", 3, "repetitions of every profile on every server (alternating)")
	fs.StringVar(&o.profiles, "profiles", "", "comma-separated profile names to run (default all): "+strings.Join(profileNames(), ","))
	fs.StringVar(&o.only, "only", "", "run against one server only: s3proxy or versitygw")
	fs.StringVar(&o.s3proxyBin, "s3proxy", "", "s3proxy binary (default: go build ./cmd/s3proxy)")
	fs.StringVar(&o.versitygw, "versitygw", "", "versitygw binary (default: .tools/bin/versitygw, then PATH)")
	fs.StringVar(&o.pgDSN, "pg", envOr("BENCH_PG", envOr("PG_DSN", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable")), "PostgreSQL DSN for the s3proxy PostgreSQL variant (a fresh schema is created in it and dropped after; also BENCH_PG or PG_DSN, as the meta tests); empty to skip")
	fs.StringVar(&o.redisURL, "redis", envOr("BENCH_REDIS", "redis://127.0.0.1:6379/0"), "Redis for the s3proxy PostgreSQL + Redis variant (the cluster set-up; keys are namespaced per metadata store, so a shared database is safe; also BENCH_REDIS); empty to skip")
	fs.BoolVar(&o.requirePG, "require-pg", os.Getenv("CI") == "true", "fail when PostgreSQL (or, with -redis, Redis) is unreachable instead of skipping its variant")
	fs.IntVar(&o.listKeys, "list-keys", 1_000_000, "keys in the s3proxy bucket that ListObjectsV2 pages over")
	fs.IntVar(&o.listKeysVGW, "list-keys-versitygw", 100_000, "keys in the versitygw listing bucket (1M files take too long to create and list)")
	// versitygw's posix backend keeps an upload's part list in one extended attribute,
	// and on ext4 (4 KiB of xattrs per inode) completing 1,000 parts fails with
	// InsufficientStorage ("set object multipart metadata: no space left on device").
	fs.IntVar(&o.vgwParts, "complete-parts-versitygw", 100, "parts of the versitygw CompleteMultipartUpload (1,000 fail on ext4: its part list must fit in one xattr)")
	fs.StringVar(&o.out, "out", "", "also write the result tables (markdown) to this file")
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary directories (logs, data)")
	fs.BoolVar(&o.verbose, "v", false, "print every run as it finishes")
	fs.BoolVar(&o.noSync, "no-sync", false, "do not sync the filesystems before each timed run (how runs before 2026-11-29 21:00 UTC were measured)")
	fs.BoolVar(&o.pprof, "pprof", false, "serve /debug/pprof/ on s3proxy's admin listener (S3PROXY_DEBUG_PPROF=1) and print its address")
	fs.BoolVar(&o.tls, "tls", false, "serve S3 over HTTPS on both servers (a self-signed certificate the clients trust): the SDKs then send unsigned payloads with trailing checksums, and GETs cannot use sendfile")
	fs.StringVar(&o.compare, "compare", "", "a second s3proxy binary (say, built from main) run beside the first on every profile, alternating (on SQLite, and on PostgreSQL for the metadata profiles), to measure a change")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.short {
		o.reps = 1
		o.listKeys = 2000
		o.listKeysVGW = 2000
		o.vgwParts = 3
	}
	if o.reps < 1 {
		return fmt.Errorf("-reps must be at least 1")
	}
	sel, err := selectProfiles(o.profiles)
	if err != nil {
		return err
	}

	root, err := moduleRoot()
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "s3proxy-bench-")
	if err != nil {
		return err
	}
	if o.keep {
		fmt.Fprintln(stderr, "bench: keeping", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}

	env := &environment{opts: o, root: root, tmp: tmp, log: stderr}
	defer env.close()
	if err := env.start(ctx); err != nil {
		return err
	}

	started := time.Now()
	res := newResults()
	for rep := 1; rep <= o.reps; rep++ {
		for _, p := range sel {
			targets := env.targetsFor(p)
			// Alternate who goes first, so that neither side always runs on a
			// warmer (or busier) machine.
			if rep%2 == 0 {
				slices.Reverse(targets)
			}
			for _, t := range targets {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				m, err := env.runProfile(ctx, p, t, rep)
				if err != nil {
					return fmt.Errorf("%s on %s (run %d): %w", p.name, t.name, rep, err)
				}
				res.add(p, t, m)
				if o.verbose {
					fmt.Fprintf(stderr, "bench: run %d %-18s %-16s %s\n", rep, p.name, t.name, m.summary(p))
				}
			}
		}
	}
	report := res.render(sel, env, o, time.Since(started))
	fmt.Fprint(stdout, report)
	if o.out != "" {
		if err := os.WriteFile(o.out, []byte(report), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func envOr(k, def string) string {
	if v, ok := os.LookupEnv(k); ok {
		return v
	}
	return def
}

// moduleRoot finds the directory holding go.mod from the working directory upwards,
// so that the command works from anywhere inside the repository.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("not inside the s3proxy module (no go.mod above the working directory)")
		}
		dir = parent
	}
}
