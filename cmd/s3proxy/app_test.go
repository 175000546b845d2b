package main

import (
	"context"
	"io"
	"testing"
)

// TestObjectCacheNeedsTheServeLock: the in-process object cache is exact only while its
// process is the one server of the SQLite database, so a second serve process on the
// same data directory runs without it, and the lock is free again once the first closes.
func TestObjectCacheNeedsTheServeLock(t *testing.T) {
	dir := t.TempDir()
	open := func() *app {
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
		a, err := openApp(context.Background(), cfg, newLogger(cfg, io.Discard), appOptions{objectCache: true})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	first := open()
	if first.objCache == nil || first.meta != first.objCache {
		t.Fatal("the first serve process on a SQLite database has no object cache")
	}
	second := open()
	if second.objCache != nil {
		t.Error("a second serve process on the same database got an object cache")
	}
	second.close()
	first.close()
	third := open()
	defer third.close()
	if third.objCache == nil {
		t.Error("the serve lock was not released by close")
	}
}
