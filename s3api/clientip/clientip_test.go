package clientip

import (
	"net/http"
	"net/netip"
	"testing"
)

func prefixes(t *testing.T, ss ...string) Trusted {
	t.Helper()
	var out Trusted
	for _, s := range ss {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

// TestClient: the peer unless it is trusted; then X-Forwarded-For walked from the
// right, else Forwarded's for=, else the peer. Spoofed entries to the left of the
// first untrusted hop, garbage and headers from untrusted peers are never believed.
func TestClient(t *testing.T) {
	trusted := prefixes(t, "127.0.0.0/8", "10.0.0.0/8", "::1/128", "fd00::/8")
	for _, tc := range []struct {
		name      string
		trusted   Trusted
		peer      string
		xff       []string
		fwd       []string
		want      string
		forwarded bool
	}{
		// Nothing trusted (the default), or an untrusted peer: the headers are the
		// client's own and ignored.
		{"nothing trusted", nil, "127.0.0.1:5000", []string{"192.0.2.1"}, nil, "127.0.0.1", false},
		{"untrusted peer", trusted, "198.51.100.7:5000", []string{"192.0.2.1"}, nil, "198.51.100.7", false},
		{"untrusted peer, Forwarded", trusted, "198.51.100.7:5000", nil, []string{"for=192.0.2.1"}, "198.51.100.7", false},
		{"trusted peer, no header", trusted, "10.0.0.2:5000", nil, nil, "10.0.0.2", false},

		// X-Forwarded-For, IPv4.
		{"one hop", trusted, "10.0.0.2:5000", []string{"192.0.2.1"}, nil, "192.0.2.1", true},
		{"spoofed chain", trusted, "10.0.0.2:5000", []string{"1.2.3.4, 5.6.7.8, 192.0.2.1"}, nil, "192.0.2.1", true},
		{"spoofed trusted entry", trusted, "10.0.0.2:5000", []string{"10.9.9.9, 192.0.2.1"}, nil, "192.0.2.1", true},
		{"two trusted proxies", trusted, "127.0.0.1:5000", []string{"1.2.3.4, 192.0.2.1, 10.0.0.3"}, nil, "192.0.2.1", true},
		{"several header lines", trusted, "127.0.0.1:5000", []string{"1.2.3.4, 192.0.2.1", "10.0.0.3"}, nil, "192.0.2.1", true},
		{"spaces", trusted, "127.0.0.1:5000", []string{"  192.0.2.1  ,10.0.0.3 "}, nil, "192.0.2.1", true},
		{"with a port", trusted, "127.0.0.1:5000", []string{"192.0.2.1:4711"}, nil, "192.0.2.1", true},
		{"every hop trusted", trusted, "127.0.0.1:5000", []string{"10.0.0.5, 10.0.0.3"}, nil, "10.0.0.5", true},

		// X-Forwarded-For, IPv6.
		{"ipv6 bare", trusted, "[::1]:5000", []string{"2001:db8::1"}, nil, "2001:db8::1", true},
		{"ipv6 brackets", trusted, "[::1]:5000", []string{"[2001:db8::1]"}, nil, "2001:db8::1", true},
		{"ipv6 brackets and port", trusted, "[::1]:5000", []string{"[2001:db8::1]:4711"}, nil, "2001:db8::1", true},
		{"ipv6 zone dropped", trusted, "[::1]:5000", []string{"fe80::1%eth0"}, nil, "fe80::1", true},
		{"ipv6 trusted hop", trusted, "[::1]:5000", []string{"2001:db8::1, fd00::7"}, nil, "2001:db8::1", true},
		{"ipv4-mapped peer", trusted, "[::ffff:10.0.0.2]:5000", []string{"192.0.2.1"}, nil, "192.0.2.1", true},
		{"ipv4-mapped entry", trusted, "127.0.0.1:5000", []string{"::ffff:192.0.2.1"}, nil, "192.0.2.1", true},
		{"ipv4-mapped trusted entry", trusted, "127.0.0.1:5000", []string{"192.0.2.1, ::ffff:10.0.0.3"}, nil, "192.0.2.1", true},
		{"peer with zone", trusted, "[::1%lo]:5000", []string{"192.0.2.1"}, nil, "192.0.2.1", true},

		// Garbage.
		{"garbage rightmost", trusted, "10.0.0.2:5000", []string{"192.0.2.1, nonsense"}, nil, "10.0.0.2", false},
		{"garbage left of the client", trusted, "10.0.0.2:5000", []string{"nonsense, 192.0.2.1"}, nil, "192.0.2.1", true},
		{"garbage left of trusted hops", trusted, "10.0.0.2:5000", []string{"nonsense, 10.0.0.5, 10.0.0.3"}, nil, "10.0.0.5", true},
		{"empty entry", trusted, "10.0.0.2:5000", []string{"192.0.2.1, "}, nil, "10.0.0.2", false},
		{"empty header", trusted, "10.0.0.2:5000", []string{""}, nil, "10.0.0.2", false},
		{"hostname", trusted, "10.0.0.2:5000", []string{"client.example.com"}, nil, "10.0.0.2", false},
		{"leading zeros", trusted, "10.0.0.2:5000", []string{"192.000.002.001"}, nil, "10.0.0.2", false},
		{"ipv6 port without brackets", trusted, "10.0.0.2:5000", []string{"2001:db8::1:4711:99999"}, nil, "10.0.0.2", false},
		{"bad bracket", trusted, "10.0.0.2:5000", []string{"[192.0.2.1]"}, nil, "10.0.0.2", false},
		{"unclosed bracket", trusted, "10.0.0.2:5000", []string{"[2001:db8::1"}, nil, "10.0.0.2", false},
		{"port out of range", trusted, "10.0.0.2:5000", []string{"192.0.2.1:70000"}, nil, "10.0.0.2", false},
		// X-Forwarded-For, when sent, decides: a garbage one is not replaced by a
		// Forwarded header a client may have sent along.
		{"garbage XFF, Forwarded", trusted, "10.0.0.2:5000", []string{"nonsense"}, []string{"for=192.0.2.9"}, "10.0.0.2", false},
		{"XFF beats Forwarded", trusted, "10.0.0.2:5000", []string{"192.0.2.1"}, []string{"for=192.0.2.9"}, "192.0.2.1", true},

		// Forwarded (RFC 7239).
		{"forwarded", trusted, "10.0.0.2:5000", nil, []string{"for=192.0.2.60;proto=http;by=203.0.113.43"}, "192.0.2.60", true},
		{"forwarded case", trusted, "10.0.0.2:5000", nil, []string{"proto=https;For=192.0.2.60"}, "192.0.2.60", true},
		{"forwarded quoted port", trusted, "10.0.0.2:5000", nil, []string{`for="192.0.2.60:4711"`}, "192.0.2.60", true},
		{"forwarded ipv6", trusted, "10.0.0.2:5000", nil, []string{`for="[2001:db8:cafe::17]:4711"`}, "2001:db8:cafe::17", true},
		{"forwarded ipv6 no port", trusted, "10.0.0.2:5000", nil, []string{`for="[2001:db8:cafe::17]"`}, "2001:db8:cafe::17", true},
		{"forwarded chain", trusted, "10.0.0.2:5000", nil, []string{"for=1.2.3.4, for=192.0.2.43, for=10.0.0.9"}, "192.0.2.43", true},
		{"forwarded lines", trusted, "10.0.0.2:5000", nil, []string{"for=1.2.3.4", "for=192.0.2.43;by=x"}, "192.0.2.43", true},
		{"forwarded quoted comma", trusted, "10.0.0.2:5000", nil, []string{`for=192.0.2.43;ext="a,b", for=10.0.0.9`}, "192.0.2.43", true},
		{"forwarded unknown", trusted, "10.0.0.2:5000", nil, []string{"for=unknown"}, "10.0.0.2", false},
		{"forwarded obfuscated", trusted, "10.0.0.2:5000", nil, []string{"for=_hidden, for=192.0.2.43"}, "192.0.2.43", true},
		{"forwarded no for", trusted, "10.0.0.2:5000", nil, []string{"proto=https;by=10.0.0.1"}, "10.0.0.2", false},
		{"forwarded bare ipv6", trusted, "10.0.0.2:5000", nil, []string{"for=2001:db8::1"}, "10.0.0.2", false},
		{"forwarded broken quote", trusted, "10.0.0.2:5000", nil, []string{`for="192.0.2.60`}, "10.0.0.2", false},
	} {
		h := http.Header{}
		for _, v := range tc.xff {
			h.Add("X-Forwarded-For", v)
		}
		for _, v := range tc.fwd {
			h.Add("Forwarded", v)
		}
		got, forwarded, ok := tc.trusted.Client(tc.peer, h)
		if !ok || got.String() != tc.want || forwarded != tc.forwarded {
			t.Errorf("%s: %v forwarded=%v ok=%v, want %s forwarded=%v", tc.name, got, forwarded, ok, tc.want, tc.forwarded)
		}
	}
}

func TestPeer(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string
		ok   bool
	}{
		{"192.0.2.1:80", "192.0.2.1", true},
		{"[2001:db8::1]:80", "2001:db8::1", true},
		{"[fe80::1%eth0]:80", "fe80::1", true},
		{"192.0.2.1", "192.0.2.1", true},
		{"@", "invalid IP", false},
		{"", "invalid IP", false},
	} {
		got, ok := Peer(tc.in)
		if got.String() != tc.want || ok != tc.ok {
			t.Errorf("Peer(%q) = %v %v, want %s %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}
