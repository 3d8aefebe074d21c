package demo

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

func BenchmarkNewStore(b *testing.B) {
	for b.Loop() {
		NewStore()
	}
}

// benchmarkGet measures one request through the full service handler
// (counting, request id, routing, encoding), without the network.
func benchmarkGet(b *testing.B, service, target string) {
	svcs := New(NewStore(), Options{})
	h, err := svcs.Handler(service)
	if err != nil {
		b.Fatal(err)
	}
	req := httptest.NewRequest("GET", target, nil)
	req.Header.Set("X-Request-ID", "bench")
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
}

func BenchmarkBatchPatients100(b *testing.B) {
	ids := make([]string, 100)
	for i := range ids {
		ids[i] = strconv.Itoa(i*7 + 1)
	}
	benchmarkGet(b, "patients", "/patients?ids="+strings.Join(ids, ","))
}

func BenchmarkListCasesFiltered(b *testing.B) {
	benchmarkGet(b, "cases", "/cases?status=new,in_review&page=3&per_page=50")
}

func BenchmarkAppointmentsByCases(b *testing.B) {
	benchmarkGet(b, "appointments", "/appointments?case_ids=1,2,3,4,5,6,7,8,9,10")
}
