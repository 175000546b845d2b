package e2e

import (
	"bytes"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// TestDedupStats: the same content under a second key, in a second bucket,
// through a copy and through another client is stored once; `s3proxy stats`
// shows logical bytes growing and stored bytes not.
func TestDedupStats(t *testing.T) {
	t.Parallel()
	onlyS3proxy(t)
	s := startServer(t, serverOptions{})
	c := s3Client(s, s.cred)
	createBucket(t, c, "dedup-one")
	createBucket(t, c, "dedup-two")
	const size = 4*MiB + 1
	data := randomBytes(500, size)
	file, _ := writeRandomFile(t, t.TempDir(), "same.bin", 500, size) // the same bytes, on disk for the cli

	if st := s.stats(); st.LogicalBytes != 0 || st.StoredBytes != 0 || st.Objects != 0 {
		t.Fatalf("fresh server stats %+v, want zeros", st)
	}
	put := func(bucket, key string, body []byte) {
		t.Helper()
		if _, err := c.PutObject(ctxT(t), &s3.PutObjectInput{Bucket: &bucket, Key: &key, Body: bytes.NewReader(body)}); err != nil {
			t.Fatalf("PutObject %s/%s: %v", bucket, key, err)
		}
	}
	put("dedup-one", "first", data)
	base := s.stats()
	t.Logf("after one object: %+v", base)
	if base.LogicalBytes != size || base.StoredBytes != size || base.Objects != 1 || base.Chunks < 1 {
		t.Fatalf("after one %d-byte object: %+v", size, base)
	}

	steps := []struct {
		name string
		do   func()
	}{
		{"second key, same bucket", func() { put("dedup-one", "second", data) }},
		{"second bucket", func() { put("dedup-two", "third", data) }},
		{"CopyObject", func() {
			if _, err := c.CopyObject(ctxT(t), &s3.CopyObjectInput{Bucket: aws.String("dedup-two"), Key: aws.String("copied"), CopySource: aws.String("dedup-one/first")}); err != nil {
				t.Fatalf("CopyObject: %v", err)
			}
		}},
		{"aws cli", func() {
			newAWSCLI(t, s, s.cred).run("s3", "cp", file, "s3://dedup-two/by-cli")
		}},
		{"overwrite with the same content", func() { put("dedup-one", "first", data) }},
	}
	objects := int64(1)
	for _, st := range steps {
		st.do()
		if st.name != "overwrite with the same content" {
			objects++
		}
		got := s.stats()
		t.Logf("after %s: %+v", st.name, got)
		if got.StoredBytes != base.StoredBytes || got.Chunks != base.Chunks {
			t.Errorf("after %s: stored_bytes %d chunks %d, want unchanged %d %d", st.name, got.StoredBytes, got.Chunks, base.StoredBytes, base.Chunks)
		}
		if got.LogicalBytes != objects*size || got.Objects != objects {
			t.Errorf("after %s: logical_bytes %d objects %d, want %d %d", st.name, got.LogicalBytes, got.Objects, objects*size, objects)
		}
		if want := float64(got.LogicalBytes) / float64(got.StoredBytes); got.DedupRatio < want*0.99 || got.DedupRatio > want*1.01 {
			t.Errorf("after %s: dedup_ratio %.3f, want logical/stored = %.3f", st.name, got.DedupRatio, want)
		}
	}

	// Different content is stored.
	put("dedup-two", "other", randomBytes(501, size))
	if got := s.stats(); got.StoredBytes != base.StoredBytes+size {
		t.Errorf("after new content: stored_bytes %d, want %d", got.StoredBytes, base.StoredBytes+size)
	}
	// A small object is an inline chunk, kept in the metadata store and deduplicated too.
	small := randomBytes(502, 5000)
	put("dedup-one", "small", small)
	put("dedup-two", "small-again", small)
	if got := s.stats(); got.InlineChunks != 1 || got.InlineBytes != int64(len(small)) || got.StoredBytes != base.StoredBytes+size+int64(len(small)) {
		t.Errorf("after a small object twice: %d inline chunks of %d bytes, stored_bytes %d; want 1, %d, %d",
			got.InlineChunks, got.InlineBytes, got.StoredBytes, len(small), base.StoredBytes+size+int64(len(small)))
	}
	if sum, _ := getSHA256(t, c, "dedup-two", "small-again"); sum != sha256Hex(small) {
		t.Error("the small object reads back different content")
	}
	for _, k := range [][2]string{{"dedup-one", "first"}, {"dedup-one", "second"}, {"dedup-two", "third"}, {"dedup-two", "copied"}, {"dedup-two", "by-cli"}} {
		if sum, _ := getSHA256(t, c, k[0], k[1]); sum != sha256Hex(data) {
			t.Errorf("%s/%s reads back different content", k[0], k[1])
		}
	}
}
