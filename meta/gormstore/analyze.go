package gormstore

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Planner statistics for a young PostgreSQL store.
//
// Every statement runs prepared, and PostgreSQL keeps a prepared statement's generic plan
// until a table's statistics change. On a new store the first plans see empty tables,
// where a sequential scan is the cheapest way to update a chunk's count; autovacuum
// analyzes a table only after it has grown by 10 % and at most once a minute per
// database, and until then every PUT scanned the whole chunk index: in the benchmark's
// mixed profile, which writes a few thousand objects into a fresh store, that was half
// of PostgreSQL's time (pg_stat_user_tables: one sequential scan of chunks per PUT;
// auto_explain: "Seq Scan on chunks" under the reference update). So the store analyzes
// its tables itself after its first 1,000 writes, then after 4,000, 16,000 … up to
// analyzeLast; the new statistics invalidate every node's cached plans. Beyond that,
// autovacuum's 10 % keeps them fresh.

const (
	analyzeFirst = 1000
	analyzeLast  = 4 << 20
)

// analyzer runs ANALYZE at growth thresholds counted in this process's writes.
type analyzer struct {
	writes  atomic.Int64
	next    atomic.Int64
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	analyze func(ctx context.Context) error
}

func newAnalyzer(analyze func(ctx context.Context) error) *analyzer {
	a := &analyzer{analyze: analyze}
	a.ctx, a.cancel = context.WithCancel(context.Background())
	a.next.Store(analyzeFirst)
	return a
}

// wrote counts one write and starts an ANALYZE when a threshold is crossed.
func (a *analyzer) wrote() {
	if a == nil {
		return
	}
	n := a.writes.Add(1)
	next := a.next.Load()
	if n < next || next > analyzeLast || !a.next.CompareAndSwap(next, next*4) {
		return
	}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		ctx, cancel := context.WithTimeout(a.ctx, time.Minute)
		defer cancel()
		_ = a.analyze(ctx) // best effort: autovacuum does it later anyway
	}()
}

// close stops a running ANALYZE and waits for it.
func (a *analyzer) close() {
	if a == nil {
		return
	}
	a.cancel()
	a.wg.Wait()
}
