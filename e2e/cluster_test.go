package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/redis/go-redis/v9"

	"s3proxy/meta/gormstore"
)

// Cluster tests: three s3proxy processes on loopback ports over the real PostgreSQL and
// Redis (PG_DSN, REDIS_ADDR override the defaults). Each test gets its own PostgreSQL
// schema (through search_path in the DSN) and its own Redis database number, so tests
// never see each other's data; the schema is dropped afterwards.

func clusterPGBase() string {
	return envOr("PG_DSN", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable")
}

func clusterRedisAddr() string { return envOr("REDIS_ADDR", "127.0.0.1:6379") }

// redisDBs hands out Redis database numbers 1..15 (0 is left to the packages' own tests,
// which use key prefixes); the tests of this package run one at a time.
var redisDBs atomic.Int32

// clusterEnv is what the nodes of one test share.
type clusterEnv struct {
	meta  string // DSN with the test's schema
	redis string // redis:// URL with the test's database
}

func newClusterEnv(t *testing.T) clusterEnv {
	t.Helper()
	onlyS3proxy(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	schema := fmt.Sprintf("e2e_%d", time.Now().UnixNano())
	u, err := url.Parse(clusterPGBase())
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	// Opening the store creates the schema (and proves PostgreSQL is there).
	st, err := gormstore.Open(ctx, u.String(), gormstore.WithMaxConns(1))
	if err == nil {
		err = st.Close()
	}
	need(t, err, "PostgreSQL at "+clusterPGBase())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := gormstore.DropSchema(ctx, clusterPGBase(), schema); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})

	db := int(redisDBs.Add(1)-1)%15 + 1
	rc := redis.NewClient(&redis.Options{Addr: clusterRedisAddr(), DB: db})
	defer rc.Close()
	err = rc.FlushDB(ctx).Err()
	need(t, err, "Redis at "+clusterRedisAddr())
	t.Cleanup(func() {
		c := redis.NewClient(&redis.Options{Addr: clusterRedisAddr(), DB: db})
		defer c.Close()
		_ = c.FlushDB(context.Background()).Err()
	})
	return clusterEnv{meta: u.String(), redis: fmt.Sprintf("redis://%s/%d", clusterRedisAddr(), db)}
}

// startNode starts one node of the cluster; yaml configures its backends.
func (e clusterEnv) startNode(t *testing.T, name, yaml string, reuse *server) *server {
	t.Helper()
	opts := serverOptions{meta: e.meta, yaml: yaml, args: []string{"--redis", e.redis, "--node-id", name, "--log-level", "warn"}}
	if reuse != nil {
		opts.dataDir, opts.listen = reuse.dataDir, reuse.host
	}
	return startServer(t, opts)
}

// startVersitygwFor runs versitygw as the cluster's shared chunk store and creates its
// bucket; it returns the backends YAML that points nodes at it. Like startServer, it
// starts versitygw again on another port when its picked port was taken before it
// could bind, twice at most.
func startVersitygwFor(t *testing.T) string {
	t.Helper()
	bin, err := h.tools.lookPath("versitygw")
	need(t, err, "versitygw (the shared S3 chunk store)")
	for attempt := 1; ; attempt++ {
		endpoint, bucket, taken := launchVersitygw(t, bin)
		if !taken {
			return fmt.Sprintf("backends:\n  - {name: shared, type: s3, endpoint: %q, region: %s, bucket: %s, access_key: %s, secret_key: %s, path_style: true}\n",
				endpoint, region, bucket, testAccessKey, testSecretKey)
		}
		if attempt == bindAttempts {
			t.Fatalf("versitygw: its port was taken %d times", bindAttempts)
		}
		t.Logf("versitygw: its port was taken; starting it again on another")
	}
}

