// Command s3proxy is an S3-compatible gateway that stores every object
// content-addressed and deduplicated. Subcommands: serve (default), stats, gc,
// lifecycle, migrate, verify, version. Run `s3proxy help` for usage.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/redis/go-redis/v9"
)

// quietRedis discards go-redis's internal log lines.
type quietRedis struct{}

func (quietRedis) Printf(context.Context, string, ...any) {}

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	// go-redis prints every failed dial through its own process-wide logger; the cache
	// reports outages itself (once, structured, with a counter), so mute the library.
	// Set here, in the process's entry point, because it is process-wide.
	redis.SetLogger(quietRedis{})
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `usage: s3proxy [command] [flags]

commands:
  serve     serve the S3 API (default)
  stats     print stored and logical bytes, dedup ratio, counts (--json)
  gc        collect chunks unreferenced for longer than --gc-grace, and blobs a
            crash left behind, now (servers also do it every --gc-interval)
  lifecycle apply the buckets' lifecycle rules now (servers do it every
            --lifecycle-interval): expire due objects, abort due uploads
            [--bucket B]; --dry-run [--at 2026-07-01] lists what is due
  migrate   move chunks to another backend while serving: --to NAME
            [--bucket B] [--delete-delay 30s] [--workers 4]
  verify    re-read chunks and check their SHA-256; report missing and corrupt
            chunks with the objects using them (--bucket, --sample N); --repair
            restores them from a copy in another backend or marks them corrupt.
            Exits non-zero when a problem remains.
  healthcheck  exit 0 when this node's /readyz answers 200 (for container health checks)
  version   print the version

Every setting is a flag, an S3PROXY_* environment variable and a YAML key;
see docs/configuration.md. 'serve' is the default command.
`

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "serve":
		err = serve(ctx, args, getenv, stdout, stderr)
	case "stats":
		err = stats(ctx, args, getenv, stdout, stderr)
	case "gc":
		err = gc(ctx, args, getenv, stdout, stderr)
	case "migrate":
		err = migrate(ctx, args, getenv, stdout, stderr)
	case "lifecycle":
		err = lifecycleCmd(ctx, args, getenv, stdout, stderr)
	case "healthcheck":
		err = healthcheck(ctx, args, getenv, stderr)
	case "verify":
		err = verify(ctx, args, getenv, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "s3proxy", version)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "s3proxy: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "s3proxy %s: %v\n", cmd, err)
		return 1
	}
	return 0
}
