// Package clientip finds the address of the client behind trusted reverse proxies, for
// aws:SourceIp in bucket policies and for the access log.
//
// A request's socket peer is the client unless the peer is a trusted proxy (an address
// in the configured ranges). Only then are the proxies' headers read, and only as far
// as trusted hops vouch for them:
//
//   - X-Forwarded-For: the list (all header lines, in order) is walked from the right,
//     the end the nearest proxy wrote; every address in a trusted range is a proxy
//     passing the request on, and the first one that is not is the client. Entries to
//     its left are the client's own to forge and are never read. When every address is
//     trusted, the leftmost is the client (a caller inside the trusted ranges); an entry
//     that is not an address ends the walk there, and the last trusted address before it
//     is the client, since nothing to its left can be believed.
//   - Forwarded (RFC 7239), only when no X-Forwarded-For was sent: the for= of each
//     element, walked the same way; "unknown" and obfuscated identifiers are not
//     addresses.
//   - Otherwise, or when the header yields no address at all, the peer.
//
// Entries may carry a port ("192.0.2.1:4711", "[2001:db8::1]:4711"), IPv6 in brackets or
// bare; IPv4-mapped IPv6 addresses are taken as IPv4, and zones are dropped.
package clientip

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Trusted is the set of proxies whose forwarding headers are believed; empty trusts
// none (the peer is always the client).
type Trusted []netip.Prefix

// Contains reports whether a is in a trusted range.
func (t Trusted) Contains(a netip.Addr) bool {
	for _, p := range t {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Client returns the client's address for a request from remoteAddr (the socket peer,
// as http.Request.RemoteAddr gives it) with header h, and whether it was taken from a
// forwarding header. ok is false only when the peer itself is not an address (never
// for a TCP connection).
func (t Trusted) Client(remoteAddr string, h http.Header) (addr netip.Addr, forwarded, ok bool) {
	peer, ok := Peer(remoteAddr)
	if !ok || len(t) == 0 || !t.Contains(peer) {
		return peer, false, ok
	}
	if xff := h.Values("X-Forwarded-For"); len(xff) > 0 {
		if a, ok := t.walk(splitList(xff), parseNode); ok {
			return a, true, true
		}
		return peer, false, true
	}
	if fwd := h.Values("Forwarded"); len(fwd) > 0 {
		if a, ok := t.walk(forwardedFor(fwd), parseForwardedNode); ok {
			return a, true, true
		}
	}
	return peer, false, true
}

// walk returns the client of a hop list (oldest first): the rightmost entry not in a
// trusted range, or, when the walk meets the list's start or an entry that is not an
// address, the last trusted address before it. ok is false when the rightmost entry is
// not an address (or the list is empty): nothing in it can be believed.
func (t Trusted) walk(hops []string, parse func(string) (netip.Addr, bool)) (netip.Addr, bool) {
	var last netip.Addr
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := parse(hops[i])
		if !ok {
			break
		}
		if !t.Contains(a) {
			return a, true
		}
		last = a
	}
	return last, last.IsValid()
}

// Peer parses a socket peer address ("192.0.2.1:4711", "[::1]:4711").
func Peer(remoteAddr string) (netip.Addr, bool) {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, false
	}
	return norm(a), true
}

// norm drops a zone and takes an IPv4-mapped IPv6 address as the IPv4 address it is,
// so that 10.0.0.0/8 matches ::ffff:10.1.2.3 and policies see 10.1.2.3.
func norm(a netip.Addr) netip.Addr { return a.Unmap().WithZone("") }

// splitList splits header lines of comma-separated entries into one list, in order.
func splitList(lines []string) []string {
	var out []string
	for _, l := range lines {
		out = append(out, strings.Split(l, ",")...)
	}
	return out
}

// parseNode parses one X-Forwarded-For entry: an address, with or without a port,
// IPv6 bare or in brackets.
func parseNode(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return netip.Addr{}, false
	}
	if strings.HasPrefix(s, "[") {
		if strings.HasSuffix(s, "]") {
			a, err := netip.ParseAddr(s[1 : len(s)-1])
			if err != nil || !a.Is6() {
				return netip.Addr{}, false
			}
			return norm(a), true
		}
		ap, err := netip.ParseAddrPort(s)
		if err != nil {
			return netip.Addr{}, false
		}
		return norm(ap.Addr()), true
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return norm(a), true
	}
	// An IPv4 address with a port (an IPv6 one needs brackets to carry one).
	ap, err := netip.ParseAddrPort(s)
	if err != nil || !ap.Addr().Is4() {
		return netip.Addr{}, false
	}
	return norm(ap.Addr()), true
}

// parseForwardedNode parses a for= value of a Forwarded element, unquoted already:
// RFC 7239 writes IPv6 in brackets and allows a port; "unknown" and obfuscated
// identifiers ("_hidden") are not addresses.
func parseForwardedNode(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "[") && strings.Count(s, ":") > 1 {
		return netip.Addr{}, false // a bare IPv6 address is not RFC 7239's form
	}
	return parseNode(s)
}

// forwardedFor returns the for= value of each Forwarded element, oldest first; an
// element without one gives "" (not an address, which ends a walk there).
func forwardedFor(lines []string) []string {
	var out []string
	for _, l := range lines {
		for _, elem := range splitQuoted(l, ',') {
			v := ""
			for _, pair := range splitQuoted(elem, ';') {
				name, val, ok := strings.Cut(strings.TrimSpace(pair), "=")
				if ok && strings.EqualFold(strings.TrimSpace(name), "for") {
					v = unquote(strings.TrimSpace(val))
					break
				}
			}
			out = append(out, v)
		}
	}
	return out
}

// splitQuoted splits s at sep outside double-quoted strings (RFC 7230's
// quoted-string, with backslash escapes).
func splitQuoted(s string, sep byte) []string {
	var out []string
	quoted, start := false, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case quoted && c == '\\':
			i++
		case c == '"':
			quoted = !quoted
		case !quoted && c == sep:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// unquote removes a quoted-string's quotes and escapes; a value that is not quoted is
// returned as it is, one that is quoted badly as "" (not an address).
func unquote(v string) string {
	if !strings.HasPrefix(v, `"`) {
		return v
	}
	if len(v) < 2 || !strings.HasSuffix(v, `"`) {
		return ""
	}
	var b strings.Builder
	for i := 1; i < len(v)-1; i++ {
		if v[i] == '\\' && i+1 < len(v)-1 {
			i++
		}
		b.WriteByte(v[i])
	}
	return b.String()
}
