package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"s3proxy/cluster"
	"s3proxy/cmd/s3proxy/certs"
	"s3proxy/dedup"
)

// errVerifyFailed makes `s3proxy verify` exit non-zero after it printed its report.
type errVerifyFailed struct{ left int64 }

func (e errVerifyFailed) Error() string {
	return fmt.Sprintf("%d damaged or unverifiable chunks remain", e.left)
}

// verify re-reads chunks and checks their SHA-256 (see dedup.Engine.Verify). It exits
// non-zero when any problem remains after the run: a repaired chunk is fine, one marked
// corrupt (its data is lost) or one that could not be read is not.
func verify(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var bucket *string
	var sample, concurrency *int
	var repair *bool
	cfg, err := loadConfig(args, getenv, stderr, "verify", func(fs *flag.FlagSet) {
		bucket = fs.String("bucket", "", "only chunks used by objects of this bucket")
		sample = fs.Int("sample", 0, "check a random sample of this many chunks (0: all)")
		repair = fs.Bool("repair", false, "restore damaged chunks from a copy in another backend, or mark them corrupt")
		concurrency = fs.Int("concurrency", 4, "chunks read at once")
	})
	if err != nil {
		return err
	}
	if *sample < 0 || *concurrency < 1 {
		return fmt.Errorf("--sample must be >= 0 and --concurrency >= 1")
	}
	if err := cfg.EnsureNodeID(); err != nil {
		return err
	}
	log := newLogger(cfg, stderr)
	// Owners serving HTTPS are checked against cluster_ca, as a server checks them.
	ca, err := loadClusterCA(cfg, certs.Options{Log: log})
	if err != nil {
		return err
	}
	a, err := openApp(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.close()
	// Chunks on other nodes' disks are read from their owners, as a GET would.
	if secret, err := cluster.Secret(ctx, a.meta, cfg.ClusterSecret); err == nil {
		if cl, err := cluster.New(cluster.Config{Meta: a.meta, Chunks: a.dedup, NodeID: cfg.NodeID, Advertise: cfg.Advertise,
			RootCAs: (&serverTLS{ca: ca}).roots(), Secret: secret, Log: log}); err == nil {
			a.dedup.SetRemote(cl)
		}
	}

	prog := newProgress(stderr, log, "verify")
	res, err := a.dedup.Verify(ctx, dedup.VerifyOptions{Bucket: *bucket, Sample: *sample, Repair: *repair,
		Concurrency: *concurrency, Progress: func(v dedup.VerifyProgress) {
			prog.update(progressState{done: v.Checked, total: v.Total, bytes: v.Bytes, note: plural(v.Problems, "problems"),
				fields: []any{"problems", v.Problems}})
		}})
	prog.finish()
	if err != nil {
		return err
	}
	for _, p := range res.Problems {
		c := p.Chunk
		where := c.Backend
		if c.Node != "" {
			where += " on node " + c.Node
		}
		users := "no objects"
		if len(p.Objects) > 0 {
			users = strings.Join(p.Objects, ", ")
			if len(p.Objects) == dedup.MaxObjectsListed {
				users += ", …"
			}
		}
		outcome := ""
		switch {
		case p.RepairedFrom != "":
			outcome = " — repaired from " + p.RepairedFrom
		case p.MarkedCorrupt:
			outcome = " — marked corrupt: reads of these objects fail with InternalError"
		}
		fmt.Fprintf(stdout, "%s chunk %d (%s in %s, %s): used by %s%s\n", p.Kind, c.ID, c.UID, where, human(c.Size), users, outcome)
		if p.Err != nil {
			fmt.Fprintf(stdout, "    %v\n", p.Err)
		}
	}
	fmt.Fprintf(stdout, "checked %d chunks (%s): %d missing, %d corrupt, %d already marked corrupt, %d unavailable; %d repaired, %d marked corrupt, %d unmarked\n",
		res.Checked, human(res.Bytes), res.ProblemsByKind[dedup.ProblemMissing], res.ProblemsByKind[dedup.ProblemCorrupt],
		res.ProblemsByKind[dedup.ProblemMarked], res.ProblemsByKind[dedup.ProblemUnavailable], res.Repaired, res.Marked, res.Unmarked)
	if res.Unrepaired > 0 {
		if !*repair {
			fmt.Fprintln(stdout, "run with --repair to restore chunks from copies, or mark them so reads fail cleanly")
		}
		return errVerifyFailed{left: res.Unrepaired}
	}
	return nil
}
