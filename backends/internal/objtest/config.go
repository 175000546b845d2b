package objtest

import (
	"context"
	"errors"
	"strings"
	"testing"

	"s3proxy/backends"
)

// ConfigEdit turns a valid store Config into one that New must refuse.
type ConfigEdit[C any] struct {
	Name string
	Edit func(*C)
}

// RunInvalidConfigs checks that build (a store's New) refuses every edit of ok with
// ErrInvalid.
func RunInvalidConfigs[C any](t *testing.T, ok C, build func(C) error, edits []ConfigEdit[C]) {
	t.Helper()
	for _, e := range edits {
		t.Run(e.Name, func(t *testing.T) {
			cfg := ok
			e.Edit(&cfg)
			if err := build(cfg); !errors.Is(err, backends.ErrInvalid) {
				t.Errorf("New: %v, want ErrInvalid", err)
			}
		})
	}
}

// Refusal is a store that the server refuses as configured (bad credentials, a missing
// bucket), and what its errors must say.
type Refusal struct {
	Name   string
	Store  func(t *testing.T) backends.BlobStore
	Faults *Faults // the server's, to count its requests
	// HealthText and PutText must appear in Health's and Put's errors.
	HealthText, PutText string
}

// RunRefusals checks that a refused store is unusable (ErrUnavailable) and says why,
// without retrying what cannot change.
func RunRefusals(t *testing.T, cases []Refusal) {
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			s := c.Store(t)
			defer s.Close()
			before := c.Faults.Requests()
			err := s.Health(context.Background())
			if !errors.Is(err, backends.ErrUnavailable) || !strings.Contains(err.Error(), c.HealthText) {
				t.Errorf("Health: %v; want ErrUnavailable mentioning %q", err, c.HealthText)
			}
			if got := c.Faults.Requests() - before; got != 1 {
				t.Errorf("server saw %d requests, want 1 (no retries)", got)
			}
			err = s.Put(context.Background(), "k", strings.NewReader("x"), 1, backends.PutOptions{})
			if !errors.Is(err, backends.ErrUnavailable) || !strings.Contains(err.Error(), c.PutText) {
				t.Errorf("Put: %v; want ErrUnavailable mentioning %q", err, c.PutText)
			}
		})
	}
}
