package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/sys/unix"

	"s3proxy/backends"
	"s3proxy/backends/cos"
	"s3proxy/backends/encrypt"
	"s3proxy/backends/local"
	"s3proxy/backends/oss"
	"s3proxy/backends/s3"
	"s3proxy/cmd/s3proxy/config"
	"s3proxy/dedup"
	"s3proxy/dedup/digest"
	"s3proxy/meta"
	"s3proxy/meta/gormstore"
	"s3proxy/meta/memcache"
	"s3proxy/meta/rediscache"
	"s3proxy/translate"
)

// app is the wired object graph shared by every subcommand.
type app struct {
	cfg    *config.Config
	log    *slog.Logger
	meta   meta.MetaStore
	stores map[string]backends.BlobStore
	dedup  *dedup.Engine
	md5    *digest.MD5Server // shared by every upload's MD5 (see digest.MD5Server)
	svc    *translate.Service
	// cache is the Redis cache in front of the metadata store (nil without --redis); meta
	// is then the cache. redis is its client, closed with the app.
	cache *rediscache.Store
	redis *redis.Client
	// objCache is the in-process object cache (serve only, see memcache); unlock
	// releases the SQLite serve lock that makes it safe, lease is the PostgreSQL serve
	// lease that turns it on and off.
	objCache *memcache.Store
	unlock   func()
	lease    *gormstore.Lease
}

func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// metaDSN returns the metadata DSN: the configured one, or SQLite in the data directory.
func metaDSN(cfg *config.Config) string {
	if cfg.Meta != "" {
		return cfg.Meta
	}
	return filepath.Join(cfg.Data, "meta.db")
}

// appOptions are the serve-only hooks of the graph.
type appOptions struct {
	// wrapStore decorates every backend (metrics).
	wrapStore func(backends.BlobStore) backends.BlobStore
	// wrapMeta decorates the metadata store, inside its caches (metrics).
	wrapMeta func(meta.MetaStore) meta.MetaStore
	// metaOptions are passed to gormstore.Open.
	metaOptions []gormstore.Option
	// onInstant is told of every instant upload.
	onInstant func(bytes int64)
	// objectCache marks a serve process: on SQLite it takes the database's serve lock
	// and caches objects in process; on PostgreSQL it takes a serve lease, exclusive
	// (and caching while it is) when it runs without Redis. Admin commands never cache.
	objectCache bool
	// precreateShards lays out a new local store's shard directories at start (serve
	// only: an admin command never meets a store no server has opened).
	precreateShards bool
}

// openApp builds the graph: metadata store, backends, dedup engine, service.
func openApp(ctx context.Context, cfg *config.Config, log *slog.Logger, opts ...appOptions) (*app, error) {
	var o appOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	if err := os.MkdirAll(cfg.Data, 0o700); err != nil {
		return nil, fmt.Errorf("data directory %s: %w", cfg.Data, err)
	}
	ms, err := gormstore.Open(ctx, metaDSN(cfg), o.metaOptions...)
	if err != nil {
		return nil, fmt.Errorf("metadata store (%s): %w", cfg.MetaDriver(), err)
	}
	var base meta.MetaStore = ms
	if o.wrapMeta != nil {
		base = o.wrapMeta(ms)
	}
	a := &app{cfg: cfg, log: log, meta: base, stores: map[string]backends.BlobStore{}}
	if cfg.Redis != "" {
		a.redis, err = rediscache.NewClient(cfg.Redis)
		if err != nil {
			a.close()
			return nil, fmt.Errorf("redis: %w", err)
		}
		// Keys are namespaced by an id kept in the metadata store, so clusters (each with
		// its own database or schema) can share one Redis database without seeing each
		// other's entries, and a fresh metadata store never meets old cached values.
		ns, err := cacheNamespace(ctx, ms)
		if err != nil {
			a.close()
			return nil, err
		}
		// An unreachable Redis is not fatal: the cache falls back to the store and
		// /readyz reports it.
		a.cache = rediscache.New(base, a.redis, rediscache.Options{Log: log, Prefix: "s3proxy:" + ns + ":"})
		a.meta = a.cache
	}
	if o.objectCache {
		if err := a.openObjectCache(ctx, ms); err != nil {
			a.close()
			return nil, err
		}
	}
	nodeLocal, encrypted := map[string]bool{}, map[string]bool{}
	for _, b := range cfg.Backends {
		s, err := openBackend(ctx, b, o.precreateShards)
		if err != nil {
			a.close()
			return nil, fmt.Errorf("backend %q (%s): %w", b.Name, b.Type, err)
		}
		if o.wrapStore != nil {
			s = o.wrapStore(s)
		}
		a.stores[b.Name] = s
		if b.Type == config.BackendLocal {
			nodeLocal[b.Name] = true
		}
		encrypted[b.Name] = b.Encrypted()
	}
	a.md5 = digest.NewMD5Server()
	a.dedup, err = dedup.New(dedup.Config{Meta: a.meta, Stores: a.stores, DefaultBackend: cfg.DefaultBackend, Node: cfg.NodeID, NodeLocal: nodeLocal,
		Encrypted: encrypted, Log: log, MD5: a.md5})
	if err != nil {
		a.close()
		return nil, err
	}
	a.svc, err = translate.New(translate.Config{Meta: a.meta, Dedup: a.dedup, Region: cfg.Region, DedupScope: cfg.DedupScope,
		Placement: cfg.Placement, MaxObjectSize: cfg.MaxObjectSize, Log: log, OnInstant: o.onInstant,
		BlockPublicPolicy: cfg.BlockPublicPolicy})
	if err != nil {
		a.close()
		return nil, err
	}
	return a, nil
}

