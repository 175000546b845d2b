package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/minio/minio-go/v7"

	"s3proxy/meta"
	"s3proxy/meta/gormstore"
)

const (
	kib = 1 << 10
	mib = 1 << 20
	gib = 1 << 30
)

// Units of a profile's headline figure.
const (
	unitMiBs = "MiB/s"
	unitOps  = "ops/s"
	unitMs   = "ms" // a latency: lower is better
)

// profile is one bounded workload.
type profile struct {
	name  string
	title string
	unit  string
	// perOps: server CPU is reported per 1,000 operations instead of per GiB.
	perOps bool
	// pgVariant: also run on s3proxy with PostgreSQL metadata.
	pgVariant bool
	// settle: the upload leaves deferred work on the server (s3proxy hashes a completed
	// multipart object as a whole in a background job, up to 2 s later); keep counting
	// the server's CPU until it is idle so that the work is always counted, not only
	// when it happens to start inside the timed window. Throughput stays wall-clock.
	settle bool
	// setup runs once per server before the first timed run (untimed).
	setup func(ctx context.Context, r *runner) error
	// run does one timed run; it calls r.begin and r.end around what it measures.
	run func(ctx context.Context, r *runner) error
}

// runner is one run of one profile on one server: what the workload reports.
type runner struct {
	e     *environment
	s     *server
	p     *profile
	rep   int
	short bool

	mu    sync.Mutex
	lat   []time.Duration
	bytes int64
	ops   int64
	// byOp: latencies per kind of operation, for profiles that mix kinds (recordOp).
	byOp map[string][]time.Duration

	t0, t1     time.Time
	cpu0, cpu1 time.Duration
	// self0/self1 are the load generator's own CPU, idle0/idle1 the machine's idle time
	// (/proc/stat): they tell whether a profile was CPU-bound, and on whose side.
	self0, self1 time.Duration
	idle0, idle1 time.Duration
	svc0, svc1   time.Duration
	stopRSS      func() int64
	rss          int64
	note         string
	// store0/store1: s3proxy's chunk store Put times (storemetrics.go), when readable.
	store0, store1 storeTimes
	storeOK        bool
}

func (r *runner) begin() {
	// Each timed window starts with nothing of another run's left to write back:
	// versitygw never flushes, so the hundreds of MiB its upload profiles leave in the
	// page cache would otherwise be written back during whichever run follows (on a
	// device that serves one flush at a time, s3proxy's fsyncs queue behind them).
	// Each server's own unflushed writes still cost it nothing inside its own window.
	if !r.e.opts.noSync {
		syscall.Sync()
	}
	// Every window starts on new connections. The kernel's congestion control keeps
	// state per connection (BBR's bandwidth model and pacing rate, say, which follow
	// the connection's history): with the pool kept across runs, a GET run's
	// throughput and server CPU depended on what its connections had carried before,
	// by up to 2× between two servers running the same binary (BENCHMARKS.md).
	r.s.cl.http.CloseIdleConnections()
	// Scraped first, so that serving /metrics is outside the CPU window.
	r.store0, r.storeOK = readStoreTimes(context.Background(), r.s.admin)
	r.stopRSS = r.s.sampler.watch()
	r.cpu0, _ = r.s.sampler.cpu()
	r.self0, r.idle0, r.svc0 = selfCPU(), machineIdle(), serviceCPU()
	r.t0 = time.Now()
}

func (r *runner) end() {
	r.t1 = time.Now()
	r.cpu1, _ = r.s.sampler.cpu()
	r.self1, r.idle1, r.svc1 = selfCPU(), machineIdle(), serviceCPU()
	if r.storeOK {
		r.store1, r.storeOK = readStoreTimes(context.Background(), r.s.admin)
	}
	if r.p.settle {
		r.cpu1 = r.settle(r.cpu1)
	}
	r.rss = r.stopRSS()
}

