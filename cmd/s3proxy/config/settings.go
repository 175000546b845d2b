package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// setting describes one scalar setting in all its forms. The names are fixed
// by DESIGN.md ("Configuration"): scripts and docs rely on them. Settings it does
// not list (cors_origins, sigv2, tls_cert, tls_key, cluster_ca, ...) are additions
// in the same pattern, each recorded with its reason in docs/design-notes.md.
type setting struct {
	key    string // YAML key
	flag   string // flag name without dashes
	env    string
	defDoc string // default as shown in usage ("" when none)
	usage  string
}

// settingsTable lists every scalar setting; a function rather than a package
// variable so nothing can mutate it.
func settingsTable() []setting {
	return []setting{
		{"listen", "listen", "S3PROXY_LISTEN", defaultListen, "S3 API address host:port"},
		{"admin_listen", "admin-listen", "S3PROXY_ADMIN_LISTEN", defaultAdminListen, `admin address for /metrics, /healthz, /readyz; "off" disables`},
		{"advertise", "advertise", "S3PROXY_ADVERTISE", "the listen address", "host:port other nodes reach this one at"},
		{"data", "data", "S3PROXY_DATA", defaultData, "data directory (local chunks, SQLite, generated credentials)"},
		{"meta", "meta", "S3PROXY_META", "<data>/meta.db", "metadata store: SQLite file path or postgres:// DSN"},
		{"redis", "redis", "S3PROXY_REDIS", "", "Redis cache URL redis://host:port/db (none by default)"},
		{"dedup_scope", "dedup-scope", "S3PROXY_DEDUP_SCOPE", DedupCredential, "dedup scope: credential or global"},
		{"region", "region", "S3PROXY_REGION", defaultRegion, "S3 region reported to clients"},
		{"default_backend", "default-backend", "S3PROXY_DEFAULT_BACKEND", "the first backend", "backend for buckets without placement"},
		{"cluster_secret", "cluster-secret", "S3PROXY_CLUSTER_SECRET", "", "secret for node-to-node requests (prefer the env variable)"},
		{"node_id", "node-id", "S3PROXY_NODE_ID", "generated into <data>/node-id", "this node's id in a cluster"},
		{"log_format", "log-format", "S3PROXY_LOG_FORMAT", "text", "log format: text or json"},
		{"log_level", "log-level", "S3PROXY_LOG_LEVEL", "info", "log level: debug, info, warn, error"},
		{"gc_grace", "gc-grace", "S3PROXY_GC_GRACE", "1h", "age before an unreferenced chunk is collected"},
		{"gc_interval", "gc-interval", "S3PROXY_GC_INTERVAL", "10m", "background GC period; 0 disables"},
		{"upload_max_age", "upload-max-age", "S3PROXY_UPLOAD_MAX_AGE", "7d", "abandoned multipart uploads are aborted after this"},
		{"lifecycle_interval", "lifecycle-interval", "S3PROXY_LIFECYCLE_INTERVAL", "1h", "how often bucket lifecycle rules are applied (expiration, aborting uploads); 0 disables"},
		{"max_object_size", "max-object-size", "S3PROXY_MAX_OBJECT_SIZE", "5TiB", "largest object accepted (e.g. 5TiB, 100MiB, 1234)"},
		{"cors_origins", "cors-origins", "S3PROXY_CORS_ORIGINS", "", "browser origins allowed to call the S3 API, comma-separated (https://app.example.com), or * for any (none by default)"},
		{"sigv2", "sigv2", "S3PROXY_SIGV2", "true", "accept AWS Signature Version 2 (headers, presigned URLs, POST forms) besides SigV4: true or false"},
		{"block_public_policy", "block-public-policy", "S3PROXY_BLOCK_PUBLIC_POLICY", "true", "refuse public bucket policies (PutBucketPolicy is AccessDenied) and let no anonymous request in through one already stored: true or false"},
		{"trusted_proxies", "trusted-proxies", "S3PROXY_TRUSTED_PROXIES", "", "reverse proxies whose X-Forwarded-For or Forwarded header names the client (for aws:SourceIp and the access log), comma-separated IPs or CIDRs (10.0.0.0/8, ::1); none by default: the socket's peer is the client"},
		{"tls_cert", "tls-cert", "S3PROXY_TLS_CERT", "", "PEM certificate (chain) file: serve the S3 API over HTTPS only; needs tls_key; reloaded when the file changes"},
		{"tls_key", "tls-key", "S3PROXY_TLS_KEY", "", "PEM private key file of tls_cert"},
		{"cluster_ca", "cluster-ca", "S3PROXY_CLUSTER_CA", "the system roots", "PEM CA bundle that other nodes' HTTPS certificates must chain to"},
	}
}

