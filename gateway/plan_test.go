package gateway

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/stacker/stacker/auth/authtest"
	"github.com/stacker/stacker/authz"
	"github.com/stacker/stacker/demo"
	"github.com/stacker/stacker/operations"
	"github.com/stacker/stacker/plan"
)

// planAnswer is an answer's data as sent and its extensions.plan (nil
// when there is none).
type planAnswer struct {
	Data       json.RawMessage
	Errors     []gqlError
	Extensions struct{ Plan *plan.Plan }
}

// askPlan posts the case board with the plan header set to mode (none when
// empty) and the bearer token (none when empty). The answer goes through a
// map (post's), which both sides of a comparison of data share.
func askPlan(t *testing.T, e *testEnv, mode, token string) planAnswer {
	t.Helper()
	h := map[string]string{}
	if mode != "" {
		h[plan.Header] = mode
	}
	if token != "" {
		h["Authorization"] = "Bearer " + token
	}
	_, body, _ := post(t, e.URL, map[string]any{"query": operations.CaseBoard}, h)
	raw, _ := json.Marshal(body)
	var a planAnswer
	if err := json.Unmarshal(raw, &a); err != nil {
		t.Fatalf("decoding %s: %v", raw, err)
	}
	return a
}

// planCall is what a test checks of a call: where it is and what it sent.
type planCall struct {
	level   int
	service string
	ids     int
}

// callsOf lists p's calls by level, each level sorted by service.
func callsOf(p *plan.Plan) []planCall {
	var out []planCall
	for _, l := range p.Levels {
		var level []planCall
		for _, c := range l.Calls {
			level = append(level, planCall{l.Level, c.Service, c.IDs})
		}
		slices.SortFunc(level, func(a, b planCall) int { return strings.Compare(a.service, b.service) })
		out = append(out, level...)
	}
	return out
}

// caseBoardCalls are the case board's eight calls, with the ids each
// sends as the seeded data decides them.
func caseBoardCalls(s *demo.Store) []planCall {
	cs, _ := s.ListCases([]string{demo.StatusNew, demo.StatusInReview}, nil, 1, 50)
	var caseIDs, patients, staff, insurers, doctors, clinics []int64
	add := func(set *[]int64, id int64) {
		if !slices.Contains(*set, id) {
			*set = append(*set, id)
		}
	}
	for _, c := range cs {
		caseIDs = append(caseIDs, c.ID)
		add(&patients, c.PatientID)
		if c.AssigneeID != nil {
			add(&staff, *c.AssigneeID)
		}
		p, _ := s.Patient(c.PatientID)
		add(&insurers, p.InsurerID)
	}
	for _, a := range s.AppointmentsByCases(caseIDs) {
		add(&doctors, a.DoctorID)
		d, _ := s.Doctor(a.DoctorID)
		add(&clinics, d.ClinicID)
	}
	return []planCall{
		{0, "cases", 0},
		{1, "appointments", len(caseIDs)}, {1, "documents", len(caseIDs)}, {1, "patients", len(patients)}, {1, "staff", len(staff)},
		{2, "doctors", len(doctors)}, {2, "insurers", len(insurers)},
		{3, "clinics", len(clinics)},
	}
}

// With the header, the case board's answer carries its eight calls in
// their levels, with the ids each sent, and its data is what it is
// without the header, on the compiled path and on gqlgen's.
func TestPlanOfTheCaseBoard(t *testing.T) {
	for _, compiled := range []string{"true", "false"} {
		t.Run("compiled="+compiled, func(t *testing.T) {
			e := startStacker(t, map[string]string{"STACKER_COMPILED_EXECUTION": compiled})
			plain := askPlan(t, e, "", "")
			got := askPlan(t, e, "true", "")
			if plain.Extensions.Plan != nil {
				t.Error("a plan without the header")
			}
			if got.Extensions.Plan == nil {
				t.Fatal("no plan with the header")
			}
			if len(got.Errors) > 0 || !bytes.Equal(got.Data, plain.Data) {
				t.Errorf("the data differs with the header (errors %s)", jsonString(got.Errors))
			}
			p := got.Extensions.Plan
			if want := caseBoardCalls(e.Store); !slices.Equal(callsOf(p), want) {
				t.Errorf("calls:\n got %+v\nwant %+v", callsOf(p), want)
			}
			if p.TotalCalls != 8 || p.DryRun || p.DurationMs <= 0 {
				t.Errorf("totalCalls %d, dryRun %v, durationMs %v", p.TotalCalls, p.DryRun, p.DurationMs)
			}
			for _, l := range p.Levels {
				for _, c := range l.Calls {
					if c.Status != 200 || c.Retries != 0 || c.Route == "" || c.Field == "" || c.DurationMs <= 0 {
						t.Errorf("level %d: %+v", l.Level, c)
					}
				}
			}
			if f := p.Levels[3].Calls[0].Field; f != "cases.nodes.appointments.doctor.clinic" {
				t.Errorf("the clinics call is for %q", f)
			}
		})
	}
}

