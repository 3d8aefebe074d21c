package gateway

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"
)

// BenchmarkCaseBoard runs the case board through a whole gateway on
// loopback. The demo services run in the same process, so ns/op and
// allocs/op include them and the HTTP client; `go run . load` measures the
// gateway alone.
//
//	go test -run '^$' -bench CaseBoard -benchmem
func BenchmarkCaseBoard(b *testing.B) {
	for _, mode := range []struct{ name, compiled string }{{"compiled", "true"}, {"gqlgen", "false"}} {
		e := startStacker(b, map[string]string{"STACKER_LOG_LEVEL": "error", "STACKER_COMPILED_EXECUTION": mode.compiled})
		body, _ := json.Marshal(map[string]any{"query": caseBoardQuery(b)})
		post := func() {
			resp, err := e.HTTP.Post(e.URL, "application/json", bytes.NewReader(body))
			if err != nil {
				b.Fatal(err)
			}
			n, _ := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || n < 10000 {
				b.Fatalf("status %d, %d bytes", resp.StatusCode, n)
			}
		}
		post() // warm the query cache and connections

		b.Run(mode.name+"/serial", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				post()
			}
		})
		b.Run(mode.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.SetParallelism(16) // 32 concurrent queries on this 2-core machine
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					post()
				}
			})
		})
		e.Stop()
	}
}
