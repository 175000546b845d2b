package e2e

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countingProxy forwards TCP connections to target and counts the bytes that
// clients send: what actually crossed the wire towards the server, whatever the
// server's handlers read.
type countingProxy struct {
	ln   net.Listener
	sent atomic.Int64
	wg   sync.WaitGroup
}

func newCountingProxy(t testing.TB, target string) *countingProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &countingProxy{ln: ln}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				p.pipe(c, target)
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); p.wg.Wait() })
	return p
}

func (p *countingProxy) pipe(client net.Conn, target string) {
	defer client.Close()
	server, err := net.Dial("tcp", target)
	if err != nil {
		return
	}
	defer server.Close()
	done := make(chan struct{})
	go func() {
		n, _ := io.Copy(server, client)
		p.sent.Add(n)
		server.(*net.TCPConn).CloseWrite()
		close(done)
	}()
	io.Copy(client, server)
	client.(*net.TCPConn).CloseWrite()
	<-done
}

func (p *countingProxy) endpoint() string { return "http://" + p.ln.Addr().String() }

// TestInstantUpload re-uploads a 200 MiB file with the aws cli (multipart, each part's
// SHA-256 signed, Expect: 100-continue) and with boto3: the content is already stored
// in the caller's scope, so almost nothing crosses the wire and stored bytes do not
// change. A second credential (credential scope) must send its body.
func TestInstantUpload(t *testing.T) {
	onlyS3proxy(t)
	if testing.Short() {
		t.Skip("200 MiB transfers: not in -short")
	}
	a := credential{AccessKey: "INSTANTA000000000001", SecretKey: "instant-secret-a-0000000000000000000001"}
	b := credential{AccessKey: "INSTANTB000000000002", SecretKey: "instant-secret-b-0000000000000000000002"}
	s := startServer(t, serverOptions{creds: []credential{a, b}})
	file, _ := writeRandomFile(t, t.TempDir(), "big.bin", 2001, 200*MiB)

	cliA := newAWSCLI(t, s, a)
	cliB := newAWSCLI(t, s, b)
	cliA.run("s3", "mb", "s3://instant-a")
	cliB.run("s3", "mb", "s3://instant-b")

	proxy := newCountingProxy(t, s.host)
	cliA.endpoint, cliB.endpoint = proxy.endpoint(), proxy.endpoint()

	cliA.run("s3", "cp", "--no-progress", file, "s3://instant-a/first")
	first := proxy.sent.Swap(0)
	if first < 200*MiB {
		t.Fatalf("first upload sent only %d bytes", first)
	}
	before := s.stats()

	cliA.run("s3", "cp", "--no-progress", file, "s3://instant-a/second")
	if sent := proxy.sent.Swap(0); sent >= 64*KiB {
		t.Errorf("aws cli re-upload sent %d bytes, want < 64 KiB", sent)
	} else {
		t.Logf("aws cli re-upload of 200 MiB sent %d bytes", sent)
	}

	env := scriptEnv(s, a, "E2E_ENDPOINT="+proxy.endpoint())
	runTool(t, 10*time.Minute, env, "", "python3", testdata(t, "boto3_upload.py"), "instant-a", "third", file)
	if sent := proxy.sent.Swap(0); sent >= 64*KiB {
		t.Errorf("boto3 re-upload sent %d bytes, want < 64 KiB", sent)
	} else {
		t.Logf("boto3 re-upload of 200 MiB sent %d bytes", sent)
	}
	after := s.stats()
	if after.StoredBytes != before.StoredBytes {
		t.Errorf("stored bytes changed on instant uploads: %d -> %d", before.StoredBytes, after.StoredBytes)
	}
	if after.LogicalBytes != before.LogicalBytes+2*200*MiB {
		t.Errorf("logical bytes %d, want %d", after.LogicalBytes, before.LogicalBytes+2*200*MiB)
	}

	// Another credential cannot use A's content without sending it (credential scope),
	// but storage is still shared: nothing new is kept.
	cliB.run("s3", "cp", "--no-progress", file, "s3://instant-b/copy")
	if sent := proxy.sent.Swap(0); sent < 200*MiB {
		t.Errorf("second credential sent only %d bytes: it obtained content it never uploaded", sent)
	}
	if st := s.stats(); st.StoredBytes != before.StoredBytes {
		t.Errorf("stored bytes changed after B's upload of the same content: %d -> %d", before.StoredBytes, st.StoredBytes)
	}
	for _, key := range []string{"s3://instant-a/second", "s3://instant-a/third"} {
		down := t.TempDir() + "/down.bin"
		cliA.run("s3", "cp", "--no-progress", key, down)
		if fileSHA256(t, down) != fileSHA256(t, file) {
			t.Errorf("%s reads back different bytes", key)
		}
	}
}
