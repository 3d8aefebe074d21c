// Package eventsurl opens the events.Bus a URL names (STACKER_EVENTS_URL),
// so the gateway picks its broker by configuration alone:
//
//	memory://                          in-process, one replica only (the default)
//	nats://host:4222[,host2:4222]      core NATS
//	redis://[user:pass@]host:6379/0    Redis pub/sub (rediss:// for TLS, go-redis URL options allowed)
//	kafka://broker1:9092,broker2:9092  Kafka
//
// Any of them takes ?topic=NAME, the subject, channel or topic to use
// (default events.DefaultTopic). The same URLs, but for memory://, also
// open an events.Publisher (OpenPublisher), which the audit trail writes
// through. It lives apart from package events because it imports every
// adapter, and the adapters import events.
package eventsurl

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"

	goredis "github.com/redis/go-redis/v9"

	"github.com/stacker/stacker/events"
	"github.com/stacker/stacker/events/kafka"
	"github.com/stacker/stacker/events/memory"
	"github.com/stacker/stacker/events/nats"
	"github.com/stacker/stacker/events/redis"
)

// Target is a parsed events URL.
type Target struct {
	// Scheme is "memory", "nats", "redis" (also for rediss://) or "kafka".
	Scheme string
	// Topic is the ?topic= value; empty when the URL has none.
	Topic string
	// Address is what the adapter connects to: the NATS server list
	// ("nats://a:4222,nats://b:4222") or the Redis URL without topic; empty
	// for memory and kafka.
	Address string
	// Brokers are Kafka's seed brokers (host:port).
	Brokers []string
}

// Parse checks an events URL without connecting, so a malformed one stops
// startup with a clear message. Errors never repeat a password.
func Parse(raw string) (Target, error) {
	scheme, rest, ok := strings.Cut(strings.TrimSpace(raw), "://")
	if !ok || scheme == "" {
		return Target{}, fmt.Errorf("events URL %q: want scheme://..., one of memory://, nats://host:4222, redis://host:6379/0, kafka://host:9092", redact(raw))
	}
	scheme = strings.ToLower(scheme)
	hosts, rawQuery, _ := strings.Cut(rest, "?")
	query, err := url.ParseQuery(rawQuery)
	if err != nil {
		return Target{}, fmt.Errorf("events URL %q: query: %v", redact(raw), err)
	}
	t := Target{Scheme: scheme}
	if vs, ok := query["topic"]; ok {
		if len(vs) != 1 || vs[0] == "" {
			return Target{}, fmt.Errorf("events URL %q: topic must be given once and not be empty", redact(raw))
		}
		t.Topic = vs[0]
		delete(query, "topic")
	}
	onlyTopic := func() error {
		for k := range query {
			return fmt.Errorf("events URL %q: unknown parameter %q (%s:// takes only topic)", redact(raw), k, scheme)
		}
		return nil
	}

	switch scheme {
	case "memory":
		if hosts != "" && hosts != "/" {
			return Target{}, fmt.Errorf("events URL %q: memory:// takes no address", redact(raw))
		}
		return t, onlyTopic()

	case "nats":
		if err := onlyTopic(); err != nil {
			return Target{}, err
		}
		if err := validTopic(t.Topic, nats.ValidSubject); err != nil {
			return Target{}, fmt.Errorf("events URL %q: %w", redact(raw), err)
		}
		var servers []string
		for entry := range strings.SplitSeq(hosts, ",") {
			entry = strings.TrimPrefix(strings.TrimSpace(entry), "nats://")
			userinfo, hostport := "", entry
			if i := strings.LastIndex(entry, "@"); i >= 0 {
				userinfo, hostport = entry[:i+1], entry[i+1:]
			}
			hp, err := hostPort(hostport, 4222)
			if err != nil {
				return Target{}, fmt.Errorf("events URL %q: %v", redact(raw), err)
			}
			servers = append(servers, "nats://"+userinfo+hp)
		}
		t.Address = strings.Join(servers, ",")
		return t, nil

	case "redis", "rediss":
		u := scheme + "://" + hosts
		if enc := query.Encode(); enc != "" {
			u += "?" + enc
		}
		if _, err := goredis.ParseURL(u); err != nil {
			return Target{}, fmt.Errorf("events URL %q: %v", redact(raw), err)
		}
		t.Scheme, t.Address = "redis", u
		return t, nil

	case "kafka":
		if err := onlyTopic(); err != nil {
			return Target{}, err
		}
		if strings.Contains(hosts, "@") {
			return Target{}, fmt.Errorf("events URL %q: kafka:// takes no credentials (SASL is not supported)", redact(raw))
		}
		if err := validTopic(t.Topic, kafka.ValidTopic); err != nil {
			return Target{}, fmt.Errorf("events URL %q: %w", redact(raw), err)
		}
		for entry := range strings.SplitSeq(hosts, ",") {
			hp, err := hostPort(strings.TrimSpace(entry), 9092)
			if err != nil {
				return Target{}, fmt.Errorf("events URL %q: %v", redact(raw), err)
			}
			t.Brokers = append(t.Brokers, hp)
		}
		return t, nil
	}
	return Target{}, fmt.Errorf("events URL %q: unknown scheme %q, want memory, nats, redis or kafka", redact(raw), scheme)
}

