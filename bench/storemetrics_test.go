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
	if _, ok := readStoreTimes(context.Background(), ""); ok {
		t.Error("a server without an admin listener gave store times")
	}
}
