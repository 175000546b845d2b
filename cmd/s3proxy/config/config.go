// Package config loads, merges and validates the configuration of the s3proxy
// binary.
//
// Every scalar setting can come from four places; the first that sets it wins:
//
//  1. a command-line flag (--listen),
//  2. an environment variable (S3PROXY_LISTEN),
//  3. a key in the YAML file named by --config / S3PROXY_CONFIG (listen),
//  4. the built-in default.
//
// Structured settings (credentials, backends, placement) live in the YAML file;
// the environment adds one credential (S3PROXY_ACCESS_KEY/S3PROXY_SECRET_KEY).
// Secrets are deliberately not flags because command lines are visible to every
// user of the machine (ps, /proc); --cluster-secret is the one exception, kept
// for parity with DESIGN.md and documented as discouraged.
//
// Load is free of side effects on disk: it only reads. Generating state that
// must survive restarts (credentials, node id) is explicit, in
// Config.EnsureCredentials and Config.EnsureNodeID, so that read-only
// subcommands and tests never write into a data directory by accident.
//
// docs/configuration.md is the user-facing reference; keep it in step.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"time"
)

// Credential is one S3 access key pair. Admin credentials see and may act on
// every bucket; others only on the buckets they created.
type Credential struct {
	AccessKey string `yaml:"access_key"`
	SecretKey string `yaml:"secret_key"`
	Admin     bool   `yaml:"admin"`
}

// Backend types understood by the binary.
const (
	BackendLocal = "local"
	BackendS3    = "s3"
	BackendCOS   = "cos"
	BackendOSS   = "oss"
)

// Backend is one configured chunk store. Which fields matter depends on Type:
// local uses Path; s3, cos and oss use the rest. Any type encrypts its chunks at rest
// when EncryptKeyFile or EncryptKeyEnv is set (docs/configuration.md, "Encryption at
// rest"); Load checks only the settings' shape, the keys are read when the store opens,
// so that they never sit in a Config that might be printed.
type Backend struct {
	Name      string `yaml:"name"`
	Type      string `yaml:"type"`
	Path      string `yaml:"path"`
	Endpoint  string `yaml:"endpoint"`
	Region    string `yaml:"region"`
	Bucket    string `yaml:"bucket"`
	Prefix    string `yaml:"prefix"`
	AccessKey string `yaml:"access_key"`
	SecretKey string `yaml:"secret_key"`
	PathStyle bool   `yaml:"path_style"`
	// EncryptKeyFile names a file of "id:key" lines; EncryptKeyEnv names an environment
	// variable holding "id:key[,id:key...]". The last key listed (the file's, then the
	// variable's) encrypts new chunks; every one listed decrypts.
	EncryptKeyFile string `yaml:"encrypt_key_file"`
	EncryptKeyEnv  string `yaml:"encrypt_key_env"`
}

// Encrypted reports whether the backend encrypts its chunks at rest.
func (b Backend) Encrypted() bool { return b.EncryptKeyFile != "" || b.EncryptKeyEnv != "" }

// Dedup scopes.
const (
	// DedupCredential only deduplicates (and answers instant uploads) within
	// one credential's objects, so nobody can obtain another's content by
	// naming its hash. The safe default.
	DedupCredential = "credential"
	// DedupGlobal deduplicates across all credentials.
	DedupGlobal = "global"
)

// Metadata drivers, as returned by Config.MetaDriver.
const (
	MetaSQLite   = "sqlite"
	MetaPostgres = "postgres"
)

