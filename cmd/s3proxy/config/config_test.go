package config

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"
)

func envFrom(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func writeYAML(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "s3proxy.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func load(t *testing.T, args []string, env map[string]string, opts ...Option) (*Config, []string, error) {
	t.Helper()
	opts = append([]Option{WithOutput(io.Discard), WithHostname(func() (string, error) { return "node1.example", nil })}, opts...)
	return Load(args, envFrom(env), opts...)
}

func mustLoad(t *testing.T, args []string, env map[string]string, opts ...Option) *Config {
	t.Helper()
	c, _, err := load(t, args, env, opts...)
	if err != nil {
		t.Fatalf("Load(%q, %v): %v", args, env, err)
	}
	return c
}

func TestDefaults(t *testing.T) {
	c := mustLoad(t, nil, nil)
	want := &Config{
		Listen:            "127.0.0.1:9000",
		AdminListen:       "127.0.0.1:9001",
		Advertise:         "127.0.0.1:9000",
		Data:              "./data",
		Meta:              filepath.Join("data", "meta.db"),
		DedupScope:        "credential",
		Region:            "us-east-1",
		Backends:          []Backend{{Name: "local", Type: "local", Path: filepath.Join("data", "chunks")}},
		DefaultBackend:    "local",
		Placement:         map[string]string{},
		LogFormat:         "text",
		LogLevel:          "info",
		GCGrace:           time.Hour,
		GCInterval:        10 * time.Minute,
		UploadMaxAge:      7 * 24 * time.Hour,
		LifecycleInterval: time.Hour,
		MaxObjectSize:     5 << 40,
		SigV2:             true,
		BlockPublicPolicy: true,
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("defaults:\n got %#v\nwant %#v", c, want)
	}
	if c.MetaDriver() != MetaSQLite {
		t.Errorf("MetaDriver = %q", c.MetaDriver())
	}
	if got := c.BackendFor("any"); got != "local" {
		t.Errorf("BackendFor = %q", got)
	}
}

// formCases holds, for every scalar setting, a valid value and how it shows
// up in Config; each is tried as a flag, an env variable and a YAML key.
var formCases = []struct {
	key   string
	value string
	get   func(*Config) any
	want  any
}{
	{"listen", "0.0.0.0:8000", func(c *Config) any { return c.Listen }, "0.0.0.0:8000"},
	{"admin_listen", "127.0.0.1:7001", func(c *Config) any { return c.AdminListen }, "127.0.0.1:7001"},
	{"advertise", "10.0.0.5:9000", func(c *Config) any { return c.Advertise }, "10.0.0.5:9000"},
	{"data", "/srv/s3", func(c *Config) any { return [2]string{c.Data, c.Meta} }, [2]string{"/srv/s3", "/srv/s3/meta.db"}},
	{"meta", "postgres://u:p@db:5432/s3?sslmode=disable", func(c *Config) any { return c.MetaDriver() }, MetaPostgres},
	{"redis", "redis://cache:6379/2", func(c *Config) any { return c.Redis }, "redis://cache:6379/2"},
	{"dedup_scope", "global", func(c *Config) any { return c.DedupScope }, "global"},
	{"region", "eu-west-3", func(c *Config) any { return c.Region }, "eu-west-3"},
	{"default_backend", "local", func(c *Config) any { return c.DefaultBackend }, "local"},
	{"cluster_secret", "0123456789abcdef0123", func(c *Config) any { return c.ClusterSecret }, "0123456789abcdef0123"},
	{"node_id", "node-a", func(c *Config) any { return c.NodeID }, "node-a"},
	{"log_format", "json", func(c *Config) any { return c.LogFormat }, "json"},
	{"log_level", "debug", func(c *Config) any { return c.LogLevel }, "debug"},
	{"gc_grace", "90m", func(c *Config) any { return c.GCGrace }, 90 * time.Minute},
	{"gc_interval", "0", func(c *Config) any { return c.GCInterval }, time.Duration(0)},
	{"upload_max_age", "2d", func(c *Config) any { return c.UploadMaxAge }, 48 * time.Hour},
	{"lifecycle_interval", "15m", func(c *Config) any { return c.LifecycleInterval }, 15 * time.Minute},
	{"max_object_size", "100MiB", func(c *Config) any { return c.MaxObjectSize }, int64(100 << 20)},
	{"cors_origins", "https://app.example.com, http://localhost:3000/", func(c *Config) any { return strings.Join(c.CORSOrigins, " ") }, "https://app.example.com http://localhost:3000"},
	{"sigv2", "false", func(c *Config) any { return c.SigV2 }, false},
	{"block_public_policy", "false", func(c *Config) any { return c.BlockPublicPolicy }, false},
	{"trusted_proxies", "10.0.0.0/8, 192.0.2.1,::1, 10.1.2.3/16, ::ffff:172.16.0.0/108", func(c *Config) any { return fmt.Sprint(c.TrustedProxies) },
		"[10.0.0.0/8 192.0.2.1/32 ::1/128 10.1.0.0/16 172.16.0.0/12]"},
	{"tls_cert", "/etc/s3proxy/tls.crt", func(c *Config) any { return [2]any{c.TLSCert, c.TLS()} }, [2]any{"/etc/s3proxy/tls.crt", true}},
	{"tls_key", "/etc/s3proxy/tls.key", func(c *Config) any { return c.TLSKey }, "/etc/s3proxy/tls.key"},
	{"cluster_ca", "/etc/s3proxy/ca.crt", func(c *Config) any { return [2]any{c.ClusterCA, c.TLS()} }, [2]any{"/etc/s3proxy/ca.crt", false}},
}

// formCompanions are settings that are only valid with another one: TestEveryForm
// gives the companion (key, value) in the same form.
var formCompanions = map[string][2]string{
	"tls_cert": {"tls_key", "/etc/s3proxy/tls.key"},
	"tls_key":  {"tls_cert", "/etc/s3proxy/tls.crt"},
}

func settingFor(t *testing.T, key string) setting {
	t.Helper()
	for _, st := range settingsTable() {
		if st.key == key {
			return st
		}
	}
	t.Fatalf("no setting %q", key)
	return setting{}
}

func TestEveryForm(t *testing.T) {
	if len(formCases) != len(settingsTable()) {
		t.Fatalf("formCases covers %d settings, table has %d", len(formCases), len(settingsTable()))
	}
	for _, tc := range formCases {
		given := map[string]string{tc.key: tc.value}
		if comp, ok := formCompanions[tc.key]; ok {
			given[comp[0]] = comp[1]
		}
		forms := map[string]func() (*Config, error){
			"flag": func() (*Config, error) {
				var args []string
				for k, v := range given {
					args = append(args, "--"+settingFor(t, k).flag, v)
				}
				c, _, err := load(t, args, nil)
				return c, err
			},
			"env": func() (*Config, error) {
				env := map[string]string{}
				for k, v := range given {
					env[settingFor(t, k).env] = v
				}
				c, _, err := load(t, nil, env)
				return c, err
			},
			"yaml": func() (*Config, error) {
				var body string
				for k, v := range given {
					body += fmt.Sprintf("%s: %q\n", k, v)
				}
				c, _, err := load(t, []string{"--config", writeYAML(t, body)}, nil)
				return c, err
			},
		}
		for form, run := range forms {
			t.Run(tc.key+"/"+form, func(t *testing.T) {
				c, err := run()
				if err != nil {
					t.Fatal(err)
				}
				if got := tc.get(c); !reflect.DeepEqual(got, tc.want) {
					t.Errorf("got %v, want %v", got, tc.want)
				}
			})
		}
	}
}

func TestConfigFileFromEnv(t *testing.T) {
	p := writeYAML(t, "region: from-file\n")
	c := mustLoad(t, nil, map[string]string{"S3PROXY_CONFIG": p})
	if c.Region != "from-file" || c.ConfigFile != p {
		t.Errorf("region %q config %q", c.Region, c.ConfigFile)
	}
	// --config beats S3PROXY_CONFIG.
	p2 := writeYAML(t, "region: from-flag-file\n")
	c = mustLoad(t, []string{"--config=" + p2}, map[string]string{"S3PROXY_CONFIG": p})
	if c.Region != "from-flag-file" {
		t.Errorf("region %q", c.Region)
	}
}

func TestPrecedence(t *testing.T) {
	p := writeYAML(t, "listen: 127.0.0.1:1001\nregion: file-region\nlog_level: warn\n")
	env := map[string]string{"S3PROXY_LISTEN": "127.0.0.1:1002", "S3PROXY_REGION": "env-region"}
	c := mustLoad(t, []string{"--config", p, "--listen", "127.0.0.1:1003"}, env)
	if c.Listen != "127.0.0.1:1003" {
		t.Errorf("flag must beat env and file: listen %q", c.Listen)
	}
	if c.Region != "env-region" {
		t.Errorf("env must beat file: region %q", c.Region)
	}
	if c.LogLevel != "warn" {
		t.Errorf("file must beat default: log_level %q", c.LogLevel)
	}
	// An empty env variable counts as unset, so the file still applies.
	c = mustLoad(t, []string{"--config", p}, map[string]string{"S3PROXY_LISTEN": ""})
	if c.Listen != "127.0.0.1:1001" {
		t.Errorf("empty env must not override file: listen %q", c.Listen)
	}
}

func TestUnknownYAMLKey(t *testing.T) {
	for _, tc := range []struct{ name, body, want string }{
		{"top level", "listen: 127.0.0.1:9000\nlisten_addr: x\n", "listen_addr"},
		{"in backend", "backends:\n  - name: a\n    type: local\n    pth: /x\n", "pth"},
		{"in credential", "credentials:\n  - access_key: a\n    secret: b\n", "secret"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := load(t, []string{"--config", writeYAML(t, tc.body)}, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "unknown key") {
				t.Fatalf("err = %v, want unknown key %q", err, tc.want)
			}
		})
	}
}

