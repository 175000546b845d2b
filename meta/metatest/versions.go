package metatest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"s3proxy/meta"
)

// testBucketConfigs: one document per bucket and kind, replaced in place, listed by kind
// in bucket order, refused for a missing bucket and dropped with the bucket.
func testBucketConfigs(t *testing.T, h *harness) {
	ctx := ctxFor(t)
	s := h.newStore(t)
	for _, b := range []string{"b1", "b2", "b3", "b4"} {
		mustBucket(t, ctx, s, b)
	}
	_, err := s.GetBucketConfig(ctx, "b1", "lifecycle")
	wantErr(t, "GetBucketConfig of none", err, meta.ErrNotFound)
	wantErr(t, "PutBucketConfig into a missing bucket", s.PutBucketConfig(ctx, meta.BucketConfig{Bucket: "nob", Kind: "lifecycle", Value: "x"}), meta.ErrNotFound)
	wantErr(t, "PutBucketConfig without kind", s.PutBucketConfig(ctx, meta.BucketConfig{Bucket: "b1", Value: "x"}), meta.ErrInvalid)
	_, err = s.GetBucketConfig(ctx, "nob", "lifecycle")
	wantErr(t, "GetBucketConfig of a missing bucket", err, meta.ErrNotFound)

	before := time.Now().Add(-time.Second)
	for _, c := range []meta.BucketConfig{
		{Bucket: "b3", Kind: "lifecycle", Value: `{"rules":3}`},
		{Bucket: "b1", Kind: "lifecycle", Value: `{"rules":1}`},
		{Bucket: "b2", Kind: "lifecycle", Value: `{"rules":2}`},
		{Bucket: "b2", Kind: "other", Value: "other of b2"},
		{Bucket: "b1", Kind: "lifecycle", Value: `{"rules":"one, replaced"}`},
	} {
		if err := s.PutBucketConfig(ctx, c); err != nil {
			t.Fatalf("PutBucketConfig(%s, %s): %v", c.Bucket, c.Kind, err)
		}
	}
	got, err := s.GetBucketConfig(ctx, "b1", "lifecycle")
	if err != nil || got.Bucket != "b1" || got.Kind != "lifecycle" || got.Value != `{"rules":"one, replaced"}` || got.UpdatedAt.Before(before) {
		t.Errorf("GetBucketConfig after a replace = %+v, %v", got, err)
	}
	if got, err := s.GetBucketConfig(ctx, "b2", "other"); err != nil || got.Value != "other of b2" {
		t.Errorf("GetBucketConfig of another kind = %+v, %v", got, err)
	}
	list := func(after string, limit int) []string {
		t.Helper()
		cs, err := s.ListBucketConfigs(ctx, "lifecycle", after, limit)
		if err != nil {
			t.Fatalf("ListBucketConfigs: %v", err)
		}
		var out []string
		for _, c := range cs {
			if c.Kind != "lifecycle" {
				t.Errorf("ListBucketConfigs returned kind %q", c.Kind)
			}
			out = append(out, c.Bucket+"="+c.Value)
		}
		return out
	}
	for _, tc := range []struct {
		after string
		limit int
		want  string
	}{
		{"", 10, `[b1={"rules":"one, replaced"} b2={"rules":2} b3={"rules":3}]`},
		{"", 2, `[b1={"rules":"one, replaced"} b2={"rules":2}]`},
		{"b2", 2, `[b3={"rules":3}]`},
		{"b3", 2, `[]`},
	} {
		if got := fmt.Sprint(list(tc.after, tc.limit)); got != tc.want {
			t.Errorf("ListBucketConfigs(after %q, limit %d) = %s, want %s", tc.after, tc.limit, got, tc.want)
		}
	}

	wantErr(t, "DeleteBucketConfig", s.DeleteBucketConfig(ctx, "b3", "lifecycle"), nil)
	wantErr(t, "DeleteBucketConfig of none", s.DeleteBucketConfig(ctx, "b3", "lifecycle"), nil)
	wantErr(t, "DeleteBucketConfig of a missing bucket", s.DeleteBucketConfig(ctx, "nob", "lifecycle"), nil)
	_, err = s.GetBucketConfig(ctx, "b3", "lifecycle")
	wantErr(t, "GetBucketConfig after delete", err, meta.ErrNotFound)

	// DeleteBucket drops every document of the bucket: a new bucket of the same name
	// starts without any.
	wantErr(t, "DeleteBucket with configurations", s.DeleteBucket(ctx, "b2"), nil)
	mustBucket(t, ctx, s, "b2")
	for _, kind := range []string{"lifecycle", "other"} {
		_, err = s.GetBucketConfig(ctx, "b2", kind)
		wantErr(t, "GetBucketConfig "+kind+" of a recreated bucket", err, meta.ErrNotFound)
	}
	if got := fmt.Sprint(list("", 10)); got != `[b1={"rules":"one, replaced"}]` {
		t.Errorf("ListBucketConfigs after DeleteBucket = %s", got)
	}
}

