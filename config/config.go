// Package config reads Stacker's configuration from the environment. Every
// setting has a default that works for `go run .`; a malformed value stops
// startup with an error naming the variable.
//
// Each setting is declared once, as a field of Config with its variable,
// default and accepted range in struct tags; Load reads them all through one
// small reflection-based loader (load.go), and docs/configuration.md is held
// to the same variables and defaults by a test. Everything else in Stacker
// takes its values from here and defaults nothing itself.
//
// One convention for "off": 0 turns off what a cap, ratio or wait enables
// (STACKER_UPSTREAM_MAX_IN_FLIGHT=0 no bulkhead, STACKER_RETRY_BUDGET=0 and
// STACKER_UPSTREAM_RETRIES=0 no retries, STACKER_BATCH_MAX=0 no batching,
// STACKER_UPSTREAM_MAX_RETRY_AFTER=0 no waiting for Retry-After), and the
// packages the values go to read their zero values the same way.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/stacker/stacker/audit/auditsink"
)

// Services are the upstream services, in the order they are listed to people.
// This is the one list: STACKER_<SERVICE>_URL and _TIMEOUT are read for each,
// and the clients (loaders.Clients) and the demo services (demo.ServiceNames)
// are tested against it.
func Services() []string {
	return []string{"patients", "insurers", "cases", "staff", "doctors", "clinics", "appointments", "documents"}
}

// Config is Stacker's configuration, nested by concern.
//
// Tags: env names the variable; default is its value when unset, written as
// a person would set it (and as docs/configuration.md shows it); production
// replaces default when STACKER_ENV=production; min and max bound numbers
// (a duration may be 0 only with min:"0"); oneof lists the accepted words;
// want says what a TextUnmarshaler accepts; custom marks a variable Load
// reads with its own code (its default still comes from the tag).
//
// The groups are embedded, so a setting can be named by its concern
// (cfg.Limits.MaxDepth) or by itself (cfg.MaxDepth); field names are
// therefore unique across groups (a test checks).
type Config struct {
	// Env is "development" or "production". Production turns introspection
	// and field suggestions off by default, requires a trusted documents
	// manifest and accepts WebSocket origins only from CORSOrigins. It
	// touches several concerns, so it stands above them.
	Env string `env:"STACKER_ENV" default:"development" oneof:"development production"`

	Server
	Upstream
	Limits
	FrontDoor
	Auth
	Audit
	Caches
	Subscriptions
	Demo
	Log
	Tracing
}

// Server is the gateway's listeners and the lifetime of its requests and
// process.
type Server struct {
	// Addr is where the gateway listens.
	Addr string `env:"STACKER_ADDR" default:"127.0.0.1:8080"`
	// DebugAddr, when set, serves pprof and process figures on a separate
	// listener for operators and the load command.
	DebugAddr string `env:"STACKER_DEBUG_ADDR"`
	// MetricsAddr, when set, serves Prometheus metrics at /metrics on a
	// listener of its own, so scrapes never reach the public one.
	MetricsAddr string `env:"STACKER_METRICS_ADDR"`
	// MetricsOperations is how many operation names, besides the front
	// end's own (operations/), the metrics keep apart, first come first
	// served; later names share the label "other", so clients inventing
	// names cannot grow the series without bound.
	MetricsOperations int `env:"STACKER_METRICS_OPERATIONS" default:"100" min:"0" max:"10000"`
	// OperationTimeout is the deadline of every query and mutation; every
	// upstream call it makes inherits it.
	OperationTimeout time.Duration `env:"STACKER_OPERATION_TIMEOUT" default:"10s"`
	// ReadTimeout is how long a request's headers and body may take to
	// arrive; WriteTimeout how long its answer may take to be written once
	// the operation has had its OperationTimeout. Subscriptions are exempt
	// from the second.
	ReadTimeout  time.Duration `env:"STACKER_READ_TIMEOUT" default:"15s"`
	WriteTimeout time.Duration `env:"STACKER_WRITE_TIMEOUT" default:"10s"`
	// UploadTimeout is how long the file of an upload (a multipart
	// request) may take to arrive, in place of ReadTimeout; its operation
	// gets it on top of OperationTimeout, and the documents service's
	// attempt timeout starts once the file has been sent. The file streams
	// through all three at once, and 50 MiB over a clinic's 10 Mbit/s
	// uplink takes 40 s, which the deadlines of queries would cut off.
	UploadTimeout time.Duration `env:"STACKER_UPLOAD_TIMEOUT" default:"5m"`
	// ShutdownDelay is how long, after SIGINT or SIGTERM, the gateway goes
	// on serving with /readyz answering 503 before it stops accepting
	// connections: the time a load balancer (a Kubernetes Service's
	// endpoints, haproxy's health checks) takes to notice and send no
	// more. A developer's Ctrl-C stops at once; production waits 5s, the
	// usual time for endpoints to be withdrawn.
	ShutdownDelay time.Duration `env:"STACKER_SHUTDOWN_DELAY" default:"0" production:"5s" min:"0"`
	// ShutdownTimeout is how long in-flight requests get after the delay,
	// once the listener has closed.
	ShutdownTimeout time.Duration `env:"STACKER_SHUTDOWN_TIMEOUT" default:"10s"`
	// GCPercent is the GOGC the gateway sets at start: Go's default. Under
	// gqlgen's executor a case board made 2.7 MB of garbage and 400 saved a
	// fifth of the CPU; the compiled path makes 0.6 MB, and 100 keeps the
	// peak memory of a replica at concurrency 32 near 60 MB instead of
	// 180 MB (docs/measuring.md). When GOGC is set, Go has applied it
	// already (by its own rules) and GCPercent is 0: leave it be.
	GCPercent int `env:"GOGC" default:"100" custom:"true"`
	// CompiledExecution answers plain queries in one pass over the loaded
	// values instead of through gqlgen's executor (resolvers/compiled.go);
	// false leaves every operation to gqlgen.
	CompiledExecution bool `env:"STACKER_COMPILED_EXECUTION" default:"true"`
}

