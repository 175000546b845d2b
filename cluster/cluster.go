// Package cluster lets several s3proxy nodes serve one store. It keeps the node registry
// (each node heartbeats its id and advertise address into the metadata store), holds the
// cluster secret, serves the internal chunk endpoint through which a node streams chunks
// of its node-local backends (local disk) to the others, and implements dedup.Remote, the
// client side of that endpoint.
//
// The endpoint lives on the S3 listener under /_s3proxy/, a path no S3 request can take
// in path style ("_s3proxy" is not a valid bucket name), and only requests that carry the
// internal signature header are taken from the S3 handler, so a virtual-hosted object key
// starting with "_s3proxy/" still reaches S3. Requests are authenticated with an
// HMAC-SHA256 over the method, path, range, a timestamp and the caller's node id, keyed
// with the cluster secret; timestamps more than five minutes off are rejected.
//
// A node whose S3 listener serves HTTPS registers its address as "https://host:port";
// the others then reach it over TLS, checking its certificate against Config.RootCAs
// (the system roots by default) and the host name it advertises. A bare "host:port"
// (a node without TLS, or a row written before TLS existed) is reached over plain
// HTTP: authenticated, not encrypted, so keep such nodes on a private network.
//
// Ranges are forwarded as ranges and bodies streamed: a node never buffers a chunk.
// When the owner is unknown, has missed its heartbeats or cannot be reached, a read
// fails with dedup.ErrChunkUnavailable, which the S3 layer answers with a retryable
// ServiceUnavailable naming no internal address.
package cluster

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"s3proxy/meta"
)

// Defaults of Config.
const (
	DefaultHeartbeat = 5 * time.Second
	// DefaultDownAfter is three missed heartbeats.
	DefaultDownAfter = 15 * time.Second
)

// SecretSetting is the metadata setting that holds a generated cluster secret.
const SecretSetting = "cluster_secret"

// ChunkOpener opens a chunk of a backend held by this node (dedup.Engine.OpenLocal).
type ChunkOpener interface {
	OpenLocal(ctx context.Context, backend, uid string, offset, length int64) (io.ReadCloser, error)
}

// Config wires a Cluster.
type Config struct {
	Meta meta.MetaStore
	// Chunks serves this node's side of forwarding.
	Chunks ChunkOpener
	// NodeID is this node's id, as recorded on its chunks.
	NodeID string
	// Advertise is host:port where the other nodes reach this node's S3 listener.
	Advertise string
	// TLS says that listener serves HTTPS: the node registers as https://Advertise.
	TLS bool
	// RootCAs returns the CAs that other nodes' HTTPS certificates must chain to; nil,
	// or a nil pool, means the system roots. It is called for every new connection, so
	// a replaced CA bundle applies without a restart.
	RootCAs func() *x509.CertPool
	// Secret keys the request signatures (see Secret).
	Secret []byte
	// Heartbeat is the registration interval; DownAfter the silence after which a node is
	// taken for down.
	Heartbeat time.Duration
	DownAfter time.Duration
	// Client overrides the HTTP client used to reach other nodes (tests); RootCAs does
	// not apply to it.
	Client *http.Client
	Log    *slog.Logger
	// Now overrides the clock (tests).
	Now func() time.Time
}

// Cluster is one node's view of the cluster.
type Cluster struct {
	cfg    Config
	client *http.Client

	mu        sync.Mutex
	nodes     map[string]meta.Node
	fetched   time.Time // when nodes was read from the store
	started   uint64    // re-reads of the table begun so far
	fetchedBy uint64    // which of them produced nodes
	// refreshing serializes re-reads of the node table, so a burst of reads of a missing
	// node's chunks costs one query, not one each.
	refreshing sync.Mutex
}

// minRefresh bounds how often reads that find their chunk's owner silent re-read the
// node table. An unknown owner always means the table is out of date (a node registers
// before it serves, and rows are never removed): that re-read is only coalesced.
const minRefresh = time.Second

