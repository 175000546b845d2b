package s3api

import (
	"encoding/xml"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"s3proxy/s3api/s3err"
	"s3proxy/translate"
)

// Object Lock requests: the bucket's configuration (Get/PutObjectLockConfiguration),
// a version's retention and legal hold (Get/PutObjectRetention, Get/PutObjectLegalHold),
// and the x-amz-object-lock-* headers of writes. What the lock protects and how is
// translate's (objectlock.go).

// Default retention limits, as S3 sets them.
const (
	maxLockDays  = 36500
	maxLockYears = 100
)

type objectLockConfiguration struct {
	XMLName           xml.Name  `xml:"ObjectLockConfiguration"`
	NS                string    `xml:"xmlns,attr,omitempty"`
	ObjectLockEnabled string    `xml:"ObjectLockEnabled,omitempty"`
	Rule              *lockRule `xml:"Rule"`
}

type lockRule struct {
	DefaultRetention *defaultRetention `xml:"DefaultRetention"`
}

type defaultRetention struct {
	Mode  string  `xml:"Mode,omitempty"`
	Days  *string `xml:"Days"`
	Years *string `xml:"Years"`
}

type retentionDoc struct {
	XMLName         xml.Name `xml:"Retention"`
	NS              string   `xml:"xmlns,attr,omitempty"`
	Mode            string   `xml:"Mode,omitempty"`
	RetainUntilDate string   `xml:"RetainUntilDate,omitempty"`
}

type legalHoldDoc struct {
	XMLName xml.Name `xml:"LegalHold"`
	NS      string   `xml:"xmlns,attr,omitempty"`
	Status  string   `xml:"Status"`
}

func invalidLockArg(name, value, msg string) *s3err.Error {
	e := s3err.Newf(s3err.InvalidArgument, "%s", msg)
	e.Extra = map[string]string{"ArgumentName": name, "ArgumentValue": value}
	return e
}

// parseLock reads the x-amz-object-lock-* headers of a PutObject, CopyObject or
// CreateMultipartUpload (nil when there are none), with S3's answers to bad ones.
func parseLock(h http.Header) (*translate.LockRequest, error) {
	mode, date, hold := h.Get("x-amz-object-lock-mode"), h.Get("x-amz-object-lock-retain-until-date"), h.Get("x-amz-object-lock-legal-hold")
	if mode == "" && date == "" && hold == "" {
		return nil, nil
	}
	r := &translate.LockRequest{}
	switch {
	case mode != "" && date == "":
		return nil, invalidLockArg("x-amz-object-lock-retain-until-date", "", "x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied.")
	case mode == "" && date != "":
		return nil, invalidLockArg("x-amz-object-lock-mode", "", "x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied.")
	case mode != "":
		if mode != translate.LockGovernance && mode != translate.LockCompliance {
			return nil, invalidLockArg("x-amz-object-lock-mode", mode, "Unknown wormMode directive.")
		}
		t, err := time.Parse(time.RFC3339Nano, date)
		if err != nil {
			return nil, invalidLockArg("x-amz-object-lock-retain-until-date", date, "The retain until date must be provided in ISO 8601 format")
		}
		if !t.After(time.Now()) {
			return nil, invalidLockArg("x-amz-object-lock-retain-until-date", date, "The retain until date must be in the future!")
		}
		r.Mode, r.RetainUntil = mode, t
	}
	if hold != "" {
		if hold != "ON" && hold != "OFF" {
			return nil, invalidLockArg("x-amz-object-lock-legal-hold", hold, "Legal Hold must be either of 'ON' or 'OFF'")
		}
		r.LegalHold = hold
	}
	return r, nil
}

// bypassGovernance reports whether a request asks to bypass GOVERNANCE retention and
// may: x-amz-bypass-governance-retention: true from a caller the bucket's policy
// allows s3:BypassGovernanceRetention (the owner, unless a policy denies it).
func (s *Server) bypassGovernance(rq *request) bool {
	if !strings.EqualFold(strings.TrimSpace(rq.r.Header.Get("x-amz-bypass-governance-retention")), "true") {
		return false
	}
	_, err := s.svc.Authorize(rq.r.Context(), rq.principal, translate.Access{Bucket: rq.bucket, Action: "s3:BypassGovernanceRetention",
		Object: rq.key != "", Key: rq.key, Keys: rq})
	return err == nil
}

func (s *Server) getObjectLockConfiguration(rq *request) error {
	cfg, ok, err := s.svc.ObjectLockConfiguration(rq.r.Context(), rq.principal, rq.bucket)
	if err != nil {
		return err
	}
	if !ok {
		return s3err.New(s3err.ObjectLockConfigurationNotFoundError)
	}
	out := objectLockConfiguration{NS: s3NS, ObjectLockEnabled: "Enabled"}
	if cfg.Mode != "" {
		out.Rule = &lockRule{DefaultRetention: &defaultRetention{Mode: cfg.Mode}}
		if cfg.Days > 0 {
			d := strconv.Itoa(cfg.Days)
			out.Rule.DefaultRetention.Days = &d
		} else {
			y := strconv.Itoa(cfg.Years)
			out.Rule.DefaultRetention.Years = &y
		}
	}
	return s.writeXML(rq, http.StatusOK, out)
}