// Upstream is how the gateway calls the services: where they are, the
// shared HTTP client (timeouts, retries, pool) and each service's guard
// (bulkhead, circuit breaker, retry budget).
type Upstream struct {
	// ServiceURLs maps each service to its base URL. Empty means "start the
	// embedded demo services"; otherwise all eight are set.
	ServiceURLs map[string]string `env:"STACKER_<SERVICE>_URL" custom:"true"`
	// AttemptTimeout bounds one attempt of an upstream call, body included;
	// ServiceTimeouts overrides it per service.
	AttemptTimeout  time.Duration            `env:"STACKER_UPSTREAM_TIMEOUT" default:"5s"`
	ServiceTimeouts map[string]time.Duration `env:"STACKER_<SERVICE>_TIMEOUT" custom:"true"`
	// Retries is the retries of an idempotent read after the first attempt.
	Retries int `env:"STACKER_UPSTREAM_RETRIES" default:"2" min:"0" max:"10"`
	// RetryWaitMin and RetryWaitMax bound the jittered backoff between
	// retries (retryablehttp's own defaults are seconds, far too long on a
	// request path).
	RetryWaitMin time.Duration `env:"STACKER_UPSTREAM_RETRY_WAIT_MIN" default:"10ms"`
	RetryWaitMax time.Duration `env:"STACKER_UPSTREAM_RETRY_WAIT_MAX" default:"100ms"`
	// MaxRetryAfter is the longest 429 Retry-After waited for, deadline or
	// not, so a hostile Retry-After cannot park a request.
	MaxRetryAfter time.Duration `env:"STACKER_UPSTREAM_MAX_RETRY_AFTER" default:"2s" min:"0"`
	// RetryBudget is the retries a service may get per call over time, once
	// a reserve of RetryReserve retries is spent.
	RetryBudget  float64 `env:"STACKER_RETRY_BUDGET" default:"0.2" min:"0" max:"10" want:"0.2 = one retry per five calls"`
	RetryReserve int     `env:"STACKER_RETRY_RESERVE" default:"10" min:"0" max:"1000000"`
	// MaxIdleConns is the keep-alive connections kept per service (a
	// resolver fan-out opens many at once; net/http's 2 would redial most).
	MaxIdleConns int `env:"STACKER_UPSTREAM_MAX_IDLE_CONNS" default:"256" min:"1" max:"100000"`
	// MaxInFlight caps concurrent calls per service (the bulkhead).
	MaxInFlight int `env:"STACKER_UPSTREAM_MAX_IN_FLIGHT" default:"64" min:"0" max:"1000000"`
	// BreakerFailures consecutive failed calls, or failures in half of at
	// least BreakerMinCalls calls within BreakerWindow, open a service's
	// circuit breaker for BreakerOpenFor.
	BreakerFailures int           `env:"STACKER_BREAKER_FAILURES" default:"5" min:"1" max:"1000000"`
	BreakerMinCalls int           `env:"STACKER_BREAKER_MIN_CALLS" default:"20" min:"1" max:"1000000"`
	BreakerWindow   time.Duration `env:"STACKER_BREAKER_WINDOW" default:"10s"`
	BreakerOpenFor  time.Duration `env:"STACKER_BREAKER_OPEN_FOR" default:"5s"`
	// LoaderWait is how long a loader waits for more keys before its batch
	// goes out (only lookups the planner did not prefetch wait).
	LoaderWait time.Duration `env:"STACKER_LOADER_WAIT" default:"500us"`
}

