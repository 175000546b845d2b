package translate

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"testing"

	"s3proxy/dedup/digest"
	"s3proxy/meta"
)

// wantErr checks an error's S3 code and message ("" code: no error).
func wantErr(t *testing.T, name string, err error, code, msg string) {
	t.Helper()
	if code == "" {
		if err != nil {
			t.Errorf("%s: unexpected %v", name, err)
		}
		return
	}
	var te *Error
	if !errors.As(err, &te) || te.Code != code || (msg != "" && te.Message != msg) {
		t.Errorf("%s: got %v, want %s %q", name, err, code, msg)
	}
}

func TestUploadChecksum(t *testing.T) {
	tests := []struct {
		algo, typ         string
		wantAlgo, wantTyp string
		code, msg         string
	}{
		{"", "", "", "", "", ""},
		{"crc32", "", "CRC32", ChecksumComposite, "", ""},
		{"CRC32", "full_object", "CRC32", ChecksumFullObject, "", ""},
		{"CRC32C", "FULL_OBJECT", "CRC32C", ChecksumFullObject, "", ""},
		{"CRC64NVME", "", "CRC64NVME", ChecksumFullObject, "", ""},
		{"SHA1", "", "SHA1", ChecksumComposite, "", ""},
		{"MD5", "", "MD5", ChecksumComposite, "", ""},
		{"Sha512", "Composite", "SHA512", ChecksumComposite, "", ""},
		{"XXHASH64", "", "XXHASH64", ChecksumComposite, "", ""},
		{"xxhash3", "COMPOSITE", "XXHASH3", ChecksumComposite, "", ""},
		{"XXHASH128", "", "XXHASH128", ChecksumComposite, "", ""},
		// What S3 refuses, with its messages.
		{"CRC64NVME", "COMPOSITE", "", "", CodeInvalidRequest, "The COMPOSITE checksum type cannot be used with the crc64nvme checksum algorithm."},
		{"SHA256", "FULL_OBJECT", "", "", CodeInvalidRequest, "The FULL_OBJECT checksum type cannot be used with the sha256 checksum algorithm."},
		{"MD5", "FULL_OBJECT", "", "", CodeInvalidRequest, "The FULL_OBJECT checksum type cannot be used with the md5 checksum algorithm."},
		{"XXHASH128", "FULL_OBJECT", "", "", CodeInvalidRequest, "The FULL_OBJECT checksum type cannot be used with the xxhash128 checksum algorithm."},
		{"SHA512", "FULL_OBJECT", "", "", CodeInvalidRequest, "The FULL_OBJECT checksum type cannot be used with the sha512 checksum algorithm."},
		{"CRC32", "INVALID", "", "", CodeInvalidRequest, "Value for x-amz-checksum-type header is invalid."},
		{"", "invalid_checksum_type", "", "", CodeInvalidRequest, "Value for x-amz-checksum-type header is invalid."},
		{"", "COMPOSITE", "", "", CodeInvalidRequest, "The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header."},
		{"BOGUS", "", "", "", CodeInvalidRequest, "Checksum algorithm provided is unsupported. Please try again with any of the valid types: [CRC32, CRC32C, CRC64NVME, MD5, SHA1, SHA256, SHA512, XXHASH128, XXHASH3, XXHASH64]"},
	}
	for _, tc := range tests {
		algo, typ, err := uploadChecksum(tc.algo, tc.typ)
		name := tc.algo + "/" + tc.typ
		wantErr(t, name, err, tc.code, tc.msg)
		if tc.code == "" && (algo != tc.wantAlgo || typ != tc.wantTyp) {
			t.Errorf("%s: got %s/%s", name, algo, typ)
		}
	}
}

