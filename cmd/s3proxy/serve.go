package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"s3proxy/cluster"
	"s3proxy/cmd/s3proxy/config"
	"s3proxy/meta"
	"s3proxy/meta/gormstore"
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
	log := newLogger(cfg, stderr)
	reg := prometheus.NewRegistry()
	tm := newTLSMetrics(reg, cfg)
	// Before anything is written or opened: a bad certificate is a configuration error.
	st, err := loadTLS(cfg, log, tm)
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
	m := newMetrics(reg)
	bm := newBackendMetrics(reg)
	mm := newMetaMetrics(reg)
	lm := newLifecycleMetrics(reg)
	a, err := openApp(ctx, cfg, log, appOptions{wrapStore: bm.wrap, wrapMeta: mm.wrap, metaOptions: []gormstore.Option{gormstore.WithWALSyncObserver(mm.walSynced)},
		onInstant: m.instant, objectCache: true, precreateShards: true})
	if err != nil {
		return err
	}
	defer a.close()
	reg.MustRegister(&statsCollector{a: a})
	if a.objCache != nil {
		registerObjectCacheMetrics(reg, a.objCache)
	}
	if a.cache != nil {
		registerCacheMetrics(reg, a.cache)
	}
	if err := a.checkBackends(ctx); err != nil {
		return err
	}
	svc := a.svc
	apiCfg := apiConfig(cfg, svc, log)
	apiCfg.Observer = m
	api, err := s3api.New(apiCfg)
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.Listen, err)
	}
	cl, err := newCluster(ctx, a, ln.Addr(), st)
	if err != nil {
		ln.Close()
		return err
	}
	// ReadHeaderTimeout also bounds a TLS handshake (net/http applies the shortest of
	// its timeouts to it), so a client that stalls in the handshake is cut off too.
	srv := &http.Server{Handler: cl.Handler(api), MaxHeaderBytes: maxHeaderBytes, ReadHeaderTimeout: readHeaderTimeout, IdleTimeout: idleTimeout,
		ErrorLog: serverErrorLog(log, tm)}
	scheme := "http"
	if st.cert != nil {
		scheme = "https"
		srv.TLSConfig = st.serverConfig()
		srv.Protocols = http1Only()
	}
	var admin *http.Server
	var adminLn net.Listener
	if cfg.AdminListen != "" {
		adminLn, err = net.Listen("tcp", cfg.AdminListen)
		if err != nil {
			ln.Close()
			return fmt.Errorf("admin listen %s: %w", cfg.AdminListen, err)
		}
		mux := adminMux(a, reg)
		if getenv("S3PROXY_DEBUG_PPROF") == "1" {
			// A debugging switch, not a setting: profiles reveal internals and cost CPU
			// while taken, so they are off unless asked for (the benchmark's -pprof).
			mux.Handle("/debug/pprof/", http.HandlerFunc(pprof.Index))
			mux.Handle("/debug/pprof/profile", http.HandlerFunc(pprof.Profile))
			mux.Handle("/debug/pprof/trace", http.HandlerFunc(pprof.Trace))
			mux.Handle("/debug/pprof/symbol", http.HandlerFunc(pprof.Symbol))
			log.Warn("pprof endpoints enabled on the admin listener", "admin", cfg.AdminListen)
		}
		admin = &http.Server{Handler: mux, ReadHeaderTimeout: readHeaderTimeout}
	}

	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Go(func() { svc.RunJobs(bg, 2*time.Second) })
	wg.Go(func() { runMaintenance(bg, a, svc) })
	wg.Go(func() { runLifecycle(bg, a, svc, lm) })
	wg.Go(func() { cl.Run(bg) })
	// SIGHUP reloads what can change without a restart, as daemons do: the credentials
	// (read again from the configuration file and the environment, as at start) and the
	// TLS files (which are also checked every few seconds).
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	creload := &credentialReloader{args: args, getenv: getenv, api: api, log: log, current: cfg.Credentials, metrics: newReloadMetrics(reg)}
	wg.Go(func() {
		onHangup(bg, hup, func() {
			creload.reload()
			st.reload(log)
		})
	})

	errc := make(chan error, 2)
	go func() {
		if st.cert != nil {
			errc <- srv.ServeTLS(ln, "", "") // the certificate comes from TLSConfig.GetCertificate
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	if admin != nil {
		go func() { errc <- admin.Serve(adminLn) }()
	}
	endpoint := scheme + "://" + ln.Addr().String()
	caBundle := ""
	if st.cert != nil && selfSigned(st.cert.Leaf()) {
		caBundle = cfg.TLSCert
	}
	printBanner(stdout, endpoint, caBundle, adminAddr(adminLn), a, generated)
	log.Info("s3proxy serving", "listen", ln.Addr().String(), "endpoint", endpoint, "admin", adminAddr(adminLn), "meta", cfg.MetaDriver(), "node", cfg.NodeID, "version", version)

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

// newCluster joins the cluster: the shared secret, this node's registration (done once
// here, so that a node is known to the others before it serves), and forwarding of
// reads of chunks that other nodes hold. A single node is a cluster of one.
func newCluster(ctx context.Context, a *app, listenAddr net.Addr, st *serverTLS) (*cluster.Cluster, error) {
	secret, err := cluster.Secret(ctx, a.meta, a.cfg.ClusterSecret)
	if err != nil {
		return nil, err
	}
	advertise := a.cfg.Advertise
	if host, port, err := net.SplitHostPort(advertise); err == nil && port == "0" {
		// Listening on port 0 (tests): advertise the port the kernel chose.
		if _, p, err := net.SplitHostPort(listenAddr.String()); err == nil {
			advertise = net.JoinHostPort(host, p)
		}
	}
	cl, err := cluster.New(cluster.Config{Meta: a.meta, Chunks: a.dedup, NodeID: a.cfg.NodeID, Advertise: advertise,
		TLS: st.cert != nil, RootCAs: st.roots(), Secret: secret, Log: a.log})
	if err != nil {
		return nil, err
	}
	if err := cl.Beat(ctx); err != nil {
		a.log.Warn("cluster: first heartbeat failed; retrying in the background", "err", err)
	}
	a.dedup.SetRemote(cl)
	return cl, nil
}

func adminAddr(ln net.Listener) string {
	if ln == nil {
		return "off"
	}
	return ln.Addr().String()
}

// printBanner tells a person who just started the server how to reach it. caBundle,
// when set, is a self-signed certificate the suggested aws command must be told to trust.
func printBanner(w io.Writer, endpoint, caBundle, admin string, a *app, generated bool) {
	c := a.cfg.Credentials[0]
	fmt.Fprintf(w, "s3proxy %s\n", version)
	fmt.Fprintf(w, "  endpoint:    %s\n", endpoint)
	fmt.Fprintf(w, "  admin:       %s (/metrics /healthz /readyz)\n", admin)
	fmt.Fprintf(w, "  data:        %s (metadata: %s)\n", a.cfg.Data, a.cfg.MetaDriver())
	fmt.Fprintf(w, "  access key:  %s\n", c.AccessKey)
	fmt.Fprintf(w, "  secret key:  %s\n", c.SecretKey)
	if generated {
		fmt.Fprintf(w, "  (generated and saved in %s)\n", a.cfg.CredentialsFile())
	}
	trust := ""
	if caBundle != "" {
		trust = " --ca-bundle " + caBundle
	}
	fmt.Fprintf(w, "\ntry:\n  AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s aws --endpoint-url %s%s s3 ls\n\n", c.AccessKey, c.SecretKey, endpoint, trust)
}

// runMaintenance runs the periodic collection: abandoned uploads, unreferenced chunks
// and orphaned blobs.
func runMaintenance(ctx context.Context, a *app, svc *translate.Service) {
	if a.cfg.GCInterval <= 0 {
		return
	}
	m := &maintenance{meta: a.meta, node: a.cfg.NodeID, interval: a.cfg.GCInterval, log: a.log,
		cluster: func(ctx context.Context) {
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
		},
		local: func(ctx context.Context) {
			res, err := a.dedup.SweepNodeLocal(ctx, a.cfg.GCGrace)
			if err != nil {
				a.log.Warn("gc: sweep local disk", "err", err)
			} else if res.Orphans > 0 {
				a.log.Info("gc: swept local disk", "orphans", res.Orphans, "bytes", res.OrphanBytes)
			}
		},
	}
	m.run(ctx)
}

// runLifecycle applies the buckets' lifecycle rules every lifecycle_interval, on one
// node of the cluster (elected as the collection's is, with locks of its own, so that a
// long pass over big buckets never delays garbage collection, nor the other way round).
func runLifecycle(ctx context.Context, a *app, svc *translate.Service, lm *lifecycleMetrics) {
	if a.cfg.LifecycleInterval <= 0 {
		return
	}
	m := &maintenance{meta: a.meta, node: a.cfg.NodeID, interval: a.cfg.LifecycleInterval, log: a.log,
		schedule: lockLifecycleSchedule, running: lockLifecycle,
		// A minute after start rather than a whole interval: nodes restarted more often
		// than every lifecycle_interval (rolling deploys) would otherwise never run one.
		first: time.Minute,
		cluster: func(ctx context.Context) {
			start := time.Now()
			res, err := svc.ApplyLifecycle(ctx, translate.LifecycleOptions{OnAction: lm.action})
			lm.pass(err)
			if err != nil {
				a.log.Warn("lifecycle pass stopped", "err", err, "expired", res.Expired, "aborted", res.Aborted)
				return
			}
			if res.Expired+res.Aborted+res.Errors > 0 {
				a.log.Info("lifecycle pass", "buckets", res.Buckets, "objects_examined", res.Objects, "uploads_examined", res.Uploads,
					"expired", res.Expired, "expired_bytes", res.ExpiredBytes, "aborted", res.Aborted, "changed", res.Changed,
					"errors", res.Errors, "ms", time.Since(start).Milliseconds())
			}
		},
	}
	m.run(ctx)
}

// Lock names in the metadata store.
const (
	// lockSchedule elects the node that runs the cluster-wide collection: it is re-taken
	// (extended) by its holder every interval and never released, so the collection runs
	// once per interval across the cluster, and moves to another node only when the
	// holder stops ticking (crash, shutdown) and the lock expires.
	lockSchedule = "maintenance-schedule"
	// lockMaintenance is held while a collection runs (by a server or `s3proxy gc`), so
	// that two never overlap.
	lockMaintenance = "maintenance"
	// lockLifecycleSchedule and lockLifecycle are the same pair for lifecycle passes
	// (servers' and `s3proxy lifecycle`).
	lockLifecycleSchedule = "lifecycle-schedule"
	lockLifecycle         = "lifecycle"
)

// maintenance is the periodic work of one node. Locks live in the metadata store, with
// expiry, so they hold across processes and die with a crashed holder.
type maintenance struct {
	meta     meta.MetaStore
	node     string
	interval time.Duration
	log      *slog.Logger
	// schedule and running name the election lock and the lock held while the work runs
	// (lockSchedule and lockMaintenance when empty).
	schedule, running string
	// cluster is the collection one node runs for the whole cluster.
	cluster func(ctx context.Context)
	// local is what every other node runs for itself (sweeping its own disk); nil: none.
	local func(ctx context.Context)
	// first, when shorter than interval, is when the first tick comes after start.
	first time.Duration
}

func (m *maintenance) locks() (schedule, running string) {
	schedule, running = m.schedule, m.running
	if schedule == "" {
		schedule = lockSchedule
	}
	if running == "" {
		running = lockMaintenance
	}
	return schedule, running
}

func (m *maintenance) run(ctx context.Context) {
	t := time.NewTicker(m.interval)
	defer t.Stop()
	// On shutdown hand the election over at once rather than after the lock expires
	// (releasing a lock not held is a no-op).
	schedule, _ := m.locks()
	defer m.meta.Unlock(context.WithoutCancel(ctx), schedule, m.node)
	if m.first > 0 && m.first < m.interval {
		select {
		case <-ctx.Done():
			return
		case <-time.After(m.first):
		}
		m.tick(ctx)
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		m.tick(ctx)
	}
}

func (m *maintenance) tick(ctx context.Context) {
	if m.tryCluster(ctx) {
		return
	}
	if m.local != nil {
		m.local(ctx)
	}
}

// tryCluster runs the cluster-wide collection if this node is the elected one and no
// collection is running; it reports whether it ran.
func (m *maintenance) tryCluster(ctx context.Context) bool {
	schedule, running := m.locks()
	elected, err := m.meta.TryLock(ctx, schedule, m.node, m.interval)
	if err != nil {
		m.log.Warn("maintenance: lock", "err", err)
		return false
	}
	if !elected {
		return false
	}
	ok, err := m.meta.TryLock(ctx, running, m.node, m.interval)
	if err != nil || !ok {
		return false // an admin command (`s3proxy gc`, `s3proxy lifecycle`) is running
	}
	defer m.meta.Unlock(context.WithoutCancel(ctx), running, m.node)
	// A collection may outlast the interval: keep both locks while it runs, and stop it
	// if they are lost (the store was unreachable long enough for them to expire).
	work, stop := context.WithCancel(ctx)
	defer stop()
	renewed := make(chan struct{})
	go func() {
		defer close(renewed)
		t := time.NewTicker(m.interval / 3)
		defer t.Stop()
		for {
			select {
			case <-work.Done():
				return
			case <-t.C:
			}
			for _, name := range []string{running, schedule} {
				if ok, err := m.meta.TryLock(work, name, m.node, m.interval); (err != nil || !ok) && work.Err() == nil {
					m.log.Warn("maintenance: lost the lock; stopping this collection", "lock", name, "err", err)
					stop()
					return
				}
			}
		}
	}()
	m.cluster(work)
	stop()
	<-renewed
	return true
}

func adminMux(a *app, reg *prometheus.Registry) *http.ServeMux {
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

// apiConfig is the S3 server's configuration from the gateway's (without an observer),
// so that serve and the tests build the same server.
func apiConfig(cfg *config.Config, svc s3api.Service, log *slog.Logger) s3api.Config {
	return s3api.Config{Service: svc, Credentials: apiCredentials(cfg.Credentials), Region: cfg.Region, Log: log, CORSOrigins: cfg.CORSOrigins,
		SigV2: cfg.SigV2, TrustedProxies: cfg.TrustedProxies}
}
