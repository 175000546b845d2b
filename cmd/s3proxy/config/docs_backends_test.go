package config

import (
	"os"
	"strings"
	"testing"
)

// Every YAML example in docs/configuration.md (the complete one and one per backend
// type) must load.
func TestDocsBackendExamples(t *testing.T) {
	doc, err := os.ReadFile("../../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]bool{}
	blocks := strings.Split(string(doc), "```yaml\n")[1:]
	for i, b := range blocks {
		body, _, _ := strings.Cut(b, "```")
		c := mustLoad(t, []string{"--config", writeYAML(t, body)}, nil)
		for _, be := range c.Backends {
			types[be.Type] = true
		}
		if len(c.Backends) == 0 {
			t.Errorf("yaml block %d has no backends", i)
		}
	}
	for _, typ := range []string{BackendLocal, BackendS3, BackendCOS, BackendOSS} {
		if !types[typ] {
			t.Errorf("no example of a %s backend", typ)
		}
	}
}
