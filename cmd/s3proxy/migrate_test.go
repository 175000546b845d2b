package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"s3proxy/backends"
	"s3proxy/dedup"
	"s3proxy/meta"
	"s3proxy/s3api"
)

// migrateStack is the real graph with two backends: "disk" (local, the default) and
// "remote" (S3, gofakes3 in-process), behind an httptest S3 API.
type migrateStack struct {
	testStack
	args []string // --config and --data, for openApp and the migrate command
}

func newMigrateStack(t *testing.T) *migrateStack {
	t.Helper()
	mem := s3mem.New()
	if err := mem.CreateBucket("chunks"); err != nil {
		t.Fatal(err)
	}
	fake := httptest.NewServer(gofakes3.New(mem, gofakes3.WithLogger(gofakes3.DiscardLog())).Server())
	t.Cleanup(fake.Close)
	dir := t.TempDir()
	cfgFile := dir + "/config.yaml"
	yaml := fmt.Sprintf(`credentials:
  - {access_key: %s, secret_key: %s}
backends:
  - {name: disk, type: local, path: %s/chunks}
  - {name: remote, type: s3, endpoint: %s, region: us-east-1, bucket: chunks, prefix: s3proxy, access_key: AKIAFAKE, secret_key: fakesecret, path_style: true}
default_backend: disk
`, testAK, testSK, dir, fake.URL)
	if err := os.WriteFile(cfgFile, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"--config", cfgFile, "--data", dir + "/data", "--log-level", "error"}
	a := openTestApp(t, args)
	api, err := s3api.New(s3api.Config{Service: a.svc, Credentials: []s3api.Credential{{AccessKey: testAK, SecretKey: testSK}}, Region: a.cfg.Region, Log: a.log})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	return &migrateStack{testStack: testStack{url: srv.URL, app: a}, args: args}
}

// openTestApp opens one more graph on the same data (as `s3proxy migrate` does beside a
// running server).
func openTestApp(t *testing.T, args []string) *app {
	t.Helper()
	cfg, err := loadConfig(args, func(string) string { return "" }, io.Discard, "migrate", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.EnsureNodeID(); err != nil {
		t.Fatal(err)
	}
	a, err := openApp(context.Background(), cfg, newLogger(cfg, io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.close)
	return a
}

func randBytes(seed uint64, n int) []byte {
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)})
	_, _ = r.Read(b)
	return b
}

func putMultipart(t *testing.T, c *s3.Client, bucket, key string, parts ...[]byte) []byte {
	t.Helper()
	ctx := context.Background()
	up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &bucket, Key: &key})
	if err != nil {
		t.Fatal(err)
	}
	var done []types.CompletedPart
	var all []byte
	for i, p := range parts {
		out, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: &bucket, Key: &key, UploadId: up.UploadId,
			PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(p)})
		if err != nil {
			t.Fatal(err)
		}
		done = append(done, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(int32(i + 1))})
		all = append(all, p...)
	}
	if _, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: &bucket, Key: &key, UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: done}}); err != nil {
		t.Fatal(err)
	}
	return all
}