// settle waits until the server has used no more than one clock tick of CPU for
// idleFor (longer than s3proxy's 2 s job poll), at most settleMax, and returns its CPU
// time then.
func (r *runner) settle(cpu time.Duration) time.Duration {
	const (
		idleFor   = 2500 * time.Millisecond
		settleMax = 15 * time.Second
		step      = 100 * time.Millisecond
	)
	deadline := time.Now().Add(settleMax)
	quietSince := time.Now()
	last := cpu
	for time.Now().Before(deadline) && time.Since(quietSince) < idleFor {
		time.Sleep(step)
		now, err := r.s.sampler.cpu()
		if err != nil {
			return last
		}
		if now-last > time.Second/clockTicks {
			quietSince = time.Now()
		}
		last = now
	}
	return last
}

// record adds one operation's latency and payload bytes.
func (r *runner) record(d time.Duration, n int64) {
	r.recordOp("", d, n)
}

// recordOp is record for a profile that mixes kinds of operation: op names the kind
// (GET, PUT, ...), and -v prints each kind's latency beside the whole run's.
func (r *runner) recordOp(op string, d time.Duration, n int64) {
	r.mu.Lock()
	r.lat = append(r.lat, d)
	r.bytes += n
	r.ops++
	if op != "" {
		if r.byOp == nil {
			r.byOp = make(map[string][]time.Duration)
		}
		r.byOp[op] = append(r.byOp[op], d)
	}
	r.mu.Unlock()
}

// parallel runs n operations over streams workers; op gets the operation's index.
func parallel(ctx context.Context, streams, n int, op func(ctx context.Context, worker, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		next  = make(chan int)
	)
	for w := range streams {
		wg.Go(func() {
			for i := range next {
				if err := op(ctx, w, i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
						cancel()
					}
					mu.Unlock()
				}
			}
		})
	}
feed:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		first = ctx.Err()
	}
	return first
}

// measure is the outcome of one run.
type measure struct {
	value    float64 // in the profile's unit
	p50, p99 time.Duration
	cpu      time.Duration
	cpuPer   float64       // CPU seconds per GiB, or per 1,000 ops
	client   time.Duration // the load generator's CPU over the timed window
	services time.Duration // PostgreSQL's and Redis's CPU over the timed window
	idle     float64       // the machine's idle share of its cores over the window
	// storePut, storeFinish: s3proxy's mean chunk store Put and its part after the body's
	// last byte (the durable write), over the window; zero when not measured.
	storePut, storeFinish time.Duration
	// metaWrite: s3proxy's mean metadata write (object, part, completion); walSync and
	// walPerSync: its SQLite WAL syncs' mean and the commits each made durable.
	metaWrite, walSync time.Duration
	walPerSync         float64
	// byOp: per kind of operation, in name order, when the profile mixes kinds.
	byOp  []opLatency
	rss   int64
	ops   int64
	bytes int64
	wall  time.Duration
	note  string
}

func (m measure) summary(p *profile) string {
	cpuUnit := "CPU-s/GiB"
	if p.perOps {
		cpuUnit = "CPU-s/1k ops"
	}
	s := fmt.Sprintf("%9.1f %-5s p50 %7s p99 %7s  %.2f %s  peak RSS %d MiB  (server %.2f, client %.2f CPU-s over %.2f s; machine %.0f %% idle)",
		m.value, p.unit, fmtDur(m.p50), fmtDur(m.p99), m.cpuPer, cpuUnit, m.rss/mib,
		m.cpu.Seconds(), m.client.Seconds(), m.wall.Seconds(), 100*m.idle)
	if m.services >= 50*time.Millisecond {
		// Only where it matters (the PostgreSQL variants): s3proxy's own CPU leaves it out.
		s = strings.Replace(s, " CPU-s over", fmt.Sprintf(", PostgreSQL and Redis %.2f CPU-s over", m.services.Seconds()), 1)
	}
	if m.storePut > 0 {
		s += fmt.Sprintf("  [chunk store Put: mean %s, of which %s after the body's last byte]", fmtDur(m.storePut), fmtDur(m.storeFinish))
	}
	if m.metaWrite > 0 {
		s += fmt.Sprintf("  [metadata writes: mean %s", fmtDur(m.metaWrite))
		if m.walSync > 0 {
			s += fmt.Sprintf("; WAL syncs: mean %s, %.1f commits each", fmtDur(m.walSync), m.walPerSync)
		}
		s += "]"
	}
	if len(m.byOp) > 0 {
		parts := make([]string, len(m.byOp))
		for i, o := range m.byOp {
			parts[i] = fmt.Sprintf("%s ×%d p50 %s p99 %s", o.op, o.n, fmtDur(o.p50), fmtDur(o.p99))
		}
		s += "  [" + strings.Join(parts, "; ") + "]"
	}
	return s
}

