package config

import (
	"fmt"
	"log/slog"
	"net/url"
	"strings"
)

// The String, GoString and LogValue methods below exist so that logging or
// printing a configuration (%v, %+v, %#v, slog) can never leak a secret key,
// the cluster secret or a password inside a DSN. Access keys are not secret
// and stay visible: operators need them to tell credentials apart.

const redacted = "REDACTED"

func redactIfSet(s string) string {
	if s == "" {
		return ""
	}
	return redacted
}

// redactURL hides the password of a URL-shaped DSN (postgres://, redis://).
func redactURL(s string) string {
	if !strings.Contains(s, "://") {
		return s
	}
	u, err := url.Parse(s)
	if err != nil {
		// Cannot find the password reliably; hide everything after the scheme.
		return s[:strings.Index(s, "://")+3] + redacted
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), redacted)
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", redacted)
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// String prints the access key and role, never the secret.
func (c Credential) String() string {
	return fmt.Sprintf("{access_key:%s secret_key:%s admin:%t}", c.AccessKey, redactIfSet(c.SecretKey), c.Admin)
}

// GoString keeps %#v from bypassing String.
func (c Credential) GoString() string { return "config.Credential" + c.String() }

// LogValue implements slog.LogValuer.
func (c Credential) LogValue() slog.Value {
	return slog.GroupValue(slog.String("access_key", c.AccessKey), slog.Bool("admin", c.Admin))
}

// String prints the backend without its secret key.
func (b Backend) String() string {
	return fmt.Sprintf("{name:%s type:%s path:%s endpoint:%s region:%s bucket:%s prefix:%s access_key:%s secret_key:%s path_style:%t encrypt_key_file:%s encrypt_key_env:%s}",
		b.Name, b.Type, b.Path, b.Endpoint, b.Region, b.Bucket, b.Prefix, b.AccessKey, redactIfSet(b.SecretKey), b.PathStyle, b.EncryptKeyFile, b.EncryptKeyEnv)
}

// GoString keeps %#v from bypassing String.
func (b Backend) GoString() string { return "config.Backend" + b.String() }

// LogValue implements slog.LogValuer.
func (b Backend) LogValue() slog.Value {
	attrs := []slog.Attr{slog.String("name", b.Name), slog.String("type", b.Type)}
	add := func(k, v string) {
		if v != "" {
			attrs = append(attrs, slog.String(k, v))
		}
	}
	add("path", b.Path)
	add("endpoint", b.Endpoint)
	add("region", b.Region)
	add("bucket", b.Bucket)
	add("prefix", b.Prefix)
	add("access_key", b.AccessKey)
	// Where the keys are, never the keys (they are not in Backend at all).
	add("encrypt_key_file", b.EncryptKeyFile)
	add("encrypt_key_env", b.EncryptKeyEnv)
	if b.PathStyle {
		attrs = append(attrs, slog.Bool("path_style", true))
	}
	return slog.GroupValue(attrs...)
}

// String prints the effective configuration with secrets hidden.
func (c Config) String() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "{config:%s listen:%s admin_listen:%s advertise:%s data:%s meta:%s redis:%s",
		c.ConfigFile, c.Listen, orOff(c.AdminListen), c.Advertise, c.Data, redactURL(c.Meta), redactURL(c.Redis))
	fmt.Fprintf(&sb, " dedup_scope:%s region:%s credentials:%v backends:%v default_backend:%s placement:%v",
		c.DedupScope, c.Region, c.Credentials, c.Backends, c.DefaultBackend, c.Placement)
	fmt.Fprintf(&sb, " cluster_secret:%s node_id:%s log_format:%s log_level:%s gc_grace:%s gc_interval:%s upload_max_age:%s lifecycle_interval:%s max_object_size:%d",
		redactIfSet(c.ClusterSecret), c.NodeID, c.LogFormat, c.LogLevel, c.GCGrace, c.GCInterval, c.UploadMaxAge, c.LifecycleInterval, c.MaxObjectSize)
	// File names only: the key's contents are never read here.
	fmt.Fprintf(&sb, " tls_cert:%s tls_key:%s cluster_ca:%s}", c.TLSCert, c.TLSKey, c.ClusterCA)
	return sb.String()
}

// GoString keeps %#v from bypassing String.
func (c Config) GoString() string { return "config.Config" + c.String() }

// LogValue implements slog.LogValuer, for a start-up log line.
func (c Config) LogValue() slog.Value {
	backends := make([]slog.Attr, len(c.Backends))
	for i, b := range c.Backends {
		backends[i] = slog.Any(b.Name, b.LogValue())
	}
	// Only the access keys: enough to tell credentials apart.
	keys := make([]string, 0, len(c.Credentials))
	for _, cr := range c.Credentials {
		keys = append(keys, cr.AccessKey)
	}
	return slog.GroupValue(
		slog.String("config", c.ConfigFile),
		slog.String("listen", c.Listen),
		slog.String("admin_listen", orOff(c.AdminListen)),
		slog.String("advertise", c.Advertise),
		slog.String("data", c.Data),
		slog.String("meta", redactURL(c.Meta)),
		slog.String("redis", redactURL(c.Redis)),
		slog.String("dedup_scope", c.DedupScope),
		slog.String("region", c.Region),
		slog.Any("access_keys", keys),
		slog.Attr{Key: "backends", Value: slog.GroupValue(backends...)},
		slog.String("default_backend", c.DefaultBackend),
		slog.Any("placement", c.Placement),
		slog.String("cluster_secret", redactIfSet(c.ClusterSecret)),
		slog.String("node_id", c.NodeID),
		slog.String("log_format", c.LogFormat),
		slog.String("log_level", c.LogLevel),
		slog.Duration("gc_grace", c.GCGrace),
		slog.Duration("gc_interval", c.GCInterval),
		slog.Duration("upload_max_age", c.UploadMaxAge),
		slog.Int64("max_object_size", c.MaxObjectSize),
		slog.String("tls_cert", c.TLSCert),
		slog.String("tls_key", c.TLSKey),
		slog.String("cluster_ca", c.ClusterCA),
	)
}

func orOff(s string) string {
	if s == "" {
		return "off"
	}
	return s
}
