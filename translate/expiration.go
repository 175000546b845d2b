package translate

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"s3proxy/meta"
)

// Expiry is when an enabled lifecycle Expiration rule will delete an object: what S3
// reports in the x-amz-expiration header of PutObject, CopyObject,
// CompleteMultipartUpload, GetObject and HeadObject answers.
type Expiry struct {
	Date   time.Time
	RuleID string
}

// Header renders the expiry as S3 does:
// `expiry-date="Fri, 23 Dec 2012 00:00:00 GMT", rule-id="picture-deletion-rule"`, the
// rule id URL-encoded.
func (e *Expiry) Header() string {
	return `expiry-date="` + e.Date.UTC().Format(http.TimeFormat) + `", rule-id="` + url.PathEscape(e.RuleID) + `"`
}

// expiryOf returns when the bucket's lifecycle rules will expire the object (nil when
// none will): of the enabled Expiration rules whose filter selects it by key, size and
// tags, the one due first. The header is advisory: a configuration that cannot be read
// leaves it out (logged) and the request goes on. Served from the lifecycle cache
// (configcache.go): a bucket without a configuration costs no metadata read.
func (s *Service) expiryOf(ctx context.Context, o meta.Object) *Expiry {
	cfg, err := s.lifecycles.get(ctx, o.Bucket)
	if err != nil {
		s.log.Warn("lifecycle configuration unreadable for x-amz-expiration", "bucket", o.Bucket, "err", err)
		return nil
	}
	if cfg == nil {
		return nil
	}
	var best *Expiry
	var tags map[string]string
	for _, r := range cfg.Rules {
		if !r.Expires() || !r.Filter.SelectsKeySize(o.Key, o.Size) {
			continue
		}
		if r.Filter.NeedsTags() {
			if tags == nil {
				if tags, err = tagsOf(o.Headers); err != nil {
					s.log.Warn("tags unreadable for x-amz-expiration", "bucket", o.Bucket, "key", o.Key, "err", err)
					return nil
				}
			}
			if !r.Filter.SelectsTags(tags) {
				continue
			}
		}
		due, _ := r.ExpiresAt(o.ModTime)
		if best == nil || due.Before(best.Date) {
			best = &Expiry{Date: due, RuleID: r.ID}
		}
	}
	return best
}

// tagsOf returns an object's tags from its stored headers (TaggingKey), one value per
// key (S3 allows no repeats).
func tagsOf(headers map[string]string) (map[string]string, error) {
	q, err := url.ParseQuery(headers[TaggingKey])
	if err != nil {
		return nil, err
	}
	flat := make(map[string]string, len(q))
	for k, vs := range q {
		flat[k] = vs[0]
	}
	return flat, nil
}
