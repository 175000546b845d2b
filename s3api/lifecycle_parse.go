package s3api

import (
	"encoding/xml"
	"errors"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"s3proxy/s3api/s3err"
	"s3proxy/translate/lifecycle"
)

// Parsing and checking a PutBucketLifecycleConfiguration document (see lifecycle.go).

// Limits of S3's lifecycle configurations.
const (
	maxLifecycleRules  = 1000
	maxLifecycleRuleID = 255
)

// transitionStorageClasses are the storage classes S3 transitions objects to.
var transitionStorageClasses = map[string]bool{
	"GLACIER": true, "STANDARD_IA": true, "ONEZONE_IA": true, "INTELLIGENT_TIERING": true,
	"DEEP_ARCHIVE": true, "GLACIER_IR": true,
}

// lifecycleSchema is S3's schema of a LifecycleConfiguration: for each element that
// has children, which children it may have and whether each may repeat. An element not
// listed here has text only.
var lifecycleSchema = xmlSchema{
	"LifecycleConfiguration": {"Rule": true},
	"Rule": {"ID": false, "Prefix": false, "Filter": false, "Status": false, "Expiration": false,
		"Transition": true, "NoncurrentVersionExpiration": false, "NoncurrentVersionTransition": true,
		"AbortIncompleteMultipartUpload": false},
	"Filter":                         {"Prefix": false, "Tag": false, "ObjectSizeGreaterThan": false, "ObjectSizeLessThan": false, "And": false},
	"And":                            {"Prefix": false, "Tag": true, "ObjectSizeGreaterThan": false, "ObjectSizeLessThan": false},
	"Tag":                            {"Key": false, "Value": false},
	"Expiration":                     {"Date": false, "Days": false, "ExpiredObjectDeleteMarker": false},
	"Transition":                     {"Date": false, "Days": false, "StorageClass": false},
	"NoncurrentVersionExpiration":    {"NoncurrentDays": false, "NewerNoncurrentVersions": false},
	"NoncurrentVersionTransition":    {"NoncurrentDays": false, "NewerNoncurrentVersions": false, "StorageClass": false},
	"AbortIncompleteMultipartUpload": {"DaysAfterInitiation": false},
}

// malformedLifecycle is S3's MalformedXML, with what did not validate.
func malformedLifecycle(format string, args ...any) *s3err.Error {
	return s3err.Newf(s3err.MalformedXML, "The XML you provided was not well-formed or did not validate against our published schema: "+format, args...)
}

// checkLifecycleShape walks the document's elements against lifecycleSchema.
func checkLifecycleShape(data []byte) error {
	err := checkXMLShape(data, "LifecycleConfiguration", lifecycleSchema)
	var se *shapeError
	if errors.As(err, &se) {
		return malformedLifecycle("%s", se.msg)
	}
	if err != nil {
		return s3err.Wrap(s3err.MalformedXML, err)
	}
	return nil
}

// The request document. Every field is a pointer (or a slice) so that an element that
// is absent can be told from one that is empty; numbers are text, parsed by hand so
// that a bad one is S3's MalformedXML rather than a decoder's message.
type lcConfigIn struct {
	Rules []lcRuleIn `xml:"Rule"`
}

type lcRuleIn struct {
	ID                             *string        `xml:"ID"`
	Prefix                         *string        `xml:"Prefix"`
	Filter                         *lcFilterIn    `xml:"Filter"`
	Status                         *string        `xml:"Status"`
	Expiration                     *lcExpiration  `xml:"Expiration"`
	Transitions                    []lcTransition `xml:"Transition"`
	NoncurrentVersionExpiration    *lcNoncurrent  `xml:"NoncurrentVersionExpiration"`
	NoncurrentVersionTransitions   []lcNoncurrent `xml:"NoncurrentVersionTransition"`
	AbortIncompleteMultipartUpload *struct {
		DaysAfterInitiation *string `xml:"DaysAfterInitiation"`
	} `xml:"AbortIncompleteMultipartUpload"`
}

type lcFilterIn struct {
	Prefix                *string  `xml:"Prefix"`
	Tag                   *lcTagIn `xml:"Tag"`
	ObjectSizeGreaterThan *string  `xml:"ObjectSizeGreaterThan"`
	ObjectSizeLessThan    *string  `xml:"ObjectSizeLessThan"`
	And                   *lcAndIn `xml:"And"`
}

type lcAndIn struct {
	Prefix                *string   `xml:"Prefix"`
	Tags                  []lcTagIn `xml:"Tag"`
	ObjectSizeGreaterThan *string   `xml:"ObjectSizeGreaterThan"`
	ObjectSizeLessThan    *string   `xml:"ObjectSizeLessThan"`
}

