package loadtest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/stacker/stacker/debugserver"
)

// stackerStats is the body of Stacker's stats endpoint.
type stackerStats = debugserver.Stats

// demoStats is the body of the demo services' stats endpoint: cumulative
// requests per service.
type demoStats struct {
	Requests map[string]int64 `json:"requests"`
}

// snapshot holds the stats read at one moment; a nil field was not asked for.
type snapshot struct {
	stacker *stackerStats
	demo    *demoStats
}

func takeSnapshot(ctx context.Context, client *http.Client, stackerURL, demoURL string) (snapshot, error) {
	var s snapshot
	if stackerURL != "" {
		s.stacker = new(stackerStats)
		if err := getJSON(ctx, client, stackerURL, s.stacker); err != nil {
			return snapshot{}, fmt.Errorf("stacker stats: %w", err)
		}
	}
	if demoURL != "" {
		s.demo = new(demoStats)
		if err := getJSON(ctx, client, demoURL, s.demo); err != nil {
			return snapshot{}, fmt.Errorf("demo stats: %w", err)
		}
	}
	return s, nil
}

func getJSON(ctx context.Context, client *http.Client, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: HTTP %d: %s", url, resp.StatusCode, snippet(body))
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	return nil
}

// stackerFigures derives Stacker's cost from stats read before and after a
// run of queries requests. Per-query figures are 0 when there were no
// queries (JSON cannot carry the NaN a division would give).
func stackerFigures(before, after stackerStats, queries int) Stacker {
	s := Stacker{
		CPUSeconds:      after.CPUSeconds - before.CPUSeconds,
		PeakRSSBytes:    after.MaxRSSBytes,
		HeapInuseBytes:  int64(after.HeapInuseBytes),
		GoroutinesStart: before.Goroutines,
		GoroutinesEnd:   after.Goroutines,
	}
	if queries > 0 {
		s.CPUMsPerQuery = s.CPUSeconds * 1000 / float64(queries)
	}
	return s
}

// upstreamFigures derives the upstream fan-out from demo counters read
// before and after a run of queries requests. A service missing from one
// side counts as zero there.
func upstreamFigures(before, after demoStats, queries int) Upstream {
	u := Upstream{ByService: map[string]float64{}}
	names := make([]string, 0, len(after.Requests))
	for name := range after.Requests {
		names = append(names, name)
	}
	for name := range before.Requests {
		if _, ok := after.Requests[name]; !ok {
			names = append(names, name)
		}
	}
	for _, name := range names {
		delta := after.Requests[name] - before.Requests[name]
		u.Requests += delta
		if queries > 0 {
			u.ByService[name] = float64(delta) / float64(queries)
		} else {
			u.ByService[name] = 0
		}
	}
	if queries > 0 {
		u.PerQuery = float64(u.Requests) / float64(queries)
	}
	return u
}