// Limits bound what one request may ask of the gateway.
type Limits struct {
	MaxBodyBytes  int `env:"STACKER_MAX_BODY_BYTES" default:"1048576" min:"1024" max:"1073741824"`
	MaxTokens     int `env:"STACKER_MAX_TOKENS" default:"15000" min:"100" max:"10000000"`
	MaxDepth      int `env:"STACKER_MAX_DEPTH" default:"15" min:"2" max:"1000"`
	MaxAliases    int `env:"STACKER_MAX_ALIASES" default:"30" min:"0" max:"100000"`
	MaxRootFields int `env:"STACKER_MAX_ROOT_FIELDS" default:"20" min:"1" max:"100000"`
	MaxDirectives int `env:"STACKER_MAX_DIRECTIVES" default:"5" min:"1" max:"1000"`
	MaxCost       int `env:"STACKER_MAX_COST" default:"10000" min:"1" max:"1099511627776"`
	// MaxFields caps the fields of a document with fragments expanded, and
	// MaxFieldRepeats the selections answering under one response name:
	// together they bound validation's work.
	MaxFields       int `env:"STACKER_MAX_FIELDS" default:"2000" min:"1" max:"1000000"`
	MaxFieldRepeats int `env:"STACKER_MAX_FIELD_REPEATS" default:"30" min:"1" max:"100000"`
	// MaxErrors caps the errors of one response.
	MaxErrors int `env:"STACKER_MAX_ERRORS" default:"100" min:"1" max:"100000"`
	// BatchMax is the operations one batched POST may carry; 0 turns
	// batching off.
	BatchMax int `env:"STACKER_BATCH_MAX" default:"0" min:"0" max:"1000"`

	// MaxUploadBytes caps the file of an upload (uploadDocument). The file
	// is streamed to the documents service, never held, so the cap guards
	// the service and the time a request takes more than the gateway's
	// memory. 0 refuses uploads.
	MaxUploadBytes int `env:"STACKER_MAX_UPLOAD_BYTES" default:"52428800" min:"0" max:"10737418240"`
	// MaxUploads is how many uploads may stream through one replica at
	// once. Each holds a connection to the documents service for as long
	// as its client takes to send the file, and takes no slot of that
	// service's bulkhead, so the quick reads of every screen keep theirs.
	MaxUploads int `env:"STACKER_MAX_UPLOADS" default:"16" min:"1" max:"10000"`
}

// FrontDoor is who may call and what they may run.
type FrontDoor struct {
	// TrustedDocuments is a manifest of the only operations allowed to run.
	// Production requires one; "off" runs any operation, which production
	// allows only when said explicitly (TrustedDocumentsOff).
	TrustedDocuments    string `env:"STACKER_TRUSTED_DOCUMENTS"`
	TrustedDocumentsOff bool
	// Introspection and FieldSuggestions are on, off in production.
	Introspection    bool `env:"STACKER_INTROSPECTION" default:"true" production:"false"`
	FieldSuggestions bool `env:"STACKER_FIELD_SUGGESTIONS" default:"true" production:"false"`
	// CORSOrigins may call the API from a browser (comma-separated; "*" for
	// any, development only).
	CORSOrigins []string `env:"STACKER_CORS_ORIGINS" custom:"true"`
}

