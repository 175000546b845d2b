package digest

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"math/rand"
	"testing"
)

// longInput is 5,000 bytes: past xxHash's 32-byte and XXH3's 240-byte and 1 KiB block
// boundaries, so the streaming paths are exercised, not only the short-input ones.
func longInput() []byte {
	b := make([]byte, 5000)
	for i := range b {
		b[i] = byte(i * 31)
	}
	return b
}

// TestKnownVectors checks every algorithm against values computed by independent
// implementations: the CRC catalogue's check values for "123456789", Python's hashlib
// for MD5/SHA, the xxHash reference library (libxxhash 0.8.1, called through ctypes)
// for the xxHash family, whose "Hello world" values are also those of the
// aws-checksums tests the AWS SDKs build on (seed 0, big-endian canonical form).
func TestKnownVectors(t *testing.T) {
	tests := []struct {
		algo, input, want string
	}{
		{CRC32, "123456789", "y/Q5Jg=="},
		{CRC32C, "123456789", "4waSgw=="},
		{CRC64NVME, "123456789", "rosUhgp5mIg="},
		{MD5, "123456789", "JfnnlDI7RTiF9RgfG2JNCw=="},
		{MD5, "", "1B2M2Y8AsgTpgAmY7PhCfg=="},
		{SHA1, "123456789", "98O8HYCOBHMq32eZZczDTKeuNEE="},
		{SHA256, "123456789", "FeKw08M4keuw8e9gnsQZQgwg4yDOlMZfvIwzEkSOsiU="},
		{SHA512, "123456789", "2eZ2LdHI6vbWGzxhkvxAjU1tXxF20MKRabwk5xw/J0rSf81YEbMT1oH35V7ALXPUmclUVba1u1A6z1dPuo/+hQ=="},
		{SHA512, "", "z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKHfuwvY7kxvUdBeoGlODJ6+SfaPg=="},
		{SHA512, string(longInput()), "KeppB0Pn7cGfF3BCiqyi3mbzkDR6Dk3LmWxiA/vxOrq9GWNMAxPPf99is+IBCASsr/Xotc1C6/G+ueW3MFsuhQ=="},
		{XXHASH64, "", "70bbN1HY6Zk="},
		{XXHASH64, "Hello world", "xQCwyRKzdtg="}, // c500b0c912b376d8
		{XXHASH64, "the object data", "McmxUfNFLUs="},
		{XXHASH64, string(longInput()), "oRaE/y7UKgA="},
		{XXHASH3, "", "LQaABTjTlMI="},
		{XXHASH3, "Hello world", "tqy52Eo4/3Q="}, // b6acb9d84a38ff74
		{XXHASH3, "abcdefg", "WkDcP9RMBS8="},
		{XXHASH3, string(longInput()), "YLHArjHoT+8="},
		{XXHASH128, "", "maoG0wFHmNhgAcMkRo1Jfw=="},
		{XXHASH128, "Hello world", "c1H4mBL5c4K5HQWzHgTdfw=="}, // 7351f89812f97382 b91d05b31e04dd7f
		{XXHASH128, "the object data", "MXqrLVobrQkTBf82+7i9AQ=="},
		{XXHASH128, string(longInput()), "bqFmKQuKLxNgscCuMehP7w=="},
	}
	for _, tc := range tests {
		name := tc.algo + "/" + tc.input
		if len(name) > 40 {
			name = name[:40]
		}
		t.Run(name, func(t *testing.T) {
			if got := sumOf(t, tc.algo, []byte(tc.input)); got != tc.want {
				t.Errorf("hash: got %s want %s", got, tc.want)
			}
			if !ValidEncoded(tc.algo, tc.want) {
				t.Errorf("ValidEncoded refuses %s", tc.want)
			}
			// The same value through a Reader, the input handed out in odd pieces, as
			// the declared checksum (verified) and as an undeclared one (Also).
			for _, exp := range []Expect{
				{Size: int64(len(tc.input)), Algorithm: tc.algo, Checksum: func() (string, bool) { return tc.want, true }},
				{Size: -1, Also: []string{tc.algo}},
			} {
				r, err := NewReader(&pieces{r: bytes.NewReader([]byte(tc.input)), n: 7}, exp)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := io.Copy(io.Discard, r); err != nil {
					t.Fatal(err)
				}
				if got := r.Sums().Checksums[tc.algo]; got != tc.want {
					t.Errorf("reader (%+v): got %s want %s", exp.Also, got, tc.want)
				}
			}
		})
	}
}

