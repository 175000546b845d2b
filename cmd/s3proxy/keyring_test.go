package main

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"s3proxy/backends/encrypt"
	"s3proxy/cmd/s3proxy/config"
)

func TestLoadKeyring(t *testing.T) {
	dir := t.TempDir()
	secret := strings.Repeat("ab", 32)
	good := filepath.Join(dir, "good.keys")
	bad := filepath.Join(dir, "bad.keys")
	_ = os.WriteFile(good, []byte("# comment\nold:"+secret+"\n"), 0o600)
	_ = os.WriteFile(bad, []byte("old:"+secret[:40]+"\n"), 0o600)
	env := map[string]string{"VAULT_KEYS": "new:" + strings.Repeat("cd", 32), "EMPTY": ""}
	getenv := func(k string) string { return env[k] }
	for _, tc := range []struct {
		name    string
		b       config.Backend
		current string
		errHas  string
	}{
		{"file", config.Backend{EncryptKeyFile: good}, "old", ""},
		{"env", config.Backend{EncryptKeyEnv: "VAULT_KEYS"}, "new", ""},
		{"file then env: the env's is current", config.Backend{EncryptKeyFile: good, EncryptKeyEnv: "VAULT_KEYS"}, "new", ""},
		{"missing file", config.Backend{EncryptKeyFile: filepath.Join(dir, "nope")}, "", "encrypt_key_file"},
		{"unset variable", config.Backend{EncryptKeyEnv: "EMPTY"}, "", "EMPTY is not set"},
		{"malformed key", config.Backend{EncryptKeyFile: bad}, "", "bad.keys"},
		{"same id twice", config.Backend{EncryptKeyFile: good, EncryptKeyEnv: "DUP"}, "", "twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env["DUP"] = "old:" + secret
			r, err := loadKeyring(tc.b, getenv)
			if tc.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errHas) {
					t.Fatalf("err = %v, want one mentioning %q", err, tc.errHas)
				}
				if strings.Contains(err.Error(), secret[:16]) {
					t.Errorf("error quotes key material: %v", err)
				}
				if tc.name == "malformed key" && !errors.Is(err, encrypt.ErrBadKey) {
					t.Errorf("err = %v, want ErrBadKey", err)
				}
				return
			}
			if err != nil || r.Current() != tc.current {
				t.Fatalf("keyring %v, %v; want current %q", r, err, tc.current)
			}
		})
	}
}

// A server does not start with keys that open none of its encrypting backend's blobs,
// nor when keys were added to a backend that holds chunks in clear.
func TestEncryptingBackendRefusesWrongKeys(t *testing.T) {
	st := newSSEStack(t)
	c := st.client(t, testAK, testSK)
	mustPut(t, c, "secure", "obj", randData(10, 50<<10))
	open := func(t *testing.T, yaml string) error {
		cfgFile := filepath.Join(t.TempDir(), "config.yaml")
		if err := os.WriteFile(cfgFile, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := loadConfig([]string{"--config", cfgFile, "--data", st.app.cfg.Data, "--log-level", "error"}, func(string) string { return "" }, io.Discard, "verify", nil)
		if err != nil {
			t.Fatal(err)
		}
		_ = cfg.EnsureNodeID()
		a, err := openApp(context.Background(), cfg, newLogger(cfg, io.Discard))
		if err == nil {
			a.close()
		}
		return err
	}
	wrong := filepath.Join(t.TempDir(), "wrong.keys")
	_ = os.WriteFile(wrong, []byte("k2025:"+strings.Repeat("99", 32)+"\n"), 0o600)
	err := open(t, "backends:\n  - {name: vault, type: local, path: "+st.dir+"/vault, encrypt_key_file: "+wrong+"}\n")
	if !errors.Is(err, encrypt.ErrWrongKey) {
		t.Errorf("wrong key: %v", err)
	}
	mustPut(t, c, "open", "clear", randData(11, 50<<10))
	err = open(t, "backends:\n  - {name: plain, type: local, path: "+st.dir+"/plain, encrypt_key_file: "+st.keyFile+"}\n")
	if !errors.Is(err, encrypt.ErrCorrupt) || !strings.Contains(err.Error(), "none of") {
		t.Errorf("keys on a store with chunks in clear: %v", err)
	}
}
