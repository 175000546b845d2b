package dedup_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"s3proxy/backends"
	"s3proxy/backends/mem"
	"s3proxy/dedup"
	"s3proxy/meta"
	"s3proxy/meta/gormstore"
)

// downRemote is a cluster whose other nodes are all unreachable.
type downRemote struct{}

func (downRemote) OpenRemote(context.Context, meta.Chunk, int64, int64) (io.ReadCloser, error) {
	return nil, fmt.Errorf("%w: node down", dedup.ErrChunkUnavailable)
}

// TestVerifyKinds damages chunks in each way verify distinguishes and checks what a
// run without and with --repair does to each.
func TestVerifyKinds(t *testing.T) {
	ctx := context.Background()
	ms, err := gormstore.Open(ctx, filepath.Join(t.TempDir(), "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ms.Close() })
	disk := mem.New("disk")
	e, err := dedup.New(dedup.Config{Meta: ms, Stores: map[string]backends.BlobStore{"disk": disk}, DefaultBackend: "disk",
		Node: "n1", NodeLocal: map[string]bool{"disk": true}, Remote: downRemote{},
		InlineMax: -1}) // these tests damage blobs
	if err != nil {
		t.Fatal(err)
	}
	if err := ms.CreateBucket(ctx, meta.Bucket{Name: "bkt"}); err != nil {
		t.Fatal(err)
	}
	data := map[string][]byte{}
	for _, name := range []string{"intact", "missing", "corrupt", "short", "remote"} {
		data[name] = bytes.Repeat([]byte(name), 1000)
		put(t, e, ms, name, data[name])
	}
	chunkOf := func(key string) meta.Chunk {
		o, err := ms.GetObject(ctx, "bkt", key)
		if err != nil {
			t.Fatal(err)
		}
		return o.Manifest[0].Chunk
	}
	rewrite := func(c meta.Chunk, b []byte) {
		if err := disk.Delete(ctx, c.UID); err != nil {
			t.Fatal(err)
		}
		if err := disk.Put(ctx, c.UID, bytes.NewReader(b), int64(len(b)), backends.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := disk.Delete(ctx, chunkOf("missing").UID); err != nil {
		t.Fatal(err)
	}
	bad := bytes.Clone(data["corrupt"])
	bad[10] ^= 1
	rewrite(chunkOf("corrupt"), bad)
	rewrite(chunkOf("short"), data["short"][:100])
	remote := chunkOf("remote")
	if err := ms.MoveChunk(ctx, remote.ID, "disk", "n2", remote.UID); err != nil {
		t.Fatal(err)
	}

	kinds := func(res dedup.VerifyResult) map[string]string {
		out := map[string]string{}
		for _, p := range res.Problems {
			if len(p.Objects) != 1 {
				t.Errorf("problem %s: objects %v, want one", p.Kind, p.Objects)
				continue
			}
			out[p.Objects[0]] = p.Kind
		}
		return out
	}
	want := map[string]string{"bkt/missing": dedup.ProblemMissing, "bkt/corrupt": dedup.ProblemCorrupt,
		"bkt/short": dedup.ProblemCorrupt, "bkt/remote": dedup.ProblemUnavailable}
	res, err := e.Verify(ctx, dedup.VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := kinds(res); fmt.Sprint(got) != fmt.Sprint(want) || res.Checked != 5 || res.Unrepaired != 4 {
		t.Errorf("verify: %v (checked %d, unrepaired %d), want %v", got, res.Checked, res.Unrepaired, want)
	}

	res, err = e.Verify(ctx, dedup.VerifyOptions{Repair: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range res.Problems {
		if wantMark := p.Kind != dedup.ProblemUnavailable; p.MarkedCorrupt != wantMark {
			t.Errorf("%v %s: marked %v, want %v (an unreachable chunk is not shown damaged)", p.Objects, p.Kind, p.MarkedCorrupt, wantMark)
		}
	}
	for key, wantCorrupt := range map[string]bool{"intact": false, "missing": true, "corrupt": true, "short": true, "remote": false} {
		c, err := ms.GetChunk(ctx, chunkOf(key).ID)
		if err != nil || c.Corrupt != wantCorrupt {
			t.Errorf("%s: corrupt=%v, %v; want %v", key, c.Corrupt, err, wantCorrupt)
		}
	}
	// Reads of a marked chunk fail with ErrChunkCorrupt, not wrong bytes.
	if _, err := e.Open(ctx, chunkOf("corrupt"), 0, -1); !errors.Is(err, dedup.ErrChunkCorrupt) {
		t.Errorf("Open of a marked chunk: %v, want ErrChunkCorrupt", err)
	}
	// A new upload of the content restores the chunk.
	put(t, e, ms, "corrupt-again", data["corrupt"])
	c := chunkOf("corrupt")
	rc, err := e.Open(ctx, c, 0, -1)
	if err != nil {
		t.Fatalf("Open after re-upload: %v", err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(got, data["corrupt"]) || c.Corrupt {
		t.Errorf("after re-upload: %d bytes, corrupt=%v", len(got), c.Corrupt)
	}
}

// TestVerifySample: --sample N checks N distinct chunks, and different draws reach
// different chunks. Every blob is deleted so that each checked chunk shows up as a problem.
func TestVerifySample(t *testing.T) {
	e, ms, store := newEngine(t)
	ctx := context.Background()
	for i := range 20 {
		put(t, e, ms, fmt.Sprint(i), []byte(fmt.Sprintf("content %d", i)))
	}
	var keys []string
	if err := store.List(ctx, "", func(info backends.Info) error { keys = append(keys, info.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if err := store.Delete(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	drawn := map[int64]bool{}
	for seed := range uint64(10) {
		res, err := e.Verify(ctx, dedup.VerifyOptions{Sample: 5, Rand: rand.New(rand.NewPCG(seed, seed)),
			Progress: func(p dedup.VerifyProgress) {
				if p.Total != 5 {
					t.Errorf("progress total %d, want 5", p.Total)
				}
			}})
		if err != nil || res.Checked != 5 || len(res.Problems) != 5 {
			t.Fatalf("sample of 5: checked %d, %d problems, %v", res.Checked, len(res.Problems), err)
		}
		ids := map[int64]bool{}
		for _, p := range res.Problems {
			ids[p.Chunk.ID] = true
			drawn[p.Chunk.ID] = true
		}
		if len(ids) != 5 {
			t.Errorf("seed %d drew %d distinct chunks, want 5", seed, len(ids))
		}
	}
	if len(drawn) < 12 {
		t.Errorf("10 samples of 5 out of 20 reached only %d chunks", len(drawn))
	}
	res, err := e.Verify(ctx, dedup.VerifyOptions{Sample: 50})
	if err != nil || res.Checked != 20 {
		t.Errorf("sample larger than the index: checked %d, %v; want all 20", res.Checked, err)
	}
}
