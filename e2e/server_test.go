package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Fixed test credentials. Alphanumeric on purpose: the secret goes into
// URLs (MC_HOST_*) and INI files, where '/' or '+' would test the clients'
// config parsers rather than the server.
const (
	testAccessKey = "E2EAKIDTESTKEY000001"
	testSecretKey = "e2eTestSecretKey0000000000000000000000001"
	region        = "us-east-1"
)

type credential struct {
	AccessKey string `json:"access_key" yaml:"access_key"`
	SecretKey string `json:"secret_key" yaml:"secret_key"`
	Admin     bool   `json:"admin,omitempty" yaml:"admin,omitempty"`
}

func defaultCredential() credential {
	return credential{AccessKey: testAccessKey, SecretKey: testSecretKey}
}

// serverOptions are the knobs a test may turn; the zero value is a server
// with one credential (testAccessKey) given through the environment, SQLite
// metadata and local chunks in a fresh temp directory.
type serverOptions struct {
	// creds, when set, go into a YAML config file (credentials list) and the
	// environment pair is not set.
	creds      []credential
	meta       string // --meta DSN, e.g. postgres://...
	dedupScope string // --dedup-scope
	redis      string // --redis URL
	args       []string
	// For restarts and cluster tests (a node restarting as itself, backends in YAML):
	dataDir string   // reuse this data directory instead of a fresh one
	listen  string   // listen on this host:port instead of a free port
	yaml    string   // appended to the YAML config file (which is then always written)
	env     []string // extra environment variables for the server
	// tlsCert and tlsKey make the S3 listener serve HTTPS (--tls-cert, --tls-key); the
	// endpoint is then https://. The admin listener stays plain HTTP.
	tlsCert, tlsKey string
}

// server is one running s3proxy (or reference server) process.
type server struct {
	t        testing.TB
	opts     serverOptions
	host     string // 127.0.0.1:P, the S3 listener
	endpoint string // http://127.0.0.1:P
	admin    string // http://127.0.0.1:Q
	dataDir  string
	config   string // YAML config path, "" if none
	logPath  string
	cred     credential // the first credential: what most tests use
	cmd      *exec.Cmd
	done     chan struct{} // closed when the process has exited
	waitErr  error         // valid once done is closed
	stopped  bool
}

// startServer starts a server, waits until it is ready and registers its
// shutdown (SIGTERM, clean exit checked) and, on failure, a dump of its log.
//
// Its ports are picked free (freePorts) and then handed to the server, so another
// process can take one in between: in the parallel tests, a client's connection to
// another server can be given it as its local port. A server that could not bind is
// started again on new ports, twice at most.
func startServer(t testing.TB, opts serverOptions) *server {
	t.Helper()
	for attempt := 1; ; attempt++ {
		s, err := launchServer(t, opts)
		if err == nil {
			return s
		}
		if attempt < bindAttempts && opts.listen == "" && errors.Is(err, errPortTaken) {
			t.Logf("%s: its port was taken before it could bind; starting it again on new ports", h.target)
			continue
		}
		t.Fatal(err)
	}
}

// errPortTaken marks a server that exited because its port was taken.
var errPortTaken = errors.New("port taken")

// bindAttempts bounds how often a server whose port was taken is started (startServer,
// startVersitygwFor).
const bindAttempts = 3

// portTaken reports whether a server's output says it could not bind its port.
func portTaken(output string) bool { return strings.Contains(output, "address already in use") }