func TestBadValues(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		yaml string
		want []string // all must appear in the error
	}{
		{"listen not host:port", []string{"--listen", "abc"}, nil, "", []string{`config: listen (flag --listen): "abc" is not a host:port`}},
		{"listen bad port", nil, map[string]string{"S3PROXY_LISTEN": "127.0.0.1:99999"}, "", []string{"listen (env S3PROXY_LISTEN)", "port"}},
		{"admin_listen", nil, nil, "admin_listen: nope\n", []string{"admin_listen (file "}},
		{"admin_listen equals listen", []string{"--admin-listen", "127.0.0.1:9000"}, nil, "", []string{"admin_listen (flag --admin-listen)", "same address"}},
		{"advertise wildcard", []string{"--advertise", "0.0.0.0:9000"}, nil, "", []string{"advertise (flag --advertise)", "wildcard"}},
		{"advertise port 0", []string{"--advertise", "h:0"}, nil, "", []string{"advertise (flag --advertise)"}},
		{"data empty", []string{"--data", ""}, nil, "", []string{"data (flag --data)"}},
		{"meta scheme", []string{"--meta", "mysql://x/y"}, nil, "", []string{"meta (flag --meta)", "mysql"}},
		{"meta key=value dsn", []string{"--meta", "host=db password=x"}, nil, "", []string{"meta (flag --meta)", "postgres://"}},
		{"meta postgres no host", []string{"--meta", "postgres://"}, nil, "", []string{"meta (flag --meta)"}},
		{"redis scheme", []string{"--redis", "http://x:6379"}, nil, "", []string{"redis (flag --redis)"}},
		{"redis db", nil, map[string]string{"S3PROXY_REDIS": "redis://x:6379/abc"}, "", []string{"redis (env S3PROXY_REDIS)"}},
		{"dedup_scope", []string{"--dedup-scope", "bucket"}, nil, "", []string{"dedup_scope (flag --dedup-scope)", `"bucket"`}},
		{"region", nil, nil, "region: \"\"\n", []string{"region (file "}},
		{"default_backend", []string{"--default-backend", "nope"}, nil, "", []string{"default_backend (flag --default-backend)", `"nope"`}},
		{"cluster_secret short", nil, map[string]string{"S3PROXY_CLUSTER_SECRET": "short"}, "", []string{"cluster_secret (env S3PROXY_CLUSTER_SECRET)"}},
		{"node_id", []string{"--node-id", "a b"}, nil, "", []string{"node_id (flag --node-id)"}},
		{"log_format", []string{"--log-format", "xml"}, nil, "", []string{"log_format (flag --log-format)"}},
		{"log_level", nil, map[string]string{"S3PROXY_LOG_LEVEL": "verbose"}, "", []string{"log_level (env S3PROXY_LOG_LEVEL)"}},
		{"gc_grace zero", []string{"--gc-grace", "0"}, nil, "", []string{"gc_grace (flag --gc-grace)", "positive"}},
		{"gc_grace junk", []string{"--gc-grace", "soon"}, nil, "", []string{"gc_grace (flag --gc-grace)", "duration"}},
		{"gc_interval negative", []string{"--gc-interval", "-1m"}, nil, "", []string{"gc_interval (flag --gc-interval)"}},
		{"upload_max_age", nil, nil, "upload_max_age: 0s\n", []string{"upload_max_age (file "}},
		{"lifecycle_interval negative", nil, map[string]string{"S3PROXY_LIFECYCLE_INTERVAL": "-1h"}, "", []string{"lifecycle_interval (env S3PROXY_LIFECYCLE_INTERVAL)", "positive"}},
		{"max_object_size unit", []string{"--max-object-size", "5XB"}, nil, "", []string{"max_object_size (flag --max-object-size)", "unit"}},
		{"max_object_size zero", []string{"--max-object-size", "0"}, nil, "", []string{"max_object_size (flag --max-object-size)"}},
		{"cors_origins path", []string{"--cors-origins", "https://app.example.com/upload"}, nil, "", []string{"cors_origins (flag --cors-origins)", "not an origin"}},
		{"cors_origins scheme", nil, map[string]string{"S3PROXY_CORS_ORIGINS": "*, app.example.com"}, "", []string{"cors_origins (env S3PROXY_CORS_ORIGINS)", `"app.example.com"`}},
		{"trusted_proxies name", []string{"--trusted-proxies", "10.0.0.0/8, proxy.local"}, nil, "", []string{"trusted_proxies (flag --trusted-proxies)", `"proxy.local" is not an IP address or CIDR range`}},
		{"trusted_proxies mask", nil, map[string]string{"S3PROXY_TRUSTED_PROXIES": "10.0.0.0/33"}, "", []string{"trusted_proxies (env S3PROXY_TRUSTED_PROXIES)", `"10.0.0.0/33"`}},
		{"trusted_proxies zone", nil, nil, "trusted_proxies: fe80::1%eth0\n", []string{"trusted_proxies (file ", `"fe80::1%eth0"`}},
		{"sigv2 flag", []string{"--sigv2", "maybe"}, nil, "", []string{"sigv2 (flag --sigv2)", `"maybe" is not a boolean`}},
		{"sigv2 env", nil, map[string]string{"S3PROXY_SIGV2": "off"}, "", []string{"sigv2 (env S3PROXY_SIGV2)"}},
		{"max_object_size overflow", []string{"--max-object-size", "99999999999TiB"}, nil, "", []string{"max_object_size (flag --max-object-size)", "too large"}},
		{"access key without secret", nil, map[string]string{"S3PROXY_ACCESS_KEY": "AK"}, "", []string{"credentials (env S3PROXY_ACCESS_KEY)", "S3PROXY_SECRET_KEY"}},
		{"secret without access key", nil, map[string]string{"S3PROXY_SECRET_KEY": "SK"}, "", []string{"credentials (env S3PROXY_SECRET_KEY)", "S3PROXY_ACCESS_KEY"}},
		{"credential empty secret", nil, nil, "credentials:\n  - access_key: a\n", []string{"credentials[0].secret_key"}},
		{"credential empty access key", nil, nil, "credentials:\n  - secret_key: s\n", []string{"credentials[0].access_key"}},
		{"credential duplicate", nil, map[string]string{"S3PROXY_ACCESS_KEY": "a", "S3PROXY_SECRET_KEY": "s2"}, "credentials:\n  - {access_key: a, secret_key: s}\n", []string{"credentials.access_key (env S3PROXY_ACCESS_KEY)", "twice"}},
		{"backend no name", nil, nil, "backends:\n  - {type: local, path: /x}\n", []string{"backends[0].name"}},
		{"backend duplicate", nil, nil, "backends:\n  - {name: a, type: local, path: /x}\n  - {name: a, type: local, path: /y}\n", []string{"backends[1].name", "twice"}},
		{"backend unknown type", nil, nil, "backends:\n  - {name: a, type: gcs}\n", []string{"backends[0].type", `"gcs"`}},
		{"backend no type", nil, nil, "backends:\n  - {name: a}\n", []string{"backends[0].type"}},
		{"local no path", nil, nil, "backends:\n  - {name: a, type: local}\n", []string{"backends[0].path"}},
		{"s3 no bucket", nil, nil, "backends:\n  - {name: a, type: s3}\n", []string{"backends[0].bucket"}},
		{"cos no endpoint", nil, nil, "backends:\n  - {name: a, type: cos, bucket: b}\n", []string{"backends[0].endpoint"}},
		{"oss bad endpoint", nil, nil, "backends:\n  - {name: a, type: oss, bucket: b, endpoint: 'ftp://x'}\n", []string{"backends[0].endpoint"}},
		{"backend half keys", nil, nil, "backends:\n  - {name: a, type: s3, bucket: b, access_key: x}\n", []string{"backends[0].secret_key"}},
		{"backend bad key variable", nil, nil, "backends:\n  - {name: a, type: local, path: /x, encrypt_key_env: BAD-NAME}\n", []string{"backends[0].encrypt_key_env"}},
		{"placement unknown backend", nil, nil, "placement:\n  photos: cold\n", []string{"placement.photos", `"cold"`}},
		{"placement bad bucket", nil, nil, "placement:\n  Photos: local\n", []string{"placement.Photos", "bucket name"}},
		{"yaml syntax", nil, nil, "listen: [\n", []string{"config: file "}},
		{"yaml wrong type", nil, nil, "backends: 3\n", []string{"config: file "}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := tc.args
			if tc.yaml != "" {
				args = append([]string{"--config", writeYAML(t, tc.yaml)}, args...)
			}
			_, _, err := load(t, args, tc.env)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestAllErrorsReported(t *testing.T) {
	_, _, err := load(t, []string{"--listen", "x", "--region", "", "--log-level", "loud"}, nil)
	for _, key := range []string{"listen", "region", "log_level"} {
		if err == nil || !strings.Contains(err.Error(), key+" (flag") {
			t.Errorf("error %v does not name %s", err, key)
		}
	}
}

func TestMissingConfigFile(t *testing.T) {
	_, _, err := load(t, []string{"--config", filepath.Join(t.TempDir(), "nope.yaml")}, nil)
	if err == nil || !strings.Contains(err.Error(), "nope.yaml") {
		t.Fatalf("err = %v", err)
	}
}

func TestEmptyConfigFile(t *testing.T) {
	c := mustLoad(t, []string{"--config", writeYAML(t, "# nothing\n")}, nil)
	if c.Listen != defaultListen {
		t.Errorf("listen %q", c.Listen)
	}
}

func TestCredentials(t *testing.T) {
	p := writeYAML(t, "credentials:\n  - {access_key: alice, secret_key: s1}\n  - {access_key: root, secret_key: s2, admin: true}\n")
	c := mustLoad(t, []string{"--config", p}, map[string]string{"S3PROXY_ACCESS_KEY": "envkey", "S3PROXY_SECRET_KEY": "envsecret"})
	want := []Credential{{"alice", "s1", false}, {"root", "s2", true}, {"envkey", "envsecret", false}}
	if !reflect.DeepEqual(c.Credentials, want) {
		t.Errorf("credentials %v", c.Credentials)
	}
}

func TestImplicitLocalBackend(t *testing.T) {
	c := mustLoad(t, []string{"--data", "/srv/d"}, nil)
	want := []Backend{{Name: "local", Type: BackendLocal, Path: "/srv/d/chunks"}}
	if !reflect.DeepEqual(c.Backends, want) || c.DefaultBackend != "local" {
		t.Errorf("backends %v default %q", c.Backends, c.DefaultBackend)
	}
}

func TestBackendsAndPlacement(t *testing.T) {
	p := writeYAML(t, `
backends:
  - name: disk
    type: local
    path: /srv/chunks
  - name: aws
    type: s3
    bucket: my-chunks
    region: eu-west-1
  - name: minio
    type: s3
    endpoint: http://127.0.0.1:9100
    bucket: chunks
    path_style: true
    access_key: minio
    secret_key: minio123
default_backend: minio
placement:
  archive: aws
  scratch: disk
`)
	c := mustLoad(t, []string{"--config", p}, nil)
	if len(c.Backends) != 3 || !c.Backends[2].PathStyle || c.Backends[1].Endpoint != "" {
		t.Errorf("backends %v", c.Backends)
	}
	for bucket, want := range map[string]string{"archive": "aws", "scratch": "disk", "other": "minio"} {
		if got := c.BackendFor(bucket); got != want {
			t.Errorf("BackendFor(%q) = %q, want %q", bucket, got, want)
		}
	}
	// Without default_backend the first one is the default.
	c = mustLoad(t, []string{"--config", p, "--default-backend", "disk"}, nil)
	if c.DefaultBackend != "disk" {
		t.Errorf("default %q", c.DefaultBackend)
	}
}

func TestAdminListenOff(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  map[string]string
		yaml string
	}{
		{args: []string{"--admin-listen", "off"}},
		{args: []string{"--admin-listen="}},
		{env: map[string]string{"S3PROXY_ADMIN_LISTEN": "off"}},
		{yaml: "admin_listen: \"\"\n"},
		{yaml: "admin_listen: off\n"},
	} {
		args := tc.args
		if tc.yaml != "" {
			args = append(args, "--config", writeYAML(t, tc.yaml))
		}
		if c := mustLoad(t, args, tc.env); c.AdminListen != "" {
			t.Errorf("%v %v %q: admin_listen %q, want disabled", tc.args, tc.env, tc.yaml, c.AdminListen)
		}
	}
}

func TestAdvertiseDerived(t *testing.T) {
	for _, tc := range []struct{ listen, want string }{
		{"127.0.0.1:9000", "127.0.0.1:9000"},
		{"0.0.0.0:9000", "node1.example:9000"},
		{"[::]:9000", "node1.example:9000"},
		{":9000", "node1.example:9000"},
		{"[fd00::1]:9000", "[fd00::1]:9000"},
	} {
		c := mustLoad(t, []string{"--listen", tc.listen}, nil)
		if c.Advertise != tc.want {
			t.Errorf("listen %q: advertise %q, want %q", tc.listen, c.Advertise, tc.want)
		}
	}
	_, _, err := load(t, []string{"--listen", "0.0.0.0:9000"}, nil, WithHostname(func() (string, error) { return "", errors.New("no name") }))
	if err == nil || !strings.Contains(err.Error(), "advertise") {
		t.Errorf("err = %v", err)
	}
}

func TestExtraFlagsAndArgs(t *testing.T) {
	var dryRun *bool
	var bucket *string
	c, rest, err := load(t, []string{"--dry-run", "--bucket", "b1", "--data", "/d", "pos1", "pos2"}, nil,
		WithName("s3proxy gc"),
		WithFlags(func(fs *flag.FlagSet) {
			dryRun = fs.Bool("dry-run", false, "report only")
			bucket = fs.String("bucket", "", "limit to a bucket")
		}))
	if err != nil {
		t.Fatal(err)
	}
	if !*dryRun || *bucket != "b1" || c.Data != "/d" || !reflect.DeepEqual(rest, []string{"pos1", "pos2"}) {
		t.Errorf("dryRun %v bucket %q data %q rest %q", *dryRun, *bucket, c.Data, rest)
	}

	_, _, err = load(t, nil, nil, WithFlags(func(fs *flag.FlagSet) { fs.Bool("listen", false, "clash") }))
	if err == nil || !strings.Contains(err.Error(), "listen") {
		t.Errorf("duplicate flag: err = %v", err)
	}
}

func TestFlagErrors(t *testing.T) {
	var out bytes.Buffer
	_, _, err := Load([]string{"-h"}, envFrom(nil), WithOutput(&out))
	if !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: err = %v", err)
	}
	for _, want := range []string{"-listen", "S3PROXY_LISTEN", "-config"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("usage lacks %q", want)
		}
	}
	if _, _, err := load(t, []string{"--no-such-flag"}, nil); err == nil {
		t.Error("unknown flag accepted")
	}
}

