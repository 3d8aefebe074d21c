package plan

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stacker/stacker/upstream"
)

func TestParseMode(t *testing.T) {
	for _, tc := range []struct {
		header string
		want   Mode
	}{
		{"", Off},
		{"true", Execute},
		{" TRUE ", Execute},
		{"dry-run", DryRun},
		{"Dry-Run", DryRun},
		{"false", Off},
		{"yes", Off},
	} {
		if got := ParseMode(tc.header); got != tc.want {
			t.Errorf("ParseMode(%q) = %v, want %v", tc.header, got, tc.want)
		}
	}
}

// The calls land in the levels their contexts name, in the order they
// started, with what the observer was told of them.
func TestRecorderGroupsCallsByLevel(t *testing.T) {
	r := NewRecorder()
	root := NewContext(context.Background(), r)
	nodes := Within(root, "nodes")
	patient := Below(nodes, "patient")
	insurer := Below(patient, "insurer")
	assignee := Below(nodes, "assignee")

	r.ObserveCall(insurer, upstream.Call{Service: "insurers", Route: "/insurers?ids", IDs: 3, Status: 200})
	r.ObserveCall(assignee, upstream.Call{Service: "staff", Route: "/staff?ids", IDs: 2, Status: 503, Retries: 2})
	r.ObserveCall(patient, upstream.Call{Service: "patients", Route: "/patients?ids", IDs: 5, Duration: time.Hour,
		Err: errors.New("down")})
	r.ObserveCall(root, upstream.Call{Service: "cases", Route: "/cases", Status: 200})

	p := r.Plan()
	if p.TotalCalls != 4 || p.DryRun || p.DurationMs <= 0 {
		t.Errorf("plan: %d calls, dry run %v, %vms", p.TotalCalls, p.DryRun, p.DurationMs)
	}
	type row struct {
		level                   int
		service, field, outcome string
		ids, status, retries    int
	}
	want := []row{
		{0, "cases", "", "", 0, 200, 0},
		// Started an hour before it was told of: first in its level.
		{1, "patients", "nodes.patient", "unavailable", 5, 0, 0},
		{1, "staff", "nodes.assignee", "", 2, 503, 2},
		{2, "insurers", "nodes.patient.insurer", "", 3, 200, 0},
	}
	var got []row
	for _, l := range p.Levels {
		for _, c := range l.Calls {
			if c.level != l.Level {
				t.Errorf("%s is in level %d, made at %d", c.Service, l.Level, c.level)
			}
			got = append(got, row{l.Level, c.Service, c.Field, c.Outcome, c.IDs, c.Status, c.Retries})
		}
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("call %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
}

// Without a recorder, Below and Within leave the context alone: an
// operation that asks for no plan pays no allocation for it.
func TestStepsCostNothingWithoutARecorder(t *testing.T) {
	ctx := context.Background()
	if Below(ctx, "patient") != ctx || Within(ctx, "nodes") != ctx {
		t.Error("a context without a recorder was wrapped")
	}
}

func TestDryRunOf(t *testing.T) {
	p := DryRunOf([]Call{Planned(1, "patients", "cases.nodes.patient"), Planned(0, "cases", "cases")})
	if !p.DryRun || p.TotalCalls != 2 || len(p.Levels) != 2 || p.Levels[0].Calls[0].Service != "cases" {
		t.Errorf("dry run plan: %+v", p)
	}
}