// launchServer is one attempt of startServer.
func launchServer(t testing.TB, opts serverOptions) (*server, error) {
	t.Helper()
	need(t, h.buildErr, "the "+h.target+" binary")
	if len(opts.creds) == 0 {
		opts.creds = []credential{defaultCredential()}
	}
	s := &server{t: t, opts: opts, dataDir: opts.dataDir, cred: opts.creds[0]}
	if s.dataDir == "" {
		s.dataDir = t.TempDir()
	}
	logDir := t.TempDir()
	s.logPath = filepath.Join(logDir, "server.log")

	ports := freePorts(t, 2)
	s3Port, adminPort := ports[0], ports[1]
	s.host = "127.0.0.1:" + strconv.Itoa(s3Port)
	if opts.listen != "" {
		s.host = opts.listen
	}
	s.endpoint = "http://" + s.host
	if opts.tlsCert != "" {
		s.endpoint = "https://" + s.host
	}
	s.admin = "http://127.0.0.1:" + strconv.Itoa(adminPort)

	var args []string
	env := childEnv()
	switch h.target {
	case "s3proxy":
		args = append([]string{"serve", "--listen", s.host, "--admin-listen", strings.TrimPrefix(s.admin, "http://")}, s.settingsArgs(logDir)...)
		if len(opts.creds) == 1 && !opts.creds[0].Admin && s.config == "" {
			env = append(env, "S3PROXY_ACCESS_KEY="+s.cred.AccessKey, "S3PROXY_SECRET_KEY="+s.cred.SecretKey)
		}
		if opts.tlsCert != "" {
			args = append(args, "--tls-cert", opts.tlsCert, "--tls-key", opts.tlsKey)
		}
		args = append(args, opts.args...)
		env = append(env, opts.env...)
	case "versitygw":
		if len(opts.creds) > 1 {
			t.Skip("versitygw reference runs support one credential only")
		}
		// versitygw has no admin listener; its S3 port answers once ready.
		s.admin = ""
		args = append([]string{"--access", s.cred.AccessKey, "--secret", s.cred.SecretKey, "--region", region, "--port", s.host}, opts.args...)
		args = append(args, "posix", s.dataDir)
	}

	logf, err := os.Create(s.logPath)
	if err != nil {
		t.Fatal(err)
	}
	bin := h.bin
	if h.target == "versitygw" {
		bin, _ = h.tools.lookPath("versitygw")
	}
	s.cmd = exec.Command(bin, args...)
	s.cmd.Env = env
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	// If the test binary dies (timeout panic, ^C), take the server with it.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("start %s: %v", bin, err)
	}
	s.done = make(chan struct{})
	go func() {
		s.waitErr = s.cmd.Wait()
		logf.Close()
		close(s.done)
	}()
	t.Cleanup(s.stop)
	t.Logf("server %s: pid %d, S3 %s, admin %s, data %s", h.target, s.cmd.Process.Pid, s.endpoint, s.admin, s.dataDir)
	return s, s.waitReady(60 * time.Second)
}

// settingsArgs are the flags that serve and the admin subcommands (stats,
// gc) share, so that they look at the same data and metadata.
func (s *server) settingsArgs(configDir string) []string {
	args := []string{"--data", s.dataDir}
	if s.opts.meta != "" {
		args = append(args, "--meta", s.opts.meta)
	}
	if s.opts.dedupScope != "" {
		args = append(args, "--dedup-scope", s.opts.dedupScope)
	}
	if s.opts.redis != "" {
		args = append(args, "--redis", s.opts.redis)
	}
	if s.config == "" && (len(s.opts.creds) > 1 || s.opts.creds[0].Admin || s.opts.yaml != "" || h.chunks != nil) {
		s.config = filepath.Join(configDir, "s3proxy.yaml")
		yaml := append(credentialsYAML(s.opts.creds), s.opts.yaml...)
		// With S3PROXY_E2E_BACKEND=s3, chunks go to the run's S3 server unless the
		// test configures its own backends.
		if h.chunks != nil && h.target == "s3proxy" && !strings.Contains(s.opts.yaml, "backends:") {
			bucket, err := h.chunks.newBucket()
			if err != nil {
				s.t.Fatalf("chunk backend bucket: %v", err)
			}
			yaml = append(yaml, h.chunks.backendYAML(bucket)...)
		}
		if err := os.WriteFile(s.config, yaml, 0o600); err != nil {
			s.t.Fatal(err)
		}
	}
	if s.config != "" {
		args = append(args, "--config", s.config)
	}
	return args
}

// credentialsYAML writes the credentials list by hand: the names are fixed
// by DESIGN.md and the test needs no YAML library for four keys.
func credentialsYAML(creds []credential) []byte {
	var b bytes.Buffer
	b.WriteString("credentials:\n")
	for _, c := range creds {
		fmt.Fprintf(&b, "  - access_key: %q\n    secret_key: %q\n    admin: %t\n", c.AccessKey, c.SecretKey, c.Admin)
	}
	return b.Bytes()
}

// waitReady returns once the server answers ready, or why it did not.
func (s *server) waitReady(timeout time.Duration) error {
	s.t.Helper()
	url := s.admin + "/readyz"
	if s.admin == "" {
		url = s.endpoint + "/"
	}
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			s.stopped = true
			log := s.logTail()
			if portTaken(log) {
				return fmt.Errorf("server exited before it was ready: %v: %w\n%s", s.waitErr, errPortTaken, log)
			}
			return fmt.Errorf("server exited before it was ready: %v\n%s", s.waitErr, log)
		default:
		}
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || (s.admin == "" && resp.StatusCode < 500) {
				return nil
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("server not ready after %v (GET %s: %s)\n%s", timeout, url, last, s.logTail())
}