func (s *Server) putObjectLockConfiguration(rq *request) error {
	if err := s.configPut(rq); err != nil {
		return err
	}
	data, err := s.readCheckedBody(rq) // an empty body is MissingRequestBodyError
	if err != nil {
		return err
	}
	cfg, err := parseObjectLockConfiguration(data)
	if err != nil {
		return err
	}
	if err := s.svc.SetObjectLockConfiguration(rq.r.Context(), rq.principal, rq.bucket, cfg); err != nil {
		return err
	}
	rq.w.WriteHeader(http.StatusOK)
	return nil
}

// parseObjectLockConfiguration validates a PutObjectLockConfiguration document.
func parseObjectLockConfiguration(data []byte) (translate.ObjectLockConfig, error) {
	var doc objectLockConfiguration
	var cfg translate.ObjectLockConfig
	if err := xml.Unmarshal(data, &doc); err != nil || doc.ObjectLockEnabled != "Enabled" {
		return cfg, s3err.New(s3err.MalformedXML)
	}
	if doc.Rule == nil {
		return cfg, nil
	}
	r := doc.Rule.DefaultRetention
	if r == nil || r.Mode != translate.LockGovernance && r.Mode != translate.LockCompliance || (r.Days == nil) == (r.Years == nil) {
		return cfg, s3err.New(s3err.MalformedXML)
	}
	cfg.Mode = r.Mode
	name, v, limit := "Days", r.Days, maxLockDays
	if r.Years != nil {
		name, v, limit = "Years", r.Years, maxLockYears
	}
	n, err := strconv.Atoi(strings.TrimSpace(*v))
	switch {
	case err != nil:
		return cfg, s3err.New(s3err.MalformedXML)
	case n <= 0:
		return cfg, invalidLockArg(name, *v, "Default retention period must be a positive integer value.")
	case n > limit:
		return cfg, invalidLockArg(name, *v, "Default retention period too large.")
	}
	if name == "Days" {
		cfg.Days = n
	} else {
		cfg.Years = n
	}
	return cfg, nil
}

// lockDocument reads the body of a PutObjectRetention or PutObjectLegalHold once the
// bucket is known (S3 answers a missing bucket first) and its integrity check is there
// (S3 requires one); an empty one is MalformedXML.
func (s *Server) lockDocument(rq *request) ([]byte, error) {
	if err := s.configPut(rq); err != nil {
		return nil, err
	}
	data, err := s.readCheckedBody(rq)
	var se *s3err.Error
	if errors.As(err, &se) && se.Code == s3err.MissingRequestBodyError {
		return nil, s3err.New(s3err.MalformedXML)
	}
	return data, err
}

func (s *Server) getObjectRetention(rq *request) error {
	mode, until, version, err := s.svc.ObjectRetention(rq.r.Context(), rq.principal, rq.bucket, rq.key, rq.r.URL.Query().Get("versionId"))
	setVersionID(rq.w.Header(), version)
	if err != nil {
		return err
	}
	return s.writeXML(rq, http.StatusOK, retentionDoc{NS: s3NS, Mode: mode, RetainUntilDate: until.UTC().Format("2006-01-02T15:04:05.000Z")})
}

func (s *Server) putObjectRetention(rq *request) error {
	data, err := s.lockDocument(rq)
	if err != nil {
		return err
	}
	var doc retentionDoc
	if err := xml.Unmarshal(data, &doc); err != nil {
		return s3err.New(s3err.MalformedXML)
	}
	var until time.Time
	switch {
	case doc.Mode == "" && doc.RetainUntilDate == "":
		// No retention: removes it (GOVERNANCE with bypass, or one run out).
	case doc.Mode != translate.LockGovernance && doc.Mode != translate.LockCompliance, doc.RetainUntilDate == "":
		return s3err.New(s3err.MalformedXML)
	default:
		if until, err = time.Parse(time.RFC3339Nano, doc.RetainUntilDate); err != nil {
			return s3err.New(s3err.MalformedXML)
		}
		if !until.After(time.Now()) {
			return invalidLockArg("x-amz-object-lock-retain-until-date", doc.RetainUntilDate, "The retain until date must be in the future!")
		}
	}
	version, err := s.svc.SetObjectRetention(rq.r.Context(), rq.principal, rq.bucket, rq.key, rq.r.URL.Query().Get("versionId"),
		doc.Mode, until, s.bypassGovernance(rq))
	if err != nil {
		return err
	}
	setVersionID(rq.w.Header(), version)
	rq.w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) getObjectLegalHold(rq *request) error {
	status, version, err := s.svc.ObjectLegalHold(rq.r.Context(), rq.principal, rq.bucket, rq.key, rq.r.URL.Query().Get("versionId"))
	setVersionID(rq.w.Header(), version)
	if err != nil {
		return err
	}
	return s.writeXML(rq, http.StatusOK, legalHoldDoc{NS: s3NS, Status: status})
}

func (s *Server) putObjectLegalHold(rq *request) error {
	data, err := s.lockDocument(rq)
	if err != nil {
		return err
	}
	var doc legalHoldDoc
	if err := xml.Unmarshal(data, &doc); err != nil || doc.Status != "ON" && doc.Status != "OFF" {
		return s3err.New(s3err.MalformedXML)
	}
	version, err := s.svc.SetObjectLegalHold(rq.r.Context(), rq.principal, rq.bucket, rq.key, rq.r.URL.Query().Get("versionId"), doc.Status)
	if err != nil {
		return err
	}
	setVersionID(rq.w.Header(), version)
	rq.w.WriteHeader(http.StatusOK)
	return nil
}