// New returns a Cluster; Run starts its heartbeat.
func New(cfg Config) (*Cluster, error) {
	if cfg.Meta == nil || cfg.Chunks == nil {
		return nil, errors.New("cluster: meta store and chunk opener are required")
	}
	if cfg.NodeID == "" || cfg.Advertise == "" {
		return nil, errors.New("cluster: node id and advertise address are required")
	}
	if _, _, err := net.SplitHostPort(cfg.Advertise); err != nil {
		return nil, fmt.Errorf("cluster: advertise address %q: %w", cfg.Advertise, err)
	}
	if len(cfg.Secret) < 16 {
		return nil, errors.New("cluster: the cluster secret must be at least 16 bytes")
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = DefaultHeartbeat
	}
	if cfg.DownAfter <= 0 {
		cfg.DownAfter = DefaultDownAfter
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	c := &Cluster{cfg: cfg, client: cfg.Client}
	if c.client == nil {
		c.client = newHTTPClient(cfg.RootCAs)
	}
	return c, nil
}

// registeredAddress is what this node records in the registry: the advertise address,
// with the scheme when it is not plain HTTP (bare host:port rows predate TLS).
func (c *Cluster) registeredAddress() string {
	if c.cfg.TLS {
		return "https://" + c.cfg.Advertise
	}
	return c.cfg.Advertise
}

// peerURL is the base URL of a registered node.
func peerURL(address string) string {
	if strings.HasPrefix(address, "https://") || strings.HasPrefix(address, "http://") {
		return address
	}
	return "http://" + address
}

// Bounds of a connection to another node.
const (
	dialTimeout      = 2 * time.Second
	handshakeTimeout = 5 * time.Second
)

// newHTTPClient is pooled (chunk reads of one object go to the same few owners) and
// bounded everywhere except the body: a chunk may take long to stream, and the caller's
// context ends that.
func newHTTPClient(roots func() *x509.CertPool) *http.Client {
	dialer := &net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}
	return &http.Client{Transport: &http.Transport{
		Proxy:       nil, // node-to-node traffic never goes through a proxy
		DialContext: dialer.DialContext,
		// Our own TLS dial rather than TLSClientConfig: the CA pool is read per
		// connection, so a rotated bundle needs no restart. The certificate must
		// chain to it and name the host the peer advertises (an IP address must be
		// in its IP SANs). No ALPN: nodes speak HTTP/1.1, as the listener does.
		DialTLSContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, _, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: host}
			if roots != nil {
				cfg.RootCAs = roots()
			}
			ctx, cancel := context.WithTimeout(ctx, dialTimeout+handshakeTimeout)
			defer cancel()
			return (&tls.Dialer{NetDialer: dialer, Config: cfg}).DialContext(ctx, network, addr)
		},
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: 10 * time.Second,
		// Chunks are already compressed or not worth it; a transparent gzip would also
		// hide the Content-Length we check.
		DisableCompression: true,
	}}
}

// Secret returns the cluster secret: the configured one, or else the one generated once
// and kept in the metadata store, so that nodes sharing a database agree with no setting.
func Secret(ctx context.Context, ms meta.MetaStore, configured string) ([]byte, error) {
	if configured != "" {
		if len(configured) < 16 {
			return nil, errors.New("cluster secret: must be at least 16 characters")
		}
		return []byte(configured), nil
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, fmt.Errorf("cluster secret: %w", err)
	}
	v, err := ms.GetOrCreateSetting(ctx, SecretSetting, hex.EncodeToString(b[:]))
	if err != nil {
		return nil, fmt.Errorf("cluster secret: %w", err)
	}
	return []byte(v), nil
}

