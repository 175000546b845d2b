package main

import (
	"context"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// TestTrustedProxies: aws:SourceIp is the address X-Forwarded-For names only when the
// peer (127.0.0.1 here) is a trusted proxy; otherwise, the default, it is the peer's,
// whatever the header says. The policy lets anonymous callers in from 198.51.100.0/24
// only (not public, so the default block_public_policy keeps it) and denies everyone,
// the owner too, from 203.0.113.0/24.
func TestTrustedProxies(t *testing.T) {
	ctx := context.Background()
	doc := `{"Version":"2012-10-17","Statement":[
  {"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::lan/*","Condition":{"IpAddress":{"aws:SourceIp":"198.51.100.0/24"}}},
  {"Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::lan/*","Condition":{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}}]}`
	for _, tc := range []struct {
		name    string
		args    []string
		trusted bool
	}{
		{"loopback trusted", []string{"--trusted-proxies", "127.0.0.1"}, true},
		{"loopback trusted as a range", []string{"--trusted-proxies", "10.0.0.0/8, 127.0.0.0/8"}, true},
		{"nothing trusted", nil, false},
		{"another range trusted", []string{"--trusted-proxies", "10.0.0.0/8"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := newStack(t, tc.args...)
			owner := st.client(t, testAK, testSK)
			mkBucket(t, ctx, owner, "lan", "a")
			if err := putPolicy(ctx, owner, "lan", doc); err != nil {
				t.Fatal(err)
			}
			allowed, denied := http.StatusForbidden, http.StatusOK
			if tc.trusted {
				allowed, denied = http.StatusOK, http.StatusForbidden
			}
			for _, c := range []struct {
				name, xff string
				anon      bool
				want      int
			}{
				{"anonymous from the allowed range", "198.51.100.9", true, allowed},
				{"anonymous, forged entry left of the client", "198.51.100.9, 192.0.2.1", true, http.StatusForbidden},
				{"anonymous, no header", "", true, http.StatusForbidden},
				{"anonymous, garbage", "nonsense", true, http.StatusForbidden},
				{"owner from the denied range", "203.0.113.5", false, denied},
				{"owner, forged allowed entry left of the denied one", "198.51.100.9, 203.0.113.5", false, denied},
				{"owner, no header", "", false, http.StatusOK},
			} {
				hdr := map[string]string{}
				if c.xff != "" {
					hdr["X-Forwarded-For"] = c.xff
				}
				var status int
				var body string
				if c.anon {
					status, body = st.anon(t, "GET", "/lan/a", nil, hdr)
				} else {
					status, body, _ = st.raw(t, "GET", "/lan/a", nil, hdr)
				}
				if status != c.want {
					t.Errorf("%s: %d %s, want %d", c.name, status, body, c.want)
				}
			}
			// Forwarded (RFC 7239) counts when X-Forwarded-For is absent.
			if status, body := st.anon(t, "GET", "/lan/a", nil, map[string]string{"Forwarded": `for="198.51.100.9:4711";proto=http`}); status != allowed {
				t.Errorf("anonymous with Forwarded from the allowed range: %d %s, want %d", status, body, allowed)
			}
			if _, err := owner.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("lan"), Key: aws.String("a")}); err != nil {
				t.Errorf("the owner's SDK request without a header: %v", err)
			}
		})
	}
}
