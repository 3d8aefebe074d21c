package loaders

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stacker/stacker/upstream/appointments"
)

// TestUpcomingByDoctor: one call for every doctor, from the operation's
// "now", and each doctor's list soonest first whatever the service's order.
func TestUpcomingByDoctor(t *testing.T) {
	now := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	var calls int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		if got := r.URL.Query().Get("starts_after"); got != "2026-03-01T08:00:00Z" {
			t.Errorf("starts_after = %q", got)
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"appointments":[
			{"id":1,"case_id":1,"doctor_id":4,"starts_at":"2026-03-09T09:00:00Z","status":"scheduled"},
			{"id":2,"case_id":2,"doctor_id":5,"starts_at":"2026-03-02T09:00:00Z","status":"scheduled"},
			{"id":3,"case_id":3,"doctor_id":4,"starts_at":"2026-03-02T09:00:00Z","status":"cancelled"}]}`))
	}))
	defer srv.Close()
	c, err := appointments.New(srv.URL, srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	l := New(Clients{Appointments: c}, Options{Now: func() time.Time { return now }})
	lists, errs := l.UpcomingByDoctor.LoadAll(context.Background(), []int{4, 5, 6})
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	ids := func(i int) (out []int) {
		for _, a := range lists[i] {
			out = append(out, a.ID)
		}
		return out
	}
	if calls != 1 || len(lists[0]) != 2 || ids(0)[0] != 3 || ids(0)[1] != 1 || len(lists[1]) != 1 || lists[2] == nil || len(lists[2]) != 0 {
		t.Errorf("%d calls, lists %v %v %v; want 1 call, [3 1] [2] []", calls, ids(0), ids(1), ids(2))
	}
}
