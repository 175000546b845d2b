package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

// Fixed credentials for both servers. Alphanumeric so that they pass through
// URLs and flags untouched.
const (
	accessKey = "BENCHAKID00000000001"
	secretKey = "benchSecretKey000000000000000000000000001"
	region    = "us-east-1"
)

// Server kinds and the s3proxy metadata variants.
const (
	kindS3proxy   = "s3proxy"
	kindVersitygw = "versitygw"
	variantSQLite = "SQLite"
	variantPG     = "PostgreSQL"
	// variantPGRedis is PostgreSQL with the Redis cache in front: the cluster set-up.
	variantPGRedis = "PostgreSQL + Redis"
	// variantBase is a second s3proxy binary (-compare), SQLite, run beside the first
	// on every profile: how an optimization is measured on a noisy machine.
	variantBase = "base"
	// variantBasePG is the -compare binary on PostgreSQL, beside variantPG.
	variantBasePG = "base, PostgreSQL"
)

// pgOnly reports whether s is a PostgreSQL variant, run only on the profiles that
// measure the metadata store.
func (s *server) pgOnly() bool {
	return s.variant == variantPG || s.variant == variantPGRedis || s.variant == variantBasePG
}

// base reports whether s runs the -compare binary.
func (s *server) base() bool { return s.variant == variantBase || s.variant == variantBasePG }

// server is one running gateway process and the clients that talk to it.
type server struct {
	name    string // s3proxy, s3proxy-pg, versitygw
	kind    string
	variant string // s3proxy's metadata store
	metaDSN string // its PostgreSQL DSN ("" for SQLite)
	host    string // 127.0.0.1:P
	admin   string // s3proxy's admin listener (host:port), "" for versitygw
	dataDir string
	logPath string
	cmd     *exec.Cmd
	done    chan struct{}
	waitErr error
	sampler *sampler
	cl      *clients
	// prepared records the profiles whose untimed set-up ran on this server.
	prepared map[string]any
}

// environment is everything one benchmark run owns: the servers, the temporary
// directory and the PostgreSQL schema.
type environment struct {
	opts      options
	root      string
	tmp       string
	log       io.Writer
	servers   []*server // s3proxy (SQLite), versitygw, then s3proxy-pg and s3proxy-pg-redis when available
	pgSchemas []string  // one per PostgreSQL variant, dropped at the end
	pgNote    string    // why a PostgreSQL variant is missing, if one is
	data      *payload
	tls       *benchTLS // -tls: the certificate both servers serve
	s3Bin     string
	baseBin   string
	vgwBin    string
}

