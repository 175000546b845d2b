package certs

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"s3proxy/internal/testcert"
)

// logCounter counts log records by level (and keeps the messages for failures).
type logCounter struct {
	mu   sync.Mutex
	n    map[slog.Level]int
	msgs []string
}

func (l *logCounter) Enabled(context.Context, slog.Level) bool { return true }
func (l *logCounter) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n == nil {
		l.n = map[slog.Level]int{}
	}
	l.n[r.Level]++
	l.msgs = append(l.msgs, r.Level.String()+" "+r.Message)
	return nil
}
func (l *logCounter) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logCounter) WithGroup(string) slog.Handler      { return l }
func (l *logCounter) count(level slog.Level) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n[level]
}

func TestNewKeyPairRefusesBadFiles(t *testing.T) {
	ca := testcert.NewCA(t, "test CA")
	good := ca.Issue(t, 1, time.Time{}, "127.0.0.1")
	other := ca.Issue(t, 2, time.Time{}, "127.0.0.1")
	for _, tc := range []struct {
		name      string
		cert, key []byte // nil: the file does not exist
		want      string
	}{
		{"good", good.CertPEM, good.KeyPEM, ""},
		{"no certificate file", nil, good.KeyPEM, "certificate: stat "},
		{"no key file", good.CertPEM, nil, "key: stat "},
		{"empty certificate", []byte{}, good.KeyPEM, "certificate and key: tls: failed to find any PEM data in certificate input"},
		{"garbage certificate", []byte("not a certificate\n"), good.KeyPEM, "failed to find any PEM data in certificate input"},
		{"truncated certificate", good.CertPEM[:len(good.CertPEM)/2], good.KeyPEM, "certificate and key:"},
		{"garbage key", good.CertPEM, []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), "certificate and key:"},
		{"key of another certificate", good.CertPEM, other.KeyPEM, "private key does not match public key"},
		{"key and certificate swapped", good.KeyPEM, good.CertPEM, "certificate and key:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
			if tc.cert != nil {
				testcert.WriteFile(t, certFile, tc.cert)
			}
			if tc.key != nil {
				testcert.WriteFile(t, keyFile, tc.key)
			}
			kp, err := NewKeyPair(certFile, keyFile, Options{})
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if kp.Leaf().SerialNumber.Int64() != 1 {
					t.Errorf("serial %v", kp.Leaf().SerialNumber)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

// tlsServer serves HTTPS with kp's certificate; served returns the serial the server
// presents to a new connection.
func tlsServer(t *testing.T, kp *KeyPair, ca *testcert.CA) (served func() int64) {
	t.Helper()
	// Not httptest's StartTLS: it adds its own certificate, which crypto/tls prefers
	// to GetCertificate when the client sends no server name (an IP address).
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.NotFoundHandler(), ErrorLog: log.New(io.Discard, "", 0)}
	go srv.Serve(tls.NewListener(ln, &tls.Config{GetCertificate: kp.GetCertificate, MinVersion: tls.VersionTLS12}))
	t.Cleanup(func() { srv.Close() })
	addr := ln.Addr().String()
	return func() int64 {
		t.Helper()
		conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: testcert.Pool(ca.Cert), ServerName: "127.0.0.1"})
		if err != nil {
			t.Fatalf("handshake: %v", err)
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
	}
}

// TestKeyPairReload replaces the files under a live TLS server the ways certificate
// tools do, and some ways they fail: every handshake gets the newest pair that loads,
// a broken replacement keeps the last good pair, and a failure is reported at once to
// OnReload but logged as a warning only once it stays.
func TestKeyPairReload(t *testing.T) {
	ca := testcert.NewCA(t, "test CA")
	pairs := map[int64]testcert.Pair{}
	for serial := int64(1); serial <= 6; serial++ {
		pairs[serial] = ca.Issue(t, serial, time.Time{}, "127.0.0.1")
	}
	dir := t.TempDir()
	certFile, keyFile := pairs[1].Write(t, dir)
	logs := &logCounter{}
	var oks, errs atomic.Int32
	kp, err := NewKeyPair(certFile, keyFile, Options{Interval: -1, Log: slog.New(logs), OnReload: func(err error) {
		if err != nil {
			errs.Add(1)
		} else {
			oks.Add(1)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	served := tlsServer(t, kp, ca)
	// In-place writes (not renames): what `cp` does, so a reader can see half a file.
	// The pause keeps two writes of the same size from sharing a modification time
	// (the kernel stamps files with a coarse clock); real rotations are far apart.
	writeInPlace := func(path string, data []byte) {
		t.Helper()
		time.Sleep(20 * time.Millisecond)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	steps := []struct {
		name       string
		change     func()
		handshakes int   // handshakes made after the change
		want       int64 // serial served
		oks, errs  int32 // OnReload calls so far
		warnings   int   // warnings logged so far
	}{
		{"unchanged", func() {}, 2, 1, 0, 0, 0},
		{"both replaced by rename", func() { pairs[2].Write(t, dir) }, 2, 2, 1, 0, 0},
		{"garbage certificate: first check", func() { writeInPlace(certFile, []byte("garbage")) }, 1, 2, 1, 1, 0},
		{"garbage certificate: still garbage, warned once", func() {}, 3, 2, 1, 4, 1},
		{"new certificate, old key (half copied)", func() { writeInPlace(certFile, pairs[3].CertPEM) }, 1, 2, 1, 5, 1},
		{"its key follows", func() { writeInPlace(keyFile, pairs[3].KeyPEM) }, 1, 3, 2, 5, 1},
		{"key deleted", func() { os.Remove(keyFile) }, 2, 3, 2, 7, 2},
		{"both back", func() { pairs[4].Write(t, dir) }, 1, 4, 3, 7, 2},
	}
	for _, st := range steps {
		st.change()
		for range st.handshakes {
			if got := served(); got != st.want {
				t.Fatalf("%s: served serial %d, want %d", st.name, got, st.want)
			}
		}
		if oks.Load() != st.oks || errs.Load() != st.errs {
			t.Errorf("%s: OnReload ok %d, errors %d; want %d, %d", st.name, oks.Load(), errs.Load(), st.oks, st.errs)
		}
		if got := logs.count(slog.LevelWarn); got != st.warnings {
			t.Errorf("%s: %d warnings, want %d: %q", st.name, got, st.warnings, logs.msgs)
		}
	}

	// A forced reload (SIGHUP) of broken files is refused at once, with a warning.
	writeInPlace(keyFile, pairs[5].KeyPEM)
	if err := kp.Reload(); err == nil || !strings.Contains(err.Error(), "private key does not match") {
		t.Errorf("Reload of a mismatched pair: %v", err)
	}
	if logs.count(slog.LevelWarn) != 3 {
		t.Errorf("forced reload failure not warned: %q", logs.msgs)
	}
	writeInPlace(certFile, pairs[5].CertPEM)
	if err := kp.Reload(); err != nil || served() != 5 {
		t.Errorf("Reload: %v, serial %d", err, served())
	}
}

// TestKeyPairSymlinkSwap: a Kubernetes secret volume replaces its files by pointing the
// ..data symlink at a new directory; the names the server was given never change.
func TestKeyPairSymlinkSwap(t *testing.T) {
	ca := testcert.NewCA(t, "test CA")
	dir := t.TempDir()
	version := func(name string, p testcert.Pair) {
		t.Helper()
		if err := os.Mkdir(filepath.Join(dir, name), 0o700); err != nil {
			t.Fatal(err)
		}
		p.Write(t, filepath.Join(dir, name))
		tmp := filepath.Join(dir, "..data_tmp")
		if err := os.Symlink(name, tmp); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
			t.Fatal(err)
		}
	}
	version("..v1", ca.Issue(t, 1, time.Time{}, "127.0.0.1"))
	for _, name := range []string{"cert.pem", "key.pem"} {
		if err := os.Symlink(filepath.Join("..data", name), filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	kp, err := NewKeyPair(filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"), Options{Interval: -1})
	if err != nil {
		t.Fatal(err)
	}
	served := tlsServer(t, kp, ca)
	if got := served(); got != 1 {
		t.Fatalf("serial %d, want 1", got)
	}
	version("..v2", ca.Issue(t, 2, time.Time{}, "127.0.0.1"))
	if got := served(); got != 2 {
		t.Errorf("after the symlink swap: serial %d, want 2", got)
	}
}

// TestCheckInterval: the files are looked at no more than once per interval, however
// many handshakes ask.
func TestCheckInterval(t *testing.T) {
	ca := testcert.NewCA(t, "test CA")
	dir := t.TempDir()
	certFile, keyFile := ca.Issue(t, 1, time.Time{}, "127.0.0.1").Write(t, dir)
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	kp, err := NewKeyPair(certFile, keyFile, Options{Interval: 5 * time.Second, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	ca.Issue(t, 2, time.Time{}, "127.0.0.1").Write(t, dir)
	for _, tc := range []struct {
		advance time.Duration
		want    int64
	}{{0, 1}, {4 * time.Second, 1}, {time.Second, 2}} {
		advance(tc.advance)
		if got := kp.Leaf().SerialNumber.Int64(); got != tc.want {
			t.Errorf("after +%v: serial %d, want %d", tc.advance, got, tc.want)
		}
	}
}

// TestConcurrentHandshakes: many handshakes while the pair is replaced (run with -race).
func TestConcurrentHandshakes(t *testing.T) {
	ca := testcert.NewCA(t, "test CA")
	dir := t.TempDir()
	certFile, keyFile := ca.Issue(t, 1, time.Time{}, "127.0.0.1").Write(t, dir)
	kp, err := NewKeyPair(certFile, keyFile, Options{Interval: -1})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 200 {
				c, err := kp.GetCertificate(nil)
				if err != nil || c == nil || c.Leaf == nil {
					t.Errorf("GetCertificate: %v, %v", c, err)
					return
				}
			}
		})
	}
	for serial := int64(2); serial <= 5; serial++ {
		ca.Issue(t, serial, time.Time{}, "127.0.0.1").Write(t, dir)
	}
	wg.Wait()
	if got := kp.Leaf().SerialNumber.Int64(); got != 5 {
		t.Errorf("serial %d after the last replacement, want 5", got)
	}
}

// TestPool: the CA bundle other nodes are checked against follows its file, and a
// broken replacement keeps the last good bundle.
func TestPool(t *testing.T) {
	ca1, ca2 := testcert.NewCA(t, "CA one"), testcert.NewCA(t, "CA two")
	leaf2 := ca2.Issue(t, 7, time.Time{}, "node2.internal")
	path := filepath.Join(t.TempDir(), "ca.pem")
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"missing", nil, "CA bundle: stat "},
		{"empty", []byte{}, "holds no PEM certificate"},
		{"not PEM", []byte("hello"), "holds no PEM certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			os.Remove(path)
			if tc.data != nil {
				testcert.WriteFile(t, path, tc.data)
			}
			if _, err := NewPool(path, Options{}); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
	testcert.WriteFile(t, path, ca1.PEM)
	p, err := NewPool(path, Options{Interval: -1})
	if err != nil {
		t.Fatal(err)
	}
	verifies := func() bool {
		_, err := leaf2.Cert.Verify(x509.VerifyOptions{Roots: p.Get(), DNSName: "node2.internal"})
		return err == nil
	}
	for _, st := range []struct {
		name string
		data []byte
		want bool
	}{
		{"CA one only", nil, false},
		{"both CAs", append(append([]byte{}, ca1.PEM...), ca2.PEM...), true},
		{"garbage keeps both", []byte("garbage"), true},
		{"CA one again", ca1.PEM, false},
	} {
		if st.data != nil {
			testcert.WriteFile(t, path, st.data)
		}
		if got := verifies(); got != st.want {
			t.Errorf("%s: a certificate of CA two verifies: %v, want %v", st.name, got, st.want)
		}
	}
}