// opLatency is one kind of operation's share of a mixed run.
type opLatency struct {
	op       string
	n        int
	p50, p99 time.Duration
}

func latencyByOp(byOp map[string][]time.Duration) []opLatency {
	out := make([]opLatency, 0, len(byOp))
	for op, d := range byOp {
		out = append(out, opLatency{op: op, n: len(d), p50: percentile(d, 0.5), p99: percentile(d, 0.99)})
	}
	slices.SortFunc(out, func(a, b opLatency) int { return strings.Compare(a.op, b.op) })
	return out
}

func percentile(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := int(q*float64(len(s))+0.5) - 1
	return s[max(0, min(i, len(s)-1))]
}

// runProfile prepares the server for p (once) and does one timed run.
func (e *environment) runProfile(ctx context.Context, p *profile, s *server, rep int) (measure, error) {
	r := &runner{e: e, s: s, p: p, rep: rep, short: e.opts.short}
	if _, ok := s.prepared[p.name]; !ok && p.setup != nil {
		if err := p.setup(ctx, r); err != nil {
			return measure{}, fmt.Errorf("set-up: %w", err)
		}
		s.prepared[p.name] = true
	}
	err := p.run(ctx, r)
	if err == nil {
		err = s.alive()
	}
	if err != nil {
		return measure{}, err
	}
	if r.t1.IsZero() {
		return measure{}, errors.New("profile did not time itself")
	}
	m := measure{p50: percentile(r.lat, 0.5), p99: percentile(r.lat, 0.99), cpu: r.cpu1 - r.cpu0, rss: r.rss,
		ops: r.ops, bytes: r.bytes, wall: r.t1.Sub(r.t0), note: r.note, client: r.self1 - r.self0, services: r.svc1 - r.svc0,
		byOp: latencyByOp(r.byOp)}
	if r.storeOK {
		m.storePut, m.storeFinish = r.store1.means(r.store0)
		m.metaWrite, m.walSync, m.walPerSync = r.store1.metaMeans(r.store0)
	}
	if cores := float64(runtime.NumCPU()) * m.wall.Seconds(); cores > 0 && r.idle1 >= r.idle0 {
		m.idle = min(1, (r.idle1-r.idle0).Seconds()/cores)
	}
	secs := m.wall.Seconds()
	switch p.unit {
	case unitMiBs:
		m.value = float64(r.bytes) / mib / secs
	case unitOps:
		m.value = float64(r.ops) / secs
	case unitMs:
		m.value = float64(m.p50) / float64(time.Millisecond)
	}
	if p.perOps {
		m.cpuPer = m.cpu.Seconds() / (float64(r.ops) / 1000)
	} else if r.bytes > 0 {
		m.cpuPer = m.cpu.Seconds() / (float64(r.bytes) / gib)
	}
	return m, nil
}

// sizes picks the full or the smoke value.
func (r *runner) sizes(full, short int) int {
	if r.short {
		return short
	}
	return full
}

func (r *runner) bucket() string { return "bench-" + r.p.name }

// ensureBucket creates the profile's bucket (each profile has its own).
func (r *runner) ensureBucket(ctx context.Context) error {
	_, err := r.s.cl.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(r.bucket())})
	if err != nil && !strings.Contains(err.Error(), "BucketAlready") {
		return err
	}
	return nil
}

// putMinio uploads body with minio-go's PutObject: a signed aws-chunked body.
func (r *runner) putMinio(ctx context.Context, key string, body []byte) error {
	_, err := r.s.cl.core.Client.PutObject(ctx, r.bucket(), key, bytes.NewReader(body), int64(len(body)),
		minio.PutObjectOptions{ContentType: "application/octet-stream", DisableMultipart: true})
	return err
}

// ---- the profiles --------------------------------------------------------

func profileNames() []string {
	var n []string
	for _, p := range allProfiles() {
		n = append(n, p.name)
	}
	return n
}