// Auth is who is calling: the bearer tokens the gateway verifies, and how
// each service learns who is asking.
//
// AuthMode, when unset, is required when an issuer or a JWKS URL is set
// and off when neither is, so `go run .` needs no token; production refuses
// to start with authentication off unless STACKER_AUTH=off says so.
// Authentication on needs an issuer and an audience: a token minted for
// another API or by another provider must never pass.
type Auth struct {
	AuthMode string `env:"STACKER_AUTH" oneof:"required optional off"`
	// Issuer is the identity provider, checked against every token's iss;
	// its keys are discovered from its OpenID configuration unless JWKSURL
	// names them. Audience must be among a token's aud.
	Issuer   string `env:"STACKER_AUTH_ISSUER"`
	JWKSURL  string `env:"STACKER_AUTH_JWKS_URL"`
	Audience string `env:"STACKER_AUTH_AUDIENCE"`
	// Leeway is the clock skew allowed on a token's exp and nbf.
	Leeway time.Duration `env:"STACKER_AUTH_LEEWAY" default:"30s" min:"0"`
	// SubjectClaim, RolesClaim and ScopesClaim name the claims an identity
	// is read from; a dotted path reaches into an object
	// (realm_access.roles for Keycloak).
	SubjectClaim string `env:"STACKER_AUTH_SUBJECT_CLAIM" default:"sub"`
	RolesClaim   string `env:"STACKER_AUTH_ROLES_CLAIM" default:"roles"`
	ScopesClaim  string `env:"STACKER_AUTH_SCOPES_CLAIM" default:"scope"`
	// JWKSRefresh is how often the provider's keys are fetched in the
	// background; JWKSMinRefresh the least time between two fetches caused
	// by requests (an unknown key id), for all requests together.
	JWKSRefresh    time.Duration `env:"STACKER_AUTH_JWKS_REFRESH" default:"5m"`
	JWKSMinRefresh time.Duration `env:"STACKER_AUTH_JWKS_MIN_REFRESH" default:"10s" min:"0"`
	// ServiceIdentity is, per service, how it learns the caller: "token"
	// (the default: the bearer token, unchanged) or "claims" (X-User-Id and
	// X-User-Roles headers instead).
	ServiceIdentity map[string]string `env:"STACKER_<SERVICE>_IDENTITY" custom:"true"`
	// RejectUnauthorized refuses, before it runs, an operation selecting a
	// field the caller may not see (the schema's @authenticated and
	// @requiresScopes), instead of answering that field null with an
	// UNAUTHORIZED_FIELD_OR_TYPE error. The directives are enforced only
	// with authentication on.
	RejectUnauthorized bool `env:"STACKER_AUTH_REJECT_UNAUTHORIZED" default:"false"`
}

// Audit is the trail of access to personal health data (the schema's @pii
// fields; see package audit).
type Audit struct {
	// AuditSink is where records go: off, stderr or file:/path (JSON
	// lines), or a topic of the event bus named by a broker URL as
	// EventsURL takes it (nats://, redis://, kafka://; not memory://).
	AuditSink string `env:"STACKER_AUDIT" default:"off" production:"stderr"`
	// AuditFail is what happens when a record cannot be kept (the buffer
	// is full or the sink fails): open logs and counts it, closed answers
	// the operation with AUDIT_UNAVAILABLE instead of the audited data.
	AuditFail string `env:"STACKER_AUDIT_FAIL" default:"open" oneof:"open closed"`
	// AuditBuffer is how many records may wait for a slow sink before the
	// failure mode applies; queries never wait on the sink.
	AuditBuffer int `env:"STACKER_AUDIT_BUFFER" default:"1024" min:"1" max:"1000000"`
}

