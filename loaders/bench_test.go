package loaders

import (
	"context"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stacker/stacker/config"
	"github.com/stacker/stacker/demo"
	"github.com/stacker/stacker/graph/model"
	"github.com/stacker/stacker/upstream"
	"github.com/stacker/stacker/upstream/cases"
)

// BenchmarkCaseBoardCalls makes the case board's eight upstream calls
// through the loaders, level by level as the planner does, with no GraphQL
// on top: the floor under the gateway's latency for that query. It reports
// the median (p50-ms) next to the mean.
//
// With the STACKER_*_URL variables set it calls those services (as
// `scripts/loadbench.sh -latency 5ms -floor` does, with the demo in a
// process of its own); otherwise it starts the demo services in-process
// with 5 ms of latency.
//
//	go test -run '^$' -bench CaseBoardCalls -benchtime 300x ./loaders
func BenchmarkCaseBoardCalls(b *testing.B) {
	c := benchClients(b)
	ctx := context.Background()
	var took []time.Duration
	for b.Loop() {
		start := time.Now()
		l := New(c, Options{})
		page, err := c.Cases.List(ctx, cases.ListParams{Statuses: []string{"new", "in_review"}, Page: 1, PerPage: 50})
		if err != nil || len(page.Cases) != 50 {
			b.Fatal(len(page.Cases), err)
		}
		cs := make([]*model.Case, len(page.Cases))
		for i, row := range page.Cases {
			cs[i] = Case(row)
		}
		caseIDs := ids(cs, func(c *model.Case) int { return c.ID })
		var wg sync.WaitGroup
		wg.Go(func() {
			ps := loadAll(b, ctx, l.Patients, ids(cs, func(c *model.Case) int { return c.PatientID }))
			loadAll(b, ctx, l.Insurers, ids(ps, func(p *model.Patient) int { return p.InsurerID }))
		})
		wg.Go(func() {
			var staffIDs []int
			for _, c := range cs {
				if c.AssigneeID != nil {
					staffIDs = append(staffIDs, *c.AssigneeID)
				}
			}
			loadAll(b, ctx, l.Staff, staffIDs)
		})
		wg.Go(func() {
			as := slices.Concat(loadAll(b, ctx, l.AppointmentsByCase, caseIDs)...)
			ds := loadAll(b, ctx, l.Doctors, ids(as, func(a *model.Appointment) int { return a.DoctorID }))
			loadAll(b, ctx, l.Clinics, ids(ds, func(d *model.Doctor) int { return d.ClinicID }))
		})
		wg.Go(func() { loadAll(b, ctx, l.DocumentsByCase, caseIDs) })
		wg.Wait()
		took = append(took, time.Since(start))
	}
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2])/1e6, "p50-ms")
}

func loadAll[V any](b *testing.B, ctx context.Context, l *Loader[V], keys []int) []V {
	vals, errs := l.LoadAll(ctx, keys)
	for _, err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}
	return vals
}

func ids[T any](items []T, key func(T) int) []int {
	out := make([]int, len(items))
	for i, it := range items {
		out[i] = key(it)
	}
	return out
}

// benchClients returns clients for the services named by STACKER_*_URL, or
// for demo services started here with 5 ms of latency.
func benchClients(b *testing.B) Clients {
	cfg, err := config.Load(os.Getenv)
	if err != nil {
		b.Fatal(err)
	}
	urls := cfg.ServiceURLs
	if cfg.Embedded() {
		svcs := demo.New(demo.NewStore(), demo.Options{Latency: 5 * time.Millisecond})
		if urls, err = svcs.Start(context.Background(), "127.0.0.1"); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { svcs.Close() })
	}
	hc := upstream.NewHTTPClient(upstream.Options{})
	b.Cleanup(hc.CloseIdleConnections)
	c, err := NewClients(urls, hc, func(string) upstream.Policy { return upstream.Policy{} })
	if err != nil {
		b.Fatal(err)
	}
	return c
}
