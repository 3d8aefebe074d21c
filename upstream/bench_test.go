package upstream

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

type benchRow struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// BenchmarkGetByIDs measures the client side of one 100-id batch read.
func BenchmarkGetByIDs(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`{"things":[`)
	ids := make([]int64, MaxIDs)
	for i := range ids {
		ids[i] = int64(i + 1)
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"id":%d,"name":"thing %d","created_at":"2024-05-01T10:00:00Z"}`, i+1, i+1)
	}
	sb.WriteString(`]}`)
	body := sb.String()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(body))
	}))
	defer srv.Close()
	hc := NewHTTPClient(Options{})
	defer hc.CloseIdleConnections()
	s, err := NewService("things", srv.URL, hc)
	if err != nil {
		b.Fatal(err)
	}
	ctx := WithRequestID(context.Background(), "bench")
	b.ReportAllocs()
	for b.Loop() {
		rows, err := GetByIDs[benchRow](ctx, s, "/things", "ids", ids, "things")
		if err != nil || len(rows) != MaxIDs {
			b.Fatal(rows, err)
		}
	}
}
