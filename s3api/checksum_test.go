package s3api

import (
	"net/http"
	"testing"

	"s3proxy/s3api/s3err"
	"s3proxy/s3api/sigv4"
)

// TestBodyFromChecksums: which checksum an upload declares, from its headers and
// x-amz-trailer, and S3's answers to what it refuses.
func TestBodyFromChecksums(t *testing.T) {
	const unknownAlgo = "The algorithm type you specified in x-amz-checksum- header is invalid."
	const multiple = "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed."
	tests := []struct {
		name     string
		hdr      map[string][]string
		trailers []string
		algo     string // declared algorithm when accepted
		header   string // its value, when in a header
		code     s3err.Code
		msg      string
	}{
		{"none", nil, nil, "", "", "", ""},
		{"xxhash64 header", map[string][]string{"X-Amz-Checksum-Xxhash64": {"70bbN1HY6Zk="}}, nil, "XXHASH64", "70bbN1HY6Zk=", "", ""},
		{"sha512 trailer", map[string][]string{"X-Amz-Sdk-Checksum-Algorithm": {"sha512"}}, []string{"x-amz-checksum-sha512"}, "SHA512", "", "", ""},
		{"sdk algorithm matches", map[string][]string{"X-Amz-Sdk-Checksum-Algorithm": {"MD5"}, "X-Amz-Checksum-Md5": {"1B2M2Y8AsgTpgAmY7PhCfg=="}}, nil, "MD5", "1B2M2Y8AsgTpgAmY7PhCfg==", "", ""},
		{"type, mode and algorithm are not checksums", map[string][]string{"X-Amz-Checksum-Type": {"COMPOSITE"}, "X-Amz-Checksum-Mode": {"ENABLED"},
			"X-Amz-Checksum-Algorithm": {"SHA256"}}, nil, "", "", "", ""},
		{"sdk algorithm differs", map[string][]string{"X-Amz-Sdk-Checksum-Algorithm": {"CRC32"}, "X-Amz-Checksum-Crc32c": {"AAAAAA=="}}, nil, "", "",
			s3err.InvalidRequest, "Value for x-amz-sdk-checksum-algorithm header is invalid."},
		{"sdk algorithm differs from the trailer's", map[string][]string{"X-Amz-Sdk-Checksum-Algorithm": {"CRC32"}}, []string{"x-amz-checksum-xxhash3"}, "", "",
			s3err.InvalidRequest, "Value for x-amz-sdk-checksum-algorithm header is invalid."},
		{"sdk algorithm alone", map[string][]string{"X-Amz-Sdk-Checksum-Algorithm": {"XXHASH128"}}, nil, "", "",
			s3err.InvalidRequest, "x-amz-sdk-checksum-algorithm specified, but no corresponding x-amz-checksum-* or x-amz-trailer headers were found."},
		{"unknown algorithm", map[string][]string{"X-Amz-Checksum-Crc16": {"AAA="}}, nil, "", "", s3err.InvalidRequest, unknownAlgo},
		{"two headers", map[string][]string{"X-Amz-Checksum-Sha1": {"Kq5sNclPz7QV2+lfQIuc6R7oRu0="}, "X-Amz-Checksum-Crc32c": {"m0cB1Q=="}}, nil, "", "",
			s3err.InvalidRequest, multiple},
		{"two empty headers", map[string][]string{"X-Amz-Checksum-Sha1": {""}, "X-Amz-Checksum-Crc32c": {""}}, nil, "", "", s3err.InvalidRequest, multiple},
		{"header and trailer", map[string][]string{"X-Amz-Checksum-Crc32": {"NhCmhg=="}}, []string{"x-amz-checksum-crc64nvme"}, "", "", s3err.InvalidRequest, multiple},
		{"two trailers", nil, []string{"x-amz-checksum-crc32", "x-amz-checksum-md5"}, "", "", s3err.InvalidRequest, multiple},
		{"unknown trailer", nil, []string{"x-amz-checksum-crc16"}, "", "", s3err.InvalidRequest, "The value specified in the x-amz-trailer header is not supported"},
		{"same header twice", map[string][]string{"X-Amz-Checksum-Crc32": {"NhCmhg==", "AAAAAA=="}}, nil, "", "", s3err.InvalidArgument, "Only one value may be specified."},
		{"empty value", map[string][]string{"X-Amz-Checksum-Crc32": {""}}, nil, "", "", s3err.InvalidRequest, "Value for x-amz-checksum-crc32 header is invalid."},
		{"wrong size", map[string][]string{"X-Amz-Checksum-Xxhash128": {"70bbN1HY6Zk="}}, nil, "", "", s3err.InvalidRequest, "Value for x-amz-checksum-xxhash128 header is invalid."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := bodyFrom(http.Header(tc.hdr), &sigv4.Auth{Body: http.NoBody, TrailerNames: tc.trailers, Trailer: func() http.Header { return nil }})
			if tc.code != "" {
				e := s3err.As(err)
				if e == nil || e.Code != tc.code || e.Msg() != tc.msg {
					t.Fatalf("got %v, want %s %q", err, tc.code, tc.msg)
				}
				return
			}
			if err != nil || b.ChecksumAlgorithm != tc.algo || b.ChecksumHeader != tc.header {
				t.Fatalf("got %q %q %v", b.ChecksumAlgorithm, b.ChecksumHeader, err)
			}
		})
	}
}

