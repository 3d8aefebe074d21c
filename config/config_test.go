package config

import (
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
	if c.Addr != "127.0.0.1:8080" || !c.Embedded() || c.UpstreamRetries != 2 || c.LoaderWait != 500*time.Microsecond {
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
				if c.Addr != ":0" || c.DemoLatency != 5*time.Millisecond || c.UpstreamRetries != 0 || c.DebugAddr != "127.0.0.1:6060" {
					t.Errorf("config = %+v", c)
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
