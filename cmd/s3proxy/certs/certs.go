// Package certs serves TLS material from files that are replaced while the server runs:
// the S3 listener's certificate and key (KeyPair, for tls.Config.GetCertificate) and the
// CA bundle other nodes' certificates are checked against (Pool).
//
// Certificates are rotated in place by cert-manager (a Kubernetes secret volume swaps a
// symlink), by an ACME client or by a cron job copying files. Each watched value checks
// its files' identity (device, inode, size, modification time) when it is used, at most
// once per Options.Interval, and reloads when it changed; Reload forces a reload (the
// server calls it on SIGHUP). A reload that fails (a file missing, half-written, not
// PEM, a key that does not match its certificate) keeps the last good value: the server
// goes on with the certificate it has rather than fail handshakes. Failures are retried
// at every later check, reported to Options.OnReload each time and logged as a warning
// once the files have stayed the same for a whole interval, so that the usual two-step
// copy of a certificate and then its key does not warn between the two steps.
//
// Loading at start-up is strict: New* fails on any problem, so that a server never
// starts without a usable certificate.
package certs

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// DefaultInterval is how often, at most, the files are checked for a change.
const DefaultInterval = 5 * time.Second

// Options tune a watched value.
type Options struct {
	// Interval between checks of the files; 0 means DefaultInterval, negative means
	// at every use (tests).
	Interval time.Duration
	Log      *slog.Logger
	// OnReload is told of every reload after the first load: nil when the new files are
	// in use, the error when they were refused and the old value kept.
	OnReload func(err error)
	// Now overrides the clock (tests).
	Now func() time.Time
}

// KeyPair is a certificate and key kept in step with their files.
type KeyPair struct {
	w *watched[tls.Certificate]
}

// NewKeyPair loads the pair from certFile (the certificate, then any intermediates) and
// keyFile; an error names the file at fault.
func NewKeyPair(certFile, keyFile string, o Options) (*KeyPair, error) {
	w, err := newWatched(o, "certificate", []file{{"certificate", certFile}, {"key", keyFile}}, func() (*tls.Certificate, error) {
		return loadKeyPair(certFile, keyFile)
	}, describeCert)
	if err != nil {
		return nil, err
	}
	return &KeyPair{w: w}, nil
}

// GetCertificate implements tls.Config.GetCertificate: the current pair, after checking
// the files if a check is due.
func (k *KeyPair) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return k.w.get(), nil
}

// Leaf returns the certificate being served, after checking the files if a check is due
// (so that a metric scraped while no client connects still follows the files).
func (k *KeyPair) Leaf() *x509.Certificate { return k.w.get().Leaf }

// Reload reads the files now, whether or not they look changed. On an error the
// previous pair stays in use.
func (k *KeyPair) Reload() error { return k.w.reload(true) }

func loadKeyPair(certFile, keyFile string) (*tls.Certificate, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("certificate: %w", err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("key: %w", err)
	}
	// X509KeyPair checks that the key belongs to the first certificate and fills Leaf.
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("certificate and key: %w", err)
	}
	if cert.Leaf == nil {
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, fmt.Errorf("certificate %s: %w", certFile, err)
		}
	}
	return &cert, nil
}

func describeCert(c *tls.Certificate) []any {
	l := c.Leaf
	return []any{"subject", l.Subject.String(), "serial", l.SerialNumber.String(), "not_after", l.NotAfter.UTC().Format(time.RFC3339)}
}

// Pool is a CA bundle kept in step with its file.
type Pool struct {
	w *watched[x509.CertPool]
}

// NewPool loads the PEM bundle in path; it must hold at least one certificate.
func NewPool(path string, o Options) (*Pool, error) {
	w, err := newWatched(o, "CA bundle", []file{{"CA bundle", path}}, func() (*x509.CertPool, error) {
		return loadPool(path)
	}, nil)
	if err != nil {
		return nil, err
	}
	return &Pool{w: w}, nil
}

// Get returns the current pool, after checking the file if a check is due.
func (p *Pool) Get() *x509.CertPool { return p.w.get() }

// Reload reads the file now; on an error the previous pool stays in use.
func (p *Pool) Reload() error { return p.w.reload(true) }

func loadPool(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("CA bundle: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("CA bundle: %s holds no PEM certificate", path)
	}
	return pool, nil
}

