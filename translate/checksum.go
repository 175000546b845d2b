package translate

import (
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"strings"

	"s3proxy/dedup/digest"
	"s3proxy/meta"
)

// S3's checksum types.
const (
	ChecksumFullObject = "FULL_OBJECT"
	ChecksumComposite  = "COMPOSITE"
)

// ChecksumAlgorithms returns the supported checksum algorithms, in S3's order.
func ChecksumAlgorithms() []string { return digest.Algorithms() }

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

// ValidObjectChecksum reports whether v is a well-formed whole-object checksum a
// CompleteMultipartUpload may declare: a digest, or for a composite checksum a digest
// followed by "-" and the part count.
func ValidObjectChecksum(algo, v string) bool {
	d, n, ok := strings.Cut(v, "-")
	if ok {
		if _, err := strconv.ParseUint(n, 10, 16); err != nil {
			return false
		}
	}
	return digest.ValidEncoded(algo, d)
}

// UnsupportedChecksumAlgorithm is S3's answer to an x-amz-checksum-algorithm it does
// not know, listing the valid ones.
func UnsupportedChecksumAlgorithm() *Error {
	return errorf(CodeInvalidRequest, "Checksum algorithm provided is unsupported. Please try again with any of the valid types: [%s]",
		strings.Join(digest.Algorithms(), ", "))
}

// checksumTypeMismatch is S3's answer to a part (or a Complete) whose checksum
// algorithm is not the upload's; S3 names both in lower case, "null" for none.
func checksumTypeMismatch(want, got string) *Error {
	return errorf(CodeInvalidRequest, "Checksum Type mismatch occurred, expected checksum Type: %s, actual checksum Type: %s",
		lowerOrNull(want), lowerOrNull(got))
}

func lowerOrNull(algo string) string {
	if algo == "" {
		return "null"
	}
	return strings.ToLower(algo)
}

// legacyChecksum reports the algorithms S3 had before MD5, SHA512 and the xxHash family:
// a CompleteMultipartUpload of an upload created without an algorithm ignores an
// object checksum of these, and refuses one of the newer ones.
func legacyChecksum(algo string) bool {
	switch algo {
	case digest.CRC32, digest.CRC32C, digest.CRC64NVME, digest.SHA1, digest.SHA256:
		return true
	}
	return false
}

// knownChecksum returns content's checksum of algo when it is known without reading
// the data: the content hash (SHA256), the MD5 (for a single-part object, its ETag),
// or a recorded value; "" when the content must be read.
func knownChecksum(algo string, sha256 []byte, md5 []byte, recorded map[string]string) string {
	switch {
	case algo == digest.SHA256 && len(sha256) == 32:
		return base64.StdEncoding.EncodeToString(sha256)
	case algo == digest.MD5 && len(md5) == 16:
		return base64.StdEncoding.EncodeToString(md5)
	}
	return recorded[algo]
}

// objectChecksum returns an object's checksum of algo for its whole content when it is
// known without reading the data ("" otherwise): a composite value is not one.
func objectChecksum(o meta.Object, algo string) string {
	md5 := o.MD5
	if len(o.Parts) == 0 {
		md5, _ = hex.DecodeString(o.ETag)
	}
	var recorded map[string]string
	if o.ChecksumType == ChecksumFullObject || len(o.Parts) == 0 {
		recorded = o.Checksums
	}
	return knownChecksum(algo, o.SHA256, md5, recorded)
}
