package s3api

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"

	"s3proxy/s3api/s3err"
	"s3proxy/translate"
)

// tagPolicySvc is a Service whose bucket policy asks for one condition key, and whose
// stored tags are given (or fail).
type tagPolicySvc struct {
	Service
	key     string
	tags    string
	tagsErr error
	lookups int
}

func (f *tagPolicySvc) Authorize(_ context.Context, p translate.Principal, a translate.Access) (translate.Principal, error) {
	if v, ok := a.Keys.ConditionKey(f.key); !ok || v[0] != "public" {
		return p, errors.New("denied")
	}
	return p, nil
}

func (f *tagPolicySvc) StoredTags(context.Context, string, string, string) (string, bool, error) {
	f.lookups++
	return f.tags, f.tagsErr == nil, f.tagsErr
}

// TestExistingObjectTagLookup: the stored tags are read only for the actions S3 reads
// them for, once, and a failed read fails the authorization (absent tags would let a
// Deny on a tag's value pass).
func TestExistingObjectTagLookup(t *testing.T) {
	for _, tc := range []struct {
		name        string
		action      string
		tags        string
		tagsErr     error
		wantCode    s3err.Code // "" allowed; "-" refused by the policy
		wantLookups int
	}{
		{"tag matches", "s3:GetObject", "class=public", nil, "", 1},
		{"tag differs", "s3:GetObject", "class=secret", nil, "-", 1},
		{"lookup fails", "s3:GetObject", "", errors.New("database gone"), s3err.InternalError, 1},
		{"not an action S3 reads tags for", "s3:DeleteObject", "class=public", nil, "-", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			svc := &tagPolicySvc{key: "s3:existingobjecttag/class", tags: tc.tags, tagsErr: tc.tagsErr}
			s := &Server{svc: svc}
			rq := &request{r: httptest.NewRequest("GET", "/b/k", nil), op: "GetObject"}
			err := s.authorizeAccess(rq, "b", tc.action, true, "k")
			switch {
			case tc.wantCode == "" && err != nil, tc.wantCode == "-" && (err == nil || s3err.As(err) != nil),
				tc.wantCode != "" && tc.wantCode != "-" && (s3err.As(err) == nil || s3err.As(err).Code != tc.wantCode):
				t.Errorf("authorize: %v, want %q", err, tc.wantCode)
			}
			if svc.lookups != tc.wantLookups || rq.stored.active {
				t.Errorf("%d lookups (want %d), stored tags left active: %v", svc.lookups, tc.wantLookups, rq.stored.active)
			}
		})
	}
}