func (e *environment) start(ctx context.Context) error {
	e.data = newPayload()
	if e.opts.tls {
		t, err := newBenchTLS(e.tmp)
		if err != nil {
			return fmt.Errorf("tls certificate: %w", err)
		}
		e.tls = t
	}
	want := func(kind string) bool { return e.opts.only == "" || e.opts.only == kind }
	if want(kindS3proxy) {
		bin, err := e.s3proxyBinary(ctx)
		if err != nil {
			return err
		}
		e.s3Bin = bin
		if err := e.startS3proxy(ctx, "s3proxy", variantSQLite, ""); err != nil {
			return err
		}
		if e.opts.compare != "" {
			bin, err := filepath.Abs(e.opts.compare)
			if err != nil {
				return err
			}
			e.baseBin = bin
			if err := e.startS3proxy(ctx, "s3proxy-base", variantBase, ""); err != nil {
				return err
			}
		}
	}
	if want(kindVersitygw) {
		bin, err := e.versitygwBinary()
		if err != nil {
			return err
		}
		e.vgwBin = bin
		if err := e.startVersitygw(ctx); err != nil {
			return err
		}
	}
	if want(kindS3proxy) && e.opts.pgDSN != "" {
		dsn, err := e.createSchema(ctx)
		if err != nil {
			if e.opts.requirePG {
				return fmt.Errorf("PostgreSQL variant: %w", err)
			}
			e.pgNote = "PostgreSQL unreachable (" + err.Error() + "): variants skipped"
			fmt.Fprintln(e.log, "bench:", e.pgNote)
			return nil
		}
		if err := e.startS3proxy(ctx, "s3proxy-pg", variantPG, dsn); err != nil {
			return err
		}
		if e.baseBin != "" {
			// The -compare binary on PostgreSQL too, in a schema of its own.
			bdsn, err := e.createSchema(ctx)
			if err != nil {
				return fmt.Errorf("PostgreSQL variant of the -compare binary: %w", err)
			}
			if err := e.startS3proxy(ctx, "s3proxy-base-pg", variantBasePG, bdsn); err != nil {
				return err
			}
		}
		if e.opts.redisURL == "" {
			e.pgNote = "PostgreSQL + Redis variant not requested (-redis empty)"
			return nil
		}
		if err := pingRedis(ctx, e.opts.redisURL); err != nil {
			if e.opts.requirePG {
				return fmt.Errorf("PostgreSQL + Redis variant: %w", err)
			}
			e.pgNote = "Redis unreachable (" + err.Error() + "): PostgreSQL + Redis variant skipped"
			fmt.Fprintln(e.log, "bench:", e.pgNote)
			return nil
		}
		// A schema of its own: the variant's metadata store (and so its Redis namespace)
		// is new, and nothing it caches can come from another run.
		dsn, err = e.createSchema(ctx)
		if err != nil {
			return fmt.Errorf("PostgreSQL + Redis variant: %w", err)
		}
		if err := e.startS3proxy(ctx, "s3proxy-pg-redis", variantPGRedis, dsn, "--redis", e.opts.redisURL); err != nil {
			return err
		}
	} else if e.opts.pgDSN == "" {
		e.pgNote = "PostgreSQL variants not requested (-pg empty)"
	}
	return nil
}

// pingRedis checks that Redis answers at url.
func pingRedis(ctx context.Context, url string) error {
	o, err := redis.ParseURL(url)
	if err != nil {
		return err
	}
	c := redis.NewClient(o)
	defer c.Close()
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return c.Ping(cctx).Err()
}

// targetsFor lists the servers a profile runs on: every kind, and the PostgreSQL
// variant of s3proxy only for profiles that measure the metadata store.
func (e *environment) targetsFor(p *profile) []*server {
	var out []*server
	for _, s := range e.servers {
		if s.pgOnly() && !p.pgVariant {
			continue
		}
		out = append(out, s)
	}
	return out
}

func (e *environment) server(kind, variant string) *server {
	for _, s := range e.servers {
		if s.kind == kind && s.variant == variant {
			return s
		}
	}
	return nil
}

func (e *environment) close() {
	for _, s := range e.servers {
		s.stop(e.log)
	}
	if len(e.pgSchemas) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if c, err := pgx.Connect(ctx, e.opts.pgDSN); err == nil {
			for _, name := range e.pgSchemas {
				_, _ = c.Exec(ctx, `DROP SCHEMA IF EXISTS "`+name+`" CASCADE`)
			}
			_ = c.Close(ctx)
		}
	}
}

// s3proxyBinary builds ./cmd/s3proxy unless a binary was given.
func (e *environment) s3proxyBinary(ctx context.Context) (string, error) {
	if e.opts.s3proxyBin != "" {
		return filepath.Abs(e.opts.s3proxyBin)
	}
	bin := filepath.Join(e.tmp, "s3proxy")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/s3proxy")
	cmd.Dir = e.root
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build ./cmd/s3proxy: %w\n%s", err, out.String())
	}
	return bin, nil
}

// versitygwBinary finds the pinned versitygw that scripts/install-tools.sh (or
// make bench) installed into .tools/bin, or one on PATH.
func (e *environment) versitygwBinary() (string, error) {
	if e.opts.versitygw != "" {
		return filepath.Abs(e.opts.versitygw)
	}
	p := filepath.Join(e.root, ".tools", "bin", "versitygw")
	if _, err := os.Stat(p); err == nil {
		return p, nil
	}
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p, nil
	}
	return "", errors.New("versitygw not found in .tools/bin or PATH: run `make bench` (which installs it) or scripts/install-tools.sh")
}