func TestSettingsTableMatchesFile(t *testing.T) {
	var table, file []string
	for _, st := range settingsTable() {
		table = append(table, st.key)
		if "--"+st.flag != "--"+strings.ReplaceAll(st.key, "_", "-") {
			t.Errorf("flag %q does not match key %q", st.flag, st.key)
		}
		if st.env != "S3PROXY_"+strings.ToUpper(st.key) {
			t.Errorf("env %q does not match key %q", st.env, st.key)
		}
	}
	for k := range (&fileConfig{}).scalars() {
		file = append(file, k)
	}
	sort.Strings(table)
	sort.Strings(file)
	if !reflect.DeepEqual(table, file) {
		t.Errorf("table %v\nfile  %v", table, file)
	}
}

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"1234", 1234, true}, {"5TiB", 5 << 40, true}, {"100MiB", 100 << 20, true},
		{"10GB", 10e9, true}, {"1k", 1024, true}, {"7 GiB", 7 << 30, true}, {"0", 0, true},
		{"", 0, false}, {"-1", 0, false}, {"1.5GiB", 0, false}, {"12PB", 0, false},
	} {
		got, err := ParseSize(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseSize(%q) = %d, %v", tc.in, got, err)
		}
	}
}

func TestParseDuration(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"7d", 7 * 24 * time.Hour, true}, {"1h30m", 90 * time.Minute, true}, {"0", 0, true},
		{"d", 0, false}, {"1.5d", 0, false}, {"soon", 0, false},
	} {
		got, err := ParseDuration(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseDuration(%q) = %v, %v", tc.in, got, err)
		}
	}
}

