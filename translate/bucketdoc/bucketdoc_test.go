package bucketdoc

import "testing"

func TestStoredForm(t *testing.T) {
	type body struct {
		Rules []string `json:"rules,omitempty"`
	}
	for _, tc := range []struct {
		in   body
		want string
	}{
		{body{Rules: []string{"a"}}, `{"v":1,"rules":["a"]}`},
		{body{}, `{"v":1}`},
	} {
		got, err := Encode("test", tc.in)
		if err != nil || got != tc.want {
			t.Fatalf("Encode(%v) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
		var back body
		if err := Decode("test", got, &back); err != nil || len(back.Rules) != len(tc.in.Rules) {
			t.Fatalf("Decode(%q) = %v, %v", got, back, err)
		}
	}
	if err := Decode("test", `{"v":2,"rules":[]}`, &body{}); err == nil {
		t.Fatal("a document of another version was read")
	}
	if _, err := Encode("test", []string{"x"}); err == nil {
		t.Fatal("a non-object was encoded")
	}
}