// testConcurrentConfigAndDeleteBucket: a configuration written while its bucket is
// deleted is either refused or dropped with the bucket, never left behind for a bucket
// of the same name created later.
func testConcurrentConfigAndDeleteBucket(t *testing.T, h *harness) {
	ctx := ctxFor(t)
	s := h.newStore(t)
	for i := range 20 {
		name := fmt.Sprintf("race%d", i)
		mustBucket(t, ctx, s, name)
		var wg sync.WaitGroup
		var putErr, delErr error
		wg.Go(func() {
			putErr = s.PutBucketConfig(ctx, meta.BucketConfig{Bucket: name, Kind: "lifecycle", Value: "v"})
		})
		wg.Go(func() { delErr = s.DeleteBucket(ctx, name) })
		wg.Wait()
		if delErr != nil {
			t.Fatalf("DeleteBucket: %v", delErr)
		}
		if putErr != nil && !errors.Is(putErr, meta.ErrNotFound) {
			t.Fatalf("PutBucketConfig racing DeleteBucket: %v", putErr)
		}
		mustBucket(t, ctx, s, name)
		_, err := s.GetBucketConfig(ctx, name, "lifecycle")
		wantErr(t, "configuration of a recreated bucket", err, meta.ErrNotFound)
	}
}

// testPinnedConditions: IfModTime and IfHeaders make a write or delete apply to the
// version a reader saw, not merely to content with the same ETag.
func testPinnedConditions(t *testing.T, h *harness) {
	ctx := ctxFor(t)
	s := h.newStore(t)
	mustBucket(t, ctx, s, "b")
	c := newChunk(t, ctx, s, "data", "scope")
	t1 := time.Date(2025, 3, 4, 5, 6, 7, 891011121, time.UTC)
	t2 := t1.Add(time.Nanosecond)
	put := func(key string, mod time.Time, tags string) {
		t.Helper()
		o := obj("b", key, "etag", c)
		o.ModTime = mod
		if tags != "" {
			o.Headers = map[string]string{"Cache-Control": "no-cache", "x-amz-tagging": tags}
		}
		mustPut(t, ctx, s, o)
	}
	tests := []struct {
		name   string
		tags   string // of the stored object ("" none)
		delete bool
		cond   meta.WriteCondition
		want   error
	}{
		{"delete at its modtime", "", true, meta.WriteCondition{IfMatch: "etag", IfModTime: t1}, nil},
		{"delete at its modtime, in another zone", "", true, meta.WriteCondition{IfModTime: t1.In(time.FixedZone("x", 3600))}, nil},
		{"delete at another modtime", "", true, meta.WriteCondition{IfMatch: "etag", IfModTime: t2}, meta.ErrPreconditionFailed},
		{"delete: modtime right, etag wrong", "", true, meta.WriteCondition{IfMatch: "other", IfModTime: t1}, meta.ErrPreconditionFailed},
		{"delete with its tags", "a=1&b=2", true, meta.WriteCondition{IfModTime: t1, IfHeaders: map[string]string{"x-amz-tagging": "a=1&b=2"}}, nil},
		{"delete with other tags", "a=1&b=2", true, meta.WriteCondition{IfModTime: t1, IfHeaders: map[string]string{"x-amz-tagging": "a=1"}}, meta.ErrPreconditionFailed},
		{"delete expecting no tags", "a=1", true, meta.WriteCondition{IfHeaders: map[string]string{"x-amz-tagging": ""}}, meta.ErrPreconditionFailed},
		{"delete expecting no tags, none", "", true, meta.WriteCondition{IfHeaders: map[string]string{"x-amz-tagging": ""}}, nil},
		{"delete expecting tags, none", "", true, meta.WriteCondition{IfHeaders: map[string]string{"x-amz-tagging": "a=1"}}, meta.ErrPreconditionFailed},
		{"put at its modtime", "", false, meta.WriteCondition{IfModTime: t1}, nil},
		{"put at another modtime", "", false, meta.WriteCondition{IfModTime: t2}, meta.ErrPreconditionFailed},
		{"put with other tags", "a=1", false, meta.WriteCondition{IfHeaders: map[string]string{"x-amz-tagging": "a=2"}}, meta.ErrPreconditionFailed},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key := fmt.Sprintf("k%d", i)
			put(key, t1, tc.tags)
			var err error
			if tc.delete {
				_, err = s.DeleteObject(ctx, "b", key, tc.cond)
			} else {
				o := obj("b", key, "etag", c)
				o.ModTime = t2
				_, err = s.PutObject(ctx, o, tc.cond)
			}
			wantErr(t, tc.name, err, tc.want)
			got, gerr := s.GetObject(ctx, "b", key)
			switch {
			case tc.delete && tc.want == nil:
				wantErr(t, "GetObject after the delete", gerr, meta.ErrNotFound)
			case tc.want == nil: // a put that applied
				if gerr != nil || !got.ModTime.Equal(t2) {
					t.Errorf("after the put: %+v, %v", got, gerr)
				}
			default: // refused: the object is as it was
				if gerr != nil || !got.ModTime.Equal(t1) || got.Headers["x-amz-tagging"] != tc.tags {
					t.Errorf("after a refused write: %+v, %v", got, gerr)
				}
			}
		})
	}
	_, err := s.DeleteObject(ctx, "b", "absent", meta.WriteCondition{IfModTime: t1})
	wantErr(t, "pinned delete of a missing key", err, meta.ErrNotFound)
	_, err = s.DeleteObject(ctx, "b", "absent", meta.WriteCondition{IfHeaders: map[string]string{}})
	wantErr(t, "delete of a missing key with IfHeaders", err, meta.ErrNotFound)
	// Every refused write left its object, and every applied one released what it replaced.
	left := 0
	for _, tc := range tests {
		if !tc.delete || tc.want != nil {
			left++
		}
	}
	wantRefs(t, ctx, s, map[int64]int64{c.ID: int64(left)})
}