// TestMigrateBucket moves one bucket from local disk to S3 while readers read every
// object through the S3 API: interrupted after a few chunks, resumed with the command,
// every object reads back byte-identical, no read fails, stats do not change, the old
// copies are gone and a third run has nothing to do.
func TestMigrateBucket(t *testing.T) {
	st := newMigrateStack(t)
	ctx := context.Background()
	c := st.client(t, testAK, testSK)
	for _, b := range []string{"mig", "keep"} {
		if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string][]byte{} // "bucket/key" -> content
	for i, size := range []int{0, 1, 1000, 100 << 10, 3 << 20} {
		key := fmt.Sprintf("single-%d", i)
		want["mig/"+key] = randBytes(uint64(i+1), size)
		mustPut(t, c, "mig", key, want["mig/"+key])
	}
	want["mig/multi"] = putMultipart(t, c, "mig", "multi", randBytes(50, 5<<20), randBytes(51, 5<<20), randBytes(52, 12345))
	want["mig/multi-2"] = putMultipart(t, c, "mig", "multi-2", randBytes(60, 5<<20), randBytes(61, 777))
	// A chunk shared with a bucket that stays: it moves, and "keep" follows it.
	want["keep/shared"] = want["mig/single-3"]
	mustPut(t, c, "keep", "shared", want["keep/shared"])
	want["keep/own"] = randBytes(70, 4000)
	mustPut(t, c, "keep", "own", want["keep/own"])

	statsBefore, err := st.app.meta.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	chunksOf := func(bucket string) []meta.Chunk {
		t.Helper()
		cs, err := st.app.meta.ListChunks(ctx, meta.ChunkQuery{Bucket: bucket, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		// Inline chunks (small bodies) live in the metadata store: migrate leaves them.
		return slices.DeleteFunc(cs, func(c meta.Chunk) bool { return c.Backend == meta.InlineBackend })
	}
	before := chunksOf("mig")
	keepOwn := chunksOf("keep")

	// Readers through the S3 API for the whole migration.
	var (
		stop     = make(chan struct{})
		wg       sync.WaitGroup
		reads    atomic.Int64
		failures = make(chan error, 100)
	)
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	for r := range 3 {
		wg.Go(func() {
			for i := r; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				bk := keys[i%len(keys)]
				bucket, key, _ := strings.Cut(bk, "/")
				got, err := getObject(ctx, c, bucket, key)
				reads.Add(1)
				if err == nil && !bytes.Equal(got, want[bk]) {
					err = fmt.Errorf("%s: %d bytes differ from the %d written", bk, len(got), len(want[bk]))
				}
				if err != nil {
					select {
					case failures <- fmt.Errorf("read %s during migration: %w", bk, err):
					default:
					}
				}
			}
		})
	}

	// 1. Interrupted after two chunks.
	a2 := openTestApp(t, st.args)
	ictx, cancel := context.WithCancel(ctx)
	p, err := a2.dedup.Migrate(ictx, dedup.MigrateOptions{To: "remote", Bucket: "mig", Workers: 2, Progress: func(p dedup.MigrateProgress) {
		if p.Chunks >= 2 {
			cancel()
		}
	}})
	cancel()
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted Migrate: %+v, %v; want context.Canceled", p, err)
	}
	if p.TotalChunks != int64(len(before)) || p.Chunks < 2 || p.Chunks >= p.TotalChunks || p.Failed != 0 {
		t.Fatalf("interrupted Migrate progress = %+v, want 2 ≤ moved < %d, none failed", p, len(before))
	}
	t.Logf("interrupted after %d of %d chunks", p.Chunks, p.TotalChunks)

	// 2. Resumed with the command.
	var stdout, stderr bytes.Buffer
	code := run(ctx, append([]string{"migrate"}, append(st.args, "--to", "remote", "--bucket", "mig", "--delete-delay", "0s")...),
		func(string) string { return "" }, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("s3proxy migrate: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	if wantMoved := fmt.Sprintf("moved %d chunks", int64(len(before))-p.Chunks); !strings.Contains(stdout.String(), wantMoved) {
		t.Errorf("migrate said %q, want %q", stdout.String(), wantMoved)
	}

	time.Sleep(200 * time.Millisecond) // reads on the new locations only
	close(stop)
	wg.Wait()
	close(failures)
	for err := range failures {
		t.Error(err)
	}
	if reads.Load() < 10 {
		t.Errorf("only %d reads ran during the migration", reads.Load())
	}

	// Every object reads back byte-identical.
	for bk, data := range want {
		bucket, key, _ := strings.Cut(bk, "/")
		if got := mustGet(t, c, bucket, key, ""); !bytes.Equal(got, data) {
			t.Errorf("%s after migration: %d bytes, want %d identical", bk, len(got), len(data))
		}
	}
	if got := mustGet(t, c, "mig", "multi", "bytes=5242870-5242889"); !bytes.Equal(got, want["mig/multi"][5242870:5242890]) {
		t.Errorf("a range across parts differs after migration")
	}

	// Same objects, chunks and bytes.
	statsAfter, err := st.app.meta.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if statsAfter.Objects != statsBefore.Objects || statsAfter.Chunks != statsBefore.Chunks ||
		statsAfter.LogicalBytes != statsBefore.LogicalBytes || statsAfter.StoredBytes != statsBefore.StoredBytes {
		t.Errorf("stats changed: before %+v, after %+v", statsBefore, statsAfter)
	}

	// Every chunk of the bucket is on the target; its old copy is gone; chunks only
	// "keep" uses stayed.
	disk, remote := st.app.stores["disk"], st.app.stores["remote"]
	after := map[int64]meta.Chunk{}
	for _, ch := range chunksOf("mig") {
		after[ch.ID] = ch
	}
	for _, old := range before {
		now := after[old.ID]
		if now.Backend != "remote" || now.UID == old.UID {
			t.Errorf("chunk %d is at %s/%s, want moved to remote", old.ID, now.Backend, now.UID)
			continue
		}
		if info, err := remote.Stat(ctx, now.UID); err != nil || info.Size != old.Size || info.SHA256 != old.SHA256 {
			t.Errorf("chunk %d on remote: %+v, %v", old.ID, info, err)
		}
		if _, err := disk.Stat(ctx, old.UID); !errors.Is(err, backends.ErrNotFound) {
			t.Errorf("old copy of chunk %d is still on disk: %v", old.ID, err)
		}
	}
	moved := map[int64]bool{}
	for _, ch := range before {
		moved[ch.ID] = true
	}
	for _, ch := range keepOwn {
		cur, err := st.app.meta.GetChunk(ctx, ch.ID)
		if err != nil {
			t.Fatal(err)
		}
		if wantBackend := map[bool]string{true: "remote", false: "disk"}[moved[ch.ID]]; cur.Backend != wantBackend {
			t.Errorf("chunk %d of bucket keep is on %s, want %s", ch.ID, cur.Backend, wantBackend)
		}
	}

	// Nothing left to do.
	stdout.Reset()
	if code := run(ctx, append([]string{"migrate"}, append(st.args, "--to", "remote", "--bucket", "mig")...),
		func(string) string { return "" }, &stdout, &stderr); code != 0 || !strings.Contains(stdout.String(), "moved 0 chunks") {
		t.Errorf("a second migration: exit %d, %q", code, stdout.String())
	}
}

func getObject(ctx context.Context, c *s3.Client, bucket, key string) ([]byte, error) {
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: &key})
	if err != nil {
		return nil, err
	}
	defer out.Body.Close()
	return io.ReadAll(out.Body)
}

