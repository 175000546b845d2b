package main

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// TestStoreTimes: the Put and after-body means come from two scrapes of the histogram's
// sums and counts, summed over backends, other operations ignored.
func TestStoreTimes(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "s3proxy_backend_operation_seconds"}, []string{"backend", "op"})
	reg.MustRegister(h)
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	admin := strings.TrimPrefix(srv.URL, "http://")

	h.WithLabelValues("a", "put").Observe(0.01)
	h.WithLabelValues("a", "put_finish").Observe(0.002)
	h.WithLabelValues("a", "get").Observe(5)
	before, ok := readStoreTimes(context.Background(), admin)
	if !ok {
		t.Fatal("first scrape failed")
	}
	for _, b := range []string{"a", "a", "b", "b"} {
		h.WithLabelValues(b, "put").Observe(0.015)
		h.WithLabelValues(b, "put_finish").Observe(0.003)
		h.WithLabelValues(b, "get").Observe(1)
	}
	after, ok := readStoreTimes(context.Background(), admin)
	if !ok {
		t.Fatal("second scrape failed")
	}
	put, finish := after.means(before)
	// 4 Puts took 0.06 s more: 15 ms each; 4 finishes 0.012 s: 3 ms each.
	if put.Round(time.Microsecond) != 15*time.Millisecond || finish.Round(time.Microsecond) != 3*time.Millisecond {
		t.Errorf("means %v, %v; want 15ms, 3ms", put, finish)
	}
	if w, sync, per := after.metaMeans(before); w != 0 || sync != 0 || per != 0 {
		t.Errorf("metadata means without metadata metrics: %v %v %v", w, sync, per)
	}
	if _, ok := readStoreTimes(context.Background(), ""); ok {
		t.Error("a server without an admin listener gave store times")
	}
}

// TestMetaTimes: metadata write and WAL sync means from two scrapes; reads and other
// operations are not writes.
func TestMetaTimes(t *testing.T) {
	reg := prometheus.NewRegistry()
	ops := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "s3proxy_meta_operation_seconds"}, []string{"op"})
	syncs := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "s3proxy_sqlite_wal_sync_seconds"})
	commits := prometheus.NewCounter(prometheus.CounterOpts{Name: "s3proxy_sqlite_wal_synced_commits_total"})
	reg.MustRegister(ops, syncs, commits)
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	admin := strings.TrimPrefix(srv.URL, "http://")

	ops.WithLabelValues("put_object").Observe(1)
	before, _ := readStoreTimes(context.Background(), admin)
	ops.WithLabelValues("put_object").Observe(0.004)
	ops.WithLabelValues("delete_object").Observe(0.002)
	ops.WithLabelValues("get_object").Observe(3)
	syncs.Observe(0.001)
	syncs.Observe(0.003)
	commits.Add(5)
	after, _ := readStoreTimes(context.Background(), admin)
	w, sync, per := after.metaMeans(before)
	if w.Round(time.Microsecond) != 3*time.Millisecond || sync.Round(time.Microsecond) != 2*time.Millisecond || per != 2.5 {
		t.Errorf("metaMeans: %v %v %v; want 3ms 2ms 2.5", w, sync, per)
	}
}
