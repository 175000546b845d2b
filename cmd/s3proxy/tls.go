package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	stdlog "log"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"s3proxy/cmd/s3proxy/certs"
	"s3proxy/cmd/s3proxy/config"
)

// serverTLS is the TLS material of a serve process: the listener's certificate (nil
// without tls_cert) and the CA bundle other nodes are checked against (nil without
// cluster_ca: the system roots).
type serverTLS struct {
	cert *certs.KeyPair
	ca   *certs.Pool
}

// loadTLS reads tls_cert/tls_key and cluster_ca. Start-up stops on any problem: a server
// that was asked for HTTPS never falls back to plain HTTP.
func loadTLS(cfg *config.Config, log *slog.Logger, m *tlsMetrics) (*serverTLS, error) {
	var st serverTLS
	if cfg.TLS() {
		kp, err := certs.NewKeyPair(cfg.TLSCert, cfg.TLSKey, certs.Options{Log: log, OnReload: m.reloaded("certificate")})
		if err != nil {
			return nil, fmt.Errorf("tls_cert %s, tls_key %s: %w", cfg.TLSCert, cfg.TLSKey, err)
		}
		warnValidity(log, kp.Leaf(), time.Now())
		st.cert = kp
		m.watchExpiry(kp)
	}
	pool, err := loadClusterCA(cfg, certs.Options{Log: log, OnReload: m.reloaded("cluster_ca")})
	if err != nil {
		return nil, err
	}
	st.ca = pool
	return &st, nil
}

// loadClusterCA reads cluster_ca, if set.
func loadClusterCA(cfg *config.Config, o certs.Options) (*certs.Pool, error) {
	if cfg.ClusterCA == "" {
		return nil, nil
	}
	pool, err := certs.NewPool(cfg.ClusterCA, o)
	if err != nil {
		return nil, fmt.Errorf("cluster_ca %s: %w", cfg.ClusterCA, err)
	}
	return pool, nil
}

// roots is cluster.Config.RootCAs: nil (the system roots) without cluster_ca.
func (st *serverTLS) roots() func() *x509.CertPool {
	if st == nil || st.ca == nil {
		return nil
	}
	return st.ca.Get
}

// serverConfig is the S3 listener's TLS configuration: TLS 1.2 and later with Go's
// default cipher suites, and the certificate of the moment. Only GetCertificate is set:
// crypto/tls would prefer a fixed Certificates entry for clients that send no server
// name (any client given an IP address).
func (st *serverTLS) serverConfig() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: st.cert.GetCertificate}
}

// http1Only is the listener's protocol set with TLS. net/http would offer HTTP/2 by
// ALPN; we do not (docs/design-notes.md, "TLS"): S3 clients speak HTTP/1.1, and the
// handlers' connection-level behaviour (Connection: close after early answers and
// errors, draining an unread body, sendfile) has HTTP/1.1 semantics.
func http1Only() *http.Protocols {
	var p http.Protocols
	p.SetHTTP1(true)
	return &p
}

// reload reloads the certificate and the cluster CA bundle now (SIGHUP); the files are
// also checked on their own every few seconds (certs). A failed reload keeps what is in
// use and has been logged by certs.
func (st *serverTLS) reload(log *slog.Logger) {
	if st.cert == nil && st.ca == nil {
		return
	}
	log.Info("SIGHUP: reloading TLS files")
	if st.cert != nil {
		_ = st.cert.Reload()
	}
	if st.ca != nil {
		_ = st.ca.Reload()
	}
}

// warnValidity warns about a certificate that clients will refuse because of its dates.
// It does not stop start-up: an operator renewing it should not have to race a restart
// loop, and the expiry metric shows it.
func warnValidity(log *slog.Logger, leaf *x509.Certificate, now time.Time) {
	switch {
	case now.After(leaf.NotAfter):
		log.Warn("tls: the certificate has expired; clients will refuse it", "not_after", leaf.NotAfter.UTC().Format(time.RFC3339))
	case now.Before(leaf.NotBefore):
		log.Warn("tls: the certificate is not valid yet; clients will refuse it", "not_before", leaf.NotBefore.UTC().Format(time.RFC3339))
	}
}