func TestRedaction(t *testing.T) {
	p := writeYAML(t, `
credentials:
  - {access_key: alice, secret_key: CREDSECRET}
backends:
  - {name: s3, type: s3, bucket: b, access_key: bk, secret_key: BACKENDSECRET}
cluster_secret: CLUSTERSECRET-0123456789
meta: postgres://user:DBPASSWORD@db:5432/s3
redis: redis://:REDISPASSWORD@cache:6379/0
`)
	c := mustLoad(t, []string{"--config", p}, nil)
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("config", "config", c, "cred", c.Credentials[0], "backend", c.Backends[0])
	outputs := map[string]string{
		"String": c.String(), "%v": fmt.Sprintf("%v", c), "%+v": fmt.Sprintf("%+v", *c),
		"%#v": fmt.Sprintf("%#v", c), "creds %+v": fmt.Sprintf("%+v", c.Credentials),
		"backends %#v": fmt.Sprintf("%#v", c.Backends), "slog": logged.String(),
	}
	for name, out := range outputs {
		for _, secret := range []string{"CREDSECRET", "BACKENDSECRET", "CLUSTERSECRET", "DBPASSWORD", "REDISPASSWORD"} {
			if strings.Contains(out, secret) {
				t.Errorf("%s leaks %s: %s", name, secret, out)
			}
		}
		if !strings.Contains(out, "alice") && name != "backends %#v" {
			t.Errorf("%s lost the access key: %s", name, out)
		}
	}
}

