package gormstore

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"s3proxy/meta"
)

// TestWALSyncGroups: writers arriving while a sync runs share the next one, and none
// returns before a sync that started after its commit has finished.
func TestWALSyncGroups(t *testing.T) {
	w := newWALSync(filepath.Join(t.TempDir(), "db"))
	release := make(chan struct{})
	var started, finished atomic.Int64
	w.syncFile = func() error {
		if started.Add(1) == 1 {
			<-release // hold the first round while the others arrive
		}
		finished.Add(1)
		return nil
	}
	first := make(chan error, 1)
	go func() { first <- w.wait() }()
	for started.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- w.wait()
		}()
	}
	// Every later writer is waiting on the held round now or soon; none may return
	// before the round that covers it, which starts only after the held one.
	time.Sleep(20 * time.Millisecond)
	select {
	case err := <-errs:
		t.Fatalf("a writer returned (%v) while the only sync that started before its commit is still running", err)
	default:
	}
	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := started.Load(); got < 2 || got > 3 {
		// The held round, then one round for everyone who arrived during it (a third
		// only if a writer arrived after that one had started).
		t.Errorf("%d sync rounds for %d writers, want 2 (group commit)", got, n+1)
	}
}

// TestWALSyncSticky: after a failed sync every write fails, without syncing again.
func TestWALSyncSticky(t *testing.T) {
	w := newWALSync(filepath.Join(t.TempDir(), "db"))
	var calls int
	boom := errors.New("EIO")
	w.syncFile = func() error { calls++; return boom }
	for i := range 3 {
		err := w.wait()
		if !errors.Is(err, boom) || !errors.Is(err, meta.ErrUnavailable) {
			t.Fatalf("wait %d: %v, want the sync's error as ErrUnavailable", i, err)
		}
	}
	if calls != 1 {
		t.Errorf("%d syncs, want 1: a failed fsync must not be retried as if the data were safe", calls)
	}
	if err := w.failed(); !errors.Is(err, boom) {
		t.Errorf("failed() = %v, want the sync's error", err)
	}
}

// TestSQLitePingAfterFailedSync: once a WAL sync failed, the store reports itself
// unavailable (readyz) as well as failing the write.
func TestSQLitePingAfterFailedSync(t *testing.T) {
	ctx := context.Background()
	s := openT(t, filepath.Join(t.TempDir(), "m.db"))
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	s.db.ConnPool.(*stmtPool).wal.syncFile = func() error { return errors.New("EIO") }
	err := s.CreateBucket(ctx, meta.Bucket{Name: "b", Owner: "o", Region: "r", Backend: "local"})
	if !errors.Is(err, meta.ErrUnavailable) {
		t.Fatalf("CreateBucket after a failed sync: %v, want ErrUnavailable", err)
	}
	if err := s.Ping(ctx); !errors.Is(err, meta.ErrUnavailable) {
		t.Errorf("Ping after a failed sync: %v, want ErrUnavailable", err)
	}
}

// TestWALSyncFile: the real sync opens the -wal file, follows it when it is replaced, and
// has nothing to do when there is none.
func TestWALSyncFile(t *testing.T) {
	db := filepath.Join(t.TempDir(), "db")
	w := newWALSync(db)
	defer w.close()
	if err := w.wait(); err != nil {
		t.Fatalf("no WAL file: %v", err)
	}
	if err := os.WriteFile(db+"-wal", []byte("frames"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := w.wait(); err != nil || w.f == nil {
		t.Fatalf("wait: %v, file %v", err, w.f)
	}
	old := w.f
	if err := os.Remove(db + "-wal"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(db+"-wal", []byte("new frames"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := w.wait(); err != nil {
		t.Fatal(err)
	}
	st, _ := w.f.Stat()
	cur, _ := os.Stat(db + "-wal")
	if w.f == old || !os.SameFile(st, cur) {
		t.Error("the sync did not follow the replaced -wal file")
	}
}

// TestSQLiteWritesSync: every kind of write of a SQLite store (a transaction, a statement
// outside one) waits for a WAL sync before returning, and reads do not.
func TestSQLiteWritesSync(t *testing.T) {
	ctx := context.Background()
	s := openT(t, filepath.Join(t.TempDir(), "m.db"))
	w := s.db.ConnPool.(*stmtPool).wal
	if w == nil {
		t.Fatal("the SQLite writer has no WAL sync")
	}
	synced := func() uint64 {
		w.mu.Lock()
		defer w.mu.Unlock()
		return w.synced
	}
	for _, tc := range []struct {
		name  string
		write bool
		op    func() error
	}{
		{"transaction", true, func() error {
			return s.CreateBucket(ctx, meta.Bucket{Name: "b", Owner: "o", Region: "r", Backend: "local"})
		}},
		{"statement", true, func() error {
			_, err := s.TryLock(ctx, "l", "me", time.Minute)
			return err
		}},
		{"read", false, func() error { _, err := s.GetBucket(ctx, "b"); return err }},
	} {
		before := synced()
		if err := tc.op(); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := synced() > before; got != tc.write {
			t.Errorf("%s: synced %v, want %v", tc.name, got, tc.write)
		}
	}
}
