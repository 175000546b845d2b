package main

import (
	"context"
	"net/http"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// storeTimes is s3proxy's chunk store Put latency so far, from its /metrics:
// s3proxy_backend_operation_seconds for op "put" (the whole Put, body included) and
// "put_finish" (from the body's last byte to the end: the durable write), summed over
// backends. The difference of two readings gives a run's mean of each.
type storeTimes struct {
	put, finish       float64 // seconds, summed
	puts, finishCount float64
	// metaWrite, metaWrites: s3proxy_meta_operation_seconds over the operations that
	// write an object, a part or an upload's completion (the metadata side of a PUT or
	// DELETE); wal, walSyncs, walCommits: SQLite's group WAL syncs and the commits they
	// made durable (zero on PostgreSQL).
	metaWrite, metaWrites     float64
	wal, walSyncs, walCommits float64
}

// metaWriteOps are the metadata operations counted as writes.
var metaWriteOps = map[string]bool{"put_object": true, "delete_object": true, "put_part": true, "complete_upload": true}

// readStoreTimes scrapes the admin listener; ok is false for a server without one
// (versitygw) or when the scrape fails (the figures are a diagnosis, not a result).
func readStoreTimes(ctx context.Context, admin string) (st storeTimes, ok bool) {
	if admin == "" {
		return st, false
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+admin+"/metrics", nil)
	if err != nil {
		return st, false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return st, false
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, false
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return st, false
	}
	if mf := mfs["s3proxy_meta_operation_seconds"]; mf != nil {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "op" && metaWriteOps[l.GetValue()] {
					st.metaWrite += m.GetHistogram().GetSampleSum()
					st.metaWrites += float64(m.GetHistogram().GetSampleCount())
				}
			}
		}
	}
	if mf := mfs["s3proxy_sqlite_wal_sync_seconds"]; mf != nil && len(mf.GetMetric()) == 1 {
		st.wal = mf.GetMetric()[0].GetHistogram().GetSampleSum()
		st.walSyncs = float64(mf.GetMetric()[0].GetHistogram().GetSampleCount())
	}
	if mf := mfs["s3proxy_sqlite_wal_synced_commits_total"]; mf != nil && len(mf.GetMetric()) == 1 {
		st.walCommits = mf.GetMetric()[0].GetCounter().GetValue()
	}
	mf := mfs["s3proxy_backend_operation_seconds"]
	if mf == nil {
		return st, true // no chunk store operation yet
	}
	for _, m := range mf.GetMetric() {
		h := m.GetHistogram()
		for _, l := range m.GetLabel() {
			if l.GetName() != "op" {
				continue
			}
			switch l.GetValue() {
			case "put":
				st.put += h.GetSampleSum()
				st.puts += float64(h.GetSampleCount())
			case "put_finish":
				st.finish += h.GetSampleSum()
				st.finishCount += float64(h.GetSampleCount())
			}
		}
	}
	return st, true
}

// means returns the mean Put and mean after-body time between two readings (zero when
// no Put happened in between).
func (st storeTimes) means(before storeTimes) (put, finish time.Duration) {
	if n := st.puts - before.puts; n > 0 {
		put = time.Duration((st.put - before.put) / n * float64(time.Second))
	}
	if n := st.finishCount - before.finishCount; n > 0 {
		finish = time.Duration((st.finish - before.finish) / n * float64(time.Second))
	}
	return put, finish
}

// metaMeans returns, between two readings, the mean metadata write, the mean WAL sync
// and the commits each sync made durable (zeros where nothing happened).
func (st storeTimes) metaMeans(before storeTimes) (write, sync time.Duration, perSync float64) {
	if n := st.metaWrites - before.metaWrites; n > 0 {
		write = time.Duration((st.metaWrite - before.metaWrite) / n * float64(time.Second))
	}
	if n := st.walSyncs - before.walSyncs; n > 0 {
		sync = time.Duration((st.wal - before.wal) / n * float64(time.Second))
		perSync = (st.walCommits - before.walCommits) / n
	}
	return write, sync, perSync
}
