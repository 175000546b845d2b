package main

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"s3proxy/backends"
	"s3proxy/backends/mem"
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
