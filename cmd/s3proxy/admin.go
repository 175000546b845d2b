package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"s3proxy/dedup"
)

func stats(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var asJSON *bool
	cfg, err := loadConfig(args, getenv, stderr, "stats", func(fs *flag.FlagSet) {
		asJSON = fs.Bool("json", false, "print JSON")
	})
	if err != nil {
		return err
	}
	a, err := openApp(ctx, cfg, newLogger(cfg, stderr))
	if err != nil {
		return err
	}
	defer a.close()
	st, err := a.meta.Stats(ctx)
	if err != nil {
		return err
	}
	out := struct {
		LogicalBytes int64            `json:"logical_bytes"`
		StoredBytes  int64            `json:"stored_bytes"`
		DedupRatio   float64          `json:"dedup_ratio"`
		Objects      int64            `json:"objects"`
		Versions     int64            `json:"noncurrent_versions"`
		VersionBytes int64            `json:"noncurrent_bytes"`
		Markers      int64            `json:"delete_markers"`
		Chunks       int64            `json:"chunks"`
		InlineChunks int64            `json:"inline_chunks"`
		InlineBytes  int64            `json:"inline_bytes"`
		Uploads      int64            `json:"uploads"`
		Jobs         map[string]int64 `json:"jobs"`
	}{st.LogicalBytes, st.StoredBytes, dedupRatio(st.LogicalBytes+st.VersionBytes, st.StoredBytes), st.Objects,
		st.Versions, st.VersionBytes, st.DeleteMarkers, st.Chunks, st.InlineChunks, st.InlineBytes, st.Uploads, st.Jobs}
	if out.Jobs == nil {
		out.Jobs = map[string]int64{}
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	fmt.Fprintf(stdout, "objects:        %d\n", out.Objects)
	fmt.Fprintf(stdout, "logical bytes:  %d (%s)\n", out.LogicalBytes, human(out.LogicalBytes))
	if out.Versions > 0 || out.Markers > 0 {
		fmt.Fprintf(stdout, "versions:       %d noncurrent, %d bytes (%s); %d delete markers\n", out.Versions, out.VersionBytes, human(out.VersionBytes), out.Markers)
	}
	fmt.Fprintf(stdout, "chunks:         %d\n", out.Chunks)
	fmt.Fprintf(stdout, "stored bytes:   %d (%s)\n", out.StoredBytes, human(out.StoredBytes))
	fmt.Fprintf(stdout, "inline:         %d chunks, %d bytes (%s) in the metadata store\n", out.InlineChunks, out.InlineBytes, human(out.InlineBytes))
	fmt.Fprintf(stdout, "dedup ratio:    %.2f\n", out.DedupRatio)
	fmt.Fprintf(stdout, "uploads:        %d in progress\n", out.Uploads)
	fmt.Fprintf(stdout, "jobs:           %d pending, %d running, %d failed, %d done\n", out.Jobs["pending"], out.Jobs["running"], out.Jobs["failed"], out.Jobs["done"])
	return nil
}

func human(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

func gc(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := loadConfig(args, getenv, stderr, "gc", nil)
	if err != nil {
		return err
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
	// Share the lock with servers' background collection so two never overlap.
	owner := cfg.NodeID + "/gc-cli"
	for {
		ok, err := a.meta.TryLock(ctx, "maintenance", owner, time.Hour)
		if err != nil {
			return err
		}
		if ok {
			break
		}
		fmt.Fprintln(stderr, "waiting for a running collection to finish…")
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
	defer a.meta.Unlock(context.WithoutCancel(ctx), "maintenance", owner)
	if n, err := a.svc.AbortStaleUploads(ctx, cfg.UploadMaxAge); err != nil {
		return err
	} else if n > 0 {
		fmt.Fprintf(stdout, "aborted %d abandoned multipart uploads\n", n)
	}
	res, err := a.dedup.GC(ctx, cfg.GCGrace, func(r dedup.GCResult) {
		log.Info("gc progress", "chunks", r.Chunks, "bytes", r.Bytes, "orphans", r.Orphans)
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "removed %d unreferenced chunks (%s) and %d orphaned blobs (%s); %d errors\n",
		res.Chunks, human(res.Bytes), res.Orphans, human(res.OrphanBytes), res.Errors)
	if res.Errors > 0 {
		return fmt.Errorf("%d errors during collection", res.Errors)
	}
	return nil
}

// healthcheck asks this node's admin listener whether it is ready. It exists so that a
// container image without a shell or curl can still be health-checked.
func healthcheck(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	cfg, err := loadConfig(args, getenv, stderr, "healthcheck", nil)
	if err != nil {
		return err
	}
	if cfg.AdminListen == "" {
		return fmt.Errorf("the admin listener is off (--admin-listen)")
	}
	host, port, err := net.SplitHostPort(cfg.AdminListen)
	if err != nil {
		return err
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+net.JoinHostPort(host, port)+"/readyz", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("not ready: %s", strings.TrimSpace(string(body)))
	}
	return nil
}
