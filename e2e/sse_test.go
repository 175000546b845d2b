package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// sseServer is an s3proxy with two local backends: "plain" (the default) and "vault",
// which encrypts with a key from the environment; the buckets named go to the vault.
type sseServer struct {
	*server
	plainDir, vaultDir string
}

func startSSEServer(t *testing.T, encrypted ...string) *sseServer {
	t.Helper()
	if h.target != "s3proxy" {
		t.Skip("s3proxy's own encryption at rest")
	}
	dir := t.TempDir()
	plain, vault := filepath.Join(dir, "plain"), filepath.Join(dir, "vault")
	yaml := fmt.Sprintf("backends:\n  - {name: plain, type: local, path: %s}\n  - {name: vault, type: local, path: %s, encrypt_key_env: E2E_VAULT_KEYS}\ndefault_backend: plain\nplacement:\n", plain, vault)
	for _, b := range encrypted {
		yaml += fmt.Sprintf("  %s: vault\n", b)
	}
	s := startServer(t, serverOptions{yaml: yaml,
		env: []string{"E2E_VAULT_KEYS=e2e-1:" + strings.Repeat("5a", 32)}})
	return &sseServer{server: s, plainDir: plain, vaultDir: vault}
}

// holds reports whether a file under root contains the first 64 bytes of the file at
// path (the plaintext).
func holds(t *testing.T, root, path string) bool {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	needle := data[:min(len(data), 64)]
	found := false
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if b, _ := os.ReadFile(p); bytes.Contains(b, needle) {
				found = true
			}
		}
		return nil
	})
	return found
}

func TestSSEAWSCLI(t *testing.T) {
	t.Parallel()
	s := startSSEServer(t, "sse-cli")
	aws := newAWSCLI(t, s.server, s.cred)
	dir := t.TempDir()
	small, smallSum := writeRandomFile(t, dir, "small.bin", 900, 100*KiB)
	// Above the cli's 8 MiB threshold: a multipart upload with --sse on Create.
	big, bigSum := writeRandomFile(t, dir, "big.bin", 901, 20*MiB)
	aws.run("s3", "mb", "s3://sse-cli")
	aws.run("s3", "mb", "s3://sse-cli-plain")
	for _, f := range []struct{ path, key, sum string }{{small, "small.bin", smallSum}, {big, "big.bin", bigSum}} {
		aws.run("s3", "cp", "--sse", "AES256", f.path, "s3://sse-cli/"+f.key)
		var head struct {
			ServerSideEncryption string
			ContentLength        int64
		}
		mustJSON(t, aws.run("s3api", "head-object", "--bucket", "sse-cli", "--key", f.key), &head)
		if head.ServerSideEncryption != "AES256" {
			t.Errorf("head-object %s: ServerSideEncryption %q, want AES256", f.key, head.ServerSideEncryption)
		}
		out := filepath.Join(t.TempDir(), "down")
		aws.run("s3", "cp", "s3://sse-cli/"+f.key, out)
		if got := fileSHA256(t, out); got != f.sum {
			t.Errorf("%s: downloaded sha256 %s, uploaded %s", f.key, got, f.sum)
		}
		if holds(t, s.vaultDir, f.path) || holds(t, s.plainDir, f.path) {
			t.Errorf("%s: plaintext on disk", f.key)
		}
	}
	var enc struct {
		ServerSideEncryptionConfiguration struct {
			Rules []struct {
				ApplyServerSideEncryptionByDefault struct{ SSEAlgorithm string }
			}
		}
	}
	mustJSON(t, aws.run("s3api", "get-bucket-encryption", "--bucket", "sse-cli"), &enc)
	if r := enc.ServerSideEncryptionConfiguration.Rules; len(r) != 1 || r[0].ApplyServerSideEncryptionByDefault.SSEAlgorithm != "AES256" {
		t.Errorf("get-bucket-encryption: %+v", enc)
	}
	_, stderr, err := aws.try("s3", "cp", "--sse", "AES256", small, "s3://sse-cli-plain/small.bin")
	if err == nil || !strings.Contains(stderr, "NotImplemented") {
		t.Errorf("cp --sse into a plain bucket: err %v, stderr %s", err, stderr)
	}
	// Migrating the plain bucket to the vault encrypts what it holds. (Other content
	// than small.bin's: that one is stored encrypted already, and a plain bucket's
	// upload of it deduplicates onto the encrypted copy.)
	other, _ := writeRandomFile(t, dir, "other.bin", 902, 100*KiB)
	aws.run("s3", "cp", other, "s3://sse-cli-plain/small.bin")
	if !holds(t, s.plainDir, other) {
		t.Fatal("the plain bucket's object is not in the plain backend")
	}
	s.admincmd("migrate", "--to", "vault", "--bucket", "sse-cli-plain", "--delete-delay", "0s")
	var head struct{ ServerSideEncryption string }
	mustJSON(t, aws.run("s3api", "head-object", "--bucket", "sse-cli-plain", "--key", "small.bin"), &head)
	if head.ServerSideEncryption != "AES256" || holds(t, s.plainDir, other) {
		t.Errorf("after migrate: ServerSideEncryption %q, plaintext left %t", head.ServerSideEncryption, holds(t, s.plainDir, other))
	}
	s.admincmd("verify")
}

