package gormstore

import (
	"context"
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"s3proxy/meta"
)

// eventually polls cond for up to 10 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestServeLease(t *testing.T) {
	requirePG(t)
	ctx := context.Background()
	schema := pgSchema(t)
	a, b := openT(t, pgBase(), WithSchema(schema)), openT(t, pgBase(), WithSchema(schema))
	other := openT(t, pgBase(), WithSchema(pgSchema(t)))

	var yields, regains atomic.Int32
	var yieldedBeforeJoin atomic.Bool
	la, err := a.Lease(ctx, LeaseOptions{Exclusive: true, UpgradeEvery: 100 * time.Millisecond,
		OnYield: func() { yields.Add(1) }, OnExclusive: func() { regains.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	defer la.Close()
	if !la.Exclusive() || regains.Load() != 1 {
		t.Fatalf("first lease on a schema: exclusive %v, OnExclusive calls %d", la.Exclusive(), regains.Load())
	}

	// Another store's lease is independent.
	lo, err := other.Lease(ctx, LeaseOptions{Exclusive: true})
	if err != nil || !lo.Exclusive() {
		t.Fatalf("lease on another schema: %v", err)
	}
	lo.Close()

	// A second serve process joins: the holder turns its cache off before the newcomer
	// can write.
	lb, err := b.Lease(ctx, LeaseOptions{Exclusive: true, OnYield: func() { t.Error("b yielded a lease it never held") }})
	if err != nil {
		t.Fatal(err)
	}
	yieldedBeforeJoin.Store(yields.Load() == 1)
	if !yieldedBeforeJoin.Load() || la.Exclusive() || lb.Exclusive() {
		t.Fatalf("after a join: yields %d, a exclusive %v, b exclusive %v", yields.Load(), la.Exclusive(), lb.Exclusive())
	}

	// The newcomer leaves: the first process is alone again and upgrades.
	lb.Close()
	eventually(t, "upgrade after the other process left", la.Exclusive)
	if regains.Load() != 2 {
		t.Fatalf("OnExclusive calls: %d", regains.Load())
	}

	// The lease connection dies: cache off at once, then shared, then exclusive again.
	la.mu.Lock()
	pid := la.conn.PgConn().PID()
	la.mu.Unlock()
	if err := b.db.WithContext(ctx).Exec(`SELECT pg_terminate_backend(?)`, pid).Error; err != nil {
		t.Fatal(err)
	}
	eventually(t, "yield on a lost connection", func() bool { return yields.Load() == 2 })
	eventually(t, "exclusive again after reconnecting", la.Exclusive)
	if regains.Load() != 3 {
		t.Fatalf("OnExclusive calls: %d", regains.Load())
	}
}

// A closed lease is free; a holder that does not yield keeps a newcomer out, with
// ErrLeaseHeld after Wait.
func TestServeLeaseHeld(t *testing.T) {
	requirePG(t)
	ctx := context.Background()
	schema := pgSchema(t)
	a, b := openT(t, pgBase(), WithSchema(schema)), openT(t, pgBase(), WithSchema(schema))
	la, err := a.Lease(ctx, LeaseOptions{Exclusive: true})
	if err != nil {
		t.Fatal(err)
	}
	// Close releases it.
	la.Close()
	lb, err := b.Lease(ctx, LeaseOptions{Exclusive: true})
	if err != nil || !lb.Exclusive() {
		t.Fatalf("lease after the holder closed: %v", err)
	}
	lb.Close()
	// Now hold it from a plain session that ignores notifications.
	db := adminDB(t)
	defer closeDB(db)
	sqlDB, _ := db.DB()
	c, err := sqlDB.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.ExecContext(ctx, `SET search_path = "`+schema+`"`); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ExecContext(ctx, `SELECT pg_advisory_lock(hashtext(current_schema() || '.s3proxy-serve')::bigint)`); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = b.Lease(ctx, LeaseOptions{Wait: 300 * time.Millisecond})
	if !errors.Is(err, ErrLeaseHeld) || !errors.Is(err, meta.ErrUnavailable) {
		t.Fatalf("lease beside a holder that never yields: %v", err)
	}
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Fatalf("gave up after %v", d)
	}
}

func TestServeLeaseSQLite(t *testing.T) {
	s := openT(t, filepath.Join(t.TempDir(), "meta.db"))
	if _, err := s.Lease(context.Background(), LeaseOptions{}); !errors.Is(err, meta.ErrInvalid) {
		t.Fatalf("Lease on SQLite: %v", err)
	}
}
