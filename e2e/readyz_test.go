package e2e

import (
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// privatePostgres runs a throwaway PostgreSQL server (initdb into a temp dir) that a
// test may stop and start without disturbing the shared one.
type privatePostgres struct {
	t    testing.TB
	bin  string
	dir  string
	port int
}

func startPrivatePostgres(t *testing.T) *privatePostgres {
	t.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(bins) == 0 {
		need(t, os.ErrNotExist, "PostgreSQL server binaries (initdb, pg_ctl)")
	}
	// Not t.TempDir(): its parent is private to root, and the server runs as postgres.
	dir, err := os.MkdirTemp("", "s3proxy-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	pg := &privatePostgres{t: t, bin: filepath.Dir(bins[len(bins)-1]), dir: dir, port: freePort(t)}
	// PostgreSQL refuses to run as root: run it as the postgres user when we are root.
	if u, _ := user.Current(); u != nil && u.Uid == "0" {
		if err := exec.Command("chown", "-R", "postgres", pg.dir).Run(); err != nil {
			t.Fatalf("chown: %v", err)
		}
	}
	pg.run("initdb", "-D", filepath.Join(pg.dir, "db"), "-A", "trust", "-U", "postgres", "--no-sync")
	pg.start()
	t.Cleanup(func() { pg.run("pg_ctl", "-D", filepath.Join(pg.dir, "db"), "-m", "immediate", "stop") })
	return pg
}

func (pg *privatePostgres) run(name string, args ...string) {
	pg.t.Helper()
	cmd := exec.Command(filepath.Join(pg.bin, name), args...)
	if u, _ := user.Current(); u != nil && u.Uid == "0" {
		cmd = exec.Command("runuser", append([]string{"-u", "postgres", "--", filepath.Join(pg.bin, name)}, args...)...)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		pg.t.Logf("%s %v: %v\n%s", name, args, err, out)
	}
}

func (pg *privatePostgres) start() {
	pg.run("pg_ctl", "-D", filepath.Join(pg.dir, "db"), "-w", "-l", filepath.Join(pg.dir, "log"),
		"-o", "-p "+strconv.Itoa(pg.port)+" -h 127.0.0.1 -k "+pg.dir, "start")
}

func (pg *privatePostgres) stop() {
	pg.run("pg_ctl", "-D", filepath.Join(pg.dir, "db"), "-m", "fast", "-w", "stop")
}

func (pg *privatePostgres) dsn() string {
	return "postgres://postgres@127.0.0.1:" + strconv.Itoa(pg.port) + "/postgres?sslmode=disable"
}

// TestReadyzFollowsPostgres stops the metadata database under a running server:
// /readyz turns unready within seconds while the process keeps running, and ready
// again once the database is back.
func TestReadyzFollowsPostgres(t *testing.T) {
	t.Parallel()
	onlyS3proxy(t)
	pg := startPrivatePostgres(t)
	s := startServer(t, serverOptions{meta: pg.dsn()})
	status := func() int {
		c := http.Client{Timeout: 5 * time.Second}
		resp, err := c.Get(s.admin + "/readyz")
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	waitFor := func(want int, within time.Duration) {
		t.Helper()
		deadline := time.Now().Add(within)
		for status() != want {
			if time.Now().After(deadline) {
				t.Fatalf("/readyz did not answer %d within %v (last %d)", want, within, status())
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	waitFor(http.StatusOK, 10*time.Second)
	pg.stop()
	start := time.Now()
	waitFor(http.StatusServiceUnavailable, 10*time.Second)
	t.Logf("unready %v after PostgreSQL stopped", time.Since(start).Round(time.Millisecond))
	if resp, err := http.Get(s.admin + "/healthz"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("/healthz while the database is down: %v", err)
	}
	pg.start()
	start = time.Now()
	waitFor(http.StatusOK, 30*time.Second)
	t.Logf("ready again %v after PostgreSQL restarted", time.Since(start).Round(time.Millisecond))
	c := s3Client(s, s.cred)
	createBucket(t, c, "after-outage")
}