func selectProfiles(list string) ([]*profile, error) {
	all := allProfiles()
	if list == "" {
		return all, nil
	}
	var out []*profile
	for _, name := range strings.Split(list, ",") {
		i := slices.IndexFunc(all, func(p *profile) bool { return p.name == strings.TrimSpace(name) })
		if i < 0 {
			return nil, fmt.Errorf("unknown profile %q (have %s)", name, strings.Join(profileNames(), ", "))
		}
		out = append(out, all[i])
	}
	return out, nil
}

func allProfiles() []*profile {
	return []*profile{
		putProfile("put-1m-x1", 1, 200),
		putProfile("put-1m-x8", 8, 800),
		getProfile("get-1m-x1", 1, 400),
		getProfile("get-1m-x8", 8, 1600),
		multipartProfile("mpu-64m-x1", 1),
		multipartProfile("mpu-64m-x8", 8),
		mixedProfile(),
		reuploadProfile(),
		completeProfile(),
		listProfile(),
	}
}

// putProfile: PutObject of fresh 1 MiB objects over streams connections.
func putProfile(name string, streams, n int) *profile {
	return &profile{
		name: name, title: fmt.Sprintf("PUT 1 MiB ×%d", streams), unit: unitMiBs,
		setup: func(ctx context.Context, r *runner) error { return r.ensureBucket(ctx) },
		run: func(ctx context.Context, r *runner) error {
			count := r.sizes(n, 4*streams)
			bufs := make([][]byte, streams)
			for i := range bufs {
				bufs[i] = make([]byte, mib)
			}
			r.begin()
			err := parallel(ctx, streams, count, func(ctx context.Context, w, i int) error {
				b := bufs[w]
				r.e.data.fresh(b)
				t := time.Now()
				if err := r.putMinio(ctx, fmt.Sprintf("r%d/%06d", r.rep, i), b); err != nil {
					return err
				}
				r.record(time.Since(t), int64(len(b)))
				return nil
			})
			r.end()
			return err
		},
	}
}

// getProfile: GetObject of 1 MiB objects (64 distinct, so they stay in the page
// cache, as a hot set does) over streams connections.
func getProfile(name string, streams, n int) *profile {
	const objects = 64
	return &profile{
		name: name, title: fmt.Sprintf("GET 1 MiB ×%d", streams), unit: unitMiBs,
		setup: func(ctx context.Context, r *runner) error {
			if err := r.ensureBucket(ctx); err != nil {
				return err
			}
			b := make([]byte, mib)
			for i := range r.sizes(objects, 8) {
				r.e.data.fresh(b)
				if err := r.putMinio(ctx, fmt.Sprintf("obj/%03d", i), b); err != nil {
					return err
				}
			}
			return nil
		},
		run: func(ctx context.Context, r *runner) error {
			count := r.sizes(n, 4*streams)
			objs := r.sizes(objects, 8)
			bufs := make([][]byte, streams)
			for i := range bufs {
				bufs[i] = make([]byte, 256*kib)
			}
			r.begin()
			err := parallel(ctx, streams, count, func(ctx context.Context, w, i int) error {
				t := time.Now()
				out, err := r.s.cl.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(r.bucket()), Key: aws.String(fmt.Sprintf("obj/%03d", i%objs))})
				if err != nil {
					return err
				}
				n, err := drain(out.Body, bufs[w])
				out.Body.Close()
				if err != nil {
					return err
				}
				if n != mib {
					return fmt.Errorf("GET returned %d bytes, want %d", n, mib)
				}
				r.record(time.Since(t), n)
				return nil
			})
			r.end()
			return err
		},
	}
}