// Caches are the parsed-query cache, the automatic persisted queries and
// the mutations' idempotency records.
type Caches struct {
	// QueryCacheSize is the parsed and validated documents kept.
	QueryCacheSize int `env:"STACKER_QUERY_CACHE_SIZE" default:"1000" min:"1" max:"1000000"`
	// APQMaxBytes bounds the documents the persisted-query cache holds (in
	// memory; in Redis, what the replicas may write per day), and
	// APQMaxEntryBytes the largest one it stores.
	APQMaxBytes      int `env:"STACKER_APQ_MAX_BYTES" default:"67108864" min:"1024" max:"1099511627776"`
	APQMaxEntryBytes int `env:"STACKER_APQ_MAX_ENTRY_BYTES" default:"65536" min:"64" max:"1073741824"`
	// IdempotencyTTL is how long a mutation's result is replayed for a
	// retry with its Idempotency-Key; IdempotencyMaxEntries and
	// IdempotencyMaxBytes bound the results held in memory (without Redis).
	IdempotencyTTL        time.Duration `env:"STACKER_IDEMPOTENCY_TTL" default:"24h"`
	IdempotencyMaxEntries int           `env:"STACKER_IDEMPOTENCY_MAX_ENTRIES" default:"100000" min:"1" max:"100000000"`
	IdempotencyMaxBytes   int           `env:"STACKER_IDEMPOTENCY_MAX_BYTES" default:"67108864" min:"1024" max:"1099511627776"`
	// RedisURL, when set, shares the persisted queries and the mutations'
	// idempotency records between replicas.
	RedisURL string `env:"STACKER_REDIS_URL"`
}

// Subscriptions are the event bus and the limits of live subscriptions.
type Subscriptions struct {
	// EventsURL selects the event bus subscriptions read and the demo
	// services publish on: memory://, nats://host:4222, redis://host:6379/0
	// or kafka://broker1,broker2 (?topic= overrides the topic, stacker.events).
	EventsURL string `env:"STACKER_EVENTS_URL" default:"memory://"`
	// Max and MaxPerConnection limit live subscriptions per replica and
	// per WebSocket connection.
	Max              int `env:"STACKER_MAX_SUBSCRIPTIONS" default:"10000" min:"1" max:"10000000"`
	MaxPerConnection int `env:"STACKER_MAX_SUBSCRIPTIONS_PER_CONNECTION" default:"100" min:"1" max:"100000"`
	// Buffer is the events a subscription may have waiting before it is
	// dropped as too slow.
	Buffer int `env:"STACKER_SUBSCRIPTION_BUFFER" default:"64" min:"1" max:"100000"`
}

// Demo configures the embedded demo services.
type Demo struct {
	// Latency slows every demo service call.
	Latency time.Duration `env:"STACKER_DEMO_LATENCY" default:"0" min:"0"`
	// Faults is the fault specification, e.g.
	// "patients:fail=0.2,doctors:latency=300ms".
	Faults string `env:"STACKER_DEMO_FAULTS"`
	// DemoAuth starts a demo identity provider on loopback beside the
	// embedded demo services and turns authentication on against it
	// (required, its issuer, audience "stacker"); the services then refuse
	// calls without a valid token too. The provider's address is known
	// only once it listens, so the gateway fills in Auth.Issuer and
	// Auth.Audience; Load leaves them empty.
	DemoAuth bool `env:"STACKER_DEMO_AUTH" default:"false"`
}

// Log is the process's logging and error reporting (docs/logging.md).
type Log struct {
	Level slog.Level `env:"STACKER_LOG_LEVEL" default:"info" want:"one of debug, info, warn, error"`
	// Format is text for people, json for log shippers, ecs for ELK
	// (Elastic Common Schema field names).
	Format string `env:"STACKER_LOG_FORMAT" default:"text" oneof:"text json ecs"`
	// SentryDSN, when set, sends panics and INTERNAL errors to Sentry. It
	// keeps the name every Sentry SDK reads.
	SentryDSN string `env:"SENTRY_DSN"`
}