// Config is the merged, validated configuration. After Load every field holds
// its effective value (defaults filled in), except NodeID, which is empty until
// EnsureNodeID, and Credentials, which may be empty until EnsureCredentials.
type Config struct {
	// ConfigFile is the YAML file that was read, "" when none.
	ConfigFile string

	Listen string
	// AdminListen serves /metrics, /healthz and /readyz; "" means disabled
	// (configured as "off").
	AdminListen string
	// Advertise is how other nodes reach this one.
	Advertise string
	Data      string
	// Meta is a SQLite file path or a postgres:// / postgresql:// DSN.
	Meta string
	// Redis is "" (no cache) or a redis:// / rediss:// URL.
	Redis       string
	DedupScope  string
	Region      string
	Credentials []Credential
	// Backends always holds at least one entry after Load.
	Backends       []Backend
	DefaultBackend string
	// Placement maps a bucket name to a backend name; buckets not listed go
	// to DefaultBackend. Never nil after Load.
	Placement map[string]string
	// ClusterSecret authenticates node-to-node requests; "" lets the server
	// generate one and keep it in the metadata store.
	ClusterSecret string
	NodeID        string
	LogFormat     string
	LogLevel      string
	GCGrace       time.Duration
	// GCInterval is the period of background GC; 0 disables it.
	GCInterval   time.Duration
	UploadMaxAge time.Duration
	// LifecycleInterval is the period of the background lifecycle pass (expiration,
	// aborting uploads by bucket rules); 0 disables it.
	LifecycleInterval time.Duration
	MaxObjectSize     int64
	// CORSOrigins are the browser origins allowed to call the S3 API ("*": any);
	// empty: no CORS, browsers' cross-origin calls are refused.
	CORSOrigins []string
	// SigV2 accepts AWS Signature Version 2 besides SigV4 (default true): unmodified
	// clients still presign with it (aws cli v1, s3cmd signurl).
	SigV2 bool
	// BlockPublicPolicy refuses public bucket policies and keeps stored ones from
	// letting anonymous requests in (default true): S3's Block Public Access
	// (BlockPublicPolicy and RestrictPublicBuckets), gateway-wide.
	BlockPublicPolicy bool
	// TrustedProxies are the reverse proxies whose X-Forwarded-For (or Forwarded)
	// header names the client, for aws:SourceIp and the access log; empty (default):
	// the socket's peer is the client, whatever a header says.
	TrustedProxies []netip.Prefix
	// TLSCert and TLSKey are PEM files; when set (always both) the S3 listener serves
	// HTTPS only. Load checks only that both or neither are set: the files are read by
	// serve, so that admin commands sharing the configuration need not read the key.
	TLSCert string
	TLSKey  string
	// ClusterCA is a PEM bundle of the CAs other nodes' certificates chain to; "" means
	// the system roots.
	ClusterCA string
}

// TLS reports whether the S3 listener serves HTTPS.
func (c *Config) TLS() bool { return c.TLSCert != "" }

// MetaDriver reports which metadata store Meta selects.
func (c *Config) MetaDriver() string {
	if isPostgresDSN(c.Meta) {
		return MetaPostgres
	}
	return MetaSQLite
}

// BackendFor returns the name of the backend new chunks of bucket go to.
func (c *Config) BackendFor(bucket string) string {
	if name, ok := c.Placement[bucket]; ok {
		return name
	}
	return c.DefaultBackend
}

// Option adjusts how Load runs.
type Option func(*options)

type options struct {
	name     string
	output   io.Writer
	flags    []func(*flag.FlagSet)
	hostname func() (string, error)
}

// WithName sets the FlagSet name shown in usage and errors, e.g. "s3proxy gc".
func WithName(name string) Option { return func(o *options) { o.name = name } }

// WithOutput sets where the FlagSet writes usage (on -h and on flag errors).
// The default is os.Stderr, as for any command-line tool.
func WithOutput(w io.Writer) Option { return func(o *options) { o.output = w } }

// WithFlags lets a subcommand register its own flags on the same FlagSet as
// the shared settings, so `s3proxy gc --dry-run --data /srv` parses in one
// pass and -h lists everything. The callback keeps the pointers fs.Bool etc.
// return; they are filled when Load returns. A name that clashes with a
// shared setting is reported as an error, not a panic.
func WithFlags(register func(fs *flag.FlagSet)) Option {
	return func(o *options) { o.flags = append(o.flags, register) }
}

