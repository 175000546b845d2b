// Package lifecycle is a bucket's S3 lifecycle configuration as s3proxy keeps it: the
// rules PutBucketLifecycleConfiguration set (parsed and validated by s3api, which owns
// the XML), their JSON form in the metadata store, and the questions the expiration
// worker asks of a rule: does it select this object or upload, and from when is it due.
//
// Ages are S3's: a rule of N days makes an object due at the first midnight UTC after
// its last modification plus N days (S3: "adding the number of days specified in the
// rule to the object creation time and rounding the resulting time to the next day
// midnight UTC"), an upload N days after its initiation, rounded the same way. A rule
// with a Date makes every object it selects due from that midnight on, whenever the
// object was written.
package lifecycle

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"slices"
	"strings"
	"time"

	"s3proxy/translate/bucketdoc"
)

// Kind is the kind of the bucket configuration document (meta.BucketConfig) that holds
// a lifecycle configuration.
const Kind = "lifecycle"

// Rule statuses, as S3 spells them.
const (
	Enabled  = "Enabled"
	Disabled = "Disabled"
)

// Configuration is a bucket's lifecycle configuration.
type Configuration struct {
	Rules []Rule `json:"rules"`
	// TransitionDefaultMinimumObjectSize is the x-amz-transition-default-minimum-object-size
	// the configuration was set with, reported back as S3 does. Nothing transitions here.
	TransitionDefaultMinimumObjectSize string `json:"transition_default_minimum_object_size,omitempty"`
}

// Rule is one lifecycle rule.
type Rule struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Filter Filter `json:"filter"`
	// Form is how the rule's filter was written, so that it reads back as it was set.
	Form Form `json:"form"`

	Expiration                     *Expiration                     `json:"expiration,omitempty"`
	AbortIncompleteMultipartUpload *AbortIncompleteMultipartUpload `json:"abort_incomplete_multipart_upload,omitempty"`
	// NoncurrentVersionExpiration removes noncurrent versions of a versioned bucket
	// (none exist in a bucket never versioned, which accepts the action all the same, as
	// S3 does). Transitions are kept and reported back, and never act: there is one
	// storage class.
	NoncurrentVersionExpiration  *NoncurrentVersionExpiration  `json:"noncurrent_version_expiration,omitempty"`
	NoncurrentVersionTransitions []NoncurrentVersionTransition `json:"noncurrent_version_transitions,omitempty"`
}

// Filter selects objects: all of its predicates must hold (an empty filter selects
// every object).
type Filter struct {
	Prefix string `json:"prefix,omitempty"`
	// Tags must all be among the object's tags with equal values (an empty value
	// selects an object whose tag has an empty value).
	Tags            []Tag  `json:"tags,omitempty"`
	SizeGreaterThan *int64 `json:"size_greater_than,omitempty"` // ObjectSizeGreaterThan: size > this
	SizeLessThan    *int64 `json:"size_less_than,omitempty"`    // ObjectSizeLessThan: size < this
}

// Tag is a key and value an object must carry.
type Tag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Form records the XML form of a rule's filter.
type Form struct {
	LegacyPrefix bool `json:"legacy_prefix,omitempty"` // the deprecated rule-level <Prefix>
	And          bool `json:"and,omitempty"`           // predicates inside <And>
	Prefix       bool `json:"prefix,omitempty"`        // a <Prefix> element in the filter, maybe empty
}

// Expiration is the action on current objects: after Days, from Date; or the removal
// of expired delete markers (a delete marker that is its key's only version).
type Expiration struct {
	Days                      int       `json:"days,omitempty"`
	Date                      time.Time `json:"date,omitzero"`
	ExpiredObjectDeleteMarker *bool     `json:"expired_object_delete_marker,omitempty"`
}

// AbortIncompleteMultipartUpload aborts uploads DaysAfterInitiation after they began.
type AbortIncompleteMultipartUpload struct {
	DaysAfterInitiation int `json:"days_after_initiation"`
}

// NoncurrentVersionExpiration removes a version NoncurrentDays after it became
// noncurrent, keeping the NewerNoncurrentVersions newest noncurrent versions whatever
// their age.
type NoncurrentVersionExpiration struct {
	NoncurrentDays          int `json:"noncurrent_days,omitempty"`
	NewerNoncurrentVersions int `json:"newer_noncurrent_versions,omitempty"`
}

// NoncurrentVersionTransition is kept and reported; it never acts (see Rule).
type NoncurrentVersionTransition struct {
	NoncurrentDays          int    `json:"noncurrent_days,omitempty"`
	NewerNoncurrentVersions int    `json:"newer_noncurrent_versions,omitempty"`
	StorageClass            string `json:"storage_class"`
}

// Encode returns the stored form of c.
func (c Configuration) Encode() (string, error) { return bucketdoc.Encode("lifecycle", c) }

// Decode reads a stored configuration.
func Decode(s string) (Configuration, error) {
	var c Configuration
	err := bucketdoc.Decode("lifecycle", s, &c)
	return c, err
}

// NewRuleID returns an ID for a rule set without one, shaped as S3's generated IDs are
// (the base64 of a random UUID's text: 48 characters).
func NewRuleID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	h := hex.EncodeToString(b[:])
	uuid := h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
	return base64.StdEncoding.EncodeToString([]byte(uuid))
}