const (
	defaultListen      = "127.0.0.1:9000"
	defaultAdminListen = "127.0.0.1:9001"
	defaultData        = "./data"
	defaultRegion      = "us-east-1"
	defaultGCGrace     = time.Hour
	defaultGCInterval  = 10 * time.Minute
	defaultUploadAge   = 7 * 24 * time.Hour
	// S3 applies lifecycle rules about once a day, and an object becomes due only at a
	// midnight UTC: an hourly pass acts within the hour of that midnight (or of a new
	// configuration) and costs a listing of the rules' prefixes 24 times a day.
	defaultLifecycleInterval = time.Hour
	defaultMaxObject         = 5 << 40 // 5 TiB, S3's own limit
)

// fileConfig is the YAML document. Scalars are pointers so that a key present
// in the file (even as "") can be told from an absent one.
type fileConfig struct {
	Listen         *string           `yaml:"listen"`
	AdminListen    *string           `yaml:"admin_listen"`
	Advertise      *string           `yaml:"advertise"`
	Data           *string           `yaml:"data"`
	Meta           *string           `yaml:"meta"`
	Redis          *string           `yaml:"redis"`
	DedupScope     *string           `yaml:"dedup_scope"`
	Region         *string           `yaml:"region"`
	DefaultBackend *string           `yaml:"default_backend"`
	ClusterSecret  *string           `yaml:"cluster_secret"`
	NodeID         *string           `yaml:"node_id"`
	LogFormat      *string           `yaml:"log_format"`
	LogLevel       *string           `yaml:"log_level"`
	GCGrace        *string           `yaml:"gc_grace"`
	GCInterval     *string           `yaml:"gc_interval"`
	UploadMaxAge   *string           `yaml:"upload_max_age"`
	LifecycleInt   *string           `yaml:"lifecycle_interval"`
	MaxObjectSize  *string           `yaml:"max_object_size"`
	CORSOrigins    *string           `yaml:"cors_origins"`
	SigV2          *string           `yaml:"sigv2"`
	BlockPublic    *string           `yaml:"block_public_policy"`
	TrustedProxies *string           `yaml:"trusted_proxies"`
	TLSCert        *string           `yaml:"tls_cert"`
	TLSKey         *string           `yaml:"tls_key"`
	ClusterCA      *string           `yaml:"cluster_ca"`
	Credentials    []Credential      `yaml:"credentials"`
	Backends       []Backend         `yaml:"backends"`
	Placement      map[string]string `yaml:"placement"`
}

func (f *fileConfig) scalars() map[string]*string {
	return map[string]*string{
		"listen": f.Listen, "admin_listen": f.AdminListen, "advertise": f.Advertise,
		"data": f.Data, "meta": f.Meta, "redis": f.Redis, "dedup_scope": f.DedupScope,
		"region": f.Region, "default_backend": f.DefaultBackend,
		"cluster_secret": f.ClusterSecret, "node_id": f.NodeID,
		"log_format": f.LogFormat, "log_level": f.LogLevel, "gc_grace": f.GCGrace,
		"gc_interval": f.GCInterval, "upload_max_age": f.UploadMaxAge, "lifecycle_interval": f.LifecycleInt,
		"max_object_size": f.MaxObjectSize, "cors_origins": f.CORSOrigins,
		"sigv2": f.SigV2, "block_public_policy": f.BlockPublic, "trusted_proxies": f.TrustedProxies, "tls_cert": f.TLSCert, "tls_key": f.TLSKey, "cluster_ca": f.ClusterCA,
	}
}