// selfSigned reports whether leaf signed itself: a client can then trust it by naming
// the certificate file as its CA bundle (the banner says so).
func selfSigned(leaf *x509.Certificate) bool {
	return string(leaf.RawIssuer) == string(leaf.RawSubject) &&
		leaf.CheckSignature(leaf.SignatureAlgorithm, leaf.RawTBSCertificate, leaf.Signature) == nil
}

// tlsMetrics exports the served certificate's expiry, reloads, and failed handshakes.
// Nil (no TLS configured) exports nothing.
type tlsMetrics struct {
	reg        *prometheus.Registry
	reloads    *prometheus.CounterVec
	handshakes prometheus.Counter
}

func newTLSMetrics(reg *prometheus.Registry, cfg *config.Config) *tlsMetrics {
	if !cfg.TLS() && cfg.ClusterCA == "" {
		return nil
	}
	m := &tlsMetrics{
		reg: reg,
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "s3proxy_tls_reloads_total",
			Help: "Reloads of TLS files after start by file (certificate, cluster_ca) and result (ok; error: the previous one is kept, counted at every check while the files do not load)."},
			[]string{"file", "result"}),
		handshakes: prometheus.NewCounter(prometheus.CounterOpts{Name: "s3proxy_tls_handshake_errors_total",
			Help: "Failed TLS handshakes on the S3 listener (clients that do not trust the certificate or speak an old TLS version, probes, scanners)."}),
	}
	reg.MustRegister(m.reloads)
	if cfg.TLS() {
		reg.MustRegister(m.handshakes)
		m.reloads.WithLabelValues("certificate", "ok")
		m.reloads.WithLabelValues("certificate", "error")
	}
	if cfg.ClusterCA != "" {
		m.reloads.WithLabelValues("cluster_ca", "ok")
		m.reloads.WithLabelValues("cluster_ca", "error")
	}
	return m
}

// reloaded is certs.Options.OnReload for file.
func (m *tlsMetrics) reloaded(file string) func(error) {
	if m == nil {
		return nil
	}
	return func(err error) {
		result := "ok"
		if err != nil {
			result = "error"
		}
		m.reloads.WithLabelValues(file, result).Inc()
	}
}

// watchExpiry exports the served certificate's NotAfter. Reading it checks the files
// (if a check is due), so a scrape follows a rotation even while no client connects.
func (m *tlsMetrics) watchExpiry(kp *certs.KeyPair) {
	if m == nil {
		return
	}
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "s3proxy_tls_certificate_expiry_timestamp_seconds",
		Help: "NotAfter of the certificate the S3 listener serves, in Unix seconds."},
		func() float64 { return float64(kp.Leaf().NotAfter.Unix()) }))
}

// serverErrorLog is the S3 server's error log. net/http reports every failed TLS
// handshake there, one line each: load balancers' TCP probes, scanners, clients that do
// not trust the certificate. Those are counted and logged at debug level; the rest of
// what net/http reports stays a warning.
func serverErrorLog(log *slog.Logger, m *tlsMetrics) *stdlog.Logger {
	return stdlog.New(errorLogWriter{log: log, m: m}, "", 0)
}

type errorLogWriter struct {
	log *slog.Logger
	m   *tlsMetrics
}

func (w errorLogWriter) Write(p []byte) (int, error) {
	msg := strings.TrimSuffix(string(p), "\n")
	level := slog.LevelWarn
	if strings.HasPrefix(msg, "http: TLS handshake error") {
		level = slog.LevelDebug
		if w.m != nil {
			w.m.handshakes.Inc()
		}
	}
	w.log.Log(context.Background(), level, msg)
	return len(p), nil
}
