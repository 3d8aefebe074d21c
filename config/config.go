// Package config reads Stacker's configuration from the environment. Every
// setting has a default that works for `go run .`; a malformed value stops
// startup with an error naming the variable.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Services are the upstream services, in the order they are listed to people.
func Services() []string {
	return []string{"patients", "insurers", "cases", "staff", "doctors", "clinics", "appointments", "documents"}
}

// Config is Stacker's configuration.
type Config struct {
	// Addr is where the gateway listens (STACKER_ADDR).
	Addr string
	// ServiceURLs maps each service to its base URL. Empty means "start the
	// embedded demo services"; otherwise all eight are set.
	ServiceURLs map[string]string
	// DemoLatency slows every embedded demo service call (STACKER_DEMO_LATENCY).
	DemoLatency time.Duration

	LogLevel  slog.Level // STACKER_LOG_LEVEL: debug, info, warn, error
	LogFormat string     // STACKER_LOG_FORMAT: text or json

	UpstreamAttemptTimeout time.Duration // STACKER_UPSTREAM_TIMEOUT
	UpstreamRetries        int           // STACKER_UPSTREAM_RETRIES
	UpstreamMaxIdleConns   int           // STACKER_UPSTREAM_MAX_IDLE_CONNS (per service)
	LoaderWait             time.Duration // STACKER_LOADER_WAIT
	QueryCacheSize         int           // STACKER_QUERY_CACHE_SIZE
	ShutdownTimeout        time.Duration // STACKER_SHUTDOWN_TIMEOUT
	// OperationTimeout is the deadline of every query and mutation; every
	// upstream call it makes inherits it (STACKER_OPERATION_TIMEOUT).
	OperationTimeout time.Duration
	// ServiceTimeouts overrides UpstreamAttemptTimeout per service
	// (STACKER_<SERVICE>_TIMEOUT).
	ServiceTimeouts map[string]time.Duration
	// UpstreamMaxInFlight caps concurrent calls per service
	// (STACKER_UPSTREAM_MAX_IN_FLIGHT; 0 means no cap).
	UpstreamMaxInFlight int
	// RetryBudget is the retries a service may get per call over time
	// (STACKER_RETRY_BUDGET; 0 disables retries).
	RetryBudget float64
	// BreakerFailures consecutive failed calls open a service's circuit
	// breaker for BreakerOpenFor (STACKER_BREAKER_FAILURES, STACKER_BREAKER_OPEN_FOR).
	BreakerFailures int
	BreakerOpenFor  time.Duration
	// DemoFaults is the fault specification for the demo services
	// (STACKER_DEMO_FAULTS), e.g. "patients:fail=0.2,doctors:latency=300ms".
	DemoFaults string
	// Env is "development" (the default) or "production" (STACKER_ENV).
	// Production turns introspection and field suggestions off by default
	// and enforces the trusted documents list.
	Env string
	// RedisURL, when set, shares automatic persisted queries between
	// replicas (STACKER_REDIS_URL).
	RedisURL string
	// TrustedDocuments is a manifest of the only operations allowed to run
	// (STACKER_TRUSTED_DOCUMENTS). Production requires one; "off" runs any
	// operation, which production allows only when said explicitly
	// (TrustedDocumentsOff).
	TrustedDocuments    string
	TrustedDocumentsOff bool
	// Introspection and FieldSuggestions (STACKER_INTROSPECTION,
	// STACKER_FIELD_SUGGESTIONS) default to on, off in production.
	Introspection    bool
	FieldSuggestions bool
	// Request limits (STACKER_MAX_BODY_BYTES, STACKER_MAX_TOKENS,
	// STACKER_MAX_DEPTH, STACKER_MAX_ALIASES, STACKER_MAX_ROOT_FIELDS,
	// STACKER_MAX_DIRECTIVES, STACKER_MAX_COST), and client batching
	// (STACKER_BATCH_MAX; 0 turns it off).
	MaxBodyBytes  int
	MaxTokens     int
	MaxDepth      int
	MaxAliases    int
	MaxRootFields int
	MaxDirectives int
	MaxCost       int
	BatchMax      int
	// MaxFields caps the fields of a document with fragments expanded, and
	// MaxFieldRepeats the selections answering under one response name
	// (STACKER_MAX_FIELDS, STACKER_MAX_FIELD_REPEATS): together they bound
	// validation's work. MaxErrors caps the errors of one response
	// (STACKER_MAX_ERRORS).
	MaxFields       int
	MaxFieldRepeats int
	MaxErrors       int
	// APQMaxBytes bounds the documents the persisted-query cache holds (in
	// memory; in Redis, what the replicas may write per day), and
	// APQMaxEntryBytes the largest one it stores (STACKER_APQ_MAX_BYTES,
	// STACKER_APQ_MAX_ENTRY_BYTES).
	APQMaxBytes      int
	APQMaxEntryBytes int
	// ReadTimeout is how long a request's headers and body may take to
	// arrive; WriteTimeout how long its answer may take to be written once
	// the operation has had its OperationTimeout (STACKER_READ_TIMEOUT,
	// STACKER_WRITE_TIMEOUT). Subscriptions are exempt from the second.
	ReadTimeout  time.Duration
	WriteTimeout time.Duration
	// CORSOrigins may call the API from a browser (STACKER_CORS_ORIGINS,
	// comma-separated; "*" for any, development only).
	CORSOrigins []string
	// EventsURL selects the event bus subscriptions read and the demo
	// services publish on (STACKER_EVENTS_URL): memory://, nats://host:4222,
	// redis://host:6379/0 or kafka://broker1,broker2 (?topic= overrides the
	// topic, stacker.events).
	EventsURL string
	// MaxSubscriptions and MaxSubscriptionsPerConnection limit live
	// subscriptions (STACKER_MAX_SUBSCRIPTIONS, STACKER_MAX_SUBSCRIPTIONS_PER_CONNECTION).
	MaxSubscriptions              int
	MaxSubscriptionsPerConnection int
	// DebugAddr, when set, serves pprof and process figures on a separate
	// listener for operators and the load command (STACKER_DEBUG_ADDR).
	DebugAddr string
}

