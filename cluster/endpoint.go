package cluster

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"s3proxy/backends"
	"s3proxy/dedup"
	"s3proxy/meta"
)

// Wire format of the internal endpoint.
const (
	// PathPrefix starts every internal path; "_s3proxy" is not a valid bucket name.
	PathPrefix = "/_s3proxy/"
	chunkPath  = PathPrefix + "chunk/"

	HeaderSignature = "X-S3proxy-Signature"
	HeaderDate      = "X-S3proxy-Date" // Unix seconds
	HeaderNode      = "X-S3proxy-Node" // the calling node's id

	maxSkew = 5 * time.Minute
	algo    = "S3PROXY-HMAC-SHA256"
)

// sign computes the request signature. The path is the escaped one as sent, so both
// sides sign the same bytes whatever the backend and uid contain.
func sign(secret []byte, method, path, rng, date, node string) string {
	m := hmac.New(sha256.New, secret)
	for _, s := range []string{algo, method, path, rng, date, node} {
		m.Write([]byte(s))
		m.Write([]byte{'\n'})
	}
	return hex.EncodeToString(m.Sum(nil))
}

// verify checks a request's signature and freshness. It says nothing about why a
// request failed to the caller: a probe learns nothing but 403.
func (c *Cluster) verify(r *http.Request) error {
	date := r.Header.Get(HeaderDate)
	ts, err := strconv.ParseInt(date, 10, 64)
	if err != nil {
		return errors.New("missing or malformed date")
	}
	if skew := c.cfg.Now().Sub(time.Unix(ts, 0)); skew > maxSkew || skew < -maxSkew {
		return fmt.Errorf("date is %v off", skew.Round(time.Second))
	}
	got, err := hex.DecodeString(r.Header.Get(HeaderSignature))
	if err != nil {
		return errors.New("malformed signature")
	}
	want, _ := hex.DecodeString(sign(c.cfg.Secret, r.Method, r.URL.EscapedPath(), r.Header.Get("Range"), date, r.Header.Get(HeaderNode)))
	if !hmac.Equal(got, want) {
		return errors.New("signature mismatch")
	}
	return nil
}

// Handler serves the internal endpoint in front of next (the S3 API): requests under
// PathPrefix that carry a signature header are internal, everything else is S3.
func (c *Cluster) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, PathPrefix) || r.Header.Get(HeaderSignature) == "" {
			next.ServeHTTP(w, r)
			return
		}
		c.serveInternal(w, r)
	})
}