// A dry run calls no service and answers the calls the operation would
// make, in their levels.
func TestPlanDryRunCallsNothing(t *testing.T) {
	demoEnv := startStacker(t, nil)
	env, calls := recordCalls(t, demoEnv)
	e := startStacker(t, env)
	got := askPlan(t, e, "dry-run", "")
	if n := len(calls()); n != 0 {
		t.Errorf("a dry run made %d upstream calls", n)
	}
	if string(got.Data) != "null" || len(got.Errors) > 0 || got.Extensions.Plan == nil {
		t.Fatalf("data %s, errors %s, plan %v", got.Data, jsonString(got.Errors), got.Extensions.Plan)
	}
	p := got.Extensions.Plan
	var want []planCall
	for _, c := range caseBoardCalls(demoEnv.Store) {
		want = append(want, planCall{c.level, c.service, 0}) // a dry run knows no ids
	}
	if !p.DryRun || p.TotalCalls != 8 || !slices.Equal(callsOf(p), want) {
		t.Errorf("dry run plan: dryRun %v, %d calls\n got %+v\nwant %+v", p.DryRun, p.TotalCalls, callsOf(p), want)
	}
}

// A failing service's call shows its status and retries; the level below
// it, with no parents, makes no call.
func TestPlanShowsAFailingCall(t *testing.T) {
	e := startStacker(t, nil)
	e.Faults.set("patients", http.StatusServiceUnavailable)
	got := askPlan(t, e, "true", "")
	if got.Extensions.Plan == nil {
		t.Fatal("no plan")
	}
	var patients []plan.Call
	for _, l := range got.Extensions.Plan.Levels {
		for _, c := range l.Calls {
			if c.Service == "patients" {
				patients = append(patients, c)
			}
			if c.Service == "insurers" {
				t.Error("insurers were called below patients that failed")
			}
		}
	}
	if len(patients) != 1 || patients[0].Status != 503 || patients[0].Retries != 2 {
		t.Errorf("patients calls: %+v, want one with status 503 and 2 retries", patients)
	}
}

// In production the header is ignored unless the token has the plan
// scope.
func TestPlanInProductionNeedsTheScope(t *testing.T) {
	k := authtest.RSAKey(t, "k1")
	p := authtest.NewProvider(t, k)
	e := startStacker(t, authEnv(p, map[string]string{"STACKER_ENV": "production", "STACKER_TRUSTED_DOCUMENTS": "off"}))
	token := func(scopes ...string) string {
		c := p.Claims("dev")
		c["scope"] = strings.Join(append(authz.Roles()["admin"], scopes...), " ")
		c["roles"] = []string{"admin"}
		return k.Sign(t, c)
	}
	for _, tc := range []struct {
		name, token, mode string
		plan              bool
	}{
		{"without the scope", token(), "true", false},
		{"without the scope, dry run", token(), "dry-run", false},
		{"with the scope", token(plan.Scope), "true", true},
		{"with the scope, dry run", token(plan.Scope), "dry-run", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := askPlan(t, e, tc.mode, tc.token)
			if (got.Extensions.Plan != nil) != tc.plan {
				t.Errorf("plan %v, want one: %v", got.Extensions.Plan, tc.plan)
			}
			if !tc.plan && (len(got.Data) < 10 || len(got.Errors) > 0) {
				t.Errorf("an ignored header changed the answer: data %.60s, errors %s", got.Data, jsonString(got.Errors))
			}
		})
	}
}
