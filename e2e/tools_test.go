package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// toolbox finds the external clients. scripts/install-tools.sh puts Go
// binaries in .tools/bin and the JavaScript SDK in .tools/node; those come
// first so that the pinned versions win over whatever else is on PATH.
type toolbox struct {
	binDir  string
	nodeDir string
}

func newToolbox(root string) *toolbox {
	return &toolbox{
		binDir:  filepath.Join(root, ".tools", "bin"),
		nodeDir: filepath.Join(root, ".tools", "node"),
	}
}

func (tb *toolbox) lookPath(name string) (string, error) {
	p := filepath.Join(tb.binDir, name)
	if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
		return p, nil
	}
	return exec.LookPath(name)
}

// needTool returns the path of a client, or fails (CI) / skips (locally).
func needTool(t testing.TB, name string) string {
	t.Helper()
	p, err := h.tools.lookPath(name)
	need(t, err, "the "+name+" client (scripts/install-tools.sh installs it)")
	return p
}

// childEnv is the environment for child processes: the test process's own,
// without anything that could point a client at another endpoint, identity
// or config file, and with .tools/bin first on PATH.
func childEnv(extra ...string) []string {
	drop := []string{"AWS_", "RCLONE_", "MC_HOST_", "S3PROXY_", "BOTO_", "S3CMD_"}
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		skip := name == "PATH"
		for _, p := range drop {
			skip = skip || strings.HasPrefix(name, p)
		}
		if !skip {
			env = append(env, kv)
		}
	}
	env = append(env, "PATH="+h.tools.binDir+string(os.PathListSeparator)+os.Getenv("PATH"))
	return append(env, extra...)
}

// runTool runs a client to completion and returns its stdout. A non-zero
// exit fails the test with the command line, stdout and stderr.
func runTool(t testing.TB, timeout time.Duration, env []string, dir string, name string, args ...string) string {
	t.Helper()
	out, stderr, err := tryTool(t, timeout, env, dir, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\nstdout:\n%s\nstderr:\n%s", name, strings.Join(args, " "), err, clip(out), clip(stderr))
	}
	return out
}

// tryTool is runTool for commands that are expected to fail.
func tryTool(t testing.TB, timeout time.Duration, env []string, dir string, name string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	path := needTool(t, name)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = env
	cmd.Dir = dir
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	start := time.Now()
	err = cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("timed out after %v: %w", timeout, err)
	}
	t.Logf("%s %s (%v)", name, strings.Join(args, " "), time.Since(start).Round(time.Millisecond))
	return o.String(), e.String(), err
}

func clip(s string) string {
	const max = 16 << 10
	if len(s) > max {
		return "…" + s[len(s)-max:]
	}
	return s
}

// awsCLI runs aws cli v1 against a server. Its config file sets SigV4 for
// s3 (v1 presigns with SigV2 otherwise) and path-style addressing (the
// endpoint is an IP address); extraS3 adds lines to the `s3 =` section.
type awsCLI struct {
	t        testing.TB
	env      []string
	endpoint string
}

func newAWSCLI(t testing.TB, s *server, c credential, extraS3 ...string) *awsCLI {
	t.Helper()
	dir := t.TempDir()
	cfg := "[default]\nregion = " + region + "\ns3 =\n    signature_version = s3v4\n    addressing_style = path\n"
	for _, l := range extraS3 {
		cfg += "    " + l + "\n"
	}
	creds := fmt.Sprintf("[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n", c.AccessKey, c.SecretKey)
	writeFile(t, filepath.Join(dir, "config"), cfg)
	writeFile(t, filepath.Join(dir, "credentials"), creds)
	return &awsCLI{
		t: t,
		env: childEnv(
			"AWS_CONFIG_FILE="+filepath.Join(dir, "config"),
			"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(dir, "credentials"),
			"AWS_PAGER=",
		),
		endpoint: s.endpoint,
	}
}

func (a *awsCLI) args(args []string) []string {
	return append(append([]string{}, args...), "--endpoint-url", a.endpoint)
}

func (a *awsCLI) run(args ...string) string {
	a.t.Helper()
	return runTool(a.t, 10*time.Minute, a.env, "", "aws", a.args(args)...)
}