// Open parses raw and opens its Bus. A topic in the URL overrides
// opts.Topic. Brokers must answer now; once open, a Bus reconnects on its own.
func Open(ctx context.Context, raw string, logger *slog.Logger, opts events.Options) (events.Bus, error) {
	t, err := Parse(raw)
	if err != nil {
		return nil, err
	}
	if t.Topic != "" {
		opts.Topic = t.Topic
	}
	switch t.Scheme {
	case "memory":
		return memory.New(logger, opts), nil
	case "nats":
		return nats.Open(ctx, t.Address, logger, opts)
	case "redis":
		return redis.Open(ctx, t.Address, logger, opts)
	default: // kafka; Parse accepts nothing else
		return kafka.Open(ctx, t.Brokers, logger, opts)
	}
}

// ParsePublisher is Parse for a URL to publish on from outside the bus's
// readers: memory:// is refused, since what an in-process bus carries never
// leaves the process and no one else could read it.
func ParsePublisher(raw string) (Target, error) {
	t, err := Parse(raw)
	if err != nil {
		return Target{}, err
	}
	if t.Scheme == "memory" {
		return Target{}, fmt.Errorf("events URL %q: memory:// is in-process: nothing outside this process could read what is published there; name a broker (nats://, redis://, kafka://)", redact(raw))
	}
	return t, nil
}

// OpenPublisher opens a Publisher on the broker raw names (as
// ParsePublisher takes it), on the URL's topic, or on topic when it has
// none. The broker must answer now; once open, a Publisher reconnects on
// its own.
func OpenPublisher(ctx context.Context, raw string, logger *slog.Logger, topic string) (events.Publisher, error) {
	t, err := ParsePublisher(raw)
	if err != nil {
		return nil, err
	}
	if t.Topic != "" {
		topic = t.Topic
	}
	switch t.Scheme {
	case "nats":
		return publisher(nats.OpenPublisher(ctx, t.Address, logger, topic))
	case "redis":
		return publisher(redis.OpenPublisher(ctx, t.Address, topic))
	default: // kafka; ParsePublisher accepts nothing else
		return publisher(kafka.OpenPublisher(ctx, t.Brokers, logger, topic))
	}
}

// publisher returns p as an events.Publisher, or a nil one on error: a nil
// *nats.Publisher in the interface would not be a nil Publisher.
func publisher[P events.Publisher](p P, err error) (events.Publisher, error) {
	if err != nil {
		return nil, err
	}
	return p, nil
}

// validTopic checks a topic given in the URL with the broker's own rule;
// none given is left to the default.
func validTopic(topic string, valid func(string) error) error {
	if topic == "" {
		return nil
	}
	return valid(topic)
}

// hostPort validates host[:port], adding the default port.
func hostPort(s string, defaultPort int) (string, error) {
	if s == "" {
		return "", fmt.Errorf("empty address")
	}
	if strings.ContainsAny(s, "/ ") {
		return "", fmt.Errorf("address %q: want host:port", s)
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		// No port: "host" or "[::1]".
		host, port = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]"), strconv.Itoa(defaultPort)
	}
	if host == "" || strings.ContainsAny(host, "[]") || (strings.Contains(host, ":") && net.ParseIP(host) == nil) {
		return "", fmt.Errorf("address %q: want host:port", s)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("address %q: bad port %q", s, port)
	}
	return net.JoinHostPort(host, port), nil
}

// redact hides the credentials of every address in a URL.
func redact(raw string) string {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return raw
	}
	hosts, query, hasQuery := strings.Cut(rest, "?")
	path := ""
	if i := strings.Index(hosts, "/"); i >= 0 && !strings.HasPrefix(scheme, "nats") {
		hosts, path = hosts[:i], hosts[i:]
	}
	parts := strings.Split(hosts, ",")
	for i, p := range parts {
		if j := strings.LastIndex(p, "@"); j >= 0 {
			prefix := ""
			if k := strings.Index(p, "://"); k >= 0 && k < j {
				prefix = p[:k+3]
			}
			parts[i] = prefix + "xxxxx@" + p[j+1:]
		}
	}
	out := scheme + "://" + strings.Join(parts, ",") + path
	if hasQuery {
		if q, err := url.ParseQuery(query); err == nil && q.Has("password") {
			q.Set("password", "xxxxx")
			query = q.Encode()
		}
		out += "?" + query
	}
	return out
}