// Embedded reports whether the gateway should start its own demo services.
func (c Config) Embedded() bool { return len(c.ServiceURLs) == 0 }

// EnvName is the variable holding a service's base URL.
func EnvName(service string) string {
	return "STACKER_" + strings.ToUpper(service) + "_URL"
}

// Load reads the configuration through getenv. All problems are reported at
// once, each naming its variable.
func Load(getenv func(string) string) (Config, error) {
	c := Config{
		Addr:                          "127.0.0.1:8080",
		LogLevel:                      slog.LevelInfo,
		LogFormat:                     "text",
		UpstreamAttemptTimeout:        5 * time.Second,
		UpstreamRetries:               2,
		UpstreamMaxIdleConns:          256,
		LoaderWait:                    500 * time.Microsecond,
		QueryCacheSize:                1000,
		ShutdownTimeout:               10 * time.Second,
		OperationTimeout:              10 * time.Second,
		ServiceTimeouts:               map[string]time.Duration{},
		UpstreamMaxInFlight:           64,
		RetryBudget:                   0.2,
		BreakerFailures:               5,
		BreakerOpenFor:                5 * time.Second,
		Env:                           "development",
		MaxBodyBytes:                  1 << 20,
		MaxTokens:                     15000,
		MaxDepth:                      15,
		MaxAliases:                    30,
		MaxRootFields:                 20,
		MaxDirectives:                 5,
		MaxCost:                       10000,
		MaxFields:                     2000,
		MaxFieldRepeats:               30,
		MaxErrors:                     100,
		APQMaxBytes:                   64 << 20,
		APQMaxEntryBytes:              64 << 10,
		ReadTimeout:                   15 * time.Second,
		WriteTimeout:                  10 * time.Second,
		EventsURL:                     "memory://",
		MaxSubscriptions:              10000,
		MaxSubscriptionsPerConnection: 100,
	}
	var errs []error
	if v := getenv("STACKER_ADDR"); v != "" {
		c.Addr = v
	}
	c.DebugAddr = getenv("STACKER_DEBUG_ADDR")
	c.DemoFaults = getenv("STACKER_DEMO_FAULTS")
	duration := func(name string, dst *time.Duration, allowZero bool) {
		v := getenv(name)
		if v == "" {
			return
		}
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 || (d == 0 && !allowZero) {
			errs = append(errs, fmt.Errorf("%s: %q is not a valid duration (examples: 5ms, 2s)", name, v))
			return
		}
		*dst = d
	}
	integer := func(name string, dst *int, lo, hi int) {
		v := getenv(name)
		if v == "" {
			return
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < lo || n > hi {
			errs = append(errs, fmt.Errorf("%s: %q is not a whole number from %d to %d", name, v, lo, hi))
			return
		}
		*dst = n
	}
	duration("STACKER_DEMO_LATENCY", &c.DemoLatency, true)
	duration("STACKER_UPSTREAM_TIMEOUT", &c.UpstreamAttemptTimeout, false)
	duration("STACKER_LOADER_WAIT", &c.LoaderWait, false)
	duration("STACKER_SHUTDOWN_TIMEOUT", &c.ShutdownTimeout, false)
	duration("STACKER_READ_TIMEOUT", &c.ReadTimeout, false)
	duration("STACKER_WRITE_TIMEOUT", &c.WriteTimeout, false)
	integer("STACKER_UPSTREAM_RETRIES", &c.UpstreamRetries, 0, 10)
	integer("STACKER_UPSTREAM_MAX_IDLE_CONNS", &c.UpstreamMaxIdleConns, 1, 100000)
	integer("STACKER_QUERY_CACHE_SIZE", &c.QueryCacheSize, 1, 1000000)
	duration("STACKER_OPERATION_TIMEOUT", &c.OperationTimeout, false)
	integer("STACKER_UPSTREAM_MAX_IN_FLIGHT", &c.UpstreamMaxInFlight, 0, 1000000)
	integer("STACKER_BREAKER_FAILURES", &c.BreakerFailures, 1, 1000000)
	duration("STACKER_BREAKER_OPEN_FOR", &c.BreakerOpenFor, false)
	for _, s := range Services() {
		name := "STACKER_" + strings.ToUpper(s) + "_TIMEOUT"
		var d time.Duration
		duration(name, &d, false)
		if d > 0 {
			c.ServiceTimeouts[s] = d
		}
	}
	if v := getenv("STACKER_RETRY_BUDGET"); v != "" {
		r, err := strconv.ParseFloat(v, 64)
		if err != nil || r < 0 || r > 10 {
			errs = append(errs, fmt.Errorf("STACKER_RETRY_BUDGET: %q is not a ratio from 0 to 10 (0.2 = one retry per five calls)", v))
		} else {
			c.RetryBudget = r
		}
	}

	c.RedisURL = getenv("STACKER_REDIS_URL")
	c.TrustedDocuments = getenv("STACKER_TRUSTED_DOCUMENTS")
	if c.TrustedDocuments == "off" {
		c.TrustedDocuments, c.TrustedDocumentsOff = "", true
	}
	switch v := getenv("STACKER_ENV"); v {
	case "", "development":
	case "production":
		c.Env = v
	default:
		errs = append(errs, fmt.Errorf("STACKER_ENV: %q is not development or production", v))
	}
	if c.Env == "production" && c.TrustedDocuments == "" && !c.TrustedDocumentsOff {
		errs = append(errs, errors.New("STACKER_TRUSTED_DOCUMENTS: production runs only the operations of a trusted documents manifest; "+
			"name the manifest, or set it to off to run any operation (not recommended: patient data behind an open query language)"))
	}
	c.Introspection, c.FieldSuggestions = c.Env != "production", c.Env != "production"
	boolean := func(name string, dst *bool) {
		switch v := strings.ToLower(getenv(name)); v {
		case "":
		case "true", "1", "on":
			*dst = true
		case "false", "0", "off":
			*dst = false
		default:
			errs = append(errs, fmt.Errorf("%s: %q is not true or false", name, v))
		}
	}
	boolean("STACKER_INTROSPECTION", &c.Introspection)
	boolean("STACKER_FIELD_SUGGESTIONS", &c.FieldSuggestions)
	integer("STACKER_MAX_BODY_BYTES", &c.MaxBodyBytes, 1024, 1<<30)
	integer("STACKER_MAX_TOKENS", &c.MaxTokens, 100, 10000000)
	integer("STACKER_MAX_DEPTH", &c.MaxDepth, 2, 1000)
	integer("STACKER_MAX_ALIASES", &c.MaxAliases, 0, 100000)
	integer("STACKER_MAX_ROOT_FIELDS", &c.MaxRootFields, 1, 100000)
	integer("STACKER_MAX_DIRECTIVES", &c.MaxDirectives, 1, 1000)
	integer("STACKER_MAX_COST", &c.MaxCost, 1, 1<<40)
	integer("STACKER_BATCH_MAX", &c.BatchMax, 0, 1000)
	integer("STACKER_MAX_FIELDS", &c.MaxFields, 1, 1000000)
	integer("STACKER_MAX_FIELD_REPEATS", &c.MaxFieldRepeats, 1, 100000)
	integer("STACKER_MAX_ERRORS", &c.MaxErrors, 1, 100000)
	integer("STACKER_APQ_MAX_BYTES", &c.APQMaxBytes, 1024, 1<<40)
	integer("STACKER_APQ_MAX_ENTRY_BYTES", &c.APQMaxEntryBytes, 64, 1<<30)
	integer("STACKER_MAX_SUBSCRIPTIONS", &c.MaxSubscriptions, 1, 10000000)
	integer("STACKER_MAX_SUBSCRIPTIONS_PER_CONNECTION", &c.MaxSubscriptionsPerConnection, 1, 100000)
	if v := getenv("STACKER_EVENTS_URL"); v != "" {
		c.EventsURL = v
	}
	if v := getenv("STACKER_CORS_ORIGINS"); v != "" {
		for o := range strings.SplitSeq(v, ",") {
			o = strings.TrimRight(strings.TrimSpace(o), "/")
			if o == "" {
				continue
			}
			if o != "*" {
				if u, err := url.Parse(o); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" {
					errs = append(errs, fmt.Errorf("STACKER_CORS_ORIGINS: %q is not an origin such as https://console.example.com", o))
					continue
				}
			}
			c.CORSOrigins = append(c.CORSOrigins, o)
		}
	}
	if v := getenv("STACKER_LOG_LEVEL"); v != "" {
		if err := c.LogLevel.UnmarshalText([]byte(v)); err != nil {
			errs = append(errs, fmt.Errorf("STACKER_LOG_LEVEL: %q is not one of debug, info, warn, error", v))
		}
	}
	if v := getenv("STACKER_LOG_FORMAT"); v != "" {
		if v != "text" && v != "json" {
			errs = append(errs, fmt.Errorf("STACKER_LOG_FORMAT: %q is not text or json", v))
		}
		c.LogFormat = v
	}

	urls := map[string]string{}
	var missing []string
	for _, s := range Services() {
		name := EnvName(s)
		v := getenv(name)
		if v == "" {
			missing = append(missing, name)
			continue
		}
		if err := checkURL(v); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
		urls[s] = strings.TrimRight(v, "/")
	}
	switch {
	case len(urls) == 0:
		// Embedded demo services.
	case len(missing) > 0:
		errs = append(errs, fmt.Errorf("service URLs: when any STACKER_<SERVICE>_URL is set, all eight must be; missing %s", strings.Join(missing, ", ")))
	default:
		c.ServiceURLs = urls
	}
	if err := errors.Join(errs...); err != nil {
		return Config{}, err
	}
	return c, nil
}

func checkURL(v string) error {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an absolute http(s) URL such as http://patients.internal:3000", v)
	}
	return nil
}