func TestPartChecksum(t *testing.T) {
	none := meta.Upload{}
	composite := meta.Upload{ChecksumAlgo: digest.XXHASH64, ChecksumType: ChecksumComposite}
	full := meta.Upload{ChecksumAlgo: digest.CRC32C, ChecksumType: ChecksumFullObject}
	tests := []struct {
		name           string
		u              meta.Upload
		declared       string
		keep, shown    string
		computed, code string
		msg            string
	}{
		// An upload without an algorithm: a part keeps the default CRC64NVME (for the
		// object's), verifies and shows whatever its client declared.
		{"none, nothing declared", none, "", digest.CRC64NVME, "", digest.CRC64NVME, "", ""},
		{"none, CRC32 declared", none, digest.CRC32, digest.CRC64NVME, digest.CRC32, digest.CRC32, "", ""},
		{"none, SHA512 declared", none, digest.SHA512, digest.CRC64NVME, digest.SHA512, digest.SHA512, "", ""},
		{"composite, same", composite, digest.XXHASH64, digest.XXHASH64, digest.XXHASH64, digest.XXHASH64, "", ""},
		{"composite, nothing declared", composite, "", "", "", "", CodeInvalidRequest,
			"Checksum Type mismatch occurred, expected checksum Type: xxhash64, actual checksum Type: null"},
		{"composite, other", composite, digest.SHA256, "", "", "", CodeInvalidRequest,
			"Checksum Type mismatch occurred, expected checksum Type: xxhash64, actual checksum Type: sha256"},
		// A FULL_OBJECT upload computes its CRC for a part that declared none.
		{"full, nothing declared", full, "", digest.CRC32C, digest.CRC32C, digest.CRC32C, "", ""},
		{"full, other", full, digest.CRC32, "", "", "", CodeInvalidRequest,
			"Checksum Type mismatch occurred, expected checksum Type: crc32c, actual checksum Type: crc32"},
	}
	for _, tc := range tests {
		b := Body{ChecksumAlgorithm: tc.declared}
		keep, shown, err := partChecksum(tc.u, &b)
		wantErr(t, tc.name, err, tc.code, tc.msg)
		if tc.code == "" && (keep != tc.keep || shown != tc.shown || b.ChecksumAlgorithm != tc.computed) {
			t.Errorf("%s: keep %s shown %s verified %s", tc.name, keep, shown, b.ChecksumAlgorithm)
		}
	}
}

func TestCompleteChecksumRules(t *testing.T) {
	none := meta.Upload{}
	composite := meta.Upload{ChecksumAlgo: digest.SHA1, ChecksumType: ChecksumComposite}
	full := meta.Upload{ChecksumAlgo: digest.CRC32, ChecksumType: ChecksumFullObject}
	for _, tc := range []struct {
		name      string
		u         meta.Upload
		typ, algo string
		code, msg string
	}{
		{"none, nothing", none, "", "", "", ""},
		{"none, legacy checksum ignored", none, "", digest.SHA256, "", ""},
		{"none, default checksum ignored", none, "", digest.CRC64NVME, "", ""},
		{"none, new checksum refused", none, "", digest.MD5, CodeInvalidRequest,
			"Checksum Type mismatch occurred, expected checksum Type: null, actual checksum Type: md5"},
		{"same type", full, ChecksumFullObject, digest.CRC32, "", ""},
		{"other type", full, ChecksumComposite, "", CodeInvalidRequest,
			"The upload was created using the FULL_OBJECT checksum mode. The complete request must use the same checksum mode."},
		{"other algorithm", composite, "", digest.XXHASH3, CodeInvalidRequest,
			"Checksum Type mismatch occurred, expected checksum Type: sha1, actual checksum Type: xxhash3"},
	} {
		wantErr(t, tc.name, checkCompleteChecksum(tc.u, tc.typ, tc.algo), tc.code, tc.msg)
	}

	part := meta.Part{Number: 1, Checksums: map[string]string{digest.SHA1: "2jmj7l5rSw0yVb/vlWAYkK/YBwk="}}
	for _, tc := range []struct {
		name      string
		u         meta.Upload
		listed    map[string]string
		code, msg string
	}{
		{"listed and equal", composite, map[string]string{digest.SHA1: "2jmj7l5rSw0yVb/vlWAYkK/YBwk="}, "", ""},
		{"listed and different", composite, map[string]string{digest.SHA1: "Kq5sNclPz7QV2+lfQIuc6R7oRu0="}, CodeInvalidPart, ""},
		{"missing from a composite upload", composite, nil, CodeInvalidRequest,
			"The upload was created using a sha1 checksum. The complete request must include the checksum for each part. It was missing for part 1 in the request."},
		{"another algorithm", composite, map[string]string{digest.SHA256: "n2alat9FhKiZXkZO18V2LLcZFM3IT8R7DjSMvK//7WU="}, CodeBadDigest,
			"The sha256 you specified for part 1 did not match what we received."},
		{"optional for full object", full, nil, "", ""},
		// An upload without an algorithm keeps only its default checksum of a part.
		{"not kept", none, map[string]string{digest.SHA512: "z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKHfuwvY7kxvUdBeoGlODJ6+SfaPg=="}, CodeInvalidPart, ""},
	} {
		err := checkPartChecksums(tc.u, CompletePart{PartNumber: 1, Checksums: tc.listed}, part)
		wantErr(t, tc.name, err, tc.code, tc.msg)
	}
}

