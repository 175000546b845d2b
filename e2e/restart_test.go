package e2e

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/jackc/pgx/v5"
)

// TestRestartAndMetaStores writes through one server, stops it with SIGTERM,
// starts a new one on the same data (and database), and reads everything
// back — for each metadata set-up: SQLite (the default), PostgreSQL, and
// PostgreSQL with the Redis cache (the scale-out configuration).
func TestRestartAndMetaStores(t *testing.T) {
	t.Parallel()
	onlyS3proxy(t)
	tests := []struct {
		name     string
		postgres bool
		redis    bool
	}{
		{"sqlite", false, false},
		{"postgres", true, false},
		{"postgres and redis", true, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := serverOptions{dataDir: t.TempDir()}
			if tc.postgres {
				opts.meta = freshPostgresDB(t)
			}
			if tc.redis {
				need(t, redisAvailable(), "Redis at 127.0.0.1:6379")
				// A database number of its own, so that other suites' keys never meet ours.
				opts.redis = "redis://127.0.0.1:6379/11"
			}
			s := startServer(t, opts)
			c := s3Client(s, s.cred)
			createBucket(t, c, "persist")
			objects := map[string][]byte{
				"small":       randomBytes(1000, 10*KiB),
				"dir/big":     randomBytes(1001, 3*MiB+3),
				"dir/copy-of": nil, // filled by CopyObject
				"deleted":     randomBytes(1002, 100),
			}
			for k, v := range objects {
				if v == nil {
					continue
				}
				if _, err := c.PutObject(ctxT(t), &s3.PutObjectInput{Bucket: aws.String("persist"), Key: aws.String(k), Body: bytes.NewReader(v)}); err != nil {
					t.Fatalf("PutObject %s: %v", k, err)
				}
			}
			if _, err := c.CopyObject(ctxT(t), &s3.CopyObjectInput{Bucket: aws.String("persist"), Key: aws.String("dir/copy-of"), CopySource: aws.String("persist/dir/big")}); err != nil {
				t.Fatalf("CopyObject: %v", err)
			}
			objects["dir/copy-of"] = objects["dir/big"]
			if _, err := c.DeleteObject(ctxT(t), &s3.DeleteObjectInput{Bucket: aws.String("persist"), Key: aws.String("deleted")}); err != nil {
				t.Fatal(err)
			}
			delete(objects, "deleted")
			before := s.stats()

			s.stop() // SIGTERM; a clean exit is checked
			s2 := startServer(t, opts)
			c2 := s3Client(s2, s2.cred)
			for k, v := range objects {
				if sum, n := getSHA256(t, c2, "persist", k); n != int64(len(v)) || sum != sha256Hex(v) {
					t.Errorf("after restart %s: %d bytes, content matches %t", k, n, sum == sha256Hex(v))
				}
			}
			wantNoObject(t, c2, "persist", "deleted")
			out, err := c2.ListObjectsV2(ctxT(t), &s3.ListObjectsV2Input{Bucket: aws.String("persist")})
			if err != nil {
				t.Fatal(err)
			}
			if len(out.Contents) != len(objects) {
				t.Errorf("after restart: %d objects listed, want %d", len(out.Contents), len(objects))
			}
			rng, err := c2.GetObject(ctxT(t), &s3.GetObjectInput{Bucket: aws.String("persist"), Key: aws.String("dir/big"), Range: aws.String("bytes=1048570-1048580")})
			if err != nil {
				t.Fatal(err)
			}
			got, _, _ := readerSHA256(rng.Body)
			rng.Body.Close()
			if got != sha256Hex(objects["dir/big"][1048570:1048581]) {
				t.Errorf("ranged read after restart differs")
			}
			if after := s2.stats(); after.LogicalBytes != before.LogicalBytes || after.StoredBytes != before.StoredBytes || after.Objects != before.Objects {
				t.Errorf("stats before restart %+v, after %+v", before, after)
			}
			_, err = c2.CreateBucket(ctxT(t), &s3.CreateBucketInput{Bucket: aws.String("persist")})
			wantAPIError(t, err, "BucketAlreadyOwnedByYou", http.StatusConflict)
		})
	}
}

// freshPostgresDB creates a database of its own for one test on the CI
// PostgreSQL (127.0.0.1:5432, trust auth) and drops it afterwards, so that
// the e2e servers never share tables with the metadata suites running in
// parallel.
func freshPostgresDB(t *testing.T) string {
	t.Helper()
	admin := envOr("S3PROXY_E2E_PG_ADMIN", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	need(t, err, "PostgreSQL at 127.0.0.1:5432")
	defer conn.Close(ctx)
	name := fmt.Sprintf("s3proxy_e2e_%d_%d", time.Now().Unix(), rand.Uint32())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("CREATE DATABASE %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Errorf("drop database %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("DROP DATABASE %s: %v", name, err)
		}
	})
	return "postgres://postgres@127.0.0.1:5432/" + name + "?sslmode=disable"
}

// redisAvailable answers whether Redis accepts a PING, without a client library.
func redisAvailable() error {
	conn, err := (&net.Dialer{Timeout: 2 * time.Second}).Dial("tcp", "127.0.0.1:6379")
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	buf := make([]byte, 7)
	n, err := conn.Read(buf)
	if err != nil {
		return err
	}
	if string(buf[:n]) != "+PONG\r\n" {
		return fmt.Errorf("PING answered %q", buf[:n])
	}
	return nil
}