// launchVersitygw is one attempt of startVersitygwFor; taken reports a port taken.
func launchVersitygw(t *testing.T, bin string) (endpoint, bucket string, taken bool) {
	t.Helper()
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cmd := exec.Command(bin, "--access", testAccessKey, "--secret", testSecretKey, "--region", region, "--port", addr, "posix", t.TempDir())
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("versitygw output:\n%s", logs.String())
		}
	})
	endpoint = "http://" + addr
	c := s3ClientAt(endpoint, nil, defaultCredential())
	bucket = "chunks"
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case <-exited:
			if portTaken(logs.String()) {
				return "", "", true
			}
			t.Fatalf("versitygw exited before it was ready:\n%s", logs.String())
		default:
		}
		_, err := c.CreateBucket(ctxT(t), &s3.CreateBucketInput{Bucket: &bucket})
		if err == nil {
			return endpoint, bucket, false
		}
		if time.Now().After(deadline) {
			t.Fatalf("versitygw: create bucket: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

type stored struct {
	key string
	sum string
	n   int64
}

func putBytes(t testing.TB, c *s3.Client, bucket, key string, data []byte) error {
	t.Helper()
	_, err := c.PutObject(ctxT(t), &s3.PutObjectInput{Bucket: &bucket, Key: &key, Body: bytes.NewReader(data)})
	return err
}

// checkRead reads key through c and compares it with want.
func checkRead(t testing.TB, via string, c *s3.Client, bucket string, want stored) {
	t.Helper()
	sum, n := getSHA256(t, c, bucket, want.key)
	if sum != want.sum || n != want.n {
		t.Errorf("%s: %s/%s read back %d bytes sha256 %s, want %d bytes %s", via, bucket, want.key, n, sum, want.n, want.sum)
	}
}

// checkRange reads a byte range of key through c.
func checkRange(t testing.TB, via string, c *s3.Client, bucket, key string, data []byte, off, n int64) {
	t.Helper()
	rng := fmt.Sprintf("bytes=%d-%d", off, off+n-1)
	out, err := c.GetObject(ctxT(t), &s3.GetObjectInput{Bucket: &bucket, Key: &key, Range: &rng})
	if err != nil {
		t.Fatalf("%s: GetObject %s %s: %v", via, key, rng, err)
	}
	defer out.Body.Close()
	got, err := io.ReadAll(out.Body)
	if err != nil || !bytes.Equal(got, data[off:off+n]) {
		t.Errorf("%s: range %s of %s: %d bytes, %v; want %d identical", via, rng, key, len(got), err, n)
	}
}

// multipartAcross uploads one object whose part i goes through nodes[i%len(nodes)], and
// completes it through the last node.
func multipartAcross(t *testing.T, nodes []*s3.Client, bucket, key string, parts [][]byte) stored {
	t.Helper()
	ctx := ctxT(t)
	up, err := nodes[0].CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &bucket, Key: &key})
	if err != nil {
		t.Fatal(err)
	}
	var done []types.CompletedPart
	var all []byte
	for i, p := range parts {
		n := int32(i + 1)
		out, err := nodes[i%len(nodes)].UploadPart(ctx, &s3.UploadPartInput{Bucket: &bucket, Key: &key, UploadId: up.UploadId,
			PartNumber: &n, Body: bytes.NewReader(p)})
		if err != nil {
			t.Fatalf("UploadPart %d through node %d: %v", n, i%len(nodes)+1, err)
		}
		done = append(done, types.CompletedPart{ETag: out.ETag, PartNumber: &n})
		all = append(all, p...)
	}
	_, err = nodes[len(nodes)-1].CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: &bucket, Key: &key, UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: done}})
	if err != nil {
		t.Fatalf("CompleteMultipartUpload: %v", err)
	}
	return stored{key: key, sum: sha256Hex(all), n: int64(len(all))}
}

// completeRace sends CompleteMultipartUpload for one upload through every node at the
// same moment. As on S3, a Complete of an upload already completed into the key with
// the same parts answers the same result (an SDK retrying after a lost answer must not
// be told NoSuchUpload), so every call succeeds with one ETag; a call that lost the
// race before the object was visible to its node may still answer NoSuchUpload.
func completeRace(t *testing.T, nodes []*s3.Client, bucket, key string) stored {
	t.Helper()
	ctx := ctxT(t)
	up, err := nodes[0].CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &bucket, Key: &key})
	if err != nil {
		t.Fatal(err)
	}
	data := randomBytes(31, 1<<20)
	one := int32(1)
	part, err := nodes[1].UploadPart(ctx, &s3.UploadPartInput{Bucket: &bucket, Key: &key, UploadId: up.UploadId, PartNumber: &one, Body: bytes.NewReader(data)})
	if err != nil {
		t.Fatal(err)
	}
	done := &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{ETag: part.ETag, PartNumber: &one}}}
	errs := make([]error, len(nodes))
	etags := make([]string, len(nodes))
	start := make(chan struct{})
	finished := make(chan int)
	for i, c := range nodes {
		go func() {
			<-start
			out, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: &bucket, Key: &key, UploadId: up.UploadId,
				MultipartUpload: done}, func(o *s3.Options) { o.RetryMaxAttempts = 1 })
			if err == nil {
				etags[i] = aws.ToString(out.ETag)
			}
			errs[i] = err
			finished <- i
		}()
	}
	close(start)
	for range nodes {
		<-finished
	}
	wins := map[string]int{}
	for i, err := range errs {
		if err == nil {
			wins[etags[i]]++
			continue
		}
		if code := apiErrorCode(err); code != "NoSuchUpload" {
			t.Errorf("CompleteMultipartUpload through node %d: %v, want success or NoSuchUpload", i+1, err)
		}
	}
	if len(wins) != 1 {
		t.Errorf("concurrent CompleteMultipartUpload calls succeeded with ETags %v, want one ETag (and at least one success)", wins)
	}
	return stored{key: key, sum: sha256Hex(data), n: int64(len(data))}
}

func apiErrorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// writeUntilKilled writes objects through c until stop is closed and returns those
// whose PUT succeeded: what the cluster promised to keep.
func writeUntilKilled(t *testing.T, c *s3.Client, bucket, prefix string, stop <-chan struct{}) (<-chan []stored, *atomic.Int32) {
	var count atomic.Int32
	out := make(chan []stored, 1)
	go func() {
		var ok []stored
		for i := 0; ; i++ {
			select {
			case <-stop:
				out <- ok
				return
			default:
			}
			data := randomBytes(uint64(1000+i), 200_000+(i%7)*100_000)
			key := fmt.Sprintf("%s/%04d", prefix, i)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: &key, Body: bytes.NewReader(data)},
				func(o *s3.Options) { o.RetryMaxAttempts = 1 })
			cancel()
			if err == nil {
				ok = append(ok, stored{key: key, sum: sha256Hex(data), n: int64(len(data))})
				count.Add(1)
			}
		}
	}()
	return out, &count
}

func waitCount(t *testing.T, c *atomic.Int32, n int32) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for c.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("only %d writes completed in a minute", c.Load())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestClusterSharedBackend: three nodes over one PostgreSQL, one Redis and one shared S3
// store. What one node writes every other reads at once; a multipart upload's parts go
// through all three; a SIGKILL of a node loses nothing it had acknowledged.
func TestClusterSharedBackend(t *testing.T) {
	t.Parallel()
	env := newClusterEnv(t)
	yaml := startVersitygwFor(t)
	n1 := env.startNode(t, "n1", yaml, nil)
	n2 := env.startNode(t, "n2", yaml, nil)
	n3 := env.startNode(t, "n3", yaml, nil)
	cred := defaultCredential()
	c1, c2, c3 := s3Client(n1, cred), s3Client(n2, cred), s3Client(n3, cred)
	const bucket = "shared"
	createBucket(t, c1, bucket)

	var objs []stored
	for i, size := range []int{0, 1, 100_000, 3 << 20} {
		data := randomBytes(uint64(i), size)
		key := fmt.Sprintf("obj-%d", size)
		if err := putBytes(t, c1, bucket, key, data); err != nil {
			t.Fatal(err)
		}
		objs = append(objs, stored{key: key, sum: sha256Hex(data), n: int64(size)})
	}
	for _, o := range objs {
		checkRead(t, "node 2", c2, bucket, o)
		checkRead(t, "node 3", c3, bucket, o)
	}
	// An overwrite through node 2 is what node 3 (whose cache held the old version) reads.
	newer := randomBytes(99, 1234)
	if err := putBytes(t, c2, bucket, objs[2].key, newer); err != nil {
		t.Fatal(err)
	}
	objs[2] = stored{key: objs[2].key, sum: sha256Hex(newer), n: int64(len(newer))}
	checkRead(t, "node 3 after an overwrite through node 2", c3, bucket, objs[2])

	parts := [][]byte{randomBytes(11, 5<<20), randomBytes(12, 5<<20), randomBytes(13, 1<<20)}
	mp := multipartAcross(t, []*s3.Client{c1, c2, c3}, bucket, "multipart", parts)
	objs = append(objs, mp)
	for i, c := range []*s3.Client{c1, c2, c3} {
		checkRead(t, fmt.Sprintf("node %d", i+1), c, bucket, mp)
	}

	// One upload completed through all three nodes at once: one object, one ETag.
	objs = append(objs, completeRace(t, []*s3.Client{c1, c2, c3}, bucket, "raced"))

	// SIGKILL node 1 in the middle of a stream of writes.
	stop := make(chan struct{})
	results, count := writeUntilKilled(t, c1, bucket, "traffic", stop)
	waitCount(t, count, 5)
	n1.kill()
	close(stop)
	acked := <-results
	t.Logf("%d writes acknowledged by node 1 before SIGKILL", len(acked))
	for _, o := range append(objs, acked...) {
		checkRead(t, "node 2 after node 1's death", c2, bucket, o)
		checkRead(t, "node 3 after node 1's death", c3, bucket, o)
	}
	// Node 1 comes back as itself and serves everything too.
	n1 = env.startNode(t, "n1", yaml, n1)
	c1 = s3Client(n1, cred)
	for _, o := range append(objs, acked...) {
		checkRead(t, "node 1 after restart", c1, bucket, o)
	}
}

