package s3api

import (
	"encoding/xml"
	"net/http"

	"s3proxy/s3api/s3err"
	"s3proxy/translate/lifecycle"
)

// Bucket lifecycle configuration: PUT, GET and DELETE /bucket?lifecycle.
//
// The XML is S3's (LifecycleConfiguration, of up to 1,000 Rules), checked against S3's
// schema before it is decoded: an element S3 does not define, or a repeated one that S3
// allows once, is MalformedXML, as on S3. A lenient decoder would drop a misspelt
// <Filter> child and leave a rule that selects every object of the bucket. Values are
// then checked as S3 checks them, with S3's codes and messages. The configuration is
// stored as translate/lifecycle's model, which remembers the filter's XML form so that a
// GET returns the rules as they were set (with the IDs S3 would have generated).
//
// What is refused: Transition actions (NotImplemented, see transitionRefused).
// What is kept and never acts: NoncurrentVersionExpiration, NoncurrentVersionTransition
// and ExpiredObjectDeleteMarker, which concern versions and delete markers an
// unversioned bucket never has (S3 accepts them on such a bucket too, and they do
// nothing there either).

// transitionMinimumHeader is the request and response header naming the default
// minimum size of an object to transition (S3, 2024). Nothing transitions here; the
// value is kept and reported back as S3 does.
const transitionMinimumHeader = "x-amz-transition-default-minimum-object-size"

var transitionMinimums = map[string]bool{"all_storage_classes_128K": true, "varies_by_storage_class": true}

// The answer document.
type lcConfigOut struct {
	XMLName xml.Name    `xml:"LifecycleConfiguration"`
	NS      string      `xml:"xmlns,attr"`
	Rules   []lcRuleOut `xml:"Rule"`
}

type lcRuleOut struct {
	ID                             string            `xml:"ID"`
	Prefix                         *string           `xml:"Prefix"`
	Filter                         *lcFilterOut      `xml:"Filter"`
	Status                         string            `xml:"Status"`
	Expiration                     *lcExpirationOut  `xml:"Expiration"`
	NoncurrentVersionExpiration    *lcNoncurrentOut  `xml:"NoncurrentVersionExpiration"`
	NoncurrentVersionTransitions   []lcNoncurrentOut `xml:"NoncurrentVersionTransition"`
	AbortIncompleteMultipartUpload *struct {
		DaysAfterInitiation int `xml:"DaysAfterInitiation"`
	} `xml:"AbortIncompleteMultipartUpload"`
}

type lcFilterOut struct {
	Prefix                *string   `xml:"Prefix"`
	Tag                   *tag      `xml:"Tag"`
	ObjectSizeGreaterThan *int64    `xml:"ObjectSizeGreaterThan"`
	ObjectSizeLessThan    *int64    `xml:"ObjectSizeLessThan"`
	And                   *lcAndOut `xml:"And"`
}

type lcAndOut struct {
	Prefix                *string `xml:"Prefix"`
	Tags                  []tag   `xml:"Tag"`
	ObjectSizeGreaterThan *int64  `xml:"ObjectSizeGreaterThan"`
	ObjectSizeLessThan    *int64  `xml:"ObjectSizeLessThan"`
}

type lcExpirationOut struct {
	Date                      string `xml:"Date,omitempty"`
	Days                      int    `xml:"Days,omitempty"`
	ExpiredObjectDeleteMarker *bool  `xml:"ExpiredObjectDeleteMarker"`
}

type lcNoncurrentOut struct {
	NoncurrentDays          int    `xml:"NoncurrentDays"`
	NewerNoncurrentVersions int    `xml:"NewerNoncurrentVersions,omitempty"`
	StorageClass            string `xml:"StorageClass,omitempty"`
}