// Unquoted YAML numbers must work where a size or duration is expected.
func TestYAMLNumbers(t *testing.T) {
	c := mustLoad(t, []string{"--config", writeYAML(t, "max_object_size: 1234\ngc_interval: 0\n")}, nil)
	if c.MaxObjectSize != 1234 || c.GCInterval != 0 {
		t.Errorf("max_object_size %d gc_interval %v", c.MaxObjectSize, c.GCInterval)
	}
}

// The example in docs/configuration.md must stay loadable.
func TestDocsExample(t *testing.T) {
	doc, err := os.ReadFile("../../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "```yaml\n")
	body, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("no yaml block in docs/configuration.md")
	}
	c := mustLoad(t, []string{"--config", writeYAML(t, body)}, nil)
	if len(c.Credentials) != 3 || len(c.Backends) != 2 || len(c.Placement) == 0 || c.MetaDriver() != MetaPostgres {
		t.Errorf("example loaded as %v", c)
	}
}

// TestSigV2Switch: the switch is on by default and reads as a YAML boolean
// (unquoted) as well as a string, so `sigv2: false` in a file turns SigV2 off.
func TestSigV2Switch(t *testing.T) {
	if c := mustLoad(t, nil, nil); !c.SigV2 {
		t.Error("sigv2 must default to true")
	}
	for body, want := range map[string]bool{"sigv2: false\n": false, "sigv2: true\n": true, "sigv2: 0\n": false} {
		c := mustLoad(t, []string{"--config", writeYAML(t, body)}, nil)
		if c.SigV2 != want {
			t.Errorf("%q: SigV2 = %v, want %v", body, c.SigV2, want)
		}
	}
	if c := mustLoad(t, []string{"--sigv2=false"}, nil); c.SigV2 {
		t.Error("--sigv2=false left SigV2 on")
	}
}

// TestTLSPair: tls_cert and tls_key go together, from any mix of sources; one without the
// other stops start-up naming the missing setting and where the present one came from.
func TestTLSPair(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		env     map[string]string
		yaml    string
		wantTLS bool
		wantErr string // "" for success
	}{
		{"neither", nil, nil, "", false, ""},
		{"both flags", []string{"--tls-cert", "c.pem", "--tls-key", "k.pem"}, nil, "", true, ""},
		{"both env", nil, map[string]string{"S3PROXY_TLS_CERT": "c.pem", "S3PROXY_TLS_KEY": "k.pem"}, "", true, ""},
		{"cert in file, key by flag", []string{"--tls-key", "k.pem"}, nil, "tls_cert: c.pem\n", true, ""},
		{"cluster_ca alone", []string{"--cluster-ca", "ca.pem"}, nil, "", false, ""},
		{"cert flag only", []string{"--tls-cert", "c.pem"}, nil, "", false,
			"config: tls_key (flag --tls-cert): tls_cert is set but tls_key is not; set both or neither"},
		{"key env only", nil, map[string]string{"S3PROXY_TLS_KEY": "k.pem"}, "", false,
			"config: tls_cert (env S3PROXY_TLS_KEY): tls_key is set but tls_cert is not; set both or neither"},
		{"cert file only", nil, nil, "tls_cert: c.pem\n", false, "config: tls_key (file "},
		{"key emptied by flag", []string{"--tls-key", ""}, nil, "tls_cert: c.pem\ntls_key: k.pem\n", false, "config: tls_key (file "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := tc.args
			if tc.yaml != "" {
				args = append([]string{"--config", writeYAML(t, tc.yaml)}, args...)
			}
			c, _, err := load(t, args, tc.env)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.TLS() != tc.wantTLS {
				t.Errorf("TLS() = %v, want %v", c.TLS(), tc.wantTLS)
			}
		})
	}
}
