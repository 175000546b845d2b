package publicaccess

import "testing"

func TestStoredForm(t *testing.T) {
	for _, c := range []Configuration{
		{},
		{BlockPublicAcls: true},
		{BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true},
		{RestrictPublicBuckets: true},
	} {
		s, err := c.Encode()
		if err != nil {
			t.Fatal(err)
		}
		back, err := Decode(s)
		if err != nil || back != c {
			t.Errorf("Decode(Encode(%+v)) = %+v, %v (stored %s)", c, back, err, s)
		}
	}
	if _, err := Decode(`{"v":2}`); err == nil {
		t.Error("a document of another version was read")
	}
}

// TestEffective: each policy setting is the gateway's OR the bucket's; the ACL
// settings are the bucket's alone.
func TestEffective(t *testing.T) {
	all := &Configuration{BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true}
	for _, tc := range []struct {
		name    string
		gateway bool
		bucket  *Configuration
		want    Configuration
	}{
		{"nothing", false, nil, Configuration{}},
		{"gateway only", true, nil, Configuration{BlockPublicPolicy: true, RestrictPublicBuckets: true}},
		{"bucket off, gateway on", true, &Configuration{}, Configuration{BlockPublicPolicy: true, RestrictPublicBuckets: true}},
		{"bucket blocks policies only", false, &Configuration{BlockPublicPolicy: true}, Configuration{BlockPublicPolicy: true}},
		{"bucket restricts only", false, &Configuration{RestrictPublicBuckets: true}, Configuration{RestrictPublicBuckets: true}},
		{"bucket all", false, all, *all},
		{"both", true, all, *all},
	} {
		if got := Effective(tc.gateway, tc.bucket); got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
}