// stop sends SIGTERM and expects a clean exit (status 0) within 30 s; that is
// the graceful shutdown the design promises. On a failed test, the server's
// log goes to the test log.
func (s *server) stop() {
	s.t.Helper()
	if !s.stopped {
		s.stopped = true
		select {
		case <-s.done:
			s.t.Errorf("server exited before the test ended: %v", s.waitErr)
		default:
			_ = s.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-s.done:
				if s.waitErr != nil && h.target == "s3proxy" {
					s.t.Errorf("server did not exit cleanly after SIGTERM: %v", s.waitErr)
				}
			case <-time.After(30 * time.Second):
				_ = s.cmd.Process.Kill()
				<-s.done
				s.t.Errorf("server still running 30s after SIGTERM; killed")
			}
		}
	}
	if s.t.Failed() {
		s.t.Logf("server log (%s):\n%s", s.logPath, s.logTail())
	}
}

// kill ends the server with SIGKILL, for crash tests; stop then has nothing
// left to check.
func (s *server) kill() {
	s.t.Helper()
	if s.stopped {
		return
	}
	s.stopped = true
	_ = s.cmd.Process.Kill()
	<-s.done
}

// logTail returns the end of the server log: enough to see a panic or the
// last requests without flooding the test output.
func (s *server) logTail() string {
	const max = 64 << 10
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	if len(b) > max {
		b = append([]byte("…\n"), b[len(b)-max:]...)
	}
	return string(b)
}

func (s *server) pid() int { return s.cmd.Process.Pid }

// stats is the JSON printed by `s3proxy stats --json`.
type stats struct {
	LogicalBytes int64   `json:"logical_bytes"`
	StoredBytes  int64   `json:"stored_bytes"`
	DedupRatio   float64 `json:"dedup_ratio"`
	Objects      int64   `json:"objects"`
	Chunks       int64   `json:"chunks"`
	InlineChunks int64   `json:"inline_chunks"`
	InlineBytes  int64   `json:"inline_bytes"`
}

// stats runs `s3proxy stats --json` with the server's settings while the
// server runs (the design says admin subcommands work alongside it).
func (s *server) stats() stats {
	s.t.Helper()
	onlyS3proxy(s.t)
	out := s.admincmd("stats", "--json")
	// Unknown fields are allowed: later versions add the job queue's state.
	var st stats
	if err := json.Unmarshal(out, &st); err != nil {
		s.t.Fatalf("s3proxy stats --json: %v\n%s", err, out)
	}
	return st
}

// gc runs `s3proxy gc` with the server's settings.
func (s *server) gc() {
	s.t.Helper()
	onlyS3proxy(s.t)
	s.admincmd("gc")
}

func (s *server) admincmd(sub string, args ...string) []byte {
	s.t.Helper()
	out, err := s.admincmdErr(sub, args...)
	if err != nil {
		s.t.Fatal(err)
	}
	return out
}

// admincmdErr runs an admin subcommand and returns its stdout, and an error (with both
// outputs) when it exits non-zero: for subcommands whose failure is the point (verify).
func (s *server) admincmdErr(sub string, args ...string) ([]byte, error) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	all := append(append([]string{sub}, args...), s.settingsArgs(filepath.Dir(s.logPath))...)
	cmd := exec.CommandContext(ctx, h.bin, all...)
	// The server's own environment settings (a backend's encrypt_key_env) apply to the
	// admin commands as well: they open the same backends.
	cmd.Env = append(childEnv(), s.opts.env...)
	if len(s.opts.creds) == 1 && s.config == "" {
		cmd.Env = append(cmd.Env, "S3PROXY_ACCESS_KEY="+s.cred.AccessKey, "S3PROXY_SECRET_KEY="+s.cred.SecretKey)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("s3proxy %s: %w\nstdout:\n%s\nstderr:\n%s", strings.Join(all, " "), err, stdout.String(), stderr.String())
	}
	return stdout.Bytes(), nil
}

// procMemory reads VmRSS (resident now) and VmHWM (peak resident since
// start) of a process, in bytes.
func procMemory(pid int) (rss, hwm int64, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 3 || fields[2] != "kB" {
			continue
		}
		v, err := strconv.ParseInt(fields[1], 10, 64)
		if err != nil {
			continue
		}
		switch fields[0] {
		case "VmRSS:":
			rss = v << 10
		case "VmHWM:":
			hwm = v << 10
		}
	}
	if err := sc.Err(); err != nil {
		return 0, 0, err
	}
	if rss == 0 || hwm == 0 {
		return 0, 0, errors.New("no VmRSS/VmHWM in /proc status")
	}
	return rss, hwm, nil
}

// freePorts returns n distinct free ports: the listeners stay open until all are picked
// (two freePort calls in a row can get the same port back).
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

// freePort asks the kernel for a free port. Another process could take it before
// the server binds it (startServer starts its servers again when that happens).
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
