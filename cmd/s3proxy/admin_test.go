package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"s3proxy/backends"
	"s3proxy/meta/gormstore"
	"s3proxy/meta/rediscache"
)

// TestReadyzCache: with a Redis cache configured, /readyz reports it unreachable (and
// the metadata store still answers), and /metrics exports the cache counters.
func TestReadyzCache(t *testing.T) {
	ms, err := gormstore.Open(context.Background(), filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	rc, err := rediscache.NewClient("redis://" + closed)
	if err != nil {
		t.Fatal(err)
	}
	cache := rediscache.New(ms, rc, rediscache.Options{})
	a := &app{meta: cache, cache: cache, redis: rc, stores: map[string]backends.BlobStore{}}
	t.Cleanup(a.close)
	if _, err := a.meta.GetBucket(context.Background(), "nope"); err == nil {
		t.Fatal("GetBucket of a missing bucket succeeded")
	}
	reg := prometheus.NewRegistry()
	registerCacheMetrics(reg, cache)
	srv := httptest.NewServer(adminMux(a, reg))
	defer srv.Close()
	for _, tc := range []struct {
		path   string
		status int
		want   []string
	}{
		{"/readyz", http.StatusServiceUnavailable, []string{"cache: redis cache:"}},
		{"/healthz", http.StatusOK, []string{"ok"}},
		{"/metrics", http.StatusOK, []string{"s3proxy_cache_hits_total 0", "s3proxy_cache_errors_total 1", "s3proxy_cache_misses_total 0"}},
	} {
		resp, err := http.Get(srv.URL + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("GET %s: %d, want %d\n%s", tc.path, resp.StatusCode, tc.status, body)
		}
		for _, w := range tc.want {
			if !strings.Contains(string(body), w) {
				t.Errorf("GET %s lacks %q:\n%s", tc.path, w, body)
			}
		}
		if tc.path == "/readyz" && strings.Contains(string(body), "metadata:") {
			t.Errorf("/readyz blames the metadata store:\n%s", body)
		}
	}
}
