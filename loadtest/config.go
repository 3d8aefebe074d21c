package loadtest

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"time"
)

// defaultQuery is the case board: one page of open cases with every related
// entity, so a single query exercises all eight upstream services and the
// loaders that batch them.
const defaultQuery = `query CaseBoard($first: Int = 50) {
  cases(status: [NEW, IN_REVIEW], first: $first) {
    totalCount
    nodes {
      id status priority summary updatedAt
      patient { id fullName dateOfBirth insurer { name kind } }
      assignee { name role }
      appointments { startsAt status doctor { name specialty clinic { name city } } }
      documents { title kind sizeBytes }
    }
  }
}
`

// config is the validated form of the flags.
type config struct {
	url          string
	concurrency  int
	duration     time.Duration // 0: no time limit (then maxRequests > 0)
	maxRequests  int           // 0: no count limit (then duration > 0)
	warmup       time.Duration
	timeout      time.Duration
	body         []byte // the marshalled request, sent unchanged by every worker
	stackerStats string
	demoStats    string
	floorURL     string // "": no floor; else measured in turn with url
	floorStats   string
	name         string // the target's name in the report ("": none)
	jsonOut      bool
	runs         int
	header       http.Header // extra request headers (-header), e.g. Authorization
}

// graphQLRequest is the POST body of a GraphQL-over-HTTP request.
type graphQLRequest struct {
	Query         string          `json:"query"`
	Variables     json.RawMessage `json:"variables,omitempty"`
	OperationName string          `json:"operationName,omitempty"`
}

