package config

import (
	"log/slog"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func allServices(url string) map[string]string {
	m := map[string]string{}
	for _, s := range Services() {
		m[EnvName(s)] = url
	}
	return m
}

func TestLoadDefaults(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:8080" || !c.Embedded() || c.Upstream.Retries != 2 || c.LoaderWait != 500*time.Microsecond ||
		c.GCPercent != 100 || !c.Introspection || c.Log.Level != slog.LevelInfo {
		t.Errorf("defaults = %+v", c)
	}
}

func TestLoad(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		wantErr []string // substrings; empty means success
		check   func(t *testing.T, c Config)
	}{
		{
			name: "all service urls",
			env:  allServices("http://svc.internal:3000/"),
			check: func(t *testing.T, c Config) {
				if c.Embedded() || c.ServiceURLs["patients"] != "http://svc.internal:3000" {
					t.Errorf("urls = %v", c.ServiceURLs)
				}
			},
		},
		{name: "one url missing", env: func() map[string]string { m := allServices("http://x"); delete(m, "STACKER_CLINICS_URL"); return m }(), wantErr: []string{"STACKER_CLINICS_URL"}},
		{name: "malformed url", env: func() map[string]string {
			m := allServices("http://x")
			m["STACKER_STAFF_URL"] = "staff:3000"
			return m
		}(), wantErr: []string{"STACKER_STAFF_URL", "absolute"}},
		{name: "every problem at once", env: map[string]string{"STACKER_DEMO_LATENCY": "soon", "STACKER_UPSTREAM_RETRIES": "-1", "STACKER_LOG_LEVEL": "loud"},
			wantErr: []string{"STACKER_DEMO_LATENCY", "STACKER_UPSTREAM_RETRIES", "STACKER_LOG_LEVEL"}},
		{name: "zero loader wait refused", env: map[string]string{"STACKER_LOADER_WAIT": "0s"}, wantErr: []string{"STACKER_LOADER_WAIT"}},
		{name: "log format", env: map[string]string{"STACKER_LOG_FORMAT": "xml"}, wantErr: []string{"STACKER_LOG_FORMAT"}},
		{
			name: "overrides",
			env:  map[string]string{"STACKER_ADDR": ":0", "STACKER_DEMO_LATENCY": "5ms", "STACKER_UPSTREAM_RETRIES": "0", "STACKER_DEBUG_ADDR": "127.0.0.1:6060"},
			check: func(t *testing.T, c Config) {
				if c.Addr != ":0" || c.Demo.Latency != 5*time.Millisecond || c.Upstream.Retries != 0 || c.DebugAddr != "127.0.0.1:6060" {
					t.Errorf("config = %+v", c)
				}
			},
		},
		{
			name: "0 turns caps, ratios and waits off",
			env: map[string]string{"STACKER_UPSTREAM_MAX_IN_FLIGHT": "0", "STACKER_RETRY_BUDGET": "0", "STACKER_UPSTREAM_RETRIES": "0",
				"STACKER_BATCH_MAX": "0", "STACKER_UPSTREAM_MAX_RETRY_AFTER": "0", "STACKER_DEMO_LATENCY": "0"},
			check: func(t *testing.T, c Config) {
				if c.MaxInFlight != 0 || c.RetryBudget != 0 || c.Retries != 0 || c.BatchMax != 0 || c.MaxRetryAfter != 0 || c.Demo.Latency != 0 {
					t.Errorf("config = %+v", c)
				}
			},
		},
		{name: "0 refused where it cannot mean off", env: map[string]string{"STACKER_BREAKER_FAILURES": "0", "STACKER_BREAKER_OPEN_FOR": "0s", "STACKER_MAX_SUBSCRIPTIONS": "0"},
			wantErr: []string{`STACKER_BREAKER_FAILURES: "0" is not a whole number from 1 to 1000000`, "STACKER_BREAKER_OPEN_FOR", "STACKER_MAX_SUBSCRIPTIONS"}},
		{
			name: "production defaults, overridden",
			env:  map[string]string{"STACKER_ENV": "production", "STACKER_TRUSTED_DOCUMENTS": "off", "STACKER_FIELD_SUGGESTIONS": "On", "STACKER_AUTH": "off"},
			check: func(t *testing.T, c Config) {
				if c.Introspection || !c.FieldSuggestions || !c.TrustedDocumentsOff {
					t.Errorf("introspection %v, suggestions %v, trusted off %v", c.Introspection, c.FieldSuggestions, c.TrustedDocumentsOff)
				}
			},
		},
		{
			name: "shutdown delay: none in development, 5s in production",
			env:  nil,
			check: func(t *testing.T, c Config) {
				if c.ShutdownDelay != 0 {
					t.Errorf("development delay = %v, want 0", c.ShutdownDelay)
				}
				p, err := Load(env(map[string]string{"STACKER_ENV": "production", "STACKER_TRUSTED_DOCUMENTS": "off", "STACKER_AUTH": "off"}))
				if err != nil || p.ShutdownDelay != 5*time.Second {
					t.Errorf("production delay = %v (%v), want 5s", p.ShutdownDelay, err)
				}
			},
		},
		{name: "negative shutdown delay refused", env: map[string]string{"STACKER_SHUTDOWN_DELAY": "-1s"}, wantErr: []string{"STACKER_SHUTDOWN_DELAY"}},
		{
			name: "auth off by default in development",
			env:  nil,
			check: func(t *testing.T, c Config) {
				if c.AuthMode != "off" || c.Leeway != 30*time.Second || c.SubjectClaim != "sub" || len(c.ServiceIdentity) != 0 {
					t.Errorf("auth = %+v", c.Auth)
				}
			},
		},
		{
			name: "an issuer turns auth on",
			env:  map[string]string{"STACKER_AUTH_ISSUER": "https://id.example.com/realms/stacker", "STACKER_AUTH_AUDIENCE": "stacker-api", "STACKER_DOCTORS_IDENTITY": "claims"},
			check: func(t *testing.T, c Config) {
				if c.AuthMode != "required" || c.ServiceIdentity["doctors"] != "claims" || c.ServiceIdentity["patients"] != "" {
					t.Errorf("auth = %+v", c.Auth)
				}
			},
		},
		{
			name: "optional with a JWKS URL",
			env:  map[string]string{"STACKER_AUTH": "optional", "STACKER_AUTH_JWKS_URL": "https://id.example.com/jwks", "STACKER_AUTH_ISSUER": "https://id.example.com/", "STACKER_AUTH_AUDIENCE": "a"},
			check: func(t *testing.T, c Config) {
				if c.AuthMode != "optional" {
					t.Errorf("auth = %+v", c.Auth)
				}
			},
		},
		{name: "auth on needs an issuer and an audience", env: map[string]string{"STACKER_AUTH": "required"}, wantErr: []string{"STACKER_AUTH_ISSUER", "STACKER_AUTH_AUDIENCE"}},
		{name: "a JWKS URL alone is not enough", env: map[string]string{"STACKER_AUTH_JWKS_URL": "https://id.example.com/jwks", "STACKER_AUTH_AUDIENCE": "a"}, wantErr: []string{"STACKER_AUTH_ISSUER"}},
		{name: "bad auth values", env: map[string]string{"STACKER_AUTH": "maybe", "STACKER_AUTH_ISSUER": "id.example.com", "STACKER_CASES_IDENTITY": "password"},
			wantErr: []string{"STACKER_AUTH: \"maybe\" is not required or optional or off", "STACKER_AUTH_ISSUER", "STACKER_CASES_IDENTITY"}},
		{name: "production needs an issuer", env: map[string]string{"STACKER_ENV": "production", "STACKER_TRUSTED_DOCUMENTS": "off"}, wantErr: []string{"STACKER_AUTH_ISSUER", "STACKER_AUTH=off"}},
		{
			name: "production with auth off said explicitly",
			env:  map[string]string{"STACKER_ENV": "production", "STACKER_TRUSTED_DOCUMENTS": "off", "STACKER_AUTH": "off"},
			check: func(t *testing.T, c Config) {
				if c.AuthMode != "off" {
					t.Errorf("auth = %+v", c.Auth)
				}
			},
		},
		{
			name: "GOGC set leaves Go's setting",
			env:  map[string]string{"GOGC": "off"},
			check: func(t *testing.T, c Config) {
				if c.GCPercent != 0 {
					t.Errorf("GCPercent = %d, want 0", c.GCPercent)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Load(env(tc.env))
			if len(tc.wantErr) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				tc.check(t, c)
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}