func (c *Cluster) serveInternal(w http.ResponseWriter, r *http.Request) {
	if err := c.verify(r); err != nil {
		c.cfg.Log.Warn("cluster: rejected internal request", "remote", r.RemoteAddr, "node", r.Header.Get(HeaderNode), "path", r.URL.Path, "err", err)
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, chunkPath)
	backend, uid, ok2 := strings.Cut(rest, "/")
	if !ok || !ok2 || backend == "" || uid == "" || strings.Contains(uid, "/") {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	off, length, err := parseRange(r.Header.Get("Range"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusRequestedRangeNotSatisfiable)
		return
	}
	rc, err := c.cfg.Chunks.OpenLocal(r.Context(), backend, uid, off, length)
	if err != nil {
		switch {
		case errors.Is(err, backends.ErrNotFound):
			http.Error(w, "chunk not found", http.StatusNotFound)
		case errors.Is(err, backends.ErrInvalid):
			http.Error(w, "range not satisfiable", http.StatusRequestedRangeNotSatisfiable)
		default:
			c.cfg.Log.Warn("cluster: open local chunk", "backend", backend, "uid", uid, "err", err)
			http.Error(w, "chunk unavailable", http.StatusServiceUnavailable)
		}
		return
	}
	defer rc.Close()
	w.Header().Set("Content-Type", "application/octet-stream")
	if length >= 0 {
		w.Header().Set("Content-Length", strconv.FormatInt(length, 10))
	}
	status := http.StatusOK
	if r.Header.Get("Range") != "" {
		status = http.StatusPartialContent
	}
	w.WriteHeader(status)
	// Send the headers now: the caller is waiting for them before it reads, and the
	// backend's first byte may be a while (an object store's time to first byte).
	_ = http.NewResponseController(w).Flush()
	if _, err := io.Copy(w, rc); err != nil && r.Context().Err() == nil {
		c.cfg.Log.Warn("cluster: stream chunk", "backend", backend, "uid", uid, "err", err)
		// Abort the connection so the reader sees a broken stream, never a clean short body.
		panic(http.ErrAbortHandler)
	}
}

// parseRange accepts what OpenRemote sends: none, "bytes=a-b" or "bytes=a-".
func parseRange(h string) (offset, length int64, err error) {
	if h == "" {
		return 0, -1, nil
	}
	spec, ok := strings.CutPrefix(h, "bytes=")
	first, last, ok2 := strings.Cut(spec, "-")
	if !ok || !ok2 {
		return 0, 0, fmt.Errorf("unsupported range %q", h)
	}
	offset, err = strconv.ParseInt(first, 10, 64)
	if err != nil || offset < 0 {
		return 0, 0, fmt.Errorf("unsupported range %q", h)
	}
	if last == "" {
		return offset, -1, nil
	}
	end, err := strconv.ParseInt(last, 10, 64)
	if err != nil || end < offset {
		return 0, 0, fmt.Errorf("unsupported range %q", h)
	}
	return offset, end - offset + 1, nil
}

// OpenRemote streams length bytes (-1: to the end) of a chunk from offset, from the node
// that holds it. Every failure to get the bytes is dedup.ErrChunkUnavailable, except the
// owner saying it does not have the chunk (dedup.ErrChunkMissing: corruption).
func (c *Cluster) OpenRemote(ctx context.Context, ch meta.Chunk, offset, length int64) (io.ReadCloser, error) {
	if length == 0 {
		return io.NopCloser(strings.NewReader("")), nil
	}
	owner, err := c.owner(ctx, ch.Node)
	if err != nil {
		return nil, fmt.Errorf("%w: chunk %s: %w", dedup.ErrChunkUnavailable, ch.UID, err)
	}
	path := chunkPath + url.PathEscape(ch.Backend) + "/" + url.PathEscape(ch.UID)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, peerURL(owner.Address)+path, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: chunk %s on node %s: %w", dedup.ErrChunkUnavailable, ch.UID, ch.Node, err)
	}
	rng := ""
	if offset > 0 || length > 0 {
		rng = "bytes=" + strconv.FormatInt(offset, 10) + "-"
		if length > 0 {
			rng += strconv.FormatInt(offset+length-1, 10)
		}
		req.Header.Set("Range", rng)
	}
	date := strconv.FormatInt(c.cfg.Now().Unix(), 10)
	req.Header.Set(HeaderDate, date)
	req.Header.Set(HeaderNode, c.cfg.NodeID)
	req.Header.Set(HeaderSignature, sign(c.cfg.Secret, http.MethodGet, req.URL.EscapedPath(), rng, date, c.cfg.NodeID))
	resp, err := c.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		var verr *tls.CertificateVerificationError
		if errors.As(err, &verr) {
			// A configuration problem, not an outage: say what to fix.
			c.cfg.Log.Error("cluster: the node's TLS certificate is not trusted or does not name its advertise address; set cluster_ca to the CA that issued it",
				"node", ch.Node, "err", err)
		}
		return nil, fmt.Errorf("%w: chunk %s on node %s: %w", dedup.ErrChunkUnavailable, ch.UID, ch.Node, err)
	}
	switch resp.StatusCode {
	case http.StatusOK, http.StatusPartialContent:
	case http.StatusNotFound:
		resp.Body.Close()
		return nil, fmt.Errorf("%w: chunk %d (%s) in %s on node %s", dedup.ErrChunkMissing, ch.ID, ch.UID, ch.Backend, ch.Node)
	default:
		resp.Body.Close()
		if resp.StatusCode == http.StatusForbidden {
			c.cfg.Log.Error("cluster: node refused our signature; do the nodes share one cluster secret?", "node", ch.Node)
		}
		return nil, fmt.Errorf("%w: chunk %s on node %s: %s", dedup.ErrChunkUnavailable, ch.UID, ch.Node, resp.Status)
	}
	if length > 0 && resp.ContentLength != length {
		resp.Body.Close()
		return nil, fmt.Errorf("%w: chunk %s on node %s: got %d bytes for a %d-byte range", dedup.ErrChunkUnavailable, ch.UID, ch.Node, resp.ContentLength, length)
	}
	return &remoteBody{rc: resp.Body, ch: ch, left: length}, nil
}

// remoteBody reports a stream broken by the owner (crash, network) as unavailable,
// never as a clean end: a short read must not pass for the chunk's end.
type remoteBody struct {
	rc   io.ReadCloser
	ch   meta.Chunk
	left int64 // -1 when unknown
}

func (b *remoteBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if b.left > 0 {
		b.left -= int64(n)
	}
	switch {
	case err == io.EOF && b.left > 0:
		err = io.ErrUnexpectedEOF
		fallthrough
	case err != nil && err != io.EOF && !errors.Is(err, context.Canceled):
		err = fmt.Errorf("%w: chunk %s from node %s: %w", dedup.ErrChunkUnavailable, b.ch.UID, b.ch.Node, err)
	}
	return n, err
}

func (b *remoteBody) Close() error { return b.rc.Close() }
