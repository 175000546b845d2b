package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestStoreTimes: the Put and after-body means come from two scrapes of the histogram's
// sums and counts, summed over backends, other operations ignored.
func TestStoreTimes(t *testing.T) {
	pages := []string{
		`# HELP s3proxy_backend_operation_seconds Chunk store operation latency.
s3proxy_backend_operation_seconds_bucket{backend="a",op="put",le="0.1"} 1
s3proxy_backend_operation_seconds_sum{backend="a",op="put"} 0.01
s3proxy_backend_operation_seconds_count{backend="a",op="put"} 1
s3proxy_backend_operation_seconds_sum{backend="a",op="put_finish"} 0.002
s3proxy_backend_operation_seconds_count{backend="a",op="put_finish"} 1
s3proxy_backend_operation_seconds_sum{backend="a",op="get"} 5
s3proxy_backend_operation_seconds_count{backend="a",op="get"} 9
`,
		`s3proxy_backend_operation_seconds_sum{backend="a",op="put"} 0.04
s3proxy_backend_operation_seconds_count{backend="a",op="put"} 3
s3proxy_backend_operation_seconds_sum{backend="b",op="put"} 0.03
s3proxy_backend_operation_seconds_count{backend="b",op="put"} 2
s3proxy_backend_operation_seconds_sum{backend="a",op="put_finish"} 0.008
s3proxy_backend_operation_seconds_count{backend="a",op="put_finish"} 3
s3proxy_backend_operation_seconds_sum{backend="b",op="put_finish"} 0.006
s3proxy_backend_operation_seconds_count{backend="b",op="put_finish"} 2
`,
	}
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(pages[n]))
		n++
	}))
	defer srv.Close()
	admin := strings.TrimPrefix(srv.URL, "http://")
	before, ok := readStoreTimes(context.Background(), admin)
	if !ok {
		t.Fatal("first scrape failed")
	}
	after, ok := readStoreTimes(context.Background(), admin)
	if !ok {
		t.Fatal("second scrape failed")
	}
	put, finish := after.means(before)
	// 4 Puts took 0.06 s more: 15 ms each; 4 finishes 0.012 s: 3 ms each.
	if put != 15*time.Millisecond || finish != 3*time.Millisecond {
		t.Errorf("means %v, %v; want 15ms, 3ms", put, finish)
	}
	if _, ok := readStoreTimes(context.Background(), ""); ok {
		t.Error("a server without an admin listener gave store times")
	}
}
