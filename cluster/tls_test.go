package cluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"s3proxy/dedup"
	"s3proxy/internal/testcert"
	"s3proxy/meta"
)

// startTLSNode is startNode for a node whose listener serves HTTPS with pair.
func startTLSNode(t *testing.T, ms meta.MetaStore, id string, pair testcert.Pair) *node {
	t.Helper()
	n := &node{blobs: &blobs{data: map[string][]byte{}, stream: map[string]func() io.ReadCloser{}}}
	n.srv = httptest.NewUnstartedServer(nil)
	c, err := New(Config{Meta: ms, Chunks: n.blobs, NodeID: id, Advertise: n.srv.Listener.Addr().String(), Secret: []byte(secret), TLS: true})
	if err != nil {
		t.Fatal(err)
	}
	n.c = c
	n.srv.Config.Handler = c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.s3++
		http.Error(w, "s3", http.StatusTeapot)
	}))
	cert, err := tls.X509KeyPair(pair.CertPEM, pair.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	n.srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	n.srv.StartTLS()
	t.Cleanup(n.srv.Close)
	if err := c.Beat(context.Background()); err != nil {
		t.Fatal(err)
	}
	return n
}

// reader is a node that only reads from the others, trusting roots.
func reader(t *testing.T, ms meta.MetaStore, roots func() *x509.CertPool) *Cluster {
	t.Helper()
	c, err := New(Config{Meta: ms, Chunks: &blobs{}, NodeID: "reader", Advertise: "127.0.0.1:1", Secret: []byte(secret), RootCAs: roots})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestForwardingTLS: a node serving HTTPS registers an https:// address and is read over
// TLS, its certificate checked against the reader's CAs and its advertised host; a node
// without TLS in the same cluster is still read over HTTP.
func TestForwardingTLS(t *testing.T) {
	ms := newMeta(t)
	ctx := context.Background()
	ca, otherCA := testcert.NewCA(t, "cluster CA"), testcert.NewCA(t, "another CA")
	selfSigned := testcert.SelfSigned(t, 30, "127.0.0.1")
	nodes := map[string]*node{
		"tls":         startTLSNode(t, ms, "tls", ca.Issue(t, 10, time.Time{}, "127.0.0.1")),
		"plain":       startNode(t, ms, "plain", secret, nil),
		"self-signed": startTLSNode(t, ms, "self-signed", selfSigned),
		"wrong-host":  startTLSNode(t, ms, "wrong-host", ca.Issue(t, 11, time.Time{}, "node9.internal")),
		"other-ca":    startTLSNode(t, ms, "other-ca", otherCA.Issue(t, 12, time.Time{}, "127.0.0.1")),
	}
	for id, n := range nodes {
		n.blobs.data["u"] = []byte("chunk of " + id)
	}
	list, err := ms.ListNodes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range list {
		want := nodes[n.ID].srv.Listener.Addr().String()
		if n.ID != "plain" {
			want = "https://" + want
		}
		if n.Address != want {
			t.Errorf("node %s registered as %q, want %q", n.ID, n.Address, want)
		}
	}

	pool := func(certs ...*x509.Certificate) func() *x509.CertPool {
		p := testcert.Pool(certs...)
		return func() *x509.CertPool { return p }
	}
	for _, tc := range []struct {
		name  string
		roots func() *x509.CertPool
		owner string
		ok    bool
	}{
		{"cluster CA", pool(ca.Cert), "tls", true},
		{"plain node from a TLS reader", pool(ca.Cert), "plain", true},
		{"self-signed certificate as its own CA", pool(selfSigned.Cert), "self-signed", true},
		{"system roots do not know the cluster CA", nil, "tls", false},
		{"certificate of another CA", pool(ca.Cert), "other-ca", false},
		{"certificate for another host", pool(ca.Cert), "wrong-host", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc, err := reader(t, ms, tc.roots).OpenRemote(ctx, chunkOn(tc.owner, "u"), 0, -1)
			got, err := readAll(t, rc, err)
			if tc.ok {
				if err != nil || string(got) != "chunk of "+tc.owner {
					t.Fatalf("read %q, %v", got, err)
				}
				return
			}
			var verr *tls.CertificateVerificationError
			if !errors.Is(err, dedup.ErrChunkUnavailable) || !errors.As(err, &verr) {
				t.Fatalf("read %q, %v; want ErrChunkUnavailable from a failed certificate check", got, err)
			}
		})
	}
	for id, n := range nodes {
		if n.s3 != 0 {
			t.Errorf("node %s: %d internal requests reached the S3 handler", id, n.s3)
		}
	}
}

// TestRootCAsPerConnection: the CA pool is asked for at every new connection, so a CA
// bundle replaced while the node runs applies to the next connection.
func TestRootCAsPerConnection(t *testing.T) {
	ms := newMeta(t)
	ca := testcert.NewCA(t, "rotated CA")
	owner := startTLSNode(t, ms, "owner", ca.Issue(t, 1, time.Time{}, "127.0.0.1"))
	owner.blobs.data["u"] = []byte("data")
	var current atomic.Pointer[x509.CertPool]
	current.Store(x509.NewCertPool()) // trusts nothing yet
	var asked atomic.Int32
	r := reader(t, ms, func() *x509.CertPool { asked.Add(1); return current.Load() })
	read := func() error {
		rc, err := r.OpenRemote(context.Background(), chunkOn("owner", "u"), 0, -1)
		_, err = readAll(t, rc, err)
		return err
	}
	if err := read(); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("read with an empty pool: %v, want a certificate error", err)
	}
	current.Store(testcert.Pool(ca.Cert))
	if err := read(); err != nil {
		t.Fatalf("read after the pool gained the CA: %v", err)
	}
	if n := asked.Load(); n != 2 {
		t.Errorf("RootCAs called %d times for two connections", n)
	}
}
