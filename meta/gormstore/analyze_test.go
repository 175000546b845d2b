package gormstore

import (
	"context"
	"sync/atomic"
	"testing"
)

func TestAnalyzerThresholds(t *testing.T) {
	var runs atomic.Int32
	a := newAnalyzer(func(context.Context) error { runs.Add(1); return nil })
	tests := []struct {
		writes int64 // total writes so far
		runs   int32
	}{
		{analyzeFirst - 1, 0},
		{analyzeFirst, 1},
		{4*analyzeFirst - 1, 1},
		{4 * analyzeFirst, 2},
		{64 * analyzeFirst, 4},
	}
	for _, tt := range tests {
		for a.writes.Load() < tt.writes {
			a.wrote()
		}
		a.wg.Wait()
		if got := runs.Load(); got != tt.runs {
			t.Fatalf("after %d writes: %d ANALYZE runs, want %d", tt.writes, got, tt.runs)
		}
	}
	a.close()
	var none *analyzer // SQLite: no analyzer
	none.wrote()
	none.close()
}

// The ANALYZE statement itself runs on PostgreSQL.
func TestAnalyzePostgres(t *testing.T) {
	requirePG(t)
	s := openT(t, pgBase(), WithSchema(pgSchema(t)))
	if err := s.stats.analyze(context.Background()); err != nil {
		t.Fatal(err)
	}
}
