package translate

import "s3proxy/dedup/digest"

// NormalizeChecksumAlgorithm returns S3's spelling of a checksum algorithm name.
func NormalizeChecksumAlgorithm(a string) (string, error) { return digest.Normalize(a) }

// ValidChecksum reports whether v is a well-formed base64 digest for algo.
func ValidChecksum(algo, v string) bool { return digest.ValidEncoded(algo, v) }
