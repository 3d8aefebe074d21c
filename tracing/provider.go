// Package tracing is Stacker's one door to OpenTelemetry: it builds the
// tracer provider from the OTEL_* settings (provider.go) and declares every
// span the gateway makes, with its name and attributes (spans.go), so no
// other package imports otel and each span's shape is written once.
//
// Tracing is off unless an OTLP endpoint is configured. Off, the packages
// hold a nil *Tracer, whose methods return their context unchanged and a
// Span that does nothing: the cost is a nil check.
package tracing

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
)

// Settings are the OTEL_* variables Stacker honours, as config read them.
// They are passed in rather than read by the SDK from the process
// environment, so a gateway's tracing is what its configuration says (and
// tests can run side by side). The package defaults nothing: config does.
type Settings struct {
	// Endpoint is OTEL_EXPORTER_OTLP_ENDPOINT, the collector's base URL;
	// spans go to its /v1/traces. TracesEndpoint
	// (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is the full URL and wins. With
	// neither, tracing is off.
	Endpoint, TracesEndpoint string
	// Headers is OTEL_EXPORTER_OTLP_HEADERS: key=value pairs, comma
	// separated, values URL-encoded (an API key, say).
	Headers string
	// ServiceName is OTEL_SERVICE_NAME; ResourceAttributes is
	// OTEL_RESOURCE_ATTRIBUTES, key=value pairs like Headers.
	ServiceName, ResourceAttributes string
	// Sampler and SamplerArg are OTEL_TRACES_SAMPLER and
	// OTEL_TRACES_SAMPLER_ARG as the specification defines them.
	Sampler    string
	SamplerArg float64
	// ScheduleDelay is OTEL_BSP_SCHEDULE_DELAY: how long finished spans may
	// wait to be sent in a batch.
	ScheduleDelay time.Duration
	// Disabled is OTEL_SDK_DISABLED.
	Disabled bool
}

// On reports whether s turns tracing on.
func (s Settings) On() bool {
	return !s.Disabled && (s.Endpoint != "" || s.TracesEndpoint != "")
}

// Provider is the SDK's tracer provider with its OTLP/HTTP exporter.
type Provider struct {
	tp *sdktrace.TracerProvider
	// followsParent: the sampler never samples a span whose parent was
	// not sampled (the parent-based samplers, and traceidratio, whose
	// decision is the trace id's and so the parent's).
	followsParent bool
}

// NewProvider builds the provider s describes; nil when s leaves tracing
// off. Nothing is sent at start: a collector that is down costs dropped
// spans, not a failed start.
func NewProvider(ctx context.Context, s Settings) (*Provider, error) {
	if !s.On() {
		return nil, nil
	}
	endpoint := s.TracesEndpoint
	if endpoint == "" {
		endpoint = strings.TrimRight(s.Endpoint, "/") + "/v1/traces"
	}
	if _, err := url.ParseRequestURI(endpoint); err != nil {
		return nil, fmt.Errorf("tracing: endpoint %q: %w", endpoint, err)
	}
	opts := []otlptracehttp.Option{otlptracehttp.WithEndpointURL(endpoint)}
	if s.Headers != "" {
		h, err := pairs(s.Headers)
		if err != nil {
			return nil, fmt.Errorf("tracing: OTEL_EXPORTER_OTLP_HEADERS: %w", err)
		}
		opts = append(opts, otlptracehttp.WithHeaders(h))
	}
	sampler, err := newSampler(s.Sampler, s.SamplerArg)
	if err != nil {
		return nil, err
	}
	res, err := newResource(s.ServiceName, s.ResourceAttributes)
	if err != nil {
		return nil, err
	}
	exp, err := otlptracehttp.New(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("tracing: exporter: %w", err)
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp, sdktrace.WithBatchTimeout(s.ScheduleDelay)),
		sdktrace.WithSampler(sampler),
		sdktrace.WithResource(res),
	)
	return &Provider{tp: tp, followsParent: s.Sampler != "always_on"}, nil
}

// Tracer is the provider's tracer for Stacker's spans; nil (no spans) on a
// nil provider, which is what NewProvider returns with tracing off.
func (p *Provider) Tracer() *Tracer {
	if p == nil {
		return nil
	}
	t := New(p.tp)
	t.followsParent = p.followsParent
	return t
}

// Shutdown sends the spans still waiting and stops the exporter; spans
// ended after it are dropped.
func (p *Provider) Shutdown(ctx context.Context) error {
	if err := p.tp.Shutdown(ctx); err != nil {
		return fmt.Errorf("tracing: shutdown: %w", err)
	}
	return nil
}

// newSampler is OTEL_TRACES_SAMPLER's sampler. The parent-based ones follow
// the client's sampling decision, so a trace a client started is either
// whole or absent.
func newSampler(name string, arg float64) (sdktrace.Sampler, error) {
	switch name {
	case "always_on":
		return sdktrace.AlwaysSample(), nil
	case "always_off":
		return sdktrace.NeverSample(), nil
	case "traceidratio":
		return sdktrace.TraceIDRatioBased(arg), nil
	case "parentbased_always_on", "":
		return sdktrace.ParentBased(sdktrace.AlwaysSample()), nil
	case "parentbased_always_off":
		return sdktrace.ParentBased(sdktrace.NeverSample()), nil
	case "parentbased_traceidratio":
		return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(arg)), nil
	}
	return nil, fmt.Errorf("tracing: OTEL_TRACES_SAMPLER %q is not one of always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off, parentbased_traceidratio", name)
}

// newResource names the process in every span: the service name, then
// OTEL_RESOURCE_ATTRIBUTES (whose service.name the variable overrides, as
// the specification says).
func newResource(service, attrs string) (*resource.Resource, error) {
	kv := []attribute.KeyValue{semconv.TelemetrySDKLanguageGo, semconv.TelemetrySDKName("opentelemetry")}
	if attrs != "" {
		m, err := pairs(attrs)
		if err != nil {
			return nil, fmt.Errorf("tracing: OTEL_RESOURCE_ATTRIBUTES: %w", err)
		}
		for k, v := range m {
			if k != string(semconv.ServiceNameKey) || service == "" {
				kv = append(kv, attribute.String(k, v))
			}
		}
	}
	if service != "" {
		kv = append(kv, semconv.ServiceName(service))
	}
	return resource.NewSchemaless(kv...), nil
}

// pairs parses the specification's list format: k1=v1,k2=v2, values
// percent-encoded.
func pairs(s string) (map[string]string, error) {
	m := map[string]string{}
	for p := range strings.SplitSeq(s, ",") {
		k, v, ok := strings.Cut(p, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, errors.New("want key=value pairs separated by commas")
		}
		v, err := url.PathUnescape(strings.TrimSpace(v))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		m[k] = v
	}
	return m, nil
}
