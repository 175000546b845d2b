package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/prometheus/client_golang/prometheus"

	"s3proxy/cmd/s3proxy/config"
	"s3proxy/s3api"
)

// TestCredentialReload: a reload (what SIGHUP does) applies the configuration file's
// credentials to the running server: an added key works at once, a removed one is
// refused as unknown, a rotated secret replaces the old one; a file that does not load
// changes nothing.
func TestCredentialReload(t *testing.T) {
	st := newStack(t)
	ctx := context.Background()
	api := st.handler.(*s3api.Server)
	file := st.app.cfg.ConfigFile
	reg := prometheus.NewRegistry()
	r := &credentialReloader{args: []string{"--config", file, "--data", st.app.cfg.Data, "--log-level", "error"},
		getenv: func(string) string { return "" }, api: api, log: slog.New(slog.DiscardHandler),
		current: st.app.cfg.Credentials, metrics: newReloadMetrics(reg)}
	works := func(ak, sk string) string {
		t.Helper()
		_, err := st.client(t, ak, sk).ListBuckets(ctx, &s3.ListBucketsInput{})
		if err != nil {
			return apiCode(err)
		}
		return "ok"
	}
	if got := works(otherAK, otherSK); got != "ok" {
		t.Fatalf("before the reload: %s", got)
	}

	const newAK, newSK, rotatedSK = "AKIATESTNEW000000004", "secret-new-0000000000000000000000000004", "secret-rotated-000000000000000000000001"
	yaml := fmt.Sprintf("credentials:\n  - {access_key: %s, secret_key: %s}\n  - {access_key: %s, secret_key: %s, admin: true}\n  - {access_key: %s, secret_key: %s}\n",
		testAK, rotatedSK, adminAK, adminSK, newAK, newSK)
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	r.reload()
	for _, tc := range []struct{ name, ak, sk, want string }{
		{"added", newAK, newSK, "ok"},
		{"removed", otherAK, otherSK, "InvalidAccessKeyId"},
		{"old secret", testAK, testSK, "SignatureDoesNotMatch"},
		{"rotated secret", testAK, rotatedSK, "ok"},
		{"unchanged", adminAK, adminSK, "ok"},
	} {
		if got := works(tc.ak, tc.sk); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}

	// A broken file (or one with no usable credential) keeps what is in force.
	for _, bad := range []string{"credentials: [unclosed\n", "credentials:\n  - {access_key: " + newAK + ", secret_key: x}\n  - {access_key: " + newAK + ", secret_key: y}\n"} {
		if err := os.WriteFile(file, []byte(bad), 0o600); err != nil {
			t.Fatal(err)
		}
		r.reload()
		if got := works(newAK, newSK); got != "ok" {
			t.Errorf("after a reload of %q: %s", bad, got)
		}
	}
	counted := map[string]float64{}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			counted[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
		}
	}
	if counted["ok"] != 1 || counted["error"] != 2 {
		t.Errorf("reloads counted %v, want ok 1, error 2", counted)
	}
}

func TestDiffCredentials(t *testing.T) {
	c := func(ak, sk string, admin bool) config.Credential {
		return config.Credential{AccessKey: ak, SecretKey: sk, Admin: admin}
	}
	for _, tc := range []struct {
		name                    string
		old, cur                []config.Credential
		added, removed, changed []string
	}{
		{"same", []config.Credential{c("a", "1", false)}, []config.Credential{c("a", "1", false)}, nil, nil, nil},
		{"rotated and promoted", []config.Credential{c("a", "1", false), c("b", "2", false)}, []config.Credential{c("a", "9", false), c("b", "2", true)}, nil, nil, []string{"a", "b"}},
		{"added and removed", []config.Credential{c("a", "1", false), c("z", "2", false), c("y", "3", false)}, []config.Credential{c("a", "1", false), c("n", "4", false)},
			[]string{"n"}, []string{"y", "z"}, nil},
	} {
		added, removed, changed := diffCredentials(tc.old, tc.cur)
		if !slices.Equal(added, tc.added) || !slices.Equal(removed, tc.removed) || !slices.Equal(changed, tc.changed) {
			t.Errorf("%s: added %v removed %v changed %v", tc.name, added, removed, changed)
		}
	}
}