var unknownField = regexp.MustCompile(`line (\d+): field (\S+) not found in type`)

func readFile(path string) (fileConfig, error) {
	var fc fileConfig
	data, err := os.ReadFile(path)
	if err != nil {
		return fc, fmt.Errorf("config: reading --config file: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&fc); err != nil {
		if errors.Is(err, io.EOF) { // an empty file is an empty configuration
			return fileConfig{}, nil
		}
		// yaml.v3 says "field x not found in type config.fileConfig"; users
		// need the key and line, not our type names.
		if ms := unknownField.FindAllStringSubmatch(err.Error(), -1); ms != nil {
			var errs []error
			for _, m := range ms {
				errs = append(errs, fmt.Errorf("config: %s (file %s, line %s): unknown key", m[2], path, m[1]))
			}
			return fc, errors.Join(errs...)
		}
		return fc, fmt.Errorf("config: file %s: %w", path, err)
	}
	return fc, nil
}

// build turns the winning raw values plus the file's structured settings into
// a validated Config.
func build(raw map[string]rawValue, file *fileConfig, fileSrc string, getenv func(string) string, hostname func() (string, error)) (*Config, error) {
	var errs errorList
	str := func(key, def string) string {
		if v := raw[key]; v.set {
			return strings.TrimSpace(v.s)
		}
		return def
	}
	src := func(key string) string { return raw[key].src }

	c := &Config{
		Listen:         str("listen", defaultListen),
		AdminListen:    str("admin_listen", defaultAdminListen),
		Advertise:      str("advertise", ""),
		Data:           str("data", defaultData),
		Meta:           str("meta", ""),
		Redis:          str("redis", ""),
		DedupScope:     str("dedup_scope", DedupCredential),
		Region:         str("region", defaultRegion),
		DefaultBackend: str("default_backend", ""),
		// Secrets are taken verbatim: whitespace may be part of them.
		ClusterSecret: raw["cluster_secret"].s,
		NodeID:        str("node_id", ""),
		LogFormat:     str("log_format", "text"),
		LogLevel:      str("log_level", "info"),
	}

	checkHostPort(&errs, "listen", src("listen"), c.Listen, true)
	// "off" is the documented way to disable; an explicit empty value from a
	// flag or the file means the same (an empty env variable means unset).
	if c.AdminListen == "off" || (raw["admin_listen"].set && c.AdminListen == "") {
		c.AdminListen = ""
	} else if checkHostPort(&errs, "admin_listen", src("admin_listen"), c.AdminListen, true) &&
		c.AdminListen == c.Listen {
		errs.add("admin_listen", src("admin_listen"), "%q is the same address as listen", c.AdminListen)
	}

	if c.Data == "" {
		errs.add("data", src("data"), "must not be empty")
	}

	if c.Advertise == "" {
		c.Advertise = deriveAdvertise(&errs, c.Listen, src("listen"), hostname)
	} else if checkHostPort(&errs, "advertise", src("advertise"), c.Advertise, false) {
		if h, _, _ := net.SplitHostPort(c.Advertise); isWildcard(h) {
			errs.add("advertise", src("advertise"), "%q is a wildcard address other nodes cannot reach", c.Advertise)
		}
	}

	if c.Meta == "" {
		c.Meta = filepath.Join(c.Data, "meta.db")
	} else {
		checkMeta(&errs, src("meta"), c.Meta)
	}
	if c.Redis != "" {
		checkRedis(&errs, src("redis"), c.Redis)
	}
	checkEnum(&errs, "dedup_scope", src("dedup_scope"), c.DedupScope, DedupCredential, DedupGlobal)
	if c.Region == "" || strings.ContainsAny(c.Region, " \t\r\n/") {
		errs.add("region", src("region"), "%q is not a region name", c.Region)
	}
	if c.NodeID != "" && !validID.MatchString(c.NodeID) {
		errs.add("node_id", src("node_id"), "%q must be 1-64 characters of A-Z a-z 0-9 . _ -", c.NodeID)
	}
	if v := raw["cluster_secret"]; v.set && len(v.s) < minClusterSecret {
		// A short shared secret is guessable; refuse rather than run a
		// cluster with a weak internal endpoint.
		errs.add("cluster_secret", v.src, "must be at least %d characters", minClusterSecret)
	}
	c.CORSOrigins = corsOrigins(&errs, src("cors_origins"), str("cors_origins", ""))
	c.SigV2 = boolSetting(&errs, raw, "sigv2", true)
	c.BlockPublicPolicy = boolSetting(&errs, raw, "block_public_policy", true)
	c.TrustedProxies = trustedProxies(&errs, src("trusted_proxies"), str("trusted_proxies", ""))
	c.TLSCert, c.TLSKey = str("tls_cert", ""), str("tls_key", "")
	// Only the pair makes sense: a certificate without its key cannot serve, and a key
	// alone names nothing. Serving plain HTTP instead would be a silent downgrade.
	switch {
	case c.TLSCert != "" && c.TLSKey == "":
		errs.add("tls_key", src("tls_cert"), "tls_cert is set but tls_key is not; set both or neither")
	case c.TLSKey != "" && c.TLSCert == "":
		errs.add("tls_cert", src("tls_key"), "tls_key is set but tls_cert is not; set both or neither")
	}
	c.ClusterCA = str("cluster_ca", "")
	checkEnum(&errs, "log_format", src("log_format"), c.LogFormat, "text", "json")
	checkEnum(&errs, "log_level", src("log_level"), c.LogLevel, "debug", "info", "warn", "error")

	c.GCGrace = durationSetting(&errs, raw, "gc_grace", defaultGCGrace, false)
	c.GCInterval = durationSetting(&errs, raw, "gc_interval", defaultGCInterval, true)
	c.UploadMaxAge = durationSetting(&errs, raw, "upload_max_age", defaultUploadAge, false)
	c.LifecycleInterval = durationSetting(&errs, raw, "lifecycle_interval", defaultLifecycleInterval, true)
	c.MaxObjectSize = defaultMaxObject
	if v := raw["max_object_size"]; v.set {
		n, err := ParseSize(v.s)
		if err != nil {
			errs.add("max_object_size", v.src, "%v", err)
		} else if n <= 0 {
			errs.add("max_object_size", v.src, "%q must be positive", v.s)
		} else {
			c.MaxObjectSize = n
		}
	}

	c.Credentials = buildCredentials(&errs, file.Credentials, fileSrc, getenv)
	c.Backends = buildBackends(&errs, file.Backends, fileSrc, c.Data)
	c.Placement = map[string]string{}
	names := map[string]bool{}
	for _, b := range c.Backends {
		names[b.Name] = true
	}
	for bucket, backend := range file.Placement {
		key := "placement." + bucket
		switch {
		case !validBucket.MatchString(bucket):
			// Catches typos such as "Photos" that would otherwise never match.
			errs.add(key, fileSrc, "%q is not a valid S3 bucket name", bucket)
		case !names[backend]:
			errs.add(key, fileSrc, "backend %q is not configured", backend)
		}
		c.Placement[bucket] = backend
	}
	if c.DefaultBackend == "" {
		if len(c.Backends) > 0 {
			c.DefaultBackend = c.Backends[0].Name
		}
	} else if !names[c.DefaultBackend] {
		errs.add("default_backend", src("default_backend"), "backend %q is not configured", c.DefaultBackend)
	}

	if err := errs.err(); err != nil {
		return nil, err
	}
	return c, nil
}

const minClusterSecret = 16

var validID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

func checkEnum(errs *errorList, key, src, v string, allowed ...string) {
	for _, a := range allowed {
		if v == a {
			return
		}
	}
	errs.add(key, src, "%q is not one of %s", v, strings.Join(allowed, ", "))
}

// checkHostPort reports whether v is host:port with a numeric port. Port 0
// (pick a free port) is allowed for addresses we listen on, which tests use.
func checkHostPort(errs *errorList, key, src, v string, allowZeroPort bool) bool {
	_, port, err := net.SplitHostPort(v)
	if err != nil {
		errs.add(key, src, "%q is not a host:port", v)
		return false
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || (n == 0 && !allowZeroPort) {
		errs.add(key, src, "%q has an invalid port", v)
		return false
	}
	return true
}

func isWildcard(host string) bool {
	if host == "" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsUnspecified()
}

// deriveAdvertise defaults advertise to the listen address. A wildcard host
// (0.0.0.0, ::, empty) is useless to other nodes, so it is replaced by this
// machine's hostname, which is what resolves in compose and Kubernetes.
func deriveAdvertise(errs *errorList, listen, listenSrc string, hostname func() (string, error)) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen // already reported under listen
	}
	if !isWildcard(host) {
		return listen
	}
	h, err := hostname()
	if err != nil || h == "" {
		errs.add("advertise", "default from "+listenSrc, "listen %q is a wildcard and the hostname is unknown (%v); set advertise", listen, err)
		return ""
	}
	return net.JoinHostPort(h, port)
}

