package main

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"s3proxy/backends"
	"s3proxy/backends/mem"
	"s3proxy/meta"
	"s3proxy/meta/gormstore"
)

// shortStore reads n bytes of a Put's body and stops, as a store that trusts the
// declared size might.
type shortStore struct {
	backends.BlobStore
	n int64
}

func (s shortStore) Put(ctx context.Context, key string, r io.Reader, size int64, opts backends.PutOptions) error {
	_, err := io.CopyN(io.Discard, r, s.n)
	return err
}

// TestMeteredPut: every Put counts as op "put"; one that read its body to the end also
// observes "put_finish", and one that failed or stopped short does not.
func TestMeteredPut(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name         string
		store        backends.BlobStore
		body         string
		size         int64
		wantErr      bool
		puts, finish uint64
	}{
		{"read to the end", mem.New("m"), "hello", 5, false, 1, 1},
		{"empty body", mem.New("m"), "", 0, false, 1, 1},
		{"failed", mem.New("m"), "hello", 9, true, 1, 0},
		{"stopped short", shortStore{BlobStore: mem.New("m"), n: 2}, "hello", 5, false, 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			m := newBackendMetrics(reg)
			s := m.wrap(tc.store)
			err := s.Put(ctx, "0123456789abcdef0123456789abcdef", strings.NewReader(tc.body), tc.size, backends.PutOptions{})
			if (err != nil) != tc.wantErr {
				t.Fatalf("Put: %v, want error %v", err, tc.wantErr)
			}
			for op, want := range map[string]uint64{"put": tc.puts, "put_finish": tc.finish} {
				if got := observations(t, reg, "s3proxy_backend_operation_seconds", op); got != want {
					t.Errorf("op %s: %d observations, want %d", op, got, want)
				}
			}
		})
	}
}

// observations is the sample count of histogram name's series with label op.
func observations(t *testing.T, reg *prometheus.Registry, name, op string) uint64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "op" && l.GetValue() == op {
					return m.GetHistogram().GetSampleCount()
				}
			}
		}
	}
	return 0
}

// TestMetaMetrics: the metadata store's request-path operations are timed as the
// database serves them (not-found answers are not errors), and SQLite's WAL syncs are
// counted with the commits they made durable.
func TestMetaMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	mm := newMetaMetrics(reg)
	cfg, err := loadConfig([]string{"--data", t.TempDir(), "--log-level", "error"}, func(string) string { return "" }, io.Discard, "serve", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.EnsureNodeID(); err != nil {
		t.Fatal(err)
	}
	a, err := openApp(context.Background(), cfg, newLogger(cfg, io.Discard), appOptions{wrapMeta: mm.wrap,
		metaOptions: []gormstore.Option{gormstore.WithWALSyncObserver(mm.walSynced)}})
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	ctx := context.Background()
	if err := a.meta.CreateBucket(ctx, meta.Bucket{Name: "metered", Owner: "o", Region: "us-east-1", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := a.meta.GetObject(ctx, "metered", "missing"); !errors.Is(err, meta.ErrNotFound) {
			t.Fatalf("GetObject: %v", err)
		}
	}
	if n := observations(t, reg, "s3proxy_meta_operation_seconds", "create_bucket"); n != 1 {
		t.Errorf("create_bucket observed %d times, want 1", n)
	}
	if n := observations(t, reg, "s3proxy_meta_operation_seconds", "get_object"); n != 3 {
		t.Errorf("get_object observed %d times, want 3", n)
	}
	if got := counterValue(t, reg, "s3proxy_meta_errors_total"); got != 0 {
		t.Errorf("not-found answers counted as %v errors", got)
	}
	syncs := histogramCount(t, reg, "s3proxy_sqlite_wal_sync_seconds")
	commits := counterValue(t, reg, "s3proxy_sqlite_wal_synced_commits_total")
	if syncs < 1 || commits < 1 || float64(syncs) > commits {
		t.Errorf("WAL syncs %d for %v commits: want at least one of each, and no more syncs than commits", syncs, commits)
	}
}

// counterValue sums counter name over its series.
func counterValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var v float64
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				v += m.GetCounter().GetValue()
			}
		}
	}
	return v
}

func histogramCount(t *testing.T, reg *prometheus.Registry, name string) uint64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetHistogram().GetSampleCount()
		}
	}
	return 0
}