type lcTagIn struct {
	Key   *string `xml:"Key"`
	Value *string `xml:"Value"`
}

type lcExpiration struct {
	Days                      *string `xml:"Days"`
	Date                      *string `xml:"Date"`
	ExpiredObjectDeleteMarker *string `xml:"ExpiredObjectDeleteMarker"`
}

type lcTransition struct {
	Days         *string `xml:"Days"`
	Date         *string `xml:"Date"`
	StorageClass *string `xml:"StorageClass"`
}

type lcNoncurrent struct {
	NoncurrentDays          *string `xml:"NoncurrentDays"`
	NewerNoncurrentVersions *string `xml:"NewerNoncurrentVersions"`
	StorageClass            *string `xml:"StorageClass"`
}

// parseLifecycle checks a PutBucketLifecycleConfiguration document as S3 does and
// returns the configuration to store, IDs generated where the rules have none.
func parseLifecycle(data []byte) (lifecycle.Configuration, error) {
	if err := checkLifecycleShape(data); err != nil {
		return lifecycle.Configuration{}, err
	}
	var in lcConfigIn
	if err := xml.Unmarshal(data, &in); err != nil {
		return lifecycle.Configuration{}, s3err.Wrap(s3err.MalformedXML, err)
	}
	if len(in.Rules) == 0 {
		return lifecycle.Configuration{}, malformedLifecycle("a lifecycle configuration needs at least one <Rule>")
	}
	if len(in.Rules) > maxLifecycleRules {
		return lifecycle.Configuration{}, malformedLifecycle("a lifecycle configuration has at most %d rules", maxLifecycleRules)
	}
	var cfg lifecycle.Configuration
	ids := map[string]bool{}
	transitions := false
	for _, ri := range in.Rules {
		r, err := parseRule(ri)
		if err != nil {
			return lifecycle.Configuration{}, err
		}
		if r.ID == "" {
			r.ID = lifecycle.NewRuleID()
		}
		if ids[r.ID] {
			return lifecycle.Configuration{}, s3err.Newf(s3err.InvalidArgument, "Rule ID must be unique. Found same ID for more than one rule")
		}
		ids[r.ID] = true
		transitions = transitions || len(ri.Transitions) > 0
		cfg.Rules = append(cfg.Rules, r)
	}
	if transitions {
		return lifecycle.Configuration{}, transitionRefused()
	}
	return cfg, nil
}

// transitionRefused is the answer to a configuration with a Transition action, valid
// as it may be: s3proxy keeps every object in one storage tier, so there is nothing
// to transition to, and accepting the rule would tell the client its objects will move
// to a cheaper class when they never will. NotImplemented (501) is what S3 answers for
// functionality a request implies and the endpoint does not provide, and what s3proxy
// answers for server-side encryption; SDKs do not retry it (they retry 500, 502, 503
// and 504). A 400 code would blame a valid document, and InvalidStorageClass would
// contradict PutObject, which accepts every storage class and stores it in the one tier.
func transitionRefused() *s3err.Error {
	return s3err.Newf(s3err.NotImplemented, "Transition actions are not supported by s3proxy: it keeps every object in one storage tier, "+
		"so there is no storage class to transition to. Expiration, AbortIncompleteMultipartUpload and the noncurrent-version actions are supported.")
}