func drain(rd io.Reader, buf []byte) (int64, error) {
	var n int64
	for {
		m, err := rd.Read(buf)
		n += int64(m)
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// multipartProfile: 64 MiB objects uploaded as 8 MiB parts with minio-go's
// UploadPart (signed aws-chunked bodies), over streams concurrent part uploads; the
// Complete is included in the time.
func multipartProfile(name string, streams int) *profile {
	return &profile{
		name: name, title: fmt.Sprintf("multipart PUT 64 MiB ×%d", streams), unit: unitMiBs, settle: true,
		setup: func(ctx context.Context, r *runner) error { return r.ensureBucket(ctx) },
		run: func(ctx context.Context, r *runner) error {
			objects := r.sizes(4, 1)
			partSize := r.sizes(8*mib, 5*mib)
			parts := r.sizes(8, 2)
			bufs := make([][]byte, streams)
			for i := range bufs {
				bufs[i] = make([]byte, partSize)
			}
			core := r.s.cl.core
			r.begin()
			for o := range objects {
				key := fmt.Sprintf("r%d/%03d", r.rep, o)
				t := time.Now()
				id, err := core.NewMultipartUpload(ctx, r.bucket(), key, minio.PutObjectOptions{ContentType: "application/octet-stream"})
				if err != nil {
					return err
				}
				done := make([]minio.CompletePart, parts)
				err = parallel(ctx, streams, parts, func(ctx context.Context, w, i int) error {
					b := bufs[w]
					r.e.data.fresh(b)
					p, err := core.PutObjectPart(ctx, r.bucket(), key, id, i+1, bytes.NewReader(b), int64(len(b)), minio.PutObjectPartOptions{})
					if err != nil {
						return err
					}
					done[i] = minio.CompletePart{PartNumber: i + 1, ETag: p.ETag}
					return nil
				})
				if err != nil {
					return err
				}
				if _, err := core.CompleteMultipartUpload(ctx, r.bucket(), key, id, done, minio.PutObjectOptions{}); err != nil {
					return err
				}
				r.record(time.Since(t), int64(parts*partSize))
			}
			r.end()
			return nil
		},
	}
}

// mixedProfile: 4 KiB objects, 8 workers, each over its own keys: 60% GET, 20% HEAD,
// 15% PUT (aws-sdk-go-v2: signed hex payload hash plus a CRC32 header), 5% DELETE.
func mixedProfile() *profile {
	const workers = 8
	type state struct{ exists [][]bool }
	return &profile{
		name: "mixed-4k", title: "mixed 4 KiB GET/HEAD/PUT/DELETE ×8", unit: unitOps, perOps: true, pgVariant: true,
		setup: func(ctx context.Context, r *runner) error {
			if err := r.ensureBucket(ctx); err != nil {
				return err
			}
			keys := r.sizes(1000, 64) / workers
			st := &state{exists: make([][]bool, workers)}
			for w := range workers {
				st.exists[w] = make([]bool, keys)
			}
			bufs := make([][]byte, workers)
			for i := range bufs {
				bufs[i] = make([]byte, 4*kib)
			}
			err := parallel(ctx, workers, workers*keys, func(ctx context.Context, _ int, i int) error {
				w, k := i%workers, i/workers
				b := make([]byte, 4*kib)
				r.e.data.fresh(b)
				_, err := r.s.cl.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(r.bucket()), Key: aws.String(mixedKey(w, k)), Body: bytes.NewReader(b)})
				if err == nil {
					st.exists[w][k] = true // each (w, k) is written by one goroutine only
				}
				return err
			})
			r.s.prepared[r.p.name+"/state"] = st
			return err
		},
		run: func(ctx context.Context, r *runner) error {
			st := r.s.prepared[r.p.name+"/state"].(*state)
			perWorker := r.sizes(4000, 200) / workers
			r.begin()
			err := parallel(ctx, workers, workers, func(ctx context.Context, w, _ int) error {
				rng := rand.New(rand.NewPCG(uint64(w), uint64(r.rep)))
				ex := st.exists[w]
				buf := make([]byte, 4*kib)
				rbuf := make([]byte, 8*kib)
				existing := func() (int, bool) {
					for range 64 {
						if k := rng.IntN(len(ex)); ex[k] {
							return k, true
						}
					}
					return 0, false
				}
				for range perWorker {
					x := rng.IntN(100)
					k, ok := existing()
					if !ok || x < 15 {
						x, k = 0, rng.IntN(len(ex)) // PUT
					}
					bucket, key := aws.String(r.bucket()), aws.String(mixedKey(w, k))
					t := time.Now()
					var n int64
					op := "GET"
					switch {
					case x < 15:
						op = "PUT"
						r.e.data.fresh(buf)
						if _, err := r.s.cl.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: bucket, Key: key, Body: bytes.NewReader(buf)}); err != nil {
							return err
						}
						ex[k], n = true, int64(len(buf))
					case x < 20:
						if _, err := r.s.cl.s3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: bucket, Key: key}); err != nil {
							return err
						}
						ex[k], op = false, "DELETE"
					case x < 40:
						op = "HEAD"
						if _, err := r.s.cl.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: bucket, Key: key}); err != nil {
							return err
						}
					default:
						out, err := r.s.cl.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: bucket, Key: key})
						if err != nil {
							return err
						}
						n, err = drain(out.Body, rbuf)
						out.Body.Close()
						if err != nil {
							return err
						}
						if n != 4*kib {
							return fmt.Errorf("GET %s: %d bytes, want 4096", *key, n)
						}
					}
					r.recordOp(op, time.Since(t), n)
				}
				return nil
			})
			r.end()
			return err
		},
	}
}