// parseConfig parses and validates the flags. Usage and flag-package errors
// are written to stderr; flag.ErrHelp is returned as is for -h.
func parseConfig(args []string, stderr io.Writer) (config, error) {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		cfg         config
		queryPath   string
		vars        string
		operation   string
		allowRemote bool
	)
	fs.StringVar(&cfg.url, "url", "http://127.0.0.1:8080/graphql", "GraphQL endpoint to load")
	fs.IntVar(&cfg.concurrency, "c", 32, "concurrent workers, each with one request in flight")
	fs.DurationVar(&cfg.duration, "d", 10*time.Second, "duration of each measured run (0: only -n bounds it)")
	fs.IntVar(&cfg.maxRequests, "n", 0, "max requests per measured run (0: unlimited); stops at -d or -n, whichever first")
	fs.DurationVar(&cfg.warmup, "warmup", 2*time.Second, "load before the first run whose requests are not counted (0: none)")
	fs.DurationVar(&cfg.timeout, "timeout", 10*time.Second, "per-request timeout, response body included; a timeout counts as a transport error")
	fs.StringVar(&queryPath, "query", "", "path to a .graphql file (default: the built-in CaseBoard query)")
	fs.StringVar(&vars, "vars", "{}", "GraphQL variables as a JSON object")
	fs.StringVar(&operation, "operation", "", "operationName to send (optional)")
	fs.StringVar(&cfg.stackerStats, "stacker-stats", "", "Stacker stats URL, e.g. http://127.0.0.1:6060/debug/stats (optional)")
	fs.StringVar(&cfg.demoStats, "demo-stats", "", "demo services stats URL, e.g. http://127.0.0.1:7070/stats (optional)")
	fs.StringVar(&cfg.floorURL, "floor-url", "", "the floor's endpoint (stacker floor), measured in turn with -url: floor, gateway, floor, ...; "+
		"the report ends with the medians of both and gateway/floor ratios (optional)")
	fs.StringVar(&cfg.floorStats, "floor-stats", "", "the floor's stats URL, as -stacker-stats is the gateway's (optional, with -floor-url)")
	fs.StringVar(&cfg.name, "name", "", `the target's name in the report, e.g. "floor" when -url is the floor alone (optional)`)
	fs.BoolVar(&cfg.jsonOut, "json", false, "print the report as JSON")
	fs.IntVar(&cfg.runs, "runs", 1, "measured runs; with more than one the median of each figure is printed too")
	cfg.header = http.Header{}
	fs.Func("header", `extra request header "Name: value", e.g. "Authorization: Bearer ..." (repeatable)`, func(v string) error {
		name, value, ok := strings.Cut(v, ":")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if !ok || name == "" || strings.ContainsAny(name, " \t\r\n") || strings.ContainsAny(value, "\r\n") {
			return errors.New(`want a header such as "Authorization: Bearer <token>"`)
		}
		cfg.header.Add(name, value)
		return nil
	})
	fs.BoolVar(&allowRemote, "allow-remote", false, "allow non-loopback targets (load on anything but loopback is forbidden here)")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected arguments %q", fs.Args())
	}

	switch {
	case cfg.concurrency < 1:
		return config{}, fmt.Errorf("-c %d: must be at least 1", cfg.concurrency)
	case cfg.duration < 0:
		return config{}, fmt.Errorf("-d %s: must not be negative", cfg.duration)
	case cfg.maxRequests < 0:
		return config{}, fmt.Errorf("-n %d: must not be negative", cfg.maxRequests)
	case cfg.duration == 0 && cfg.maxRequests == 0:
		return config{}, errors.New("-d 0 with -n 0 would never stop: set one of them")
	case cfg.warmup < 0:
		return config{}, fmt.Errorf("-warmup %s: must not be negative", cfg.warmup)
	case cfg.timeout <= 0:
		return config{}, fmt.Errorf("-timeout %s: must be positive", cfg.timeout)
	case cfg.runs < 1:
		return config{}, fmt.Errorf("-runs %d: must be at least 1", cfg.runs)
	case cfg.floorStats != "" && cfg.floorURL == "":
		return config{}, errors.New("-floor-stats without -floor-url: there is no floor to read")
	case cfg.name != "" && cfg.floorURL != "":
		return config{}, errors.New("-name with -floor-url: a comparison names its targets floor and gateway")
	}

	for _, t := range []struct{ flag, url string }{
		{"url", cfg.url},
		{"stacker-stats", cfg.stackerStats},
		{"demo-stats", cfg.demoStats},
		{"floor-url", cfg.floorURL},
		{"floor-stats", cfg.floorStats},
	} {
		if t.url == "" && t.flag != "url" {
			continue // optional endpoint not given
		}
		if err := checkTarget(t.url, allowRemote); err != nil {
			return config{}, fmt.Errorf("-%s: %w", t.flag, err)
		}
	}

	query := defaultQuery
	if queryPath != "" {
		b, err := os.ReadFile(queryPath)
		if err != nil {
			return config{}, fmt.Errorf("-query: %w", err)
		}
		if strings.TrimSpace(string(b)) == "" {
			return config{}, fmt.Errorf("-query %s: file is empty", queryPath)
		}
		query = string(b)
	}

	// Decoding into a map rejects arrays, scalars and trailing garbage, so a
	// typo fails here rather than as thousands of identical GraphQL errors.
	var varsObj map[string]json.RawMessage
	if err := json.Unmarshal([]byte(vars), &varsObj); err != nil {
		return config{}, fmt.Errorf("-vars: not a JSON object: %w", err)
	}
	body, err := json.Marshal(graphQLRequest{
		Query:         query,
		Variables:     json.RawMessage(vars),
		OperationName: operation,
	})
	if err != nil {
		return config{}, fmt.Errorf("marshalling request: %w", err)
	}
	cfg.body = body
	return cfg, nil
}

// checkTarget accepts an absolute http(s) URL whose host is a loopback
// address, or any host when allowRemote is set.
func checkTarget(raw string, allowRemote bool) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("%q: scheme must be http or https", raw)
	}
	if u.Host == "" {
		return fmt.Errorf("%q: no host", raw)
	}
	if !allowRemote && !isLoopback(u.Hostname()) {
		return fmt.Errorf("%q: host %q is not a loopback address; load may only target loopback here (-allow-remote overrides)", raw, u.Hostname())
	}
	return nil
}

// isLoopback reports whether host is "localhost" or a loopback IP literal.
// Other names are refused rather than resolved: a name that resolves to
// loopback today may not tomorrow, and refusing costs only typing 127.0.0.1.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}
