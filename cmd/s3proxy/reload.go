package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"slices"

	"github.com/prometheus/client_golang/prometheus"

	"s3proxy/cmd/s3proxy/config"
	"s3proxy/s3api"
)

// onHangup calls reload at each signal on hup until ctx ends.
func onHangup(ctx context.Context, hup <-chan os.Signal, reload func()) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			reload()
		}
	}
}

// credentialReloader applies the credentials of the configuration as it is now (the
// file named at start, and the environment) to the running server, so that a key can be
// added, rotated or revoked without a restart. Other settings keep their start-up
// values until the next restart.
type credentialReloader struct {
	args    []string
	getenv  func(string) string
	api     *s3api.Server
	log     *slog.Logger
	current []config.Credential
	metrics *prometheus.CounterVec
}

func newReloadMetrics(reg prometheus.Registerer) *prometheus.CounterVec {
	m := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "s3proxy_credential_reloads_total",
		Help: "Credential reloads (SIGHUP) by result: ok, or error (the credentials in force were kept)."}, []string{"result"})
	reg.MustRegister(m)
	return m
}

// reload reads the configuration again and swaps the credentials in. A configuration
// that does not load (or lists no usable credential) changes nothing and is logged: a
// typo must not lock every client out. Access keys are logged, secrets never.
func (c *credentialReloader) reload() {
	cfg, err := loadConfig(c.args, c.getenv, io.Discard, "serve", nil)
	if err == nil {
		_, err = cfg.EnsureCredentials()
	}
	if err == nil {
		err = c.api.SetCredentials(apiCredentials(cfg.Credentials))
	}
	if err != nil {
		c.metrics.WithLabelValues("error").Inc()
		c.log.Error("SIGHUP: credentials not reloaded; the ones in force are kept", "err", err)
		return
	}
	added, removed, changed := diffCredentials(c.current, cfg.Credentials)
	c.current = cfg.Credentials
	c.metrics.WithLabelValues("ok").Inc()
	c.log.Info("SIGHUP: credentials reloaded", "credentials", len(cfg.Credentials), "added", added, "removed", removed, "changed", changed)
}

// apiCredentials converts the configuration's credentials for the S3 server.
func apiCredentials(cs []config.Credential) []s3api.Credential {
	out := make([]s3api.Credential, 0, len(cs))
	for _, c := range cs {
		out = append(out, s3api.Credential{AccessKey: c.AccessKey, SecretKey: c.SecretKey, Admin: c.Admin})
	}
	return out
}

// diffCredentials lists, by access key, what a reload added, removed and changed (a new
// secret or admin flag).
func diffCredentials(old, cur []config.Credential) (added, removed, changed []string) {
	was := make(map[string]config.Credential, len(old))
	for _, c := range old {
		was[c.AccessKey] = c
	}
	for _, c := range cur {
		p, ok := was[c.AccessKey]
		switch {
		case !ok:
			added = append(added, c.AccessKey)
		case p != c:
			changed = append(changed, c.AccessKey)
		}
		delete(was, c.AccessKey)
	}
	for ak := range was {
		removed = append(removed, ak)
	}
	slices.Sort(removed)
	return added, removed, changed
}