// Tracing is OpenTelemetry's standard variables, as many of them as
// Stacker honours (docs/tracing.md). They are read here, like every other
// setting, and handed to package tracing, rather than read by the SDK from
// the process environment: one place declares them, and their defaults.
// Tracing is on when an endpoint is set.
type Tracing struct {
	// OTLPEndpoint is the collector's base URL (OTLP over HTTP with
	// protobuf); spans go to its /v1/traces. OTLPTracesEndpoint is the
	// full URL of the traces, and wins.
	OTLPEndpoint       string `env:"OTEL_EXPORTER_OTLP_ENDPOINT"`
	OTLPTracesEndpoint string `env:"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"`
	// OTLPHeaders are sent with every export: key=value,key=value.
	OTLPHeaders string `env:"OTEL_EXPORTER_OTLP_HEADERS"`
	// ServiceName names the gateway in the traces; ResourceAttributes adds
	// to it (deployment.environment.name=prod,...).
	ServiceName        string `env:"OTEL_SERVICE_NAME" default:"stacker"`
	ResourceAttributes string `env:"OTEL_RESOURCE_ATTRIBUTES"`
	// TracesSampler and TracesSamplerArg choose the traces kept, as the
	// specification defines them; the default follows the client's choice
	// and keeps every trace a client did not start.
	TracesSampler    string  `env:"OTEL_TRACES_SAMPLER" default:"parentbased_always_on" oneof:"always_on always_off traceidratio parentbased_always_on parentbased_always_off parentbased_traceidratio"`
	TracesSamplerArg float64 `env:"OTEL_TRACES_SAMPLER_ARG" default:"1" min:"0" max:"1" want:"the share of traces kept"`
	// BatchDelayMillis is how long finished spans may wait to go out
	// together, in milliseconds as the specification has it.
	BatchDelayMillis int `env:"OTEL_BSP_SCHEDULE_DELAY" default:"5000" min:"1" max:"600000"`
	// SDKDisabled turns tracing off whatever else is set.
	SDKDisabled bool `env:"OTEL_SDK_DISABLED" default:"false"`
}

// Embedded reports whether the gateway should start its own demo services.
func (c Config) Embedded() bool { return len(c.ServiceURLs) == 0 }

// EnvName is the variable holding a service's base URL.
func EnvName(service string) string {
	return "STACKER_" + strings.ToUpper(service) + "_URL"
}

// timeoutEnvName is the variable holding a service's attempt timeout.
func timeoutEnvName(service string) string {
	return "STACKER_" + strings.ToUpper(service) + "_TIMEOUT"
}

// identityEnvName is the variable saying how a service learns the caller.
func identityEnvName(service string) string {
	return "STACKER_" + strings.ToUpper(service) + "_IDENTITY"
}

// Variables lists every variable Load reads, a per-service one once per
// service (STACKER_PATIENTS_URL, ...), sorted. It is what `stacker config
// vars` prints, so that files outside the code (deploy/) can be checked
// against it.
func Variables() []string {
	var c Config
	var out []string
	for _, s := range settings(&c) {
		name := s.env()
		if !strings.Contains(name, "<SERVICE>") {
			out = append(out, name)
			continue
		}
		for _, svc := range Services() {
			out = append(out, strings.Replace(name, "<SERVICE>", strings.ToUpper(svc), 1))
		}
	}
	slices.Sort(out)
	return out
}

// Load reads the configuration through getenv. All problems are reported at
// once, each naming its variable.
func Load(getenv func(string) string) (Config, error) {
	var c Config
	l := &loader{getenv: getenv}
	for _, s := range settings(&c) {
		l.load(s, c.Env == "production")
	}

	// The custom variables.
	if getenv("GOGC") != "" {
		c.GCPercent = 0
	}
	c.ServiceTimeouts = map[string]time.Duration{}
	for _, s := range Services() {
		name := timeoutEnvName(s)
		if v := getenv(name); v != "" {
			if d, err := parseDuration(v, false); err != nil {
				l.fail(name, v, err)
			} else {
				c.ServiceTimeouts[s] = d
			}
		}
	}
	c.ServiceIdentity = map[string]string{}
	for _, s := range Services() {
		name := identityEnvName(s)
		switch v := getenv(name); v {
		case "":
		case "token", "claims":
			c.ServiceIdentity[s] = v
		default:
			l.fail(name, v, errors.New("token or claims"))
		}
	}
	if c.DemoAuth {
		l.errs = append(l.errs, loadDemoAuth(&c, getenv)...)
	} else {
		l.errs = append(l.errs, loadAuth(&c.Auth, c.Env == "production")...)
	}
	if err := auditsink.CheckSpec(c.AuditSink); err != nil {
		l.errs = append(l.errs, fmt.Errorf("STACKER_AUDIT: %w", err))
	}
	if c.TrustedDocuments == "off" {
		c.TrustedDocuments, c.TrustedDocumentsOff = "", true
	}
	if c.Env == "production" && c.TrustedDocuments == "" && !c.TrustedDocumentsOff {
		l.errs = append(l.errs, errors.New("STACKER_TRUSTED_DOCUMENTS: production runs only the operations of a trusted documents manifest; "+
			"name the manifest, or set it to off to run any operation (not recommended: patient data behind an open query language)"))
	}
	if v := getenv("STACKER_CORS_ORIGINS"); v != "" {
		for o := range strings.SplitSeq(v, ",") {
			o = strings.TrimRight(strings.TrimSpace(o), "/")
			if o == "" {
				continue
			}
			if o != "*" {
				if u, err := url.Parse(o); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" {
					l.errs = append(l.errs, fmt.Errorf("STACKER_CORS_ORIGINS: %q is not an origin such as https://console.example.com", o))
					continue
				}
			}
			c.CORSOrigins = append(c.CORSOrigins, o)
		}
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
			l.errs = append(l.errs, fmt.Errorf("%s: %w", name, err))
		}
		urls[s] = strings.TrimRight(v, "/")
	}
	switch {
	case len(urls) == 0:
		// Embedded demo services.
	case len(missing) > 0:
		l.errs = append(l.errs, fmt.Errorf("service URLs: when any STACKER_<SERVICE>_URL is set, all eight must be; missing %s", strings.Join(missing, ", ")))
	default:
		c.ServiceURLs = urls
	}
	if err := errors.Join(l.errs...); err != nil {
		return Config{}, err
	}
	return c, nil
}

