package tracing

import (
	"context"
	"maps"
	"net/http"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
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

// Under an unsampled parent, with a sampler that follows it, the spans of
// levels, batches and attempts are not made, and the attempt still
// carries the unsampled trace to the service.
func TestUnsampledChildrenAreNotMade(t *testing.T) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.AlwaysSample())))
	defer tp.Shutdown(context.Background())
	tr := New(tp)
	tr.followsParent = true
	parent := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{1}, SpanID: trace.SpanID{2}, TraceFlags: 0, // not sampled
	})
	ctx := trace.ContextWithRemoteSpanContext(context.Background(), parent)
	if _, s := tr.Level(ctx, "patients", 3); s.s != nil {
		t.Error("a level span under an unsampled parent")
	}
	if _, s := tr.Batch(ctx, "patients", "GET", "/patients?ids", 3); s.s != nil {
		t.Error("a batch span under an unsampled parent")
	}
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://127.0.0.1:1/patients?ids=1", nil)
	req, s := tr.Attempt(req, "patients", "/patients?ids", 0, "closed")
	if s.s != nil {
		t.Error("an attempt span under an unsampled parent")
	}
	if got, want := req.Header.Get("traceparent"), "00-01000000000000000000000000000000-0200000000000000-00"; got != want {
		t.Errorf("traceparent %q, want the unsampled parent's %q", got, want)
	}

	sampled := trace.ContextWithRemoteSpanContext(context.Background(), parent.WithTraceFlags(trace.FlagsSampled))
	if _, s := tr.Batch(sampled, "patients", "GET", "/patients?ids", 3); s.s == nil || !s.s.IsRecording() {
		t.Error("no recording batch span under a sampled parent")
	}
}
