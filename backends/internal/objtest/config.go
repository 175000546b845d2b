package objtest

import (
	"errors"
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