func isPostgresDSN(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

func checkMeta(errs *errorList, src, v string) {
	if isPostgresDSN(v) {
		u, err := url.Parse(v)
		if err != nil || u.Host == "" {
			errs.add("meta", src, "%q is not a valid PostgreSQL URL", redactURL(v))
		}
		return
	}
	// Anything else is a SQLite file path; a different scheme is a typo or
	// an unsupported database, not a file name.
	if i := strings.Index(v, "://"); i > 0 {
		errs.add("meta", src, "unsupported scheme %q (want a SQLite path or postgres://)", v[:i])
		return
	}
	// A libpq key=value DSN would otherwise silently become a SQLite file
	// named after it (and its password would end up in logs).
	if strings.Contains(v, "=") && strings.Contains(v, " ") {
		errs.add("meta", src, "looks like a key=value DSN; write PostgreSQL as a postgres:// URL")
	}
}

func checkRedis(errs *errorList, src, v string) {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Hostname() == "" {
		errs.add("redis", src, "%q is not a redis://host:port/db URL", redactURL(v))
		return
	}
	if p := u.Port(); p != "" {
		if _, err := strconv.ParseUint(p, 10, 16); err != nil {
			errs.add("redis", src, "%q has an invalid port", redactURL(v))
		}
	}
	if db := strings.Trim(u.Path, "/"); db != "" {
		if _, err := strconv.ParseUint(db, 10, 32); err != nil {
			errs.add("redis", src, "database %q is not a number", db)
		}
	}
}

// boolSetting reads true/false (and strconv.ParseBool's 1/0, t/f); anything else
// stops start-up rather than guess which way an operator meant a switch.
func boolSetting(errs *errorList, raw map[string]rawValue, key string, def bool) bool {
	v := raw[key]
	if !v.set {
		return def
	}
	b, err := strconv.ParseBool(strings.TrimSpace(v.s))
	if err != nil {
		errs.add(key, v.src, "%q is not a boolean: want true or false", v.s)
		return def
	}
	return b
}

func durationSetting(errs *errorList, raw map[string]rawValue, key string, def time.Duration, zeroOK bool) time.Duration {
	v := raw[key]
	if !v.set {
		return def
	}
	d, err := ParseDuration(v.s)
	switch {
	case err != nil:
		errs.add(key, v.src, "%v", err)
	case d < 0 || (d == 0 && !zeroOK):
		errs.add(key, v.src, "%q must be positive", v.s)
	default:
		return d
	}
	return def
}

// ParseDuration accepts Go durations ("90m", "1h30m") and whole days ("7d"),
// since retention periods are naturally given in days.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseUint(days, 10, 32)
		if err == nil && n <= 100000 {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration (e.g. 30s, 10m, 1h, 7d)", s)
	}
	return d, nil
}

