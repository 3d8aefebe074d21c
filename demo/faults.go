package demo

import (
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Faults are the failures one demo service injects, so tests, benchmarks and
// `go run .` can see how the gateway copes with a service that is slow,
// failing, shedding load or gone. Rates are fractions of requests from 0 to
// 1, applied deterministically (rate 0.2 fails exactly every fifth request),
// so a test that relies on a retry landing on a healthy request is not a
// matter of luck.
type Faults struct {
	Fail        float64       // answer 503 {"error":"injected failure"}
	RateLimit   float64       // answer 429 with Retry-After
	RetryAfter  time.Duration // Retry-After of those 429s (default 1s)
	Latency     time.Duration // added to every request
	Slow        float64       // add SlowLatency to this share of requests
	SlowLatency time.Duration // default 1s
	Drop        float64       // close the connection without answering
}

// ParseFaults reads a fault specification such as
// "patients:fail=0.2,doctors:latency=300ms,*:drop=0.01": comma-separated
// service:key=value items, "*" meaning every service, several keys for one
// service as separate items or joined by ':' ("cases:fail=0.1:latency=5ms").
// Keys: fail, 429, retry-after, latency, slow, slow-latency, drop.
func ParseFaults(spec string) (map[string]Faults, error) {
	out := map[string]Faults{}
	if strings.TrimSpace(spec) == "" {
		return out, nil
	}
	for _, item := range strings.Split(spec, ",") {
		item = strings.TrimSpace(item)
		parts := strings.Split(item, ":")
		if len(parts) < 2 {
			return nil, fmt.Errorf("fault %q: want service:key=value", item)
		}
		svc := parts[0]
		if svc != "*" && !slices.Contains(ServiceNames(), svc) {
			return nil, fmt.Errorf("fault %q: unknown service %q (one of %s, or *)", item, svc, strings.Join(ServiceNames(), ", "))
		}
		f := out[svc]
		for _, kv := range parts[1:] {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				return nil, fmt.Errorf("fault %q: %q is not key=value", item, kv)
			}
			if err := f.set(k, v); err != nil {
				return nil, fmt.Errorf("fault %q: %w", item, err)
			}
		}
		out[svc] = f
	}
	return out, nil
}

func (f *Faults) set(k, v string) error {
	rate := func(dst *float64) error {
		r, err := strconv.ParseFloat(v, 64)
		if err != nil || r < 0 || r > 1 || math.IsNaN(r) {
			return fmt.Errorf("%s=%s: want a rate from 0 to 1", k, v)
		}
		*dst = r
		return nil
	}
	dur := func(dst *time.Duration) error {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return fmt.Errorf("%s=%s: want a duration such as 300ms", k, v)
		}
		*dst = d
		return nil
	}
	switch k {
	case "fail":
		return rate(&f.Fail)
	case "429":
		return rate(&f.RateLimit)
	case "retry-after":
		return dur(&f.RetryAfter)
	case "latency":
		return dur(&f.Latency)
	case "slow":
		return rate(&f.Slow)
	case "slow-latency":
		return dur(&f.SlowLatency)
	case "drop":
		return rate(&f.Drop)
	}
	return fmt.Errorf("unknown fault %q (fail, 429, retry-after, latency, slow, slow-latency, drop)", k)
}

// FaultInjector applies Faults per service; its Middleware goes in
// Options.Middleware, and Set changes a service's faults at run time.
type FaultInjector struct {
	mu       sync.RWMutex
	services map[string]*serviceFaults
}

type serviceFaults struct {
	Faults
	// One counter per rate, so each rate is exact on its own.
	fail, limit, slow, drop atomic.Int64
}

// NewFaultInjector starts with faults (from ParseFaults; "*" applies to all).
func NewFaultInjector(faults map[string]Faults) *FaultInjector {
	fi := &FaultInjector{services: map[string]*serviceFaults{}}
	if all, ok := faults["*"]; ok {
		fi.Set("*", all)
	}
	for svc, f := range faults {
		if svc != "*" {
			fi.Set(svc, f)
		}
	}
	return fi
}

// Set replaces the faults of one service ("*" or "" for every service);
// the zero Faults heals it.
func (fi *FaultInjector) Set(service string, f Faults) {
	fi.mu.Lock()
	defer fi.mu.Unlock()
	names := []string{service}
	if service == "*" || service == "" {
		names = ServiceNames()
	}
	for _, n := range names {
		fi.services[n] = &serviceFaults{Faults: f}
	}
}

func (fi *FaultInjector) get(service string) *serviceFaults {
	fi.mu.RLock()
	defer fi.mu.RUnlock()
	return fi.services[service]
}

// hit reports whether request n of a stream should get a fault of this rate:
// exactly rate*n of the first n requests do, spread evenly.
func hit(rate float64, c *atomic.Int64) bool {
	if rate <= 0 {
		return false
	}
	n := float64(c.Add(1))
	return math.Floor(n*rate) > math.Floor((n-1)*rate)
}

// Middleware injects the service's faults in front of next.
func (fi *FaultInjector) Middleware(service string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f := fi.get(service)
		if f == nil {
			next.ServeHTTP(w, r)
			return
		}
		delay := f.Latency
		if hit(f.Slow, &f.slow) {
			d := f.SlowLatency
			if d == 0 {
				d = time.Second
			}
			delay += d
		}
		if delay > 0 {
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
		switch {
		case hit(f.Drop, &f.drop):
			if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
				conn.Close()
				return
			}
			w.WriteHeader(http.StatusServiceUnavailable) // HTTP/2: no connection to drop
		case hit(f.Fail, &f.fail):
			writeFault(w, http.StatusServiceUnavailable, `{"error":"injected failure"}`)
		case hit(f.RateLimit, &f.limit):
			ra := f.RetryAfter
			if ra == 0 {
				ra = time.Second
			}
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(ra.Seconds()))))
			writeFault(w, http.StatusTooManyRequests, `{"error":"rate limited"}`)
		default:
			next.ServeHTTP(w, r)
		}
	})
}

func writeFault(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	io.WriteString(w, body)
}