// TestBodyFromSignedChunks: only an aws-chunked body whose chunks are signed counts as
// signed (Object Lock takes it in place of a Content-MD5); an unsigned-trailer one does not.
func TestBodyFromSignedChunks(t *testing.T) {
	for _, tc := range []struct {
		mode    string
		chunked bool
		want    bool
	}{
		{sigv4.StreamingSigned, true, true},
		{sigv4.StreamingSignedTrailer, true, true},
		{"STREAMING-UNSIGNED-PAYLOAD-TRAILER", true, false},
		{"UNSIGNED-PAYLOAD", false, false},
	} {
		b, err := bodyFrom(http.Header{}, &sigv4.Auth{Body: http.NoBody, ContentSHA256: tc.mode, Chunked: tc.chunked, Trailer: func() http.Header { return nil }})
		if err != nil || b.SignedChunks != tc.want {
			t.Errorf("%s: SignedChunks %v, want %v (%v)", tc.mode, b.SignedChunks, tc.want, err)
		}
	}
}

// TestPartChecksumsOfComplete: the checksum a CompleteMultipartUpload lists per part.
func TestPartChecksumsOfComplete(t *testing.T) {
	for _, tc := range []struct {
		name  string
		f     checksumFields
		value string // ArgumentValue of the refusal, "" accepted
	}{
		{"none", checksumFields{}, ""},
		{"one", checksumFields{ChecksumXXHASH3: "WkDcP9RMBS8="}, ""},
		{"malformed", checksumFields{ChecksumCRC32: "invalid_checksum"}, "invalid_checksum"},
		{"two", checksumFields{ChecksumCRC32: "NhCmhg==", ChecksumSHA1: "Kq5sNclPz7QV2+lfQIuc6R7oRu0="}, "CRC32:NhCmhg==;SHA1:Kq5sNclPz7QV2+lfQIuc6R7oRu0=;"},
	} {
		m, err := tc.f.partChecksums()
		if tc.value == "" {
			if err != nil || len(m) != len(tc.f.toMap()) {
				t.Errorf("%s: %v %v", tc.name, m, err)
			}
			continue
		}
		e := s3err.As(err)
		if e == nil || e.Code != s3err.InvalidArgument || e.Extra["ArgumentName"] != "Checksum" || e.Extra["ArgumentValue"] != tc.value {
			t.Errorf("%s: %v %+v", tc.name, err, e)
		}
	}
}