func mixedKey(w, k int) string { return fmt.Sprintf("w%d/%05d", w, k) }

// reuploadProfile: PutObject of 16 MiB of content the server already stores, under
// new keys, with the content's signed SHA-256 and Expect: 100-continue (what the aws
// cli sends). Throughput counts the logical bytes.
func reuploadProfile() *profile {
	type content struct {
		body [][]byte
		sums [][32]byte
	}
	return &profile{
		name: "reupload", title: "re-upload of stored 16 MiB ×4", unit: unitMiBs,
		setup: func(ctx context.Context, r *runner) error {
			if err := r.ensureBucket(ctx); err != nil {
				return err
			}
			c := &content{}
			for i := range r.sizes(4, 2) {
				b := make([]byte, r.sizes(16*mib, mib))
				r.e.data.fresh(b)
				sum := sha256.Sum256(b)
				if _, err := r.s.cl.signedPut(ctx, r.bucket(), fmt.Sprintf("orig/%d", i), "", b, sum); err != nil {
					return err
				}
				c.body, c.sums = append(c.body, b), append(c.sums, sum)
			}
			r.s.prepared[r.p.name+"/content"] = c
			return nil
		},
		run: func(ctx context.Context, r *runner) error {
			c := r.s.prepared[r.p.name+"/content"].(*content)
			count := r.sizes(64, 4)
			r.begin()
			err := parallel(ctx, 4, count, func(ctx context.Context, _ int, i int) error {
				j := i % len(c.body)
				t := time.Now()
				if _, err := r.s.cl.signedPut(ctx, r.bucket(), fmt.Sprintf("r%d/%04d", r.rep, i), "", c.body[j], c.sums[j]); err != nil {
					return err
				}
				r.record(time.Since(t), int64(len(c.body[j])))
				return nil
			})
			r.end()
			return err
		},
	}
}

// completeProfile: CompleteMultipartUpload of 1,000 parts of 5 MiB (S3's minimum).
// Every part carries the same content, uploaded with its signed SHA-256 and Expect:
// 100-continue over 8 streams; only the Complete call is timed.
func completeProfile() *profile {
	type content struct {
		body []byte
		sum  [32]byte
	}
	return &profile{
		name: "complete-1000", title: "CompleteMultipartUpload, 1,000 × 5 MiB parts", unit: unitMs, perOps: true,
		setup: func(ctx context.Context, r *runner) error {
			if err := r.ensureBucket(ctx); err != nil {
				return err
			}
			b := make([]byte, 5*mib)
			r.e.data.fresh(b)
			r.s.prepared[r.p.name+"/content"] = &content{body: b, sum: sha256.Sum256(b)}
			return nil
		},
		run: func(ctx context.Context, r *runner) error {
			c := r.s.prepared[r.p.name+"/content"].(*content)
			parts := r.sizes(1000, 3)
			if r.s.kind == kindVersitygw {
				parts = r.e.opts.vgwParts
			}
			if parts != 1000 {
				r.note = fmt.Sprintf("%d parts", parts)
			}
			key := fmt.Sprintf("r%d", r.rep)
			core := r.s.cl.core
			id, err := core.NewMultipartUpload(ctx, r.bucket(), key, minio.PutObjectOptions{ContentType: "application/octet-stream"})
			if err != nil {
				return err
			}
			etags := make([]string, parts)
			err = parallel(ctx, 8, parts, func(ctx context.Context, _ int, i int) error {
				q := "partNumber=" + itoa(i+1) + "&uploadId=" + url.QueryEscape(id)
				etag, err := r.s.cl.signedPut(ctx, r.bucket(), key, q, c.body, c.sum)
				etags[i] = etag
				return err
			})
			if err != nil {
				return err
			}
			body := completeXML(etags)
			r.begin()
			t := time.Now()
			_, err = r.s.cl.signedPost(ctx, r.bucket(), key, "uploadId="+url.QueryEscape(id), body)
			r.record(time.Since(t), 0)
			r.end()
			if err != nil {
				return err
			}
			// Free the space (versitygw holds a real 5 GiB file).
			_, err = r.s.cl.s3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(r.bucket()), Key: aws.String(key)})
			return err
		},
	}
}

