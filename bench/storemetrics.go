package main

import (
	"bufio"
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"
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
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		name, rest, found := strings.Cut(line, "{")
		if !found || !strings.HasPrefix(name, "s3proxy_backend_operation_seconds_") {
			continue
		}
		labels, value, found := strings.Cut(rest, "} ")
		if !found {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			continue
		}
		var sum, count *float64
		switch {
		case strings.Contains(labels, `op="put"`):
			sum, count = &st.put, &st.puts
		case strings.Contains(labels, `op="put_finish"`):
			sum, count = &st.finish, &st.finishCount
		default:
			continue
		}
		switch name {
		case "s3proxy_backend_operation_seconds_sum":
			*sum += v
		case "s3proxy_backend_operation_seconds_count":
			*count += v
		}
	}
	return st, sc.Err() == nil
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
