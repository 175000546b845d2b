package s3api

import (
	"net/http/httptest"
	"net/netip"
	"testing"

	"s3proxy/s3api/clientip"
)

// TestSourceIP: aws:SourceIp and the access log's remote address are the socket's peer
// unless the peer is a trusted proxy, whose X-Forwarded-For then names the client.
func TestSourceIP(t *testing.T) {
	loopback := clientip.Trusted{netip.MustParsePrefix("127.0.0.0/8")}
	for _, tc := range []struct {
		name             string
		proxies          clientip.Trusted
		peer, xff        string
		want, remote, by string
	}{
		{"no proxies trusted", nil, "127.0.0.1:4000", "192.0.2.1", "127.0.0.1", "127.0.0.1:4000", ""},
		{"trusted peer", loopback, "127.0.0.1:4000", "1.2.3.4, 192.0.2.1", "192.0.2.1", "192.0.2.1", "127.0.0.1:4000"},
		{"untrusted peer", loopback, "198.51.100.7:4000", "192.0.2.1", "198.51.100.7", "198.51.100.7:4000", ""},
		{"trusted peer, no header", loopback, "127.0.0.1:4000", "", "127.0.0.1", "127.0.0.1:4000", ""},
		{"ipv6 peer", nil, "[2001:db8::5]:4000", "", "2001:db8::5", "[2001:db8::5]:4000", ""},
	} {
		r := httptest.NewRequest("GET", "/b/k", nil)
		r.RemoteAddr = tc.peer
		if tc.xff != "" {
			r.Header.Set("X-Forwarded-For", tc.xff)
		}
		rq := &request{r: r, proxies: tc.proxies}
		got, ok := rq.ConditionKey("aws:sourceip")
		if !ok || len(got) != 1 || got[0] != tc.want {
			t.Errorf("%s: aws:SourceIp %v %v, want %s", tc.name, got, ok, tc.want)
		}
		if remote, by := rq.logRemote(); remote != tc.remote || by != tc.by {
			t.Errorf("%s: logged remote %q peer %q, want %q %q", tc.name, remote, by, tc.remote, tc.by)
		}
	}
}