func parseRule(ri lcRuleIn) (lifecycle.Rule, error) {
	var r lifecycle.Rule
	if ri.Status == nil || (*ri.Status != lifecycle.Enabled && *ri.Status != lifecycle.Disabled) {
		return r, malformedLifecycle("a rule's <Status> must be Enabled or Disabled")
	}
	r.Status = *ri.Status
	if ri.ID != nil {
		if utf8.RuneCountInString(*ri.ID) > maxLifecycleRuleID {
			return r, s3err.Newf(s3err.InvalidArgument, "ID length should not exceed allowed limit of %d", maxLifecycleRuleID)
		}
		r.ID = *ri.ID
	}
	switch {
	case ri.Prefix != nil && ri.Filter != nil:
		return r, malformedLifecycle("a rule has a <Filter> or a <Prefix>, not both")
	case ri.Prefix != nil:
		r.Filter.Prefix = *ri.Prefix
		r.Form.LegacyPrefix = true
	case ri.Filter != nil:
		if err := parseFilter(*ri.Filter, &r); err != nil {
			return r, err
		}
	}
	// A rule with neither (which S3 now accepts) applies to every object, like an
	// empty filter, and reads back as one.
	if ri.Expiration == nil && len(ri.Transitions) == 0 && ri.NoncurrentVersionExpiration == nil &&
		len(ri.NoncurrentVersionTransitions) == 0 && ri.AbortIncompleteMultipartUpload == nil {
		return r, s3err.Newf(s3err.InvalidRequest, "At least one action needs to be specified in a rule")
	}
	tagged := len(r.Filter.Tags) > 0
	sized := r.Filter.SizeGreaterThan != nil || r.Filter.SizeLessThan != nil
	if e := ri.Expiration; e != nil {
		n := 0
		for _, set := range []bool{e.Days != nil, e.Date != nil, e.ExpiredObjectDeleteMarker != nil} {
			if set {
				n++
			}
		}
		if n != 1 {
			return r, malformedLifecycle("<Expiration> has exactly one of <Days>, <Date> and <ExpiredObjectDeleteMarker>")
		}
		r.Expiration = &lifecycle.Expiration{}
		switch {
		case e.Days != nil:
			days, err := parseDays(*e.Days, "Days")
			if err != nil {
				return r, err
			}
			if days <= 0 {
				return r, s3err.Newf(s3err.InvalidArgument, "'Days' for Expiration action must be a positive integer")
			}
			r.Expiration.Days = days
		case e.Date != nil:
			date, err := parseLifecycleDate(*e.Date)
			if err != nil {
				return r, err
			}
			r.Expiration.Date = date
		default:
			v := strings.TrimSpace(*e.ExpiredObjectDeleteMarker)
			if v != "true" && v != "false" {
				return r, malformedLifecycle("<ExpiredObjectDeleteMarker> must be true or false")
			}
			if tagged {
				return r, s3err.Newf(s3err.InvalidRequest, "ExpiredObjectDeleteMarker cannot be specified with Tags.")
			}
			on := v == "true"
			r.Expiration.ExpiredObjectDeleteMarker = &on
		}
	}
	if a := ri.AbortIncompleteMultipartUpload; a != nil {
		if a.DaysAfterInitiation == nil {
			return r, malformedLifecycle("<AbortIncompleteMultipartUpload> needs <DaysAfterInitiation>")
		}
		days, err := parseDays(*a.DaysAfterInitiation, "DaysAfterInitiation")
		if err != nil {
			return r, err
		}
		if days <= 0 {
			return r, s3err.Newf(s3err.InvalidArgument, "'DaysAfterInitiation' for AbortIncompleteMultipartUpload action must be a positive integer")
		}
		// An upload has no tags and no size yet: S3 refuses such filters here.
		if tagged {
			return r, s3err.Newf(s3err.InvalidRequest, "AbortIncompleteMultipartUpload cannot be specified with Tags.")
		}
		if sized {
			return r, s3err.Newf(s3err.InvalidRequest, "AbortIncompleteMultipartUpload cannot be specified with Object Size.")
		}
		r.AbortIncompleteMultipartUpload = &lifecycle.AbortIncompleteMultipartUpload{DaysAfterInitiation: days}
	}
	if nv := ri.NoncurrentVersionExpiration; nv != nil {
		days, newer, err := parseNoncurrent(*nv, "NoncurrentVersionExpiration", 1)
		if err != nil {
			return r, err
		}
		r.NoncurrentVersionExpiration = &lifecycle.NoncurrentVersionExpiration{NoncurrentDays: days, NewerNoncurrentVersions: newer}
	}
	for _, nt := range ri.NoncurrentVersionTransitions {
		days, newer, err := parseNoncurrent(nt, "NoncurrentVersionTransition", 0)
		if err != nil {
			return r, err
		}
		if nt.StorageClass == nil || !transitionStorageClasses[*nt.StorageClass] {
			return r, malformedLifecycle("<NoncurrentVersionTransition> needs a <StorageClass> S3 transitions to")
		}
		r.NoncurrentVersionTransitions = append(r.NoncurrentVersionTransitions,
			lifecycle.NoncurrentVersionTransition{NoncurrentDays: days, NewerNoncurrentVersions: newer, StorageClass: *nt.StorageClass})
	}
	return r, nil
}