// Run registers this node now and then every heartbeat interval until ctx ends. A
// failed heartbeat is logged and retried at the next tick; the node is not stopped (it
// keeps serving what does not need the others).
func (c *Cluster) Run(ctx context.Context) {
	t := time.NewTicker(c.cfg.Heartbeat)
	defer t.Stop()
	failing := false
	for {
		err := c.Beat(ctx)
		switch {
		case err != nil && ctx.Err() == nil && !failing:
			c.cfg.Log.Warn("cluster: heartbeat failed", "err", err)
			failing = true
		case err == nil && failing:
			c.cfg.Log.Info("cluster: heartbeat recovered")
			failing = false
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Beat records one heartbeat and refreshes the node table.
func (c *Cluster) Beat(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Heartbeat)
	defer cancel()
	if err := c.cfg.Meta.Heartbeat(ctx, meta.Node{ID: c.cfg.NodeID, Address: c.registeredAddress(), Heartbeat: c.cfg.Now()}); err != nil {
		return fmt.Errorf("cluster: heartbeat: %w", err)
	}
	_, err := c.refresh(ctx)
	return err
}

func (c *Cluster) refresh(ctx context.Context) (map[string]meta.Node, error) {
	c.refreshing.Lock()
	defer c.refreshing.Unlock()
	return c.refreshLocked(ctx)
}

func (c *Cluster) refreshLocked(ctx context.Context) (map[string]meta.Node, error) {
	c.mu.Lock()
	c.started++
	seq := c.started
	c.mu.Unlock()
	list, err := c.cfg.Meta.ListNodes(ctx)
	if err != nil {
		return nil, fmt.Errorf("cluster: list nodes: %w", err)
	}
	m := make(map[string]meta.Node, len(list))
	for _, n := range list {
		m[n.ID] = n
	}
	c.mu.Lock()
	c.nodes, c.fetched, c.fetchedBy = m, c.cfg.Now(), seq
	c.mu.Unlock()
	return m, nil
}

// refreshIfOlder re-reads the node table unless it was read within d.
func (c *Cluster) refreshIfOlder(ctx context.Context, d time.Duration) (map[string]meta.Node, error) {
	c.refreshing.Lock()
	defer c.refreshing.Unlock()
	c.mu.Lock()
	m, at := c.nodes, c.fetched
	c.mu.Unlock()
	if c.cfg.Now().Sub(at) <= d {
		return m, nil
	}
	return c.refreshLocked(ctx)
}

// refreshSince returns a node table read after this call began: its own re-read, or one
// that a concurrent caller began after it and finished first.
func (c *Cluster) refreshSince(ctx context.Context) (map[string]meta.Node, error) {
	c.mu.Lock()
	since := c.started
	c.mu.Unlock()
	c.refreshing.Lock()
	defer c.refreshing.Unlock()
	c.mu.Lock()
	m, done := c.nodes, c.fetchedBy > since
	c.mu.Unlock()
	if done {
		return m, nil
	}
	return c.refreshLocked(ctx)
}

// NodeStatus is a registered node and whether it counts as up.
type NodeStatus struct {
	meta.Node
	Up bool
}

// Nodes lists the registered nodes, read fresh from the store.
func (c *Cluster) Nodes(ctx context.Context) ([]NodeStatus, error) {
	m, err := c.refresh(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]NodeStatus, 0, len(m))
	for _, n := range m {
		out = append(out, NodeStatus{Node: n, Up: c.up(n)})
	}
	return out, nil
}

func (c *Cluster) up(n meta.Node) bool {
	return c.cfg.Now().Sub(n.Heartbeat) <= c.cfg.DownAfter
}

// owner finds the node holding a chunk. The table is refreshed by the heartbeat; a read
// that finds the owner unknown or silent re-reads it, since a node that just started or
// came back may so far be only in the store.
func (c *Cluster) owner(ctx context.Context, id string) (meta.Node, error) {
	c.mu.Lock()
	n, known := c.nodes[id]
	c.mu.Unlock()
	if !known || !c.up(n) {
		var m map[string]meta.Node
		var err error
		if known {
			m, err = c.refreshIfOlder(ctx, minRefresh)
		} else {
			m, err = c.refreshSince(ctx)
		}
		if err != nil {
			return meta.Node{}, err
		}
		n, known = m[id]
	}
	switch {
	case !known:
		return meta.Node{}, fmt.Errorf("node %q is not registered", id)
	case !c.up(n):
		return meta.Node{}, fmt.Errorf("node %q is down (last heartbeat %s ago)", id, c.cfg.Now().Sub(n.Heartbeat).Round(time.Second))
	}
	return n, nil
}