// loadAuth settles the authentication mode (see Auth) and checks that the
// settings it needs are there.
func loadAuth(a *Auth, production bool) []error {
	var errs []error
	explicit := a.AuthMode != ""
	if !explicit {
		a.AuthMode = "off"
		if a.Issuer != "" || a.JWKSURL != "" {
			a.AuthMode = "required"
		}
	}
	for _, u := range []struct{ name, v string }{{"STACKER_AUTH_ISSUER", a.Issuer}, {"STACKER_AUTH_JWKS_URL", a.JWKSURL}} {
		if u.v != "" {
			if err := checkURL(u.v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", u.name, err))
			}
		}
	}
	if a.AuthMode == "off" {
		if production && !explicit {
			errs = append(errs, errors.New("STACKER_AUTH_ISSUER: production verifies every caller's bearer token; "+
				"set STACKER_AUTH_ISSUER and STACKER_AUTH_AUDIENCE, or set STACKER_AUTH=off to serve anyone "+
				"(not recommended: patient data to anonymous callers)"))
		}
		return errs
	}
	if a.Issuer == "" {
		errs = append(errs, fmt.Errorf("STACKER_AUTH_ISSUER: authentication is %s and needs the issuer its tokens must name", a.AuthMode))
	}
	if a.Audience == "" {
		errs = append(errs, fmt.Errorf("STACKER_AUTH_AUDIENCE: authentication is %s and needs the audience its tokens must be for (this API's identifier at the provider)", a.AuthMode))
	}
	return errs
}

// loadDemoAuth checks that STACKER_DEMO_AUTH can have its way: the
// embedded demo services, development, and no identity provider of the
// operator's own; it turns authentication on (the gateway names the
// issuer once the demo provider listens).
func loadDemoAuth(c *Config, getenv func(string) string) []error {
	var errs []error
	if c.Env == "production" {
		errs = append(errs, errors.New("STACKER_DEMO_AUTH: the demo identity provider signs tokens for anyone on this machine; production uses a real one (STACKER_AUTH_ISSUER)"))
	}
	for _, s := range Services() {
		if getenv(EnvName(s)) != "" {
			errs = append(errs, errors.New("STACKER_DEMO_AUTH: the demo identity provider comes with the embedded demo services; unset the STACKER_<SERVICE>_URL variables"))
			break
		}
	}
	for _, name := range []string{"STACKER_AUTH_ISSUER", "STACKER_AUTH_JWKS_URL", "STACKER_AUTH_AUDIENCE"} {
		if getenv(name) != "" {
			errs = append(errs, fmt.Errorf("%s: STACKER_DEMO_AUTH sets it to the demo identity provider's; unset one of the two", name))
		}
	}
	if c.AuthMode != "" && c.AuthMode != "required" {
		errs = append(errs, fmt.Errorf("STACKER_AUTH: STACKER_DEMO_AUTH requires a token on every request; %s contradicts it", c.AuthMode))
	}
	c.AuthMode = "required"
	return errs
}

func checkURL(v string) error {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an absolute http(s) URL such as http://patients.internal:3000", v)
	}
	return nil
}