// Active reports whether the rule is enabled.
func (r Rule) Active() bool { return r.Status == Enabled }

// Expires reports whether the rule expires current objects (Days or Date), the one
// action on objects s3proxy carries out.
func (r Rule) Expires() bool {
	return r.Active() && r.Expiration != nil && (r.Expiration.Days > 0 || !r.Expiration.Date.IsZero())
}

// ExpiresNoncurrent reports whether the rule removes noncurrent versions.
func (r Rule) ExpiresNoncurrent() bool {
	return r.Active() && r.NoncurrentVersionExpiration != nil && r.NoncurrentVersionExpiration.NoncurrentDays > 0
}

// NoncurrentExpiresAt returns when a version that became noncurrent at since, with
// newer noncurrent versions of its key newer than it, becomes due under the rule's
// NoncurrentVersionExpiration (ok is false when the rule keeps it whatever its age).
func (r Rule) NoncurrentExpiresAt(since time.Time, newer int) (time.Time, bool) {
	if !r.ExpiresNoncurrent() || newer < r.NoncurrentVersionExpiration.NewerNoncurrentVersions {
		return time.Time{}, false
	}
	return DueAfter(since, r.NoncurrentVersionExpiration.NoncurrentDays), true
}

// RemovesExpiredMarkers reports whether the rule removes expired delete markers.
func (r Rule) RemovesExpiredMarkers() bool {
	return r.Active() && r.Expiration != nil && r.Expiration.ExpiredObjectDeleteMarker != nil && *r.Expiration.ExpiredObjectDeleteMarker
}

// Aborts reports whether the rule aborts incomplete multipart uploads.
func (r Rule) Aborts() bool {
	return r.Active() && r.AbortIncompleteMultipartUpload != nil && r.AbortIncompleteMultipartUpload.DaysAfterInitiation > 0
}

// ExpiresAt returns when an object last modified at mod becomes due under the rule's
// Expiration (ok is false when the rule does not expire objects).
func (r Rule) ExpiresAt(mod time.Time) (time.Time, bool) {
	if !r.Expires() {
		return time.Time{}, false
	}
	if !r.Expiration.Date.IsZero() {
		return r.Expiration.Date, true
	}
	return DueAfter(mod, r.Expiration.Days), true
}

// AbortsAt returns when an upload initiated at t becomes due under the rule's
// AbortIncompleteMultipartUpload (ok is false when the rule aborts nothing).
func (r Rule) AbortsAt(t time.Time) (time.Time, bool) {
	if !r.Aborts() {
		return time.Time{}, false
	}
	return DueAfter(t, r.AbortIncompleteMultipartUpload.DaysAfterInitiation), true
}

// DueAfter is S3's age rule: t plus days, rounded up to the next midnight UTC. An
// object written at 10:30 UTC on 15 January under a 3-day rule is due at 00:00 UTC on 19
// January, and so is one written at 00:00 on 15 January: whatever the hour, the day an
// object was written is its first day.
func DueAfter(t time.Time, days int) time.Time {
	t = t.UTC()
	midnight := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	return midnight.AddDate(0, 0, days+1)
}

// NeedsTags reports whether the filter looks at an object's tags (which a listing does
// not carry).
func (f Filter) NeedsTags() bool { return len(f.Tags) > 0 }

// SelectsKeySize reports whether the filter's prefix and size bounds admit an object.
func (f Filter) SelectsKeySize(key string, size int64) bool {
	if !strings.HasPrefix(key, f.Prefix) {
		return false
	}
	if f.SizeGreaterThan != nil && size <= *f.SizeGreaterThan {
		return false
	}
	if f.SizeLessThan != nil && size >= *f.SizeLessThan {
		return false
	}
	return true
}

// SelectsTags reports whether an object with these tags carries every tag of the filter.
func (f Filter) SelectsTags(tags map[string]string) bool {
	for _, t := range f.Tags {
		if v, ok := tags[t.Key]; !ok || v != t.Value {
			return false
		}
	}
	return true
}

// SelectsUpload reports whether the filter selects an upload of key: uploads have no
// tags and no size yet, so a filter on either selects none (S3 refuses such a rule
// with AbortIncompleteMultipartUpload anyway).
func (f Filter) SelectsUpload(key string) bool {
	return strings.HasPrefix(key, f.Prefix) && len(f.Tags) == 0 && f.SizeGreaterThan == nil && f.SizeLessThan == nil
}

// ScanPrefixes returns the fewest key prefixes whose listings cover every key one of
// the rules can select: [""] when one of them has no prefix, none for no rules. They are
// sorted and none is a prefix of another, so no key is listed twice.
func ScanPrefixes(rules []Rule) []string {
	ps := make([]string, 0, len(rules))
	for _, r := range rules {
		ps = append(ps, r.Filter.Prefix)
	}
	slices.Sort(ps)
	var out []string
	for _, p := range ps {
		if len(out) > 0 && strings.HasPrefix(p, out[len(out)-1]) {
			continue // covered by a shorter prefix (or a repeat)
		}
		out = append(out, p)
	}
	return out
}
