package e2e

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestVerifyFindsHandCorruption: one byte of a chunk file flipped by hand while the
// server runs; `s3proxy verify` (the real binary, beside the server) finds it, names the
// object as bucket/key and exits non-zero.
func TestVerifyFindsHandCorruption(t *testing.T) {
	t.Parallel()
	onlyS3proxy(t)
	s := startServer(t, serverOptions{})
	c := s3Client(s, s.cred)
	createBucket(t, c, "verify")
	data := randomBytes(7, 300_000)
	if err := putBytes(t, c, "verify", "dir/damaged.bin", data); err != nil {
		t.Fatal(err)
	}
	if err := putBytes(t, c, "verify", "intact.bin", randomBytes(8, 1000)); err != nil {
		t.Fatal(err)
	}
	if out, err := s.admincmdErr("verify"); err != nil {
		t.Fatalf("verify of an intact store: %v", err)
	} else if !strings.Contains(string(out), "checked 2 chunks") {
		t.Errorf("verify output: %s", out)
	}
	// The chunk file of the 300 kB object is the only one that large.
	var victim string
	err := filepath.Walk(filepath.Join(s.dataDir, "chunks"), func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() && fi.Size() > 200_000 {
			victim = p
		}
		return err
	})
	if err != nil || victim == "" {
		t.Fatalf("chunk file not found under %s: %v", s.dataDir, err)
	}
	b, err := os.ReadFile(victim)
	if err != nil {
		t.Fatal(err)
	}
	b[1000] ^= 0x80
	if err := os.WriteFile(victim, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := s.admincmdErr("verify")
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() == 0 {
		t.Fatalf("verify after corruption: %v, want a non-zero exit", err)
	}
	if !bytes.Contains(out, []byte("corrupt chunk")) || !bytes.Contains(out, []byte("used by verify/dir/damaged.bin")) {
		t.Errorf("verify output does not report the damaged object as bucket/key:\n%s", out)
	}
}
