package translate

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"s3proxy/meta"
)

// Job kinds of the durable queue.
const (
	JobHashObject = "hash-object"
)

type hashJob struct {
	Bucket string `json:"bucket"`
	Key    string `json:"key"`
	ETag   string `json:"etag"`
}

func hashJobPayload(bucket, key, etag string) string {
	b, _ := json.Marshal(hashJob{Bucket: bucket, Key: key, ETag: etag})
	return string(b)
}

// RunJobs claims and runs background jobs until ctx ends. Any number of processes may
// run it against one metadata store: a claim is a lease, so each job runs once, and a
// crashed worker's job is taken again when its lease expires.
func (s *Service) RunJobs(ctx context.Context, idle time.Duration) {
	for ctx.Err() == nil {
		job, err := s.meta.Claim(ctx, []string{JobHashObject}, 10*time.Minute)
		if err != nil {
			if !errors.Is(err, meta.ErrNotFound) && ctx.Err() == nil {
				s.log.Warn("jobs: claim", "err", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(idle):
			}
			continue
		}
		runErr := s.runJob(ctx, job)
		var retryAt time.Time
		errText := ""
		if runErr != nil {
			errText = runErr.Error()
			if job.Attempts < 5 {
				retryAt = s.now().Add(time.Duration(1<<job.Attempts) * 10 * time.Second)
			}
			s.log.Warn("jobs: failed", "kind", job.Kind, "id", job.ID, "attempt", job.Attempts, "err", runErr)
		}
		if err := s.meta.Finish(context.WithoutCancel(ctx), job.ID, errText, retryAt); err != nil {
			s.log.Warn("jobs: finish", "id", job.ID, "err", err)
		}
	}
}

func (s *Service) runJob(ctx context.Context, job meta.Job) error {
	switch job.Kind {
	case JobHashObject:
		var j hashJob
		if err := json.Unmarshal([]byte(job.Payload), &j); err != nil {
			return err
		}
		return s.hashObject(ctx, j)
	}
	return errors.New("unknown job kind " + job.Kind)
}

// drainBufSize is the read size of drain.
const drainBufSize = 256 << 10

var drainBufs = sync.Pool{New: func() any { b := make([]byte, drainBufSize); return &b }}

// drain reads r to its end (a reader that hashes what passes: reading is the point) in
// large reads.
// io.Copy into io.Discard would use Discard's ReadFrom, which reads 8 KiB at a time: a
// system call per 8 KiB of a stored object. For the hash job of 64 MiB multipart
// objects this took the profile from 9.18 to 8.54 CPU-s/GiB (one stream) and 9.68 to 9.18
// (eight).
func drain(r io.Reader) (int64, error) {
	bp := drainBufs.Get().(*[]byte)
	defer drainBufs.Put(bp)
	return io.CopyBuffer(struct{ io.Writer }{io.Discard}, r, *bp)
}

// hashObject records the whole-content SHA-256 of a multipart object so that the same
// content can later be uploaded instantly as one object: taken from another object with
// the same manifest where one has it, else computed from the stored copy. It does not
// compute the MD5 that such an upload answers with (a single object's ETag): MD5 is the
// slowest hash on the path, and in this job it was a fifth of the server's CPU on
// multipart uploads (10–25 % less CPU per GiB without it, BENCHMARKS.md), paid for every
// upload so that the few whose content comes back as one object would not have to read
// it. instantPut computes it from the stored copy when one does, once.
func (s *Service) hashObject(ctx context.Context, j hashJob) error {
	o, err := s.meta.GetObject(ctx, j.Bucket, j.Key)
	if errors.Is(err, meta.ErrNotFound) {
		return nil // deleted since: nothing to do
	}
	if err != nil {
		return err
	}
	if o.ETag != j.ETag {
		return nil // overwritten since
	}
	if sum, md5 := s.recordedDigests(ctx, o); sum != nil {
		return s.setDigests(ctx, j, sum, md5)
	}
	body, err := s.openRange(ctx, o, 0, o.Size)
	if err != nil {
		return err
	}
	defer body.Close()
	h := sha256.New()
	n, err := drain(io.TeeReader(body, h))
	if err != nil {
		return err
	}
	if n != o.Size {
		return fmt.Errorf("hash %s/%s: read %d of %d bytes", j.Bucket, j.Key, n, o.Size)
	}
	return s.setDigests(ctx, j, h.Sum(nil), nil)
}

func (s *Service) setDigests(ctx context.Context, j hashJob, sum, md5 []byte) error {
	err := s.meta.SetObjectDigests(ctx, j.Bucket, j.Key, j.ETag, sum, md5)
	if errors.Is(err, meta.ErrPreconditionFailed) || errors.Is(err, meta.ErrNotFound) {
		return nil // overwritten or deleted while hashing
	}
	return err
}

// maxDigestDonors bounds the objects recordedDigests looks at.
const maxDigestDonors = 16

// recordedDigests returns the whole-content digests already recorded for another object
// with o's manifest (the same chunks, offsets and lengths: the same bytes), found among
// the objects that use o's first chunk; nil when there is none. A multipart upload of
// content the store already holds (the same file uploaded again under another key, its
// parts deduplicated) then costs the hash job no read at all.
func (s *Service) recordedDigests(ctx context.Context, o meta.Object) (sum, md5 []byte) {
	if len(o.Manifest) == 0 {
		return nil, nil
	}
	users, err := s.meta.ObjectsUsingChunk(ctx, o.Manifest[0].ChunkID, maxDigestDonors)
	if err != nil {
		return nil, nil // hash the content instead
	}
	for _, u := range users {
		if u.Size != o.Size || u.ETag != o.ETag || u.Bucket == o.Bucket && u.Key == o.Key {
			continue
		}
		d, err := s.meta.GetObject(ctx, u.Bucket, u.Key)
		if err == nil && len(d.SHA256) == 32 && sameExtents(d.Manifest, o.Manifest) {
			return d.SHA256, d.MD5
		}
	}
	return nil, nil
}

// sameExtents reports whether two manifests name the same bytes of the same chunks.
func sameExtents(a, b []meta.Extent) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].ChunkID != b[i].ChunkID || a[i].ChunkOffset != b[i].ChunkOffset || a[i].Length != b[i].Length {
			return false
		}
	}
	return true
}

// AbortStaleUploads aborts multipart uploads initiated before now-maxAge, releasing
// their parts for the collector.
func (s *Service) AbortStaleUploads(ctx context.Context, maxAge time.Duration) (int, error) {
	n := 0
	for {
		ups, err := s.meta.StaleUploads(ctx, s.now().Add(-maxAge), 100)
		if err != nil {
			return n, err
		}
		if len(ups) == 0 {
			return n, nil
		}
		for _, u := range ups {
			if err := s.meta.AbortUpload(ctx, u.ID); err != nil && !errors.Is(err, meta.ErrNotFound) {
				return n, err
			}
			n++
		}
	}
}
