package config

import (
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
)

func TestEnsureCredentials(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	c := mustLoad(t, []string{"--data", data}, nil)

	generated, err := c.EnsureCredentials()
	if err != nil || !generated {
		t.Fatalf("first call: generated %v, err %v", generated, err)
	}
	if len(c.Credentials) != 1 {
		t.Fatalf("credentials %v", c.Credentials)
	}
	first := c.Credentials[0]
	if !regexp.MustCompile(`^[A-Z0-9]{20}$`).MatchString(first.AccessKey) {
		t.Errorf("access key %q", first.AccessKey)
	}
	if !regexp.MustCompile(`^[A-Za-z0-9_-]{40}$`).MatchString(first.SecretKey) {
		t.Errorf("secret key %q", first.SecretKey)
	}
	if !first.Admin {
		t.Error("generated credential is not admin")
	}

	for path, want := range map[string]os.FileMode{data: 0o700, c.CredentialsFile(): 0o600} {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != want {
			t.Errorf("%s mode %v, want %v", path, st.Mode().Perm(), want)
		}
	}
	if leftovers, _ := filepath.Glob(filepath.Join(data, ".*tmp*")); len(leftovers) > 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}

	// A later start reuses the pair.
	c2 := mustLoad(t, []string{"--data", data}, nil)
	generated, err = c2.EnsureCredentials()
	if err != nil || generated {
		t.Fatalf("second call: generated %v, err %v", generated, err)
	}
	if c2.Credentials[0] != first {
		t.Errorf("second call %v, want %v", c2.Credentials[0], first)
	}
}

func TestEnsureCredentialsConfigured(t *testing.T) {
	data := t.TempDir()
	c := mustLoad(t, []string{"--data", data}, map[string]string{"S3PROXY_ACCESS_KEY": "a", "S3PROXY_SECRET_KEY": "b"})
	generated, err := c.EnsureCredentials()
	if err != nil || generated || len(c.Credentials) != 1 {
		t.Fatalf("generated %v err %v creds %v", generated, err, c.Credentials)
	}
	if _, err := os.Stat(c.CredentialsFile()); !os.IsNotExist(err) {
		t.Errorf("credentials file written although configured: %v", err)
	}
}

func TestEnsureCredentialsRace(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	const n = 8
	var wg sync.WaitGroup
	creds := make([]Credential, n)
	gens := make([]bool, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &Config{Data: data}
			gens[i], errs[i] = c.EnsureCredentials()
			if errs[i] == nil {
				creds[i] = c.Credentials[0]
			}
		}()
	}
	wg.Wait()
	won := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if gens[i] {
			won++
		}
		if creds[i] != creds[0] {
			t.Errorf("caller %d got %v, caller 0 %v", i, creds[i], creds[0])
		}
	}
	if won != 1 {
		t.Errorf("%d callers generated, want 1", won)
	}
}

func TestEnsureCredentialsCorruptFile(t *testing.T) {
	data := t.TempDir()
	if err := os.WriteFile(filepath.Join(data, "credentials.yaml"), []byte("access_key: x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := &Config{Data: data}
	if _, err := c.EnsureCredentials(); err == nil {
		t.Error("a file without secret_key was accepted")
	}
}

func TestEnsureNodeID(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	c := mustLoad(t, []string{"--data", data}, nil)
	if c.NodeID != "" {
		t.Fatalf("node id before Ensure: %q", c.NodeID)
	}
	if err := c.EnsureNodeID(); err != nil {
		t.Fatal(err)
	}
	if !validID.MatchString(c.NodeID) {
		t.Errorf("node id %q", c.NodeID)
	}
	c2 := &Config{Data: data}
	if err := c2.EnsureNodeID(); err != nil || c2.NodeID != c.NodeID {
		t.Errorf("second call %q, %v; want %q", c2.NodeID, err, c.NodeID)
	}
	// A configured id wins and writes nothing.
	other := t.TempDir()
	c3 := mustLoad(t, []string{"--data", other, "--node-id", "n7"}, nil)
	if err := c3.EnsureNodeID(); err != nil || c3.NodeID != "n7" {
		t.Errorf("configured: %q, %v", c3.NodeID, err)
	}
	if _, err := os.Stat(c3.NodeIDFile()); !os.IsNotExist(err) {
		t.Errorf("node-id written although configured")
	}
}