// TestMigrateErrors: the command refuses what it cannot do, naming it.
func TestMigrateErrors(t *testing.T) {
	st := newMigrateStack(t)
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no target", nil, "--to is required"},
		{"unknown target", []string{"--to", "nowhere"}, `no such backend (configured: disk, remote)`},
		{"unknown bucket", []string{"--to", "remote", "--bucket", "nosuch"}, `--bucket "nosuch"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), append([]string{"migrate"}, append(st.args, c.args...)...), func(string) string { return "" }, &stdout, &stderr)
			if code == 0 || !strings.Contains(stderr.String(), c.want) {
				t.Errorf("exit %d, stderr %q; want an error mentioning %q", code, stderr.String(), c.want)
			}
		})
	}
}

func TestProgressBar(t *testing.T) {
	cases := []struct {
		p    progressState
		want string
	}{
		{progressState{total: 4, totalBytes: 4 << 20}, "[>                             ]   0%  0/4 chunks  0 B/4.0 MiB"},
		{progressState{total: 4, totalBytes: 4 << 20, done: 2, bytes: 2 << 20}, "[===============>              ]  50%  2/4 chunks  2.0 MiB/4.0 MiB"},
		{progressState{total: 4, totalBytes: 4 << 20, done: 4, bytes: 4 << 20, note: "1 failed"}, "[==============================] 100%  4/4 chunks  4.0 MiB/4.0 MiB"},
		{progressState{total: 8, done: 2}, "[=======>                      ]  25%  2/8 chunks  0 B  "},
		{progressState{}, "[==============================] 100%  0/0 chunks"},
	}
	for _, c := range cases {
		if got := bar(c.p, 0); !strings.HasPrefix(got, c.want) {
			t.Errorf("bar(%+v) = %q, want prefix %q", c.p, got, c.want)
		}
	}
	if got := bar(progressState{total: 1, done: 1, note: "3 problems"}, 0); !strings.HasSuffix(got, "3 problems") {
		t.Errorf("note missing: %q", got)
	}
}