func TestNormalizeAndSize(t *testing.T) {
	for _, a := range Algorithms() {
		n, err := Normalize(" " + string(bytes.ToLower([]byte(a))) + " ")
		if err != nil || n != a {
			t.Errorf("Normalize(%s) = %q, %v", a, n, err)
		}
		h, err := New(a)
		if err != nil || h.Size() != Size(a) {
			t.Errorf("%s: New %v, hash size %d, Size %d", a, err, h.Size(), Size(a))
		}
		if FullObjectCapable(a) != (a == CRC32 || a == CRC32C || a == CRC64NVME) {
			t.Errorf("%s: FullObjectCapable %v", a, FullObjectCapable(a))
		}
	}
	for _, bad := range []string{"", "CRC16", "XXHASH32", "SHA384"} {
		if _, err := Normalize(bad); !errors.Is(err, ErrUnknownAlgorithm) {
			t.Errorf("Normalize(%q): %v", bad, err)
		}
		if ValidEncoded(bad, "") {
			t.Errorf("ValidEncoded(%q, \"\")", bad)
		}
	}
	for _, tc := range []struct {
		algo, v string
		ok      bool
	}{
		{XXHASH64, "70bbN1HY6Zk=", true},
		{XXHASH64, "maoG0wFHmNhgAcMkRo1Jfw==", false}, // 16 bytes
		{MD5, "maoG0wFHmNhgAcMkRo1Jfw==", true},
		{SHA512, "invalid_base64!", false},
		{CRC32, "", false},
	} {
		if got := ValidEncoded(tc.algo, tc.v); got != tc.ok {
			t.Errorf("ValidEncoded(%s, %q) = %v", tc.algo, tc.v, got)
		}
	}
}

// TestReaderComputesSeveral: a declared checksum and further ones computed in the same
// pass, with MD5 and SHA256 taken from the ETag and content hashes.
func TestReaderComputesSeveral(t *testing.T) {
	data := make([]byte, 200_001)
	rand.New(rand.NewSource(7)).Read(data)
	want := map[string]string{}
	for _, a := range Algorithms() {
		want[a] = sumOf(t, a, data)
	}
	r, err := NewReader(bytes.NewReader(data), Expect{Size: int64(len(data)), Algorithm: XXHASH3,
		Checksum: func() (string, bool) { return want[XXHASH3], true }, Also: []string{CRC64NVME, MD5, SHA256, SHA512, XXHASH3}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, r); err != nil {
		t.Fatal(err)
	}
	s := r.Sums()
	if s.Checksum != want[XXHASH3] || len(s.Checksums) != 5 {
		t.Fatalf("sums %+v", s.Checksums)
	}
	for a, v := range s.Checksums {
		if v != want[a] {
			t.Errorf("%s: %s want %s", a, v, want[a])
		}
	}
	if base64.StdEncoding.EncodeToString(s.MD5[:]) != want[MD5] {
		t.Error("MD5 differs from the MD5 checksum")
	}
}

// TestReaderDeclaredChecksumValue: a declared value that is not a checksum of its
// algorithm at all (a trailer's: headers are checked before the body) is told apart
// from a well-formed value that does not match.
func TestReaderDeclaredChecksumValue(t *testing.T) {
	body := []byte("dummy data")
	for _, tc := range []struct {
		algo, v string
		kind    Kind
	}{
		{SHA512, "invalid", KindChecksumValue},
		{XXHASH128, "70bbN1HY6Zk=", KindChecksumValue}, // an XXHASH64-sized value
		{XXHASH64, "70bbN1HY6Zk=", KindChecksum},
		{MD5, base64.StdEncoding.EncodeToString(make([]byte, 16)), KindChecksum},
	} {
		r, err := NewReader(bytes.NewReader(body), Expect{Size: -1, Algorithm: tc.algo, Checksum: func() (string, bool) { return tc.v, true }})
		if err != nil {
			t.Fatal(err)
		}
		_, err = io.Copy(io.Discard, r)
		var mm *MismatchError
		if !errors.As(err, &mm) || mm.Kind != tc.kind || mm.Algorithm != tc.algo {
			t.Errorf("%s %q: %v, want kind %d", tc.algo, tc.v, err, tc.kind)
		}
	}
}
