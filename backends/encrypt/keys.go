package encrypt

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// KeySize is the size of a master key: AES-256.
const KeySize = 32

// maxKeyID bounds a key id: it is stored in a fixed-width header field.
const maxKeyID = 16

var validKeyID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,15}$`)

// Key is one master key and the id blobs written with it record in their header.
type Key struct {
	ID     string
	Secret [KeySize]byte
}

// String never prints the secret (a key in a log line is a key given away).
func (k Key) String() string { return "encrypt.Key{ID:" + k.ID + " Secret:REDACTED}" }

// GoString keeps %#v from bypassing String.
func (k Key) GoString() string { return k.String() }

// ErrBadKey reports an unusable key definition (never quoting the key material).
var ErrBadKey = errors.New("encrypt: bad key")

// ParseKeys reads key definitions, one per line or separated by commas or semicolons
// (an environment variable holds one line): "id:key", where the key is 32 bytes written
// as 64 hex digits or as base64 (standard or URL alphabet, padded or not). Blank lines
// and lines starting with # are ignored. source names where the text came from, for
// errors. The order is kept: the last key is the one new blobs are written with.
func ParseKeys(source, text string) ([]Key, error) {
	var keys []Key
	fields := strings.FieldsFunc(text, func(r rune) bool { return r == '\n' || r == ',' || r == ';' })
	for i, f := range fields {
		f = strings.TrimSpace(f)
		if f == "" || strings.HasPrefix(f, "#") {
			continue
		}
		id, material, ok := strings.Cut(f, ":")
		id, material = strings.TrimSpace(id), strings.TrimSpace(material)
		if !ok || material == "" {
			return nil, fmt.Errorf("%w: %s entry %d: want id:key (the key as 64 hex digits or base64)", ErrBadKey, source, i+1)
		}
		if !validKeyID.MatchString(id) {
			return nil, fmt.Errorf("%w: %s entry %d: key id %q must be 1 to %d letters, digits, '.', '_' or '-'", ErrBadKey, source, i+1, id, maxKeyID)
		}
		secret, err := decodeKey(material)
		if err != nil {
			return nil, fmt.Errorf("%w: %s key %q: %w", ErrBadKey, source, id, err)
		}
		keys = append(keys, Key{ID: id, Secret: secret})
	}
	return keys, nil
}

func decodeKey(s string) ([KeySize]byte, error) {
	var k [KeySize]byte
	if len(s) == 2*KeySize {
		if b, err := hex.DecodeString(s); err == nil {
			copy(k[:], b)
			return k, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != KeySize {
				return k, fmt.Errorf("decodes to %d bytes, want %d", len(b), KeySize)
			}
			copy(k[:], b)
			return k, nil
		}
	}
	return k, errors.New("neither 64 hex digits nor base64 of 32 bytes")
}

// Keyring holds the master keys of one encrypting store: every key decrypts the blobs
// that name it; the current one encrypts new blobs.
type Keyring struct {
	keys    map[string][KeySize]byte
	current string
}

// NewKeyring builds a keyring; the last key is current. Ids must be unique (two
// secrets under one id would make old blobs undecryptable under one of them).
func NewKeyring(keys []Key) (*Keyring, error) {
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: no key configured", ErrBadKey)
	}
	r := &Keyring{keys: make(map[string][KeySize]byte, len(keys))}
	for _, k := range keys {
		if !validKeyID.MatchString(k.ID) {
			return nil, fmt.Errorf("%w: key id %q", ErrBadKey, k.ID)
		}
		if _, dup := r.keys[k.ID]; dup {
			return nil, fmt.Errorf("%w: key id %q is configured twice", ErrBadKey, k.ID)
		}
		if k.Secret == [KeySize]byte{} {
			return nil, fmt.Errorf("%w: key %q is all zeros", ErrBadKey, k.ID)
		}
		r.keys[k.ID] = k.Secret
		r.current = k.ID
	}
	return r, nil
}

// Current is the id of the key new blobs are written with.
func (r *Keyring) Current() string { return r.current }

// IDs lists the configured key ids (for logs: ids are not secret).
func (r *Keyring) IDs() []string {
	ids := make([]string, 0, len(r.keys))
	for id := range r.keys {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}
