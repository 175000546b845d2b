package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// TestCrashDuringMultipart SIGKILLs the server while several multipart uploads are
// streaming parts, restarts it on the same data, and checks that every upload that
// completed before the kill reads back byte-identical, that nothing points at a
// missing chunk, and that the collector then reclaims everything the interrupted
// uploads left (their parts, and blobs written but never indexed).
func TestCrashDuringMultipart(t *testing.T) {
	t.Parallel()
	onlyS3proxy(t)
	dataDir := t.TempDir()
	s := startServer(t, serverOptions{args: []string{"--data", dataDir}})
	s.dataDir = dataDir
	c := s3Client(s, s.cred)
	const bucket = "crash"
	createBucket(t, c, bucket)

	const partSize = 5 * MiB
	type done struct {
		key string
		sum string
	}
	var mu sync.Mutex
	var completed []done
	upload := func(ctx context.Context, worker, n int) error {
		key := fmt.Sprintf("w%d/obj%d", worker, n)
		// The parts' CRC32s (the SDK's default) are listed in the Complete below: as on
		// S3, they must be the upload's algorithm (an upload created without one keeps
		// only its default CRC64NVME of a part, and refuses others as InvalidPart).
		cu, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: &key,
			ChecksumAlgorithm: types.ChecksumAlgorithmCrc32})
		if err != nil {
			return err
		}
		hs := sha256.New()
		var parts []types.CompletedPart
		for p := int32(1); p <= 3; p++ {
			data := randomBytes(uint64(worker*1000+n*10+int(p)), partSize)
			hs.Write(data)
			out, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(bucket), Key: &key, UploadId: cu.UploadId, PartNumber: aws.Int32(p), Body: bytes.NewReader(data)})
			if err != nil {
				return err
			}
			parts = append(parts, types.CompletedPart{PartNumber: aws.Int32(p), ETag: out.ETag, ChecksumCRC32: out.ChecksumCRC32})
		}
		_, err = c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String(bucket), Key: &key, UploadId: cu.UploadId,
			MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
		if err != nil {
			return err
		}
		mu.Lock()
		completed = append(completed, done{key, hex.EncodeToString(hs.Sum(nil))})
		mu.Unlock()
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for n := 0; ctx.Err() == nil; n++ {
				if err := upload(ctx, w, n); err != nil {
					return // the server died under us
				}
			}
		}(w)
	}
	// Let a few uploads complete, then kill the server in the middle of the others.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		mu.Lock()
		n := len(completed)
		mu.Unlock()
		if n >= 4 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(150 * time.Millisecond)
	s.kill()
	cancel()
	wg.Wait()
	mu.Lock()
	finished := append([]done(nil), completed...)
	mu.Unlock()
	if len(finished) == 0 {
		t.Fatal("no upload completed before the kill")
	}
	t.Logf("%d uploads completed before SIGKILL", len(finished))

	s2 := startServer(t, serverOptions{args: []string{"--data", dataDir}})
	s2.dataDir = dataDir
	c2 := s3Client(s2, s2.cred)
	check := func(stage string) {
		t.Helper()
		for _, d := range finished {
			out, err := c2.GetObject(ctxT(t), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(d.key)})
			if err != nil {
				t.Fatalf("%s: completed object %s: %v", stage, d.key, err)
			}
			sum, _, err := readerSHA256(out.Body)
			out.Body.Close()
			if err != nil || sum != d.sum {
				t.Fatalf("%s: %s reads back wrong (err %v)", stage, d.key, err)
			}
		}
		// Nothing may point at a missing chunk: every listed object reads in full.
		p := s3.NewListObjectsV2Paginator(c2, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
		for p.HasMorePages() {
			page, err := p.NextPage(ctxT(t))
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range page.Contents {
				out, err := c2.GetObject(ctxT(t), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: o.Key})
				if err != nil {
					t.Fatalf("%s: listed object %s: %v", stage, aws.ToString(o.Key), err)
				}
				n, err := io.Copy(io.Discard, out.Body)
				out.Body.Close()
				if err != nil || n != aws.ToInt64(o.Size) {
					t.Fatalf("%s: %s read %d of %d bytes: %v", stage, aws.ToString(o.Key), n, aws.ToInt64(o.Size), err)
				}
			}
		}
	}
	check("after restart")

	// Abandoned uploads are aborted and everything unreferenced collected.
	// The first pass aborts the abandoned uploads, which releases their parts; those
	// chunks become collectable once the grace period has passed since, so a second
	// pass collects them.
	s2.admincmd("gc", "--gc-grace", "1ms", "--upload-max-age", "1ms")
	time.Sleep(50 * time.Millisecond)
	s2.admincmd("gc", "--gc-grace", "1ms", "--upload-max-age", "1ms")
	check("after gc")
	// A Complete can commit and lose its response to the kill: such an object exists
	// (and reads in full, checked above) though its client saw an error. So the objects
	// are at least the uploads seen to complete, and what is stored is exactly theirs.
	st := s2.stats()
	if st.Objects < int64(len(finished)) {
		t.Errorf("after gc: %d objects, but %d uploads completed", st.Objects, len(finished))
	}
	if want := st.Objects * 3 * partSize; st.StoredBytes != want || st.Chunks != st.Objects*3 {
		t.Errorf("after gc: stored %d bytes in %d chunks, want %d in %d for %d objects (stats %+v)", st.StoredBytes, st.Chunks, want, st.Objects*3, st.Objects, st)
	}
	ups, err := c2.ListMultipartUploads(ctxT(t), &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
	if err != nil || len(ups.Uploads) != 0 {
		t.Errorf("uploads left after gc: %v %v", ups, err)
	}
	// On disk: one file per indexed chunk (crash leftovers in tmp/ are not chunks and
	// are removed at a later start once old).
	files := 0
	err = filepath.WalkDir(filepath.Join(dataDir, "chunks"), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "tmp" {
			return filepath.SkipDir
		}
		if !d.IsDir() {
			files++
		}
		return nil
	})
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	if int64(files) != st.Chunks {
		t.Errorf("%d chunk files on disk, %d chunks indexed", files, st.Chunks)
	}
}