func sizeUnit(u string) (int64, bool) {
	switch strings.ToLower(u) {
	case "", "b":
		return 1, true
	case "k", "kib":
		return 1 << 10, true
	case "m", "mib":
		return 1 << 20, true
	case "g", "gib":
		return 1 << 30, true
	case "t", "tib":
		return 1 << 40, true
	case "kb":
		return 1e3, true
	case "mb":
		return 1e6, true
	case "gb":
		return 1e9, true
	case "tb":
		return 1e12, true
	}
	return 0, false
}

var sizeRE = regexp.MustCompile(`^([0-9]+)\s*([A-Za-z]*)$`)

// ParseSize accepts a byte count with an optional unit: 1234, 100MiB, 5TiB,
// 10GB. IEC units (KiB…TiB, and bare K/M/G/T) are powers of 1024, SI units
// (KB…TB) powers of 1000.
func ParseSize(s string) (int64, error) {
	m := sizeRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return 0, fmt.Errorf("%q is not a size (e.g. 1234, 100MiB, 5TiB)", s)
	}
	unit, ok := sizeUnit(m[2])
	if !ok {
		return 0, fmt.Errorf("%q has an unknown unit %q", s, m[2])
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil || n > (1<<63-1)/unit {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return n * unit, nil
}

func buildCredentials(errs *errorList, fromFile []Credential, fileSrc string, getenv func(string) string) []Credential {
	creds := append([]Credential(nil), fromFile...)
	ak, sk := getenv("S3PROXY_ACCESS_KEY"), getenv("S3PROXY_SECRET_KEY")
	switch {
	case ak != "" && sk != "":
		creds = append(creds, Credential{AccessKey: ak, SecretKey: sk})
	case ak != "":
		errs.add("credentials", "env S3PROXY_ACCESS_KEY", "S3PROXY_SECRET_KEY is not set; set both or neither")
	case sk != "":
		errs.add("credentials", "env S3PROXY_SECRET_KEY", "S3PROXY_ACCESS_KEY is not set; set both or neither")
	}
	seen := map[string]bool{}
	for i, cr := range creds {
		key, src := fmt.Sprintf("credentials[%d]", i), fileSrc
		if i >= len(fromFile) {
			key, src = "credentials", "env S3PROXY_ACCESS_KEY"
		}
		switch {
		case cr.AccessKey == "":
			errs.add(key+".access_key", src, "must not be empty")
		case strings.ContainsAny(cr.AccessKey, " \t\r\n/="):
			// These would break the SigV4 Credential= field.
			errs.add(key+".access_key", src, "must not contain spaces, '/' or '='")
		case seen[cr.AccessKey]:
			errs.add(key+".access_key", src, "%q is configured twice", cr.AccessKey)
		}
		seen[cr.AccessKey] = true
		if cr.SecretKey == "" {
			errs.add(key+".secret_key", src, "must not be empty")
		}
	}
	return creds
}

var validBucket = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)

