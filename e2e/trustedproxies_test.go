package e2e

// Trusted proxies: what curl's X-Forwarded-For does to aws:SourceIp (and the access
// log) behind a trusted proxy and elsewhere.

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTrustedProxiesCurl: curl sends X-Forwarded-For to two servers under a policy
// that denies anonymous reads from 203.0.113.0/24 and allows them from 127.0.0.0/8
// (not public: the default block_public_policy keeps it). The server that trusts
// 127.0.0.1 (curl's address: the "proxy") takes the header's client and logs it; the
// one that trusts nothing keeps the peer, whatever the header says.
func TestTrustedProxiesCurl(t *testing.T) {
	t.Parallel()
	onlyS3proxy(t)
	doc := `{"Version":"2012-10-17","Statement":[
  {"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::xff/*","Condition":{"IpAddress":{"aws:SourceIp":["127.0.0.0/8","198.51.100.0/24"]}}},
  {"Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::xff/*","Condition":{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}}]}`
	for _, tc := range []struct {
		name    string
		args    []string
		trusted bool
	}{
		{"trusted", []string{"--trusted-proxies", "127.0.0.1"}, true},
		{"untrusted", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startServer(t, serverOptions{args: tc.args})
			cli := newAWSCLI(t, s, s.cred)
			dir := t.TempDir()
			cli.run("s3api", "create-bucket", "--bucket", "xff")
			file := filepath.Join(dir, "f")
			writeFile(t, file, "behind a proxy")
			cli.run("s3api", "put-object", "--bucket", "xff", "--key", "f", "--body", file)
			pf := filepath.Join(dir, "policy.json")
			writeFile(t, pf, doc)
			cli.run("s3api", "put-bucket-policy", "--bucket", "xff", "--policy", "file://"+pf)
			obj := s.endpoint + "/xff/f"

			// What a client the header names outside the allowed ranges gets: refused
			// where the header is believed, served as the peer (127.0.0.1) elsewhere.
			outside := "200"
			if tc.trusted {
				outside = "403"
			}
			for _, c := range []struct{ name, xff, want string }{
				{"no header", "", "200"},
				{"client in the denied range", "203.0.113.7", outside},
				{"forged denied entry left of the client", "203.0.113.7, 198.51.100.4", "200"},
				{"ipv6 client with a port", "[2001:db8::1]:4711", outside},
				{"garbage", "not-an-address", "200"},
			} {
				args := []string{obj}
				if c.xff != "" {
					args = append([]string{"-H", "X-Forwarded-For: " + c.xff}, args...)
				}
				if st := curlStatus(t, args...); st != c.want {
					t.Errorf("%s: %s, want %s", c.name, st, c.want)
				}
			}
			// The access log names the client the header gave, and the proxy as the
			// peer; without trust, the peer alone.
			curlStatus(t, "-H", "X-Forwarded-For: 198.51.100.4", obj)
			log, err := os.ReadFile(s.logPath)
			if err != nil {
				t.Fatal(err)
			}
			logged := strings.Contains(string(log), "remote=198.51.100.4 peer=127.0.0.1:")
			if logged != tc.trusted {
				t.Errorf("access log names the forwarded client: %v, want %v\n%s", logged, tc.trusted, s.logTail())
			}
		})
	}
}