// createSchema makes an empty schema for this run, so that the benchmark never sees
// (or damages) another user's tables, and returns the DSN that selects it; s3proxy
// creates its tables in it on start.
func (e *environment) createSchema(ctx context.Context) (string, error) {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(cctx, e.opts.pgDSN)
	if err != nil {
		return "", err
	}
	defer c.Close(context.Background())
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := "bench_" + strconv.Itoa(os.Getpid()) + "_" + hex.EncodeToString(b[:])
	if _, err := c.Exec(cctx, `CREATE SCHEMA "`+name+`"`); err != nil {
		return "", err
	}
	e.pgSchemas = append(e.pgSchemas, name)
	dsn := e.opts.pgDSN
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	// pgx passes unknown URL parameters to the server as run-time parameters.
	return dsn + sep + "search_path=" + name, nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func (e *environment) startS3proxy(ctx context.Context, name, variant, metaDSN string, extra ...string) error {
	p, err := freePort()
	if err != nil {
		return err
	}
	q, err := freePort()
	if err != nil {
		return err
	}
	s := &server{name: name, kind: kindS3proxy, variant: variant, metaDSN: metaDSN, host: "127.0.0.1:" + strconv.Itoa(p),
		admin: "127.0.0.1:" + strconv.Itoa(q), dataDir: filepath.Join(e.tmp, name+"-data"), logPath: filepath.Join(e.tmp, name+".log")}
	args := []string{"serve", "--listen", s.host, "--admin-listen", s.admin, "--data", s.dataDir}
	if metaDSN != "" {
		args = append(args, "--meta", metaDSN)
	}
	if e.tls != nil {
		args = append(args, "--tls-cert", e.tls.certFile, "--tls-key", e.tls.keyFile)
	}
	args = append(args, extra...)
	env := append(os.Environ(), "S3PROXY_ACCESS_KEY="+accessKey, "S3PROXY_SECRET_KEY="+secretKey, "S3PROXY_LOG_LEVEL=warn")
	if e.opts.pprof {
		env = append(env, "S3PROXY_DEBUG_PPROF=1")
	}
	bin := e.s3Bin
	if variant == variantBase || variant == variantBasePG {
		bin = e.baseBin
	}
	if err := e.launch(ctx, s, bin, args, env); err != nil {
		return err
	}
	if e.opts.pprof {
		fmt.Fprintf(e.log, "bench: %s pprof: http://%s/debug/pprof/ (pid %d)\n", s.name, s.admin, s.cmd.Process.Pid)
	}
	return nil
}

func (e *environment) startVersitygw(ctx context.Context) error {
	p, err := freePort()
	if err != nil {
		return err
	}
	s := &server{name: "versitygw", kind: kindVersitygw, host: "127.0.0.1:" + strconv.Itoa(p),
		dataDir: filepath.Join(e.tmp, "versitygw-data"), logPath: filepath.Join(e.tmp, "versitygw.log")}
	if err := os.MkdirAll(s.dataDir, 0o755); err != nil {
		return err
	}
	// --keep-alive: versitygw closes every connection after one request unless told
	// otherwise; SDKs reuse connections, so its best configuration is the fair one.
	// --quiet: no per-request line on stdout.
	args := []string{"--access", accessKey, "--secret", secretKey, "--region", region, "--port", s.host,
		"--keep-alive", "--quiet"}
	if e.tls != nil {
		args = append(args, "--cert", e.tls.certFile, "--key", e.tls.keyFile)
	}
	args = append(args, "posix", s.dataDir)
	return e.launch(ctx, s, e.vgwBin, args, os.Environ())
}

func (e *environment) launch(ctx context.Context, s *server, bin string, args, env []string) error {
	logf, err := os.Create(s.logPath)
	if err != nil {
		return err
	}
	s.cmd = exec.Command(bin, args...)
	s.cmd.Env = env
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	// If the benchmark dies, take the server with it.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start %s: %w", s.name, err)
	}
	s.done = make(chan struct{})
	go func() {
		s.waitErr = s.cmd.Wait()
		logf.Close()
		close(s.done)
	}()
	e.servers = append(e.servers, s)
	if err := s.waitReady(ctx, 60*time.Second, e.tls); err != nil {
		return fmt.Errorf("%s: %w\n%s", s.name, err, tail(s.logPath))
	}
	s.sampler = newSampler(s.cmd.Process.Pid)
	if s.cl, err = newClients(s.host, e.tls); err != nil {
		return err
	}
	s.prepared = map[string]any{}
	return nil
}