var validEnvName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

var validBackendName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

func buildBackends(errs *errorList, list []Backend, fileSrc, data string) []Backend {
	if len(list) == 0 {
		return []Backend{{Name: "local", Type: BackendLocal, Path: filepath.Join(data, "chunks")}}
	}
	out := append([]Backend(nil), list...)
	seen := map[string]bool{}
	for i, b := range out {
		key := fmt.Sprintf("backends[%d]", i)
		switch {
		case b.Name == "":
			errs.add(key+".name", fileSrc, "must not be empty")
		case !validBackendName.MatchString(b.Name):
			errs.add(key+".name", fileSrc, "%q must be letters, digits, '.', '_' or '-'", b.Name)
		case seen[b.Name]:
			errs.add(key+".name", fileSrc, "%q is configured twice", b.Name)
		}
		seen[b.Name] = true
		if (b.AccessKey == "") != (b.SecretKey == "") {
			errs.add(key+".secret_key", fileSrc, "access_key and secret_key go together; set both or neither")
		}
		if b.EncryptKeyEnv != "" && !validEnvName.MatchString(b.EncryptKeyEnv) {
			errs.add(key+".encrypt_key_env", fileSrc, "%q is not an environment variable name", b.EncryptKeyEnv)
		}
		switch b.Type {
		case BackendLocal:
			if b.Path == "" {
				errs.add(key+".path", fileSrc, "required for type local")
			}
		case BackendS3, BackendCOS, BackendOSS:
			if b.Bucket == "" {
				errs.add(key+".bucket", fileSrc, "required for type %s", b.Type)
			}
			// Without an endpoint the s3 backend talks to AWS; COS and OSS
			// have no global endpoint, so they need one.
			if b.Endpoint == "" && b.Type != BackendS3 {
				errs.add(key+".endpoint", fileSrc, "required for type %s", b.Type)
			}
			if b.Endpoint != "" {
				checkEndpoint(errs, key+".endpoint", fileSrc, b.Endpoint)
			}
			if b.Path != "" {
				errs.add(key+".path", fileSrc, "only for type local (use prefix)")
			}
		case "":
			errs.add(key+".type", fileSrc, "required (local, s3, cos or oss)")
		default:
			errs.add(key+".type", fileSrc, "%q is not one of local, s3, cos, oss", b.Type)
		}
	}
	return out
}