func TestSSEBoto3(t *testing.T) {
	t.Parallel()
	s := startSSEServer(t, "sse-boto3")
	c := newAWSCLI(t, s.server, s.cred)
	c.run("s3", "mb", "s3://sse-boto3")
	c.run("s3", "mb", "s3://sse-boto3-plain")
	big, bigSum := writeRandomFile(t, t.TempDir(), "big.bin", 910, 17*MiB)
	out := runScript(t, "python3", s.server, s.cred, "boto3_sse.py", nil, "sse-boto3", "sse-boto3-plain", big)
	var res struct {
		PutSSE     string `json:"put_sse"`
		HeadSSE    string `json:"head_sse"`
		GetSSE     string `json:"get_sse"`
		GetOK      bool   `json:"get_ok"`
		BigHeadSSE string `json:"big_head_sse"`
		BigSHA256  string `json:"big_sha256"`
		DefaultSSE string `json:"default_sse"`
		PlainError string `json:"plain_error"`
	}
	if err := json.Unmarshal([]byte(lastLine(out)), &res); err != nil {
		t.Fatalf("boto3 script output %q: %v", out, err)
	}
	if res.PutSSE != "AES256" || res.HeadSSE != "AES256" || res.GetSSE != "AES256" || !res.GetOK || res.BigHeadSSE != "AES256" ||
		res.DefaultSSE != "AES256" || res.PlainError != "NotImplemented" || res.BigSHA256 != bigSum {
		t.Errorf("boto3 result %+v", res)
	}
	if holds(t, s.vaultDir, big) {
		t.Error("plaintext in the vault")
	}
}

func TestSSEMC(t *testing.T) {
	t.Parallel()
	s := startSSEServer(t, "sse-mc")
	mc := newMC(t, s.server, s.cred)
	f, sum := writeRandomFile(t, t.TempDir(), "f.bin", 920, 300*KiB)
	mc.run("mb", "s3p/sse-mc")
	mc.run("cp", "--enc-s3", "s3p/sse-mc", f, "s3p/sse-mc/f.bin")
	if out := mc.run("stat", "--json", "s3p/sse-mc/f.bin"); !strings.Contains(out, "AES256") {
		t.Errorf("mc stat does not show SSE-S3:\n%s", out)
	}
	if got := mc.run("cat", "s3p/sse-mc/f.bin"); sha256Hex([]byte(got)) != sum {
		t.Error("mc cat: content differs")
	}
	if holds(t, s.vaultDir, f) {
		t.Error("plaintext in the vault")
	}
}

func TestSSERclone(t *testing.T) {
	t.Parallel()
	s := startSSEServer(t, "sse-rclone")
	rc := newRclone(t, s.server, s.cred)
	rc.env = append(rc.env, "RCLONE_CONFIG_S3P_SERVER_SIDE_ENCRYPTION=AES256")
	src := t.TempDir()
	small, _ := writeRandomFile(t, src, "small.bin", 930, 100*KiB)
	big, _ := writeRandomFile(t, src, "big.bin", 931, 12*MiB)
	rc.run("mkdir", "s3p:sse-rclone")
	rc.run("copy", src, "s3p:sse-rclone/tree", "--s3-upload-cutoff", "5M", "--s3-chunk-size", "5M")
	rc.run("check", src, "s3p:sse-rclone/tree")
	aws := newAWSCLI(t, s.server, s.cred)
	for _, key := range []string{"tree/small.bin", "tree/big.bin"} {
		var head struct{ ServerSideEncryption string }
		mustJSON(t, aws.run("s3api", "head-object", "--bucket", "sse-rclone", "--key", key), &head)
		if head.ServerSideEncryption != "AES256" {
			t.Errorf("%s: ServerSideEncryption %q", key, head.ServerSideEncryption)
		}
	}
	if holds(t, s.vaultDir, small) || holds(t, s.vaultDir, big) {
		t.Error("plaintext in the vault")
	}
	// Into a plain bucket, rclone's SSE request is refused rather than ignored.
	rc.run("mkdir", "s3p:sse-rclone-plain")
	_, _, err := tryTool(t, 5*time.Minute, rc.env, "", "rclone", "copyto", small, "s3p:sse-rclone-plain/x", "--retries", "1", "--low-level-retries", "1")
	if err == nil {
		t.Error("rclone with server_side_encryption = AES256 into a plain bucket succeeded")
	}
}