// WithHostname replaces os.Hostname, which fills in the advertise host when
// listening on a wildcard address. For tests.
func WithHostname(f func() (string, error)) Option { return func(o *options) { o.hostname = f } }

// Load parses args (without the program name and subcommand), reads the
// environment through getenv, reads the YAML file, merges, applies defaults
// and validates. It returns the positional arguments left after the flags.
//
// Errors name the setting and where its value came from. When -h/--help is
// given the error wraps flag.ErrHelp (usage has already been written).
func Load(args []string, getenv func(string) string, opts ...Option) (*Config, []string, error) {
	o := options{name: "s3proxy", output: os.Stderr, hostname: os.Hostname}
	for _, opt := range opts {
		opt(&o)
	}
	if getenv == nil {
		getenv = func(string) string { return "" }
	}

	fs := flag.NewFlagSet(o.name, flag.ContinueOnError)
	fs.SetOutput(o.output)
	configFlag := fs.String("config", "", "YAML configuration file (env S3PROXY_CONFIG)")
	settings := settingsTable()
	flagVals := make(map[string]*string, len(settings))
	for _, st := range settings {
		usage := fmt.Sprintf("%s (env %s, YAML %s", st.usage, st.env, st.key)
		if st.defDoc != "" {
			usage += ", default " + st.defDoc
		}
		flagVals[st.key] = fs.String(st.flag, "", usage+")")
	}
	for _, register := range o.flags {
		if err := registerExtra(fs, register); err != nil {
			return nil, nil, err
		}
	}
	if err := fs.Parse(args); err != nil {
		return nil, nil, fmt.Errorf("config: %w", err)
	}
	visited := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { visited[f.Name] = true })

	cfgPath := getenv("S3PROXY_CONFIG")
	if visited["config"] {
		cfgPath = *configFlag
	}
	var file fileConfig
	if cfgPath != "" {
		var err error
		if file, err = readFile(cfgPath); err != nil {
			return nil, nil, err
		}
	}

	raw := make(map[string]rawValue, len(settings))
	fileScalars := file.scalars()
	fileSrc := "file " + cfgPath
	for _, st := range settings {
		switch {
		case visited[st.flag]:
			raw[st.key] = rawValue{s: *flagVals[st.key], src: "flag --" + st.flag, set: true}
		case getenv(st.env) != "":
			// An empty variable counts as unset: that is how shells and
			// compose files "clear" a value, and getenv cannot tell them apart.
			raw[st.key] = rawValue{s: getenv(st.env), src: "env " + st.env, set: true}
		case fileScalars[st.key] != nil:
			raw[st.key] = rawValue{s: *fileScalars[st.key], src: fileSrc, set: true}
		default:
			raw[st.key] = rawValue{src: "default"}
		}
	}

	cfg, err := build(raw, &file, fileSrc, getenv, o.hostname)
	if err != nil {
		return nil, nil, err
	}
	cfg.ConfigFile = cfgPath
	return cfg, fs.Args(), nil
}

// registerExtra runs a subcommand's flag registration, turning the panic the
// flag package raises on a duplicate name into an error.
func registerExtra(fs *flag.FlagSet, register func(*flag.FlagSet)) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("config: registering subcommand flags: %v", r)
		}
	}()
	register(fs)
	return nil
}

// rawValue is one setting's winning string and where it came from.
type rawValue struct {
	s   string
	src string
	set bool
}

// CredentialsFile is where EnsureCredentials keeps a generated pair.
func (c *Config) CredentialsFile() string { return filepath.Join(c.Data, "credentials.yaml") }

// NodeIDFile is where EnsureNodeID keeps a generated node id.
func (c *Config) NodeIDFile() string { return filepath.Join(c.Data, "node-id") }

// errorList collects every problem so one start-up reports them all.
type errorList []error

func (l *errorList) add(key, src, format string, args ...any) {
	*l = append(*l, fmt.Errorf("config: %s (%s): %s", key, src, fmt.Sprintf(format, args...)))
}

func (l errorList) err() error { return errors.Join(l...) }