func TestValidObjectChecksum(t *testing.T) {
	for _, tc := range []struct {
		algo, v string
		ok      bool
	}{
		{digest.CRC32, "ImIEBA==", true},
		{digest.CRC32, "ImIEBA==-3", true},
		{digest.CRC32, "ImIEBA==-smth", false},
		{digest.CRC32C, "AQIDBA==-12a", false},
		{digest.SHA1, "2jmj7l5rSw0yVb/vlWAYkK/YBwk=-10-20", false},
		{digest.SHA256, "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=--3", false},
		{digest.XXHASH64, "70bbN1HY6Zk=-10000", true},
		{digest.XXHASH64, "70bbN1HY6Zk=-", false},
		{digest.MD5, "invalid_checksum", false},
	} {
		if got := ValidObjectChecksum(tc.algo, tc.v); got != tc.ok {
			t.Errorf("ValidObjectChecksum(%s, %q) = %v", tc.algo, tc.v, got)
		}
	}
}

// TestKnownChecksums: what is known of content without reading it, and what a
// request's declared checksum can be proven equal to.
func TestKnownChecksums(t *testing.T) {
	content := []byte("known content")
	sha := sha256.Sum256(content)
	md := md5.Sum(content)
	b64 := base64.StdEncoding.EncodeToString
	single := meta.Object{ETag: hex.EncodeToString(md[:]), SHA256: sha[:], ChecksumType: ChecksumFullObject,
		Checksums: map[string]string{digest.CRC64NVME: "default="}}
	composite := meta.Object{ETag: "abc-2", Parts: []meta.Part{{Number: 1}, {Number: 2}}, ChecksumType: ChecksumComposite,
		Checksums: map[string]string{digest.SHA1: "composite=-2"}}
	for _, tc := range []struct {
		name string
		o    meta.Object
		algo string
		want string
	}{
		{"content hash", single, digest.SHA256, b64(sha[:])},
		{"single-part ETag", single, digest.MD5, b64(md[:])},
		{"recorded", single, digest.CRC64NVME, "default="},
		{"unknown", single, digest.XXHASH3, ""},
		{"composite is not the content's", composite, digest.SHA1, ""},
		{"multipart ETag is not an MD5", composite, digest.MD5, ""},
	} {
		if got := objectChecksum(tc.o, tc.algo); got != tc.want {
			t.Errorf("%s: %q want %q", tc.name, got, tc.want)
		}
	}

	known := map[string]string{digest.CRC32: "AAAAAA=="}
	for _, tc := range []struct {
		name     string
		b        Body
		also     []string
		want     map[string]string
		provable bool
	}{
		{"nothing declared", Body{}, nil, nil, true},
		{"declared and known", Body{ChecksumAlgorithm: digest.CRC32, ChecksumHeader: "AAAAAA=="}, nil, map[string]string{digest.CRC32: "AAAAAA=="}, true},
		{"declared, differs", Body{ChecksumAlgorithm: digest.CRC32, ChecksumHeader: "AAAAAQ=="}, nil, nil, false},
		{"declared, unknown", Body{ChecksumAlgorithm: digest.XXHASH64, ChecksumHeader: "70bbN1HY6Zk="}, nil, nil, false},
		{"content hash", Body{ChecksumAlgorithm: digest.SHA256, ChecksumHeader: b64(sha[:])}, []string{digest.MD5},
			map[string]string{digest.SHA256: b64(sha[:]), digest.MD5: b64(md[:])}, true},
		{"also unknown", Body{}, []string{digest.CRC64NVME}, nil, false},
	} {
		got, ok := tc.b.provenChecksums(sha, md[:], known, tc.also...)
		if ok != tc.provable || len(got) != len(tc.want) {
			t.Errorf("%s: %v %v", tc.name, got, ok)
			continue
		}
		for a, v := range tc.want {
			if got[a] != v {
				t.Errorf("%s: %s = %s want %s", tc.name, a, got[a], v)
			}
		}
	}
}