// openObjectCache puts the in-process object cache in front of the metadata store where
// this serve process can know it is the store's only writer (docs/design-notes.md,
// "An in-process object cache").
//
// SQLite serves one process: the serve lock (a file lock) is taken or start-up fails,
// since a second server's writes would go unseen by the first one's cache.
//
// PostgreSQL serves any number of nodes: every serve process takes the store's serve
// lease. One without Redis asks for it exclusive and caches while it holds it; it yields
// (cache off first) when another serve process joins, and caches again when it is alone.
// One with Redis (a cluster node) takes it shared and caches nothing in process.
func (a *app) openObjectCache(ctx context.Context, ms *gormstore.Store) error {
	dsn := metaDSN(a.cfg)
	if !gormstore.IsPostgres(dsn) {
		unlock, err := lockServe(dsn)
		if err != nil {
			return err
		}
		a.unlock = unlock
		a.objCache = memcache.New(a.meta, memcache.Options{})
		a.meta = a.objCache
		return nil
	}
	alone := a.cfg.Redis == ""
	var c *memcache.Store
	o := gormstore.LeaseOptions{Exclusive: alone, Log: a.log}
	if alone {
		c = memcache.New(a.meta, memcache.Options{})
		c.Disable() // on while the lease is exclusive
		o.OnYield, o.OnExclusive = c.Disable, c.Enable
	}
	lease, err := ms.Lease(ctx, o)
	if err != nil {
		return fmt.Errorf("metadata store serve lease: %w", err)
	}
	a.lease = lease
	if alone {
		a.objCache = c
		a.meta = c
		if !lease.Exclusive() {
			a.log.Info("other serve processes use this PostgreSQL metadata store: the in-process object cache is off while they do")
		}
	}
	return nil
}

// openBackend is the one place that knows the concrete backends. A backend with
// encryption keys is wrapped in the encrypting decorator, under its own name: chunk
// locations name it, and its store is never reachable unencrypted under another name
// (whose orphan sweep would take the encrypted blobs for leftovers).
func openBackend(ctx context.Context, b config.Backend, precreate bool) (backends.BlobStore, error) {
	if !b.Encrypted() {
		return openPlainBackend(ctx, b, precreate)
	}
	ring, err := loadKeyring(b, os.Getenv)
	if err != nil {
		return nil, err
	}
	inner, err := openPlainBackend(ctx, b, precreate)
	if err != nil {
		return nil, err
	}
	s := encrypt.New(inner, ring)
	// A wrong key, or keys given to a store that already held chunks in clear, would
	// fail every read (and let verify --repair mark every chunk corrupt): refuse to start.
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := s.CheckKeys(cctx, 5); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// loadKeyring reads a backend's encryption keys: the file's, then the environment
// variable's; the last one listed encrypts new chunks. Errors name where a key came
// from, never the key.
func loadKeyring(b config.Backend, getenv func(string) string) (*encrypt.Keyring, error) {
	var keys []encrypt.Key
	if b.EncryptKeyFile != "" {
		text, err := os.ReadFile(b.EncryptKeyFile)
		if err != nil {
			return nil, fmt.Errorf("encrypt_key_file: %w", err)
		}
		k, err := encrypt.ParseKeys(b.EncryptKeyFile, string(text))
		if err != nil {
			return nil, err
		}
		keys = append(keys, k...)
	}
	if b.EncryptKeyEnv != "" {
		text := getenv(b.EncryptKeyEnv)
		if text == "" {
			return nil, fmt.Errorf("encrypt_key_env: environment variable %s is not set", b.EncryptKeyEnv)
		}
		k, err := encrypt.ParseKeys("$"+b.EncryptKeyEnv, text)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k...)
	}
	return encrypt.NewKeyring(keys)
}

