// Package debugserver is the operators' listener (STACKER_DEBUG_ADDR), never
// the public one: pprof, and the process figures the load command reads
// before and after a run.
package debugserver

import (
	"encoding/json"
	"net/http"
	"net/http/pprof"
	"runtime"
	"syscall"
)

// Handler serves /debug/pprof/ and /debug/stats. counters, when set, adds
// the gateway's own counters to the stats (the audit trail's records
// written and lost).
func Handler(counters func() map[string]int64) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("GET /debug/stats", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		st := Read()
		if counters != nil {
			st.Counters = counters()
		}
		json.NewEncoder(w).Encode(st)
	})
	return mux
}

// Stats is the body of /debug/stats.
type Stats struct {
	CPUSeconds     float64 `json:"cpu_seconds"`   // cumulative user+sys CPU of the process
	MaxRSSBytes    int64   `json:"max_rss_bytes"` // peak RSS so far (ru_maxrss)
	HeapInuseBytes uint64  `json:"heap_inuse_bytes"`
	Goroutines     int     `json:"goroutines"`
	// Counters are the gateway's own, by name.
	Counters map[string]int64 `json:"counters,omitempty"`
}

// Read takes the process's figures now.
func Read() Stats {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return Stats{
		CPUSeconds:     tv(ru.Utime) + tv(ru.Stime),
		MaxRSSBytes:    int64(ru.Maxrss) * 1024, // Linux reports KiB
		HeapInuseBytes: ms.HeapInuse,
		Goroutines:     runtime.NumGoroutine(),
	}
}
