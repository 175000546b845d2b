package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"s3proxy/s3api"
	"s3proxy/translate"
)

// Limits on what any client may send before authentication.
const (
	maxHeaderBytes    = 64 << 10
	readHeaderTimeout = 30 * time.Second
	idleTimeout       = 2 * time.Minute
	shutdownTimeout   = 60 * time.Second
)

func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := loadConfig(args, getenv, stderr, "serve", nil)
	if err != nil {
		return err
	}
	generated, err := cfg.EnsureCredentials()
	if err != nil {
		return fmt.Errorf("credentials: %w", err)
	}
	if err := cfg.EnsureNodeID(); err != nil {
		return fmt.Errorf("node id: %w", err)
	}
	log := newLogger(cfg, stderr)
	a, err := openApp(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.close()
	if err := a.checkBackends(ctx); err != nil {
		return err
	}

	reg := prometheus.NewRegistry()
	m := newMetrics(reg, a)
	// Rebuild the service with the metrics hook (the graph is otherwise identical).
	svc, err := translate.New(translate.Config{Meta: a.meta, Dedup: a.dedup, Region: cfg.Region, DedupScope: cfg.DedupScope,
		Placement: cfg.Placement, MaxObjectSize: cfg.MaxObjectSize, Log: log, OnInstant: m.instant})
	if err != nil {
		return err
	}
	a.svc = svc
	creds := make([]s3api.Credential, 0, len(cfg.Credentials))
	for _, c := range cfg.Credentials {
		creds = append(creds, s3api.Credential{AccessKey: c.AccessKey, SecretKey: c.SecretKey, Admin: c.Admin})
	}
	api, err := s3api.New(s3api.Config{Service: svc, Credentials: creds, Region: cfg.Region, Log: log, Observer: m})
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.Listen, err)
	}
	srv := &http.Server{Handler: api, MaxHeaderBytes: maxHeaderBytes, ReadHeaderTimeout: readHeaderTimeout, IdleTimeout: idleTimeout,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	var admin *http.Server
	var adminLn net.Listener
	if cfg.AdminListen != "" {
		adminLn, err = net.Listen("tcp", cfg.AdminListen)
		if err != nil {
			ln.Close()
			return fmt.Errorf("admin listen %s: %w", cfg.AdminListen, err)
		}
		admin = &http.Server{Handler: adminMux(a, reg), ReadHeaderTimeout: readHeaderTimeout}
	}

	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Go(func() { svc.RunJobs(bg, 2*time.Second) })
	wg.Go(func() { runMaintenance(bg, a, svc) })

	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(ln) }()
	if admin != nil {
		go func() { errc <- admin.Serve(adminLn) }()
	}
	printBanner(stdout, ln.Addr().String(), adminAddr(adminLn), a, generated)
	log.Info("s3proxy serving", "listen", ln.Addr().String(), "admin", adminAddr(adminLn), "meta", cfg.MetaDriver(), "node", cfg.NodeID, "version", version)

	select {
	case <-ctx.Done():
	case err = <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
	}
	log.Info("shutting down: finishing in-flight requests")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if serr := srv.Shutdown(sctx); serr != nil {
		log.Warn("shutdown", "err", serr)
	}
	if admin != nil {
		_ = admin.Shutdown(sctx)
	}
	stopBG()
	wg.Wait()
	log.Info("stopped")
	return err
}

func adminAddr(ln net.Listener) string {
	if ln == nil {
		return "off"
	}
	return ln.Addr().String()
}

func printBanner(w io.Writer, addr, admin string, a *app, generated bool) {
	c := a.cfg.Credentials[0]
	fmt.Fprintf(w, "s3proxy %s\n", version)
	fmt.Fprintf(w, "  endpoint:    http://%s\n", addr)
	fmt.Fprintf(w, "  admin:       %s (/metrics /healthz /readyz)\n", admin)
	fmt.Fprintf(w, "  data:        %s (metadata: %s)\n", a.cfg.Data, a.cfg.MetaDriver())
	fmt.Fprintf(w, "  access key:  %s\n", c.AccessKey)
	fmt.Fprintf(w, "  secret key:  %s\n", c.SecretKey)
	if generated {
		fmt.Fprintf(w, "  (generated and saved in %s)\n", a.cfg.CredentialsFile())
	}
	fmt.Fprintf(w, "\ntry:\n  AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s aws --endpoint-url http://%s s3 ls\n\n", c.AccessKey, c.SecretKey, addr)
}

// runMaintenance runs the collector and the abandoned-upload sweep periodically. A
// lock in the metadata store makes one node do it at a time across a cluster.
func runMaintenance(ctx context.Context, a *app, svc *translate.Service) {
	interval := a.cfg.GCInterval
	if interval <= 0 {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		ok, err := a.meta.TryLock(ctx, "maintenance", a.cfg.NodeID, interval)
		if err != nil || !ok {
			continue
		}
		if n, err := svc.AbortStaleUploads(ctx, a.cfg.UploadMaxAge); err != nil {
			a.log.Warn("abort stale uploads", "err", err)
		} else if n > 0 {
			a.log.Info("aborted stale uploads", "count", n)
		}
		res, err := a.dedup.GC(ctx, a.cfg.GCGrace, nil)
		if err != nil {
			a.log.Warn("gc", "err", err)
		} else if res.Chunks+res.Orphans > 0 {
			a.log.Info("gc", "chunks", res.Chunks, "bytes", res.Bytes, "orphans", res.Orphans)
		}
		_ = a.meta.Unlock(ctx, "maintenance", a.cfg.NodeID)
	}
}

func adminMux(a *app, reg *prometheus.Registry) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "text/plain")
		var problems []string
		if err := a.meta.Ping(ctx); err != nil {
			problems = append(problems, "metadata: "+err.Error())
		}
		if a.cache != nil {
			// Requests still succeed without Redis (the cache falls back to the store),
			// but a node that cannot reach it serves every read from the database and
			// cannot invalidate for the others: take it out of rotation.
			if err := a.cache.PingCache(ctx); err != nil {
				problems = append(problems, "cache: "+err.Error())
			}
		}
		for name, s := range a.stores {
			if err := s.Health(ctx); err != nil {
				problems = append(problems, "backend "+name+": "+err.Error())
			}
		}
		if len(problems) > 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			for _, p := range problems {
				_, _ = io.WriteString(w, p+"\n")
			}
			return
		}
		_, _ = io.WriteString(w, "ready\n")
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return mux
}