// TestClusterLocalDisk: each node keeps chunks on its own disk; a node asked for a chunk
// another holds streams it from the owner (ranges as ranges). With the owner dead, reads
// of its chunks fail cleanly with 503 ServiceUnavailable naming no internal address, and
// work again once it is back.
func TestClusterLocalDisk(t *testing.T) {
	t.Parallel()
	env := newClusterEnv(t)
	n1 := env.startNode(t, "n1", "", nil)
	n2 := env.startNode(t, "n2", "", nil)
	n3 := env.startNode(t, "n3", "", nil)
	cred := defaultCredential()
	c1, c2, c3 := s3Client(n1, cred), s3Client(n2, cred), s3Client(n3, cred)
	const bucket = "local"
	createBucket(t, c1, bucket)

	big := randomBytes(1, 6<<20+123)
	if err := putBytes(t, c1, bucket, "on-n1", big); err != nil {
		t.Fatal(err)
	}
	onN1 := stored{key: "on-n1", sum: sha256Hex(big), n: int64(len(big))}
	small := randomBytes(2, 20<<10) // over the inline limit: a blob on node 2's disk
	if err := putBytes(t, c2, bucket, "on-n2", small); err != nil {
		t.Fatal(err)
	}
	onN2 := stored{key: "on-n2", sum: sha256Hex(small), n: int64(len(small))}
	for _, via := range []struct {
		name string
		c    *s3.Client
	}{{"node 2", c2}, {"node 3", c3}} {
		checkRead(t, via.name, via.c, bucket, onN1)
		for _, r := range [][2]int64{{0, 1}, {5 << 20, 1 << 20}, {int64(len(big)) - 10, 10}, {123_456, 2_000_000}} {
			checkRange(t, via.name, via.c, bucket, "on-n1", big, r[0], r[1])
		}
	}
	checkRead(t, "node 3", c3, bucket, onN2)

	parts := [][]byte{randomBytes(21, 5<<20), randomBytes(22, 5<<20), randomBytes(23, 777)}
	mp := multipartAcross(t, []*s3.Client{c1, c2, c3}, bucket, "multipart", parts)
	all := append(append(append([]byte{}, parts[0]...), parts[1]...), parts[2]...)
	for i, c := range []*s3.Client{c1, c2, c3} {
		checkRead(t, fmt.Sprintf("node %d", i+1), c, bucket, mp)
		// A range across the boundary of parts held by two different nodes.
		checkRange(t, fmt.Sprintf("node %d", i+1), c, bucket, "multipart", all, 5<<20-100, 200)
	}

	// verify run beside node 2 checks every chunk, reading the other nodes' through them.
	verifyArgs := []string{"--node-id", "n2", "--redis", env.redis}
	if out, err := n2.admincmdErr("verify", verifyArgs...); err != nil {
		t.Errorf("verify of the healthy cluster: %v", err)
	} else if !strings.Contains(string(out), "0 missing, 0 corrupt, 0 already marked corrupt, 0 unavailable") {
		t.Errorf("verify of the healthy cluster:\n%s", out)
	}

	stop := make(chan struct{})
	results, count := writeUntilKilled(t, c1, bucket, "traffic", stop)
	waitCount(t, count, 5)
	n1.kill()
	close(stop)
	acked := <-results
	t.Logf("%d writes acknowledged by node 1 before SIGKILL", len(acked))

	// verify cannot read node 1's chunks: reported unavailable (not damaged), non-zero exit.
	if out, err := n2.admincmdErr("verify", verifyArgs...); err == nil || !strings.Contains(string(out), "unavailable chunk") ||
		strings.Contains(string(out), "marked corrupt:") {
		t.Errorf("verify with node 1 dead: %v\n%s", err, out)
	}

	// Chunks on node 1's disk: a clean 503, never 404 or wrong bytes.
	for _, key := range []string{"on-n1", "multipart", acked[0].key, acked[len(acked)-1].key} {
		for _, via := range []*server{n2, n3} {
			wantUnavailable(t, via, bucket, key, n1.host)
		}
	}
	// What does not live on node 1 is unaffected.
	checkRead(t, "node 3 with node 1 dead", c3, bucket, onN2)
	checkRange(t, "node 2 with node 1 dead", c2, bucket, "multipart", all, 5<<20+10, 100) // part 2: node 2's disk

	n1 = env.startNode(t, "n1", "", n1)
	for _, o := range append([]stored{onN1, mp}, acked...) {
		checkRead(t, "node 2 after node 1 restarted", c2, bucket, o)
		checkRead(t, "node 3 after node 1 restarted", c3, bucket, o)
	}
}