func (a *awsCLI) try(args ...string) (string, string, error) {
	a.t.Helper()
	return tryTool(a.t, 10*time.Minute, a.env, "", "aws", a.args(args)...)
}

// rcloneCLI runs rclone with a remote named s3p configured entirely from
// the environment, and an empty config file so that no user config leaks in.
type rcloneCLI struct {
	t   testing.TB
	env []string
}

func newRclone(t testing.TB, s *server, c credential) *rcloneCLI {
	t.Helper()
	conf := filepath.Join(t.TempDir(), "rclone.conf")
	writeFile(t, conf, "")
	return &rcloneCLI{t: t, env: childEnv(
		"RCLONE_CONFIG="+conf,
		"RCLONE_CONFIG_S3P_TYPE=s3",
		"RCLONE_CONFIG_S3P_PROVIDER=Other",
		"RCLONE_CONFIG_S3P_ACCESS_KEY_ID="+c.AccessKey,
		"RCLONE_CONFIG_S3P_SECRET_ACCESS_KEY="+c.SecretKey,
		"RCLONE_CONFIG_S3P_ENDPOINT="+s.endpoint,
		"RCLONE_CONFIG_S3P_REGION="+region,
		"RCLONE_CONFIG_S3P_FORCE_PATH_STYLE=true",
	)}
}

func (r *rcloneCLI) run(args ...string) string {
	r.t.Helper()
	return runTool(r.t, 10*time.Minute, r.env, "", "rclone", args...)
}

// s3cmdCLI runs s3cmd with its own config file: path style (host_bucket
// without %(bucket)s), plain http, SigV4.
type s3cmdCLI struct {
	t    testing.TB
	env  []string
	conf string
}

func newS3cmd(t testing.TB, s *server, c credential) *s3cmdCLI {
	t.Helper()
	conf := filepath.Join(t.TempDir(), "s3cfg")
	writeFile(t, conf, fmt.Sprintf(`[default]
access_key = %s
secret_key = %s
host_base = %s
host_bucket = %s
bucket_location = %s
use_https = False
signature_v2 = False
check_ssl_certificate = False
guess_mime_type = False
`, c.AccessKey, c.SecretKey, s.host, s.host, region))
	return &s3cmdCLI{t: t, env: childEnv("HOME=" + t.TempDir()), conf: conf}
}

func (c *s3cmdCLI) run(args ...string) string {
	c.t.Helper()
	return runTool(c.t, 10*time.Minute, c.env, "", "s3cmd", append([]string{"-c", c.conf}, args...)...)
}

func (c *s3cmdCLI) try(args ...string) (string, string, error) {
	c.t.Helper()
	return tryTool(c.t, 10*time.Minute, c.env, "", "s3cmd", append([]string{"-c", c.conf}, args...)...)
}

// mcCLI runs MinIO's mc with the alias s3p from MC_HOST_s3p and a private
// config dir (mc writes one on every run).
type mcCLI struct {
	t   testing.TB
	env []string
	dir string
}

func newMC(t testing.TB, s *server, c credential) *mcCLI {
	t.Helper()
	return &mcCLI{
		t:   t,
		env: childEnv(fmt.Sprintf("MC_HOST_s3p=http://%s:%s@%s", c.AccessKey, c.SecretKey, s.host), "MC_REGION="+region),
		dir: t.TempDir(),
	}
}

func (m *mcCLI) run(args ...string) string {
	m.t.Helper()
	return runTool(m.t, 10*time.Minute, m.env, "", "mc", append([]string{"--config-dir", m.dir, "--no-color", "--disable-pager"}, args...)...)
}

// scriptEnv is the environment for the boto3 and node scripts in testdata:
// endpoint and credentials in variables the scripts read, nothing else of
// AWS's.
func scriptEnv(s *server, c credential, extra ...string) []string {
	return childEnv(append([]string{
		"E2E_ENDPOINT=" + s.endpoint,
		"E2E_ACCESS_KEY=" + c.AccessKey,
		"E2E_SECRET_KEY=" + c.SecretKey,
		"E2E_REGION=" + region,
	}, extra...)...)
}

func testdata(t testing.TB, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
