package main

import (
	"context"
	"errors"
	"io"
	"path/filepath"
	"testing"

	"s3proxy/meta"
	"s3proxy/meta/gormstore"
)

// TestObjectCacheNeedsTheServeLock: the in-process object cache is exact only while its
// process is the one server of the SQLite database, so a second serve process on the
// same data directory does not start, and the lock is free again once the first closes.
func TestObjectCacheNeedsTheServeLock(t *testing.T) {
	dir := t.TempDir()
	open := func() (*app, error) {
		t.Helper()
		cfg, err := loadConfig([]string{"--data", dir, "--log-level", "error"}, func(string) string { return "" }, io.Discard, "serve", nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cfg.EnsureCredentials(); err != nil {
			t.Fatal(err)
		}
		if err := cfg.EnsureNodeID(); err != nil {
			t.Fatal(err)
		}
		return openApp(context.Background(), cfg, newLogger(cfg, io.Discard), appOptions{objectCache: true})
	}
	first, err := open()
	if err != nil {
		t.Fatal(err)
	}
	if first.objCache == nil || first.meta != first.objCache {
		t.Fatal("the first serve process on a SQLite database has no object cache")
	}
	if second, err := open(); !errors.Is(err, errServeLocked) {
		if second != nil {
			second.close()
		}
		t.Fatalf("a second serve process on the same database: %v, want errServeLocked", err)
	}
	first.close()
	third, err := open()
	if err != nil {
		t.Fatalf("the serve lock was not released by close: %v", err)
	}
	defer third.close()
	if third.objCache == nil {
		t.Error("no object cache after the first process closed")
	}
}

// TestCacheNamespace: every node of one metadata store gets the same Redis namespace, and
// another store (another cluster, or this one recreated) a different one.
func TestCacheNamespace(t *testing.T) {
	ctx := context.Background()
	openStore := func(path string) meta.MetaStore {
		t.Helper()
		ms, err := gormstore.Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = ms.Close() })
		return ms
	}
	path := filepath.Join(t.TempDir(), "meta.db")
	a, b, other := openStore(path), openStore(path), openStore(filepath.Join(t.TempDir(), "meta.db"))
	na, err := cacheNamespace(ctx, a)
	if err != nil || len(na) != 16 {
		t.Fatalf("namespace %q, %v", na, err)
	}
	if nb, _ := cacheNamespace(ctx, b); nb != na {
		t.Errorf("two nodes of one store: namespaces %q and %q", na, nb)
	}
	if no, _ := cacheNamespace(ctx, other); no == na {
		t.Errorf("two stores share the namespace %q", na)
	}
}
