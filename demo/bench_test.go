package demo

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
)

func BenchmarkNewStore(b *testing.B) {
	for b.Loop() {
		NewStore()
	}
}

// benchWriter is a ResponseWriter reused across iterations, so a benchmark
// counts what the service allocates and not what a fresh
// httptest.ResponseRecorder does.
type benchWriter struct {
	h      http.Header
	status int
	n      int
}

func (w *benchWriter) Header() http.Header { return w.h }

func (w *benchWriter) WriteHeader(code int) { w.status = code }

func (w *benchWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.n += len(p)
	return len(p), nil
}

func (w *benchWriter) reset() {
	clear(w.h)
	w.status, w.n = 0, 0
}

// benchmarkGet measures one request through the full service handler
// (counting, request id, routing, encoding), without the network.
func benchmarkGet(b *testing.B, service, target string) {
	benchmarkGetWith(b, Options{}, service, target)
}

// benchmarkGetWith is benchmarkGet with options, such as the gateway's
// fault-injection middleware.
func benchmarkGetWith(b *testing.B, opts Options, service, target string) {
	svcs := New(NewStore(), opts)
	h, err := svcs.Handler(service)
	if err != nil {
		b.Fatal(err)
	}
	req, err := http.NewRequest("GET", target, nil)
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("X-Request-ID", "bench")
	w := &benchWriter{h: make(http.Header)}
	h.ServeHTTP(w, req) // warm caches and pools, and check the answer once
	if w.status != http.StatusOK {
		b.Fatalf("status %d", w.status)
	}
	b.SetBytes(int64(w.n))
	b.ReportAllocs()
	for b.Loop() {
		w.reset()
		h.ServeHTTP(w, req)
		if w.status != http.StatusOK {
			b.Fatalf("status %d", w.status)
		}
	}
}

// idQuery returns "a,b,c": n ids starting at first, step apart.
func idQuery(n int, first, step int64) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = strconv.FormatInt(first+int64(i)*step, 10)
	}
	return strings.Join(parts, ",")
}

func BenchmarkBatchPatients100(b *testing.B) {
	benchmarkGet(b, "patients", "/patients?ids="+idQuery(100, 1, 7))
}

func BenchmarkBatchPatients50(b *testing.B) {
	benchmarkGet(b, "patients", "/patients?ids="+idQuery(50, 3, 13))
}

func BenchmarkBatchClinics40(b *testing.B) {
	benchmarkGet(b, "clinics", "/clinics?ids="+idQuery(40, 1, 1))
}

func BenchmarkListCasesFiltered(b *testing.B) {
	benchmarkGet(b, "cases", "/cases?status=new,in_review&page=3&per_page=50")
}

// BenchmarkListCasesPage50 is the gateway's cases query: the first page of
// 50 open cases.
func BenchmarkListCasesPage50(b *testing.B) {
	benchmarkGet(b, "cases", "/cases?status=new,in_review&per_page=50")
}

// BenchmarkListCasesPage50Faults is BenchmarkListCasesPage50 behind the
// fault injector (no faults set), as the gateway runs the demo services.
func BenchmarkListCasesPage50Faults(b *testing.B) {
	opts := Options{Middleware: NewFaultInjector(nil).Middleware}
	benchmarkGetWith(b, opts, "cases", "/cases?status=new,in_review&per_page=50")
}

func BenchmarkAppointmentsByCases(b *testing.B) {
	benchmarkGet(b, "appointments", "/appointments?case_ids=1,2,3,4,5,6,7,8,9,10")
}

func BenchmarkAppointmentsByCases50(b *testing.B) {
	benchmarkGet(b, "appointments", "/appointments?case_ids="+idQuery(50, 11, 97))
}

func BenchmarkSingleCase(b *testing.B) {
	benchmarkGet(b, "cases", "/cases/42")
}