// listProfile: ListObjectsV2 pages of 1,000 keys over a bucket of a million keys (the
// first page, then pages starting at random keys).
//
// Filling: s3proxy's bucket is created through the API and its keys are inserted
// straight into its metadata store (gormstore.BulkInsertEmptyObjects: zero-byte
// objects, as a PUT of an empty body would record them), since a million PUTs take
// far longer than the benchmark. versitygw's are empty files created in its posix
// directory, which is what it lists; for it the bucket is smaller by default
// (-list-keys-versitygw), because creating and listing a million files is slow.
func listProfile() *profile {
	return &profile{
		name: "list-1m", title: "ListObjectsV2 page over 1M keys", unit: unitMs, perOps: true,
		setup: func(ctx context.Context, r *runner) error {
			if err := r.ensureBucket(ctx); err != nil {
				return err
			}
			switch r.s.kind {
			case kindS3proxy:
				return fillS3proxy(ctx, r, r.e.opts.listKeys)
			default:
				return fillVersitygw(r, r.e.opts.listKeysVGW)
			}
		},
		run: func(ctx context.Context, r *runner) error {
			keys := r.e.opts.listKeys
			if r.s.kind == kindVersitygw {
				keys = r.e.opts.listKeysVGW
			}
			if keys != 1_000_000 {
				r.note = fmt.Sprintf("%d keys", keys)
			}
			pages := r.sizes(20, 3)
			rng := rand.New(rand.NewPCG(uint64(r.rep), 7))
			r.begin()
			for i := range pages {
				in := &s3.ListObjectsV2Input{Bucket: aws.String(r.bucket()), MaxKeys: aws.Int32(1000)}
				if i > 0 {
					in.StartAfter = aws.String(listKey(rng.IntN(keys - 1000)))
				}
				t := time.Now()
				out, err := r.s.cl.s3.ListObjectsV2(ctx, in)
				if err != nil {
					return err
				}
				r.record(time.Since(t), 0)
				if len(out.Contents) != 1000 {
					return fmt.Errorf("page %d has %d keys, want 1000", i, len(out.Contents))
				}
			}
			r.end()
			return nil
		},
	}
}

func listKey(i int) string { return fmt.Sprintf("k%07d", i) }

func fillS3proxy(ctx context.Context, r *runner, n int) error {
	dsn := filepath.Join(r.s.dataDir, "meta.db")
	if r.s.metaDSN != "" {
		dsn = r.s.metaDSN
	}
	st, err := gormstore.Open(ctx, dsn)
	if err != nil {
		return err
	}
	defer st.Close()
	now := time.Now().UTC()
	const batch = 50_000
	objs := make([]meta.Object, 0, batch)
	for i := range n {
		objs = append(objs, meta.Object{Bucket: r.bucket(), Key: listKey(i), ETag: "d41d8cd98f00b204e9800998ecf8427e",
			ContentType: "application/octet-stream", Owner: accessKey, Scope: accessKey, ModTime: now})
		if len(objs) == batch || i == n-1 {
			if err := st.BulkInsertEmptyObjects(ctx, objs); err != nil {
				return err
			}
			objs = objs[:0]
		}
	}
	return nil
}

func fillVersitygw(r *runner, n int) error {
	dir := filepath.Join(r.s.dataDir, r.bucket())
	for i := range n {
		f, err := os.OpenFile(filepath.Join(dir, listKey(i)), os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o644)
		if err != nil {
			return err
		}
		f.Close()
	}
	return nil
}