func openPlainBackend(ctx context.Context, b config.Backend, precreate bool) (backends.BlobStore, error) {
	switch b.Type {
	case config.BackendLocal:
		return local.Open(ctx, local.Config{Name: b.Name, Path: b.Path, PrecreateShards: precreate})
	case config.BackendS3:
		return s3.New(ctx, s3.Config{Name: b.Name, Endpoint: b.Endpoint, Region: b.Region, Bucket: b.Bucket, Prefix: b.Prefix,
			AccessKey: b.AccessKey, SecretKey: b.SecretKey, PathStyle: b.PathStyle})
	case config.BackendCOS:
		return cos.New(ctx, cos.Config{Name: b.Name, Endpoint: b.Endpoint, Region: b.Region, Bucket: b.Bucket, Prefix: b.Prefix,
			AccessKey: b.AccessKey, SecretKey: b.SecretKey, PathStyle: b.PathStyle})
	case config.BackendOSS:
		return oss.New(ctx, oss.Config{Name: b.Name, Endpoint: b.Endpoint, Region: b.Region, Bucket: b.Bucket, Prefix: b.Prefix,
			AccessKey: b.AccessKey, SecretKey: b.SecretKey, PathStyle: b.PathStyle})
	}
	return nil, fmt.Errorf("backend type %q is not supported yet", b.Type)
}

// checkBackends fails start-up with a message naming each unhealthy backend.
func (a *app) checkBackends(ctx context.Context) error {
	var errs []error
	for name, s := range a.stores {
		if err := s.Health(ctx); err != nil {
			errs = append(errs, fmt.Errorf("backend %q is not usable: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

func (a *app) close() {
	for _, s := range a.stores {
		_ = s.Close()
	}
	if a.meta != nil {
		_ = a.meta.Close()
	}
	if a.redis != nil {
		_ = a.redis.Close()
	}
	if a.md5 != nil {
		a.md5.Close()
	}
	if a.lease != nil {
		a.lease.Close()
	}
	if a.unlock != nil {
		a.unlock()
	}
}

// cacheNamespaceSetting names the metadata setting that scopes a cluster's Redis keys.
const cacheNamespaceSetting = "cache-namespace"

// cacheNamespace returns this metadata store's Redis key namespace, created (random) by
// the first node to ask.
func cacheNamespace(ctx context.Context, ms meta.MetaStore) (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	ns, err := ms.GetOrCreateSetting(ctx, cacheNamespaceSetting, hex.EncodeToString(b[:]))
	if err != nil {
		return "", fmt.Errorf("redis cache namespace: %w", err)
	}
	return ns, nil
}

// errServeLocked: another serve process holds the SQLite database's serve lock.
var errServeLocked = errors.New("another serve process serves this SQLite database (SQLite serves one process; use PostgreSQL for several nodes)")

// lockServe takes the serve lock of the SQLite database at dsn: an exclusive flock on
// "<file>.serve-lock", released by the returned function or when the process dies. The
// in-process object cache is exact only while this process is the database's one
// server (admin commands do not take the lock; see memcache).
func lockServe(dsn string) (func(), error) {
	file, _, _ := strings.Cut(dsn, "?")
	file = strings.TrimPrefix(file, "file:")
	if file == ":memory:" || strings.Contains(dsn, "mode=memory") {
		return func() {}, nil
	}
	f, err := os.OpenFile(file+".serve-lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("serve lock: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, errServeLocked
		}
		return nil, fmt.Errorf("serve lock: %w", err)
	}
	return func() { f.Close() }, nil
}

func loadConfig(args []string, getenv func(string) string, stderr io.Writer, name string, extra func(*flag.FlagSet)) (*config.Config, error) {
	opts := []config.Option{config.WithName("s3proxy " + name), config.WithOutput(stderr)}
	if extra != nil {
		opts = append(opts, config.WithFlags(extra))
	}
	cfg, rest, err := config.Load(args, getenv, opts...)
	if err != nil {
		return nil, err
	}
	if len(rest) > 0 {
		return nil, fmt.Errorf("unexpected arguments: %s", strings.Join(rest, " "))
	}
	return cfg, nil
}
