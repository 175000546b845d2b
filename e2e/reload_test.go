package e2e

import (
	"io"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestCredentialRotationBySIGHUP: an operator rotates keys without a restart. The
// configuration file gets a new key and loses the old one; after `kill -HUP` the aws
// cli works with the new key, the old one is refused as unknown, and the reload is
// counted in /metrics.
func TestCredentialRotationBySIGHUP(t *testing.T) {
	t.Parallel()
	onlyS3proxy(t)
	oldKey := credential{AccessKey: "E2EOLDKEY00000000001", SecretKey: "oldSecret0000000000000000000000000000001", Admin: true}
	newKey := credential{AccessKey: "E2ENEWKEY00000000001", SecretKey: "newSecret0000000000000000000000000000001", Admin: true}
	other := credential{AccessKey: "E2EOTHER000000000001", SecretKey: "otherSecret00000000000000000000000000001"}
	s := startServer(t, serverOptions{creds: []credential{oldKey, other}})
	newAWSCLI(t, s, oldKey).run("s3", "mb", "s3://rotate")
	if _, stderr, err := newAWSCLI(t, s, newKey).try("s3", "ls", "s3://rotate"); err == nil || !strings.Contains(stderr, "InvalidAccessKeyId") {
		t.Fatalf("the new key before the reload: %v %s", err, stderr)
	}

	if err := os.WriteFile(s.config, credentialsYAML([]credential{newKey, other}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	// The series appears with the first reload: poll the page, not the value.
	reloaded := func() bool {
		resp, err := http.Get(s.admin + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return strings.Contains(string(body), `s3proxy_credential_reloads_total{result="ok"} 1`)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !reloaded() {
		if time.Now().After(deadline) {
			t.Fatal("the reload was not counted in /metrics")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The bucket belongs to the old access key; an admin key reads any bucket.
	newAWSCLI(t, s, newKey).run("s3", "ls", "s3://rotate")
	if _, stderr, err := newAWSCLI(t, s, oldKey).try("s3", "ls", "s3://rotate"); err == nil || !strings.Contains(stderr, "InvalidAccessKeyId") {
		t.Errorf("the removed key after the reload: %v %s", err, stderr)
	}
	mc := newMC(t, s, other)
	mc.run("mb", "s3p/others")
	// The process is still the one started: a SIGHUP does not end it.
	if err := s.cmd.Process.Signal(syscall.Signal(0)); err != nil {
		t.Errorf("the server is gone after SIGHUP: %v", err)
	}
}