// file is one watched file and its role, which errors name.
type file struct{ role, path string }

// watched is a value loaded from files and reloaded when they change.
type watched[T any] struct {
	o        Options
	what     string
	files    []file
	load     func() (*T, error)
	describe func(*T) []any

	cur  atomic.Pointer[T]
	next atomic.Int64 // UnixNano of the next due check

	mu       sync.Mutex // one check or reload at a time
	stamp    string     // identity of the files cur was loaded from
	failed   string     // identity of files that failed to load ("" when the last load worked)
	reported bool       // the failure of failed was logged
}

func newWatched[T any](o Options, what string, files []file, load func() (*T, error), describe func(*T) []any) (*watched[T], error) {
	if o.Interval == 0 {
		o.Interval = DefaultInterval
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	w := &watched[T]{o: o, what: what, files: files, load: load, describe: describe}
	// The identity is taken before reading: a change while we read shows as a new
	// identity at the next check, and is read again then.
	stamp, err := w.identity()
	if err != nil {
		return nil, err
	}
	v, err := load()
	if err != nil {
		return nil, err
	}
	w.cur.Store(v)
	w.stamp = stamp
	w.next.Store(o.Now().Add(o.Interval).UnixNano())
	return w, nil
}

// get returns the current value, checking the files first when a check is due. Only one
// caller checks; the others are served the current value meanwhile.
func (w *watched[T]) get() *T {
	if now := w.o.Now(); now.UnixNano() >= w.next.Load() && w.mu.TryLock() {
		w.next.Store(now.Add(w.o.Interval).UnixNano())
		w.reloadLocked(false)
		w.mu.Unlock()
	}
	return w.cur.Load()
}

func (w *watched[T]) reload(force bool) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.reloadLocked(force)
}

// reloadLocked reloads when forced or when the files' identity changed, or while the
// last load failed. It returns the load's error (nil when nothing was to be done).
func (w *watched[T]) reloadLocked(force bool) error {
	stamp, err := w.identity()
	if err != nil {
		// A missing file is a state of the files like any other: the same error at
		// two checks in a row is a settled failure.
		stamp = "unreadable: " + err.Error()
	} else if !force && stamp == w.stamp && w.failed == "" {
		return nil
	}
	if err == nil {
		v, lerr := w.load()
		if lerr == nil {
			w.cur.Store(v)
			w.stamp, w.failed, w.reported = stamp, "", false
			args := []any{"files", w.paths()}
			if w.describe != nil {
				args = append(args, w.describe(v)...)
			}
			w.o.Log.Info("tls: "+w.what+" reloaded", args...)
			w.notify(nil)
			return nil
		}
		err = lerr
	}
	// A forced reload is an operator's request: answer it at once. Otherwise warn only
	// once the same failing files were seen at two checks in a row, so that a
	// certificate copied before its key is not reported between the two copies.
	settled := stamp == w.failed
	switch {
	case force || (settled && !w.reported):
		w.o.Log.Warn("tls: keeping the previous "+w.what+"; its files do not load", "files", w.paths(), "err", err)
		w.reported = true
	case !settled:
		w.o.Log.Debug("tls: "+w.what+" files changed but do not load (yet); retrying", "files", w.paths(), "err", err)
	}
	if !settled {
		w.failed, w.reported = stamp, force
	}
	w.notify(err)
	return fmt.Errorf("%s not reloaded: %w", w.what, err)
}

func (w *watched[T]) paths() []string {
	out := make([]string, len(w.files))
	for i, f := range w.files {
		out[i] = f.path
	}
	return out
}

func (w *watched[T]) notify(err error) {
	if w.o.OnReload != nil {
		w.o.OnReload(err)
	}
}

// identity describes the files as the file system sees them. Device and inode change
// when a file is replaced by a rename (a symlink swap included: Stat follows links);
// size and modification time when it is rewritten in place.
func (w *watched[T]) identity() (string, error) {
	var id []byte
	for _, f := range w.files {
		fi, err := os.Stat(f.path)
		if err != nil {
			return "", fmt.Errorf("%s: %w", f.role, err)
		}
		var dev, ino uint64
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			dev, ino = uint64(st.Dev), st.Ino
		}
		id = fmt.Appendf(id, "%d:%d:%d:%d;", dev, ino, fi.Size(), fi.ModTime().UnixNano())
	}
	return string(id), nil
}
