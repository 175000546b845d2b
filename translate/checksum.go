package translate

import (
	"encoding/base64"

	"s3proxy/dedup/digest"
)

// NormalizeChecksumAlgorithm returns S3's spelling of a checksum algorithm name.
func NormalizeChecksumAlgorithm(a string) (string, error) { return digest.Normalize(a) }

// ValidChecksum reports whether v is a well-formed base64 digest for algo.
func ValidChecksum(algo, v string) bool { return digest.ValidEncoded(algo, v) }

// ChecksumOf returns the base64 checksum of data under algo (a normalized name), for
// small bodies read whole (XML documents).
func ChecksumOf(algo string, data []byte) (string, error) {
	h, err := digest.New(algo)
	if err != nil {
		return "", err
	}
	_, _ = h.Write(data)
	return base64.StdEncoding.EncodeToString(h.Sum(nil)), nil
}
