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
}

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
