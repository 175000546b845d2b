// Package e2e drives the real s3proxy binary with real S3 clients: the Go
// SDKs in process, and the aws cli, rclone, s3cmd, mc, boto3 and the
// JavaScript SDK as child processes. Every transfer is checked by SHA-256.
//
// The binary is built once per run by TestMain. Each test starts its own
// server (fresh data directory, free ports) so that tests never see each
// other's buckets or statistics.
//
// Environment:
//
//	CI=true                  a missing tool, service or binary fails the test instead of skipping it
//	S3PROXY_E2E_BIN=path     use this binary instead of building ./cmd/s3proxy
//	S3PROXY_E2E_TARGET=versitygw
//	                         run the client tests against versitygw (a reference S3
//	                         server) instead of s3proxy, to check the clients'
//	                         set-up; tests of s3proxy-only features skip
//	S3PROXY_E2E_BIG=bytes    size of the object in TestMemory5GiB (default 5 GiB)
//	S3PROXY_E2E_REPORT=file  append the figures tests measure (memory peak, bytes on
//	                         the wire) to file; make test prints it, since go test
//	                         hides the logs of passing tests
package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// suite is what TestMain prepares once for the whole run. It is the only
// package-level state: tests read it, never write it.
type suite struct {
	root     string // module root (directory of go.mod)
	tmp      string // run-wide scratch directory, removed by TestMain
	bin      string // built s3proxy binary; empty when buildErr is set
	buildErr error  // why there is no binary
	target   string // "s3proxy" or "versitygw"
	ci       bool   // CI=true: missing prerequisites fail instead of skipping
	tools    *toolbox
	// chunks, when set (S3PROXY_E2E_BACKEND=s3), is the S3 server every s3proxy keeps
	// its chunks in instead of local disk.
	chunks *chunkBackend
}

var h *suite

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	// aws-sdk-go-v2 refuses to load a custom CA bundle together with a
	// custom HTTP client, and rclone trips over the same variable. The
	// tests talk plain HTTP (or to their own TLS front with its own CA), so
	// the variable has nothing to do here; drop it for this process and its
	// children.
	os.Unsetenv("AWS_CA_BUNDLE")

	s := &suite{
		target: envOr("S3PROXY_E2E_TARGET", "s3proxy"),
		ci:     os.Getenv("CI") == "true",
	}
	var err error
	if s.root, err = moduleRoot(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	if s.tmp, err = os.MkdirTemp("", "s3proxy-e2e-"); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(s.tmp)
	s.tools = newToolbox(s.root)

	switch s.target {
	case "s3proxy":
		s.bin, s.buildErr = buildBinary(s.root, s.tmp)
		if s.buildErr != nil {
			fmt.Fprintln(os.Stderr, "e2e: no s3proxy binary:", s.buildErr)
			if s.ci {
				// Every test would fail the same way; say it once.
				return 1
			}
		}
	case "versitygw":
		if _, err := s.tools.lookPath("versitygw"); err != nil {
			s.buildErr = err
		}
	default:
		fmt.Fprintf(os.Stderr, "e2e: unknown S3PROXY_E2E_TARGET %q (want s3proxy or versitygw)\n", s.target)
		return 1
	}
	switch backend := os.Getenv("S3PROXY_E2E_BACKEND"); backend {
	case "", "local":
	case "s3":
		if s.chunks, err = startChunkBackend(s); err != nil {
			fmt.Fprintln(os.Stderr, "e2e:", err)
			return 1
		}
		defer s.chunks.stop()
	default:
		fmt.Fprintf(os.Stderr, "e2e: unknown S3PROXY_E2E_BACKEND %q (want local or s3)\n", backend)
		return 1
	}
	h = s
	return m.Run()
}

// moduleRoot asks the go command, so that the tests work from any directory
// and with any GOFLAGS.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("not inside a Go module (go env GOMOD = %q)", gomod)
	}
	return filepath.Dir(gomod), nil
}

// buildBinary builds ./cmd/s3proxy into dir, or takes S3PROXY_E2E_BIN.
func buildBinary(root, dir string) (string, error) {
	if p := os.Getenv("S3PROXY_E2E_BIN"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("S3PROXY_E2E_BIN: %w", err)
		}
		return p, nil
	}
	if _, err := os.Stat(filepath.Join(root, "cmd", "s3proxy")); err != nil {
		return "", fmt.Errorf("./cmd/s3proxy is not in the module yet: %w", err)
	}
	bin := filepath.Join(dir, "s3proxy")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/s3proxy")
	cmd.Dir = root
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build ./cmd/s3proxy: %w\n%s", err, out.String())
	}
	return bin, nil
}

// need stops the test when a prerequisite is missing: a failure in CI, where
// everything must be present, a skip on a developer's machine.
func need(t testing.TB, err error, what string) {
	t.Helper()
	if err == nil {
		return
	}
	if h.ci {
		t.Fatalf("%s is required in CI: %v", what, err)
	}
	t.Skipf("%s is missing (%v); skipping (with CI=true this fails)", what, err)
}

// onlyS3proxy skips tests of behaviour that only s3proxy has (stats, owner
// rules, admin credentials) when the suite runs against a reference server.
func onlyS3proxy(t testing.TB) {
	t.Helper()
	if h.target != "s3proxy" {
		t.Skipf("tests an s3proxy feature; target is %s", h.target)
	}
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// report logs a measured figure and appends it to $S3PROXY_E2E_REPORT, so
// that the numbers the issues ask for show up in CI output even when the
// test passes.
func report(t testing.TB, format string, args ...any) {
	t.Helper()
	line := fmt.Sprintf(format, args...)
	t.Log(line)
	path := os.Getenv("S3PROXY_E2E_REPORT")
	if path == "" {
		return
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Errorf("S3PROXY_E2E_REPORT: %v", err)
		return
	}
	defer f.Close()
	fmt.Fprintf(f, "%s: %s\n", t.Name(), line)
}