// waitReady polls s3proxy's /readyz, or versitygw's S3 port (it has no health
// endpoint: any HTTP answer means it serves).
func (s *server) waitReady(ctx context.Context, limit time.Duration, t *benchTLS) error {
	url := "http://" + s.host + "/"
	c := &http.Client{Timeout: 2 * time.Second}
	if t != nil {
		url = "https://" + s.host + "/"
		c.Transport = &http.Transport{TLSClientConfig: t.client}
	}
	if s.admin != "" {
		url = "http://" + s.admin + "/readyz" // the admin listener stays plain HTTP
	}
	deadline := time.Now().Add(limit)
	for {
		select {
		case <-s.done:
			return fmt.Errorf("exited during start-up: %v", s.waitErr)
		default:
		}
		resp, err := c.Get(url)
		if err == nil {
			resp.Body.Close()
			if s.admin == "" || resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %s (last: %v)", limit, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (s *server) stop(log io.Writer) {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	select {
	case <-s.done:
		fmt.Fprintf(log, "bench: %s had exited: %v\n%s", s.name, s.waitErr, tail(s.logPath))
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// alive reports an error when the server process has exited.
func (s *server) alive() error {
	select {
	case <-s.done:
		return fmt.Errorf("%s exited: %v\n%s", s.name, s.waitErr, tail(s.logPath))
	default:
		return nil
	}
}

// tail returns the last lines of a log file, for error messages.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// sampler reads a process's CPU time and resident memory from /proc.
type sampler struct {
	pid int
}

func newSampler(pid int) *sampler { return &sampler{pid: pid} }

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat; it is 100
// on every Linux architecture Go supports (part of the kernel ABI, not HZ).
const clockTicks = 100

// selfCPU is the load generator's own user+system CPU time so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// machineIdle is the idle time of all cores so far (/proc/stat's "cpu" line: idle and
// iowait), 0 where it cannot be read.
func machineIdle() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 6 || f[0] != "cpu" {
		return 0
	}
	var ticks int64
	for _, v := range f[4:6] {
		n, _ := strconv.ParseInt(v, 10, 64)
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks
}

// serviceCPU is the CPU time so far of the PostgreSQL and Redis servers on this machine
// (every process named postgres or redis-server): the metadata services' share of the
// machine, which s3proxy's own figure does not include.
func serviceCPU() time.Duration {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	var total time.Duration
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		comm, err := os.ReadFile("/proc/" + e.Name() + "/comm")
		if name := strings.TrimSpace(string(comm)); err != nil || (name != "postgres" && name != "redis-server") {
			continue
		}
		if d, err := (&sampler{pid: pid}).cpu(); err == nil {
			total += d
		}
	}
	return total
}

// cpu returns the process's user+system CPU time so far.
func (s *sampler) cpu() (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(s.pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces; fields are counted after its ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("malformed /proc stat")
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, errors.New("short /proc stat")
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("malformed /proc stat times")
	}
	return time.Duration(ut+st) * time.Second / clockTicks, nil
}

// rss returns VmRSS in bytes.
func (s *sampler) rss() int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(s.pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(v)
			if len(f) >= 1 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}

// watch samples VmRSS every 10 ms until stop is called, and returns a function that
// stops it and reports the highest value seen. VmHWM would be the kernel's own peak,
// but it cannot be reset between profiles.
func (s *sampler) watch() (stop func() int64) {
	var peak int64
	quit := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			if v := s.rss(); v > peak {
				peak = v
			}
			select {
			case <-quit:
				return
			case <-t.C:
			}
		}
	}()
	return func() int64 {
		close(quit)
		<-done
		if v := s.rss(); v > peak {
			peak = v
		}
		return peak
	}
}
