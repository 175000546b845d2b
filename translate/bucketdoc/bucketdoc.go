// Package bucketdoc is the stored form of a bucket configuration document (lifecycle
// rules, CORS rules, tags): its JSON object with a version number "v" added, so that a
// later change of a document's JSON can still read what is stored.
package bucketdoc

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Version is the version of every document this build writes and reads.
const Version = 1

// Encode returns the stored form of v, which must encode as a JSON object: that object
// with "v" first.
func Encode(kind string, v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("%s: encode: %w", kind, err)
	}
	if len(b) < 2 || b[0] != '{' {
		return "", fmt.Errorf("%s: encode: %T is not a JSON object", kind, v)
	}
	head := fmt.Sprintf(`{"v":%d`, Version)
	if bytes.Equal(b, []byte("{}")) {
		return head + "}", nil
	}
	return head + "," + string(b[1:]), nil
}

// Decode reads a stored document into v, refusing one of another version.
func Decode(kind, s string, v any) error {
	var hdr struct {
		Version int `json:"v"`
	}
	if err := json.Unmarshal([]byte(s), &hdr); err != nil {
		return fmt.Errorf("%s: decode: %w", kind, err)
	}
	if hdr.Version != Version {
		return fmt.Errorf("%s: stored document has version %d, this build reads %d", kind, hdr.Version, Version)
	}
	if err := json.Unmarshal([]byte(s), v); err != nil {
		return fmt.Errorf("%s: decode: %w", kind, err)
	}
	return nil
}