// lifecycleXML renders a stored configuration as GetBucketLifecycleConfiguration does,
// each filter in the form it was set in.
func lifecycleXML(cfg lifecycle.Configuration) lcConfigOut {
	out := lcConfigOut{NS: s3NS}
	for _, r := range cfg.Rules {
		ro := lcRuleOut{ID: r.ID, Status: r.Status}
		f := r.Filter
		switch {
		case r.Form.LegacyPrefix:
			ro.Prefix = &f.Prefix
		default:
			var prefix *string
			if r.Form.Prefix || f.Prefix != "" {
				prefix = &f.Prefix
			}
			var tags []tag
			for _, t := range f.Tags {
				tags = append(tags, tag{Key: t.Key, Value: t.Value})
			}
			if r.Form.And {
				ro.Filter = &lcFilterOut{And: &lcAndOut{Prefix: prefix, Tags: tags, ObjectSizeGreaterThan: f.SizeGreaterThan, ObjectSizeLessThan: f.SizeLessThan}}
			} else {
				ro.Filter = &lcFilterOut{Prefix: prefix, ObjectSizeGreaterThan: f.SizeGreaterThan, ObjectSizeLessThan: f.SizeLessThan}
				if len(tags) > 0 {
					ro.Filter.Tag = &tags[0]
				}
			}
		}
		if e := r.Expiration; e != nil {
			ro.Expiration = &lcExpirationOut{Days: e.Days, ExpiredObjectDeleteMarker: e.ExpiredObjectDeleteMarker}
			if !e.Date.IsZero() {
				ro.Expiration.Date = iso8601(e.Date)
			}
		}
		if a := r.AbortIncompleteMultipartUpload; a != nil {
			ro.AbortIncompleteMultipartUpload = &struct {
				DaysAfterInitiation int `xml:"DaysAfterInitiation"`
			}{a.DaysAfterInitiation}
		}
		if nv := r.NoncurrentVersionExpiration; nv != nil {
			ro.NoncurrentVersionExpiration = &lcNoncurrentOut{NoncurrentDays: nv.NoncurrentDays, NewerNoncurrentVersions: nv.NewerNoncurrentVersions}
		}
		for _, nt := range r.NoncurrentVersionTransitions {
			ro.NoncurrentVersionTransitions = append(ro.NoncurrentVersionTransitions,
				lcNoncurrentOut{NoncurrentDays: nt.NoncurrentDays, NewerNoncurrentVersions: nt.NewerNoncurrentVersions, StorageClass: nt.StorageClass})
		}
		out.Rules = append(out.Rules, ro)
	}
	return out
}

// transitionMinimum reads x-amz-transition-default-minimum-object-size (S3's default
// when absent).
func transitionMinimum(h http.Header) (string, error) {
	v := h.Get(transitionMinimumHeader)
	if v == "" {
		return "all_storage_classes_128K", nil
	}
	if !transitionMinimums[v] {
		return "", s3err.Newf(s3err.InvalidArgument, "Invalid value for header %s: %s", transitionMinimumHeader, v)
	}
	return v, nil
}

func (s *Server) putBucketLifecycle(rq *request) error {
	if err := s.configPut(rq); err != nil {
		return err
	}
	minimum, err := transitionMinimum(rq.r.Header)
	if err != nil {
		return err
	}
	data, err := s.readCheckedBody(rq)
	if err != nil {
		return err
	}
	cfg, err := parseLifecycle(data)
	if err != nil {
		return err
	}
	cfg.TransitionDefaultMinimumObjectSize = minimum
	if err := s.svc.SetBucketLifecycle(rq.r.Context(), rq.principal, rq.bucket, cfg); err != nil {
		return err
	}
	rq.w.Header().Set(transitionMinimumHeader, minimum)
	rq.w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) getBucketLifecycle(rq *request) error {
	cfg, err := s.svc.BucketLifecycle(rq.r.Context(), rq.principal, rq.bucket)
	if err != nil {
		return err
	}
	minimum := cfg.TransitionDefaultMinimumObjectSize
	if minimum == "" {
		minimum = "all_storage_classes_128K"
	}
	rq.w.Header().Set(transitionMinimumHeader, minimum)
	return s.writeXML(rq, http.StatusOK, lifecycleXML(cfg))
}

func (s *Server) deleteBucketLifecycle(rq *request) error {
	if err := s.svc.DeleteBucketLifecycle(rq.r.Context(), rq.principal, rq.bucket); err != nil {
		return err
	}
	rq.w.WriteHeader(http.StatusNoContent)
	return nil
}
