package tracing

import (
	"context"
	"maps"
	"testing"
)

func TestSettingsOn(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    Settings
		want bool
	}{
		{"nothing set", Settings{ServiceName: "stacker"}, false},
		{"endpoint", Settings{Endpoint: "http://c:4318"}, true},
		{"traces endpoint", Settings{TracesEndpoint: "http://c:4318/v1/traces"}, true},
		{"disabled wins", Settings{Endpoint: "http://c:4318", Disabled: true}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.s.On(); got != tc.want {
				t.Errorf("On() = %v, want %v", got, tc.want)
			}
			p, err := NewProvider(context.Background(), tc.s)
			if err != nil {
				t.Fatal(err)
			}
			if (p != nil) != tc.want {
				t.Errorf("NewProvider: provider %v, want one: %v", p, tc.want)
			}
			if p != nil {
				p.Shutdown(context.Background())
			}
		})
	}
}

func TestSamplers(t *testing.T) {
	for _, tc := range []struct {
		name, want string
	}{
		{"always_on", "AlwaysOnSampler"},
		{"always_off", "AlwaysOffSampler"},
		{"traceidratio", "TraceIDRatioBased{0.5}"},
		{"parentbased_always_on", "ParentBased{root:AlwaysOnSampler,remoteParentSampled:AlwaysOnSampler,remoteParentNotSampled:AlwaysOffSampler,localParentSampled:AlwaysOnSampler,localParentNotSampled:AlwaysOffSampler}"},
		{"parentbased_traceidratio", "ParentBased{root:TraceIDRatioBased{0.5},remoteParentSampled:AlwaysOnSampler,remoteParentNotSampled:AlwaysOffSampler,localParentSampled:AlwaysOnSampler,localParentNotSampled:AlwaysOffSampler}"},
		{"jaeger_remote", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := newSampler(tc.name, 0.5)
			if tc.want == "" {
				if err == nil {
					t.Fatalf("%s: no error", tc.name)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := s.Description(); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestPairs(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want map[string]string
	}{
		{"a=1", map[string]string{"a": "1"}},
		{" api-key = s%20ecret ,b=2", map[string]string{"api-key": "s ecret", "b": "2"}},
		{"a=1,=2", nil},
		{"novalue", nil},
		{"a=%zz", nil},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := pairs(tc.in)
			if tc.want == nil {
				if err == nil {
					t.Fatalf("pairs(%q) = %v, want an error", tc.in, got)
				}
				return
			}
			if err != nil || !maps.Equal(got, tc.want) {
				t.Errorf("pairs(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
			}
		})
	}
}