// testPinnedDeleteRacingOverwrite: a delete pinned to the version a reader listed,
// racing an overwrite with the same content, never removes the new version: either it
// ran first (and the overwrite then creates the key again) or it finds the new version
// and is refused.
func testPinnedDeleteRacingOverwrite(t *testing.T, h *harness) {
	ctx := ctxFor(t)
	s := h.newStore(t)
	mustBucket(t, ctx, s, "b")
	c := newChunk(t, ctx, s, "data", "scope")
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 30 {
		key := fmt.Sprintf("k%d", i)
		old, next := base.Add(time.Duration(2*i)*time.Second), base.Add(time.Duration(2*i+1)*time.Second)
		o := obj("b", key, "same", c)
		o.ModTime = old
		mustPut(t, ctx, s, o)
		var wg sync.WaitGroup
		var delErr, putErr error
		wg.Go(func() {
			_, delErr = s.DeleteObject(ctx, "b", key, meta.WriteCondition{IfMatch: "same", IfModTime: old})
		})
		wg.Go(func() {
			n := obj("b", key, "same", c)
			n.ModTime = next
			_, putErr = s.PutObject(ctx, n, meta.WriteCondition{})
		})
		wg.Wait()
		if putErr != nil {
			t.Fatalf("overwrite: %v", putErr)
		}
		if delErr != nil && !errors.Is(delErr, meta.ErrPreconditionFailed) {
			t.Fatalf("pinned delete: %v", delErr)
		}
		got, err := s.GetObject(ctx, "b", key)
		if err != nil || !got.ModTime.Equal(next) {
			t.Fatalf("round %d: the overwrite is gone or replaced (delete: %v): %+v, %v", i, delErr, got, err)
		}
	}
	wantRefs(t, ctx, s, map[int64]int64{c.ID: 30})
}