// wantUnavailable GETs key through node s with a plain signed request and expects a
// 503 ServiceUnavailable S3 error that does not mention the dead node's address.
func wantUnavailable(t *testing.T, s *server, bucket, key, deadAddr string) {
	t.Helper()
	c := s3Client(s, defaultCredential(), func(o *s3.Options) { o.RetryMaxAttempts = 1 })
	var raw []byte
	_, err := c.GetObject(ctxT(t), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}, func(o *s3.Options) {
		o.HTTPClient = &captureClient{body: &raw}
	})
	wantAPIError(t, err, "ServiceUnavailable", http.StatusServiceUnavailable)
	host, port, _ := net.SplitHostPort(deadAddr)
	if bytes.Contains(raw, []byte(deadAddr)) || bytes.Contains(raw, []byte(":"+port)) || (host != "127.0.0.1" && bytes.Contains(raw, []byte(host))) {
		t.Errorf("GET %s through %s: error body names the internal address %s:\n%s", key, s.host, deadAddr, raw)
	}
}

// captureClient keeps the body of an error response for inspection.
type captureClient struct{ body *[]byte }

func (c *captureClient) Do(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil || resp.StatusCode < 300 {
		return resp, err
	}
	b, rerr := io.ReadAll(resp.Body)
	resp.Body.Close()
	if rerr != nil {
		return nil, rerr
	}
	*c.body = b
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return resp, nil
}

// TestPostgresWithoutRedis: a node on PostgreSQL with no Redis caches objects in process
// while it serves alone; a second node joining makes it stop at once, so every write
// through the newcomer is read back through the first node right away.
func TestPostgresWithoutRedis(t *testing.T) {
	t.Parallel()
	env := newClusterEnv(t)
	start := func(name string) *server {
		return startServer(t, serverOptions{meta: env.meta, args: []string{"--node-id", name, "--log-level", "warn"}})
	}
	cred := defaultCredential()
	n1 := start("n1")
	c1 := s3Client(n1, cred)
	const bucket = "solo"
	createBucket(t, c1, bucket)
	// Small bodies live in the metadata store, so the nodes need no shared chunk store.
	v1 := randomBytes(1, 1000)
	if err := putBytes(t, c1, bucket, "k", v1); err != nil {
		t.Fatal(err)
	}
	for range 3 { // served from node 1's cache from the second read on
		checkRead(t, "node 1 alone", c1, bucket, stored{key: "k", sum: sha256Hex(v1), n: 1000})
	}
	if hits := metricValue(t, n1, "s3proxy_object_cache_hits_total"); hits < 2 {
		t.Fatalf("node 1 alone: %v object cache hits, want 2 or more", hits)
	}

	n2 := start("n2")
	c2 := s3Client(n2, cred)
	v2 := randomBytes(2, 2000)
	if err := putBytes(t, c2, bucket, "k", v2); err != nil {
		t.Fatal(err)
	}
	checkRead(t, "node 1 after an overwrite through node 2", c1, bucket, stored{key: "k", sum: sha256Hex(v2), n: 2000})
	if _, err := c2.DeleteObject(ctxT(t), &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String("k")}); err != nil {
		t.Fatal(err)
	}
	_, err := c1.HeadObject(ctxT(t), &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("k")})
	if code := apiErrorCode(err); code != "NotFound" {
		t.Fatalf("node 1 after a delete through node 2: HEAD = %v (%s), want NotFound", err, code)
	}
}