// parseFilter reads a <Filter>: at most one predicate, or several inside <And>.
func parseFilter(f lcFilterIn, r *lifecycle.Rule) error {
	n := 0
	for _, set := range []bool{f.Prefix != nil, f.Tag != nil, f.ObjectSizeGreaterThan != nil, f.ObjectSizeLessThan != nil, f.And != nil} {
		if set {
			n++
		}
	}
	if n > 1 {
		return malformedLifecycle("a <Filter> has one predicate; combine several with <And>")
	}
	prefix, gt, lt := f.Prefix, f.ObjectSizeGreaterThan, f.ObjectSizeLessThan
	var tags []lcTagIn
	if f.Tag != nil {
		tags = []lcTagIn{*f.Tag}
	}
	if a := f.And; a != nil {
		if a.Prefix == nil && len(a.Tags) == 0 && a.ObjectSizeGreaterThan == nil && a.ObjectSizeLessThan == nil {
			return malformedLifecycle("<And> needs at least one predicate")
		}
		prefix, gt, lt, tags = a.Prefix, a.ObjectSizeGreaterThan, a.ObjectSizeLessThan, a.Tags
		r.Form.And = true
	}
	if prefix != nil {
		r.Filter.Prefix = *prefix
		r.Form.Prefix = true
	}
	seen := map[string]bool{}
	for _, t := range tags {
		if t.Key == nil {
			return malformedLifecycle("a <Tag> needs a <Key>")
		}
		tag := lifecycle.Tag{Key: *t.Key}
		if t.Value != nil {
			tag.Value = *t.Value
		}
		switch {
		case tag.Key == "" || utf8.RuneCountInString(tag.Key) > maxTagKeyLen:
			return s3err.Newf(s3err.InvalidTag, "The TagKey you have provided is invalid")
		case utf8.RuneCountInString(tag.Value) > maxTagValueLen:
			return s3err.Newf(s3err.InvalidTag, "The TagValue you have provided is invalid")
		case seen[tag.Key]:
			return s3err.Newf(s3err.InvalidRequest, "Duplicate Tag Keys are not allowed.")
		}
		seen[tag.Key] = true
		r.Filter.Tags = append(r.Filter.Tags, tag)
	}
	var err error
	if r.Filter.SizeGreaterThan, err = parseSize(gt, "ObjectSizeGreaterThan", 0); err != nil {
		return err
	}
	if r.Filter.SizeLessThan, err = parseSize(lt, "ObjectSizeLessThan", 1); err != nil {
		return err
	}
	if r.Filter.SizeGreaterThan != nil && r.Filter.SizeLessThan != nil && *r.Filter.SizeGreaterThan >= *r.Filter.SizeLessThan {
		return s3err.Newf(s3err.InvalidArgument, "ObjectSizeGreaterThan must be less than ObjectSizeLessThan")
	}
	return nil
}

// parseDays reads a whole number of days (MalformedXML if it is not one; the caller
// checks the range, which is InvalidArgument).
func parseDays(v, field string) (int, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 32)
	if err != nil {
		return 0, malformedLifecycle("<%s> must be an integer", field)
	}
	return int(n), nil
}

func parseSize(v *string, field string, least int64) (*int64, error) {
	if v == nil {
		return nil, nil
	}
	n, err := strconv.ParseInt(strings.TrimSpace(*v), 10, 64)
	if err != nil {
		return nil, malformedLifecycle("<%s> must be an integer", field)
	}
	if n < least {
		return nil, s3err.Newf(s3err.InvalidArgument, "'%s' must be at least %d", field, least)
	}
	return &n, nil
}

func parseNoncurrent(nv lcNoncurrent, action string, leastDays int) (days, newer int, err error) {
	if nv.NoncurrentDays == nil {
		return 0, 0, malformedLifecycle("<%s> needs <NoncurrentDays>", action)
	}
	if days, err = parseDays(*nv.NoncurrentDays, "NoncurrentDays"); err != nil {
		return 0, 0, err
	}
	if days < leastDays {
		return 0, 0, s3err.Newf(s3err.InvalidArgument, "'NoncurrentDays' for %s action must be a positive integer", action)
	}
	if nv.NewerNoncurrentVersions != nil {
		if newer, err = parseDays(*nv.NewerNoncurrentVersions, "NewerNoncurrentVersions"); err != nil {
			return 0, 0, err
		}
		if newer < 1 || newer > 100 {
			return 0, 0, s3err.Newf(s3err.InvalidArgument, "'NewerNoncurrentVersions' for %s action must be between 1 and 100", action)
		}
	}
	return days, newer, nil
}

// parseLifecycleDate reads an Expiration <Date>: ISO 8601 (2030-01-01T00:00:00.000Z, or
// the date alone), which must be a midnight UTC.
func parseLifecycleDate(v string) (time.Time, error) {
	v = strings.TrimSpace(v)
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		if t, err = time.Parse(time.DateOnly, v); err != nil {
			return time.Time{}, malformedLifecycle("<Date> must be an ISO 8601 date")
		}
	}
	t = t.UTC()
	if !t.Equal(t.Truncate(24 * time.Hour)) {
		return time.Time{}, s3err.Newf(s3err.InvalidArgument, "'Date' must be at midnight GMT")
	}
	return t, nil
}