// checkEndpoint accepts a bare host[:port] or an http(s) URL, the two forms
// the vendors' documentation uses.
func checkEndpoint(errs *errorList, key, src, v string) {
	if strings.Contains(v, "://") {
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs.add(key, src, "%q is not an http(s) URL", v)
		}
		return
	}
	if strings.ContainsAny(v, " /?#") {
		errs.add(key, src, "%q is not a host or URL", v)
	}
}

// corsOrigins parses the comma-separated cors_origins: each entry is "*" or a browser
// origin, scheme://host[:port] with no path, as browsers send it in Origin.
func corsOrigins(errs *errorList, src, v string) []string {
	var out []string
	for _, o := range strings.Split(v, ",") {
		o = strings.TrimSpace(o)
		if o == "" {
			continue
		}
		if o != "*" {
			u, err := url.Parse(o)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
				errs.add("cors_origins", src, "%q is not an origin: want scheme://host[:port] (https://app.example.com) or *", o)
				continue
			}
			o = u.Scheme + "://" + u.Host
		}
		out = append(out, o)
	}
	return out
}

// trustedProxies parses the comma-separated trusted_proxies: each entry an IP address
// (the one proxy) or a CIDR range. The ranges are kept masked, so that 10.1.2.3/8 means
// 10.0.0.0/8 as an operator meant it.
func trustedProxies(errs *errorList, src, v string) []netip.Prefix {
	var out []netip.Prefix
	for _, e := range strings.Split(v, ",") {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		var p netip.Prefix
		var err error
		if strings.Contains(e, "/") {
			p, err = netip.ParsePrefix(e)
		} else {
			var a netip.Addr
			if a, err = netip.ParseAddr(e); err == nil && a.Zone() != "" {
				// Peers are compared without zones: one here would silently not count.
				err = errors.New("a zone")
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		if err != nil {
			errs.add("trusted_proxies", src, "%q is not an IP address or CIDR range (10.0.0.0/8, 192.0.2.1, ::1)", e)
			continue
		}
		// An IPv4-mapped IPv6 range would never match: peers are compared as IPv4.
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		out = append(out, p.Masked())
	}
	return out
}
