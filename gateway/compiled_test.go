package gateway

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/stacker/stacker/auth/authtest"
	"github.com/stacker/stacker/demo"
	"github.com/stacker/stacker/graph"
	"github.com/stacker/stacker/graph/model"
	"github.com/stacker/stacker/internal/testsync"
)

// The compiled path (resolvers/compiled.go) must answer exactly what gqlgen
// answers: the same bytes, status and upstream calls, for every operation
// the front end sends and for thousands of generated ones over the whole
// schema (fragments, aliases, __typename, variables, @skip and @include,
// nested lists), with and without faults in the services and with callers
// whom authorization refuses some fields. Two gateways share one set of
// demo services: one compiled, one with STACKER_COMPILED_EXECUTION=false.

// pair is a compiled gateway and a gqlgen-only one over the same services,
// each with its own audit trail.
type pair struct {
	on, off           *testEnv
	onAudit, offAudit string // the audit files
	debug             string // the compiled gateway's operators' listener
	calls             func() []call
	demo              *testEnv
	// exactCalls: an operation the compiled path answered must make
	// exactly gqlgen's calls. Generated operations that reach one service
	// along several paths (documents.case and appointments.case) make one
	// call per path at most, and how many of those batch together depends
	// on timing in either path; for them the bound is levels.
	exactCalls bool
}

func startPair(t testing.TB, extra map[string]string) *pair {
	t.Helper()
	demoEnv := startStacker(t, nil)
	env, calls := recordCalls(t, demoEnv)
	for k, v := range extra {
		env[k] = v
	}
	dir := t.TempDir()
	p := &pair{debug: freeAddr(t), calls: calls, demo: demoEnv, exactCalls: true,
		onAudit: filepath.Join(dir, "on.jsonl"), offAudit: filepath.Join(dir, "off.jsonl")}
	onEnv := map[string]string{"STACKER_DEBUG_ADDR": p.debug, "STACKER_AUDIT": "file:" + p.onAudit}
	offEnv := map[string]string{"STACKER_COMPILED_EXECUTION": "false", "STACKER_AUDIT": "file:" + p.offAudit}
	for k, v := range env {
		onEnv[k], offEnv[k] = v, v
	}
	p.on, p.off = startStacker(t, onEnv), startStacker(t, offEnv)
	return p
}

// sameAudit checks both trails hold the same records: per request, the
// same subject, operation and audited fields.
func (p *pair) sameAudit(t *testing.T) {
	t.Helper()
	key := func(path, prefix string) map[string]string {
		out := map[string]string{}
		for _, rs := range auditRecords(t, path) {
			for _, r := range rs {
				id := strings.TrimPrefix(r.RequestID, prefix)
				out[id] = jsonString(map[string]any{"subject": r.Subject, "op": r.OperationName, "hash": r.DocumentHash, "fields": r.Fields})
			}
		}
		return out
	}
	// The trails write in the background; the last request's record
	// settles them.
	var on, off map[string]string
	testsync.WaitFor(t, "both audit trails to settle", func() bool {
		on, off = key(p.onAudit, "on-"), key(p.offAudit, "off-")
		return len(on) == len(off)
	})
	if len(on) == 0 {
		t.Error("no audit records: the comparison checks nothing")
	}
	for id, r := range off {
		if on[id] != r {
			t.Errorf("request %s audited\n%s\nby the compiled path, and by gqlgen\n%s", id, on[id], r)
		}
	}
}

// rawPost sends a query and returns the status and the body as it came.
func rawPost(t testing.TB, e *testEnv, header http.Header, query string, vars map[string]any) (int, []byte) {
	t.Helper()
	status, body, _ := rawExchange(t, e, header, query, vars)
	return status, body
}

// rawExchange is rawPost that also returns the response's headers.
func rawExchange(t testing.TB, e *testEnv, header http.Header, query string, vars map[string]any) (int, []byte, http.Header) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest("POST", e.URL, bytes.NewReader(body))
	if header != nil {
		req.Header = header.Clone()
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header
}

// same runs query on both gateways and reports any difference in status,
// body or upstream calls.
func (p *pair) same(t testing.TB, name string, header http.Header, query string, vars map[string]any) bool {
	t.Helper()
	h := header.Clone()
	if h == nil {
		h = http.Header{}
	}
	id := strconv.FormatInt(time.Now().UnixNano(), 36)
	h.Set("X-Request-Id", "on-"+id)
	before, _ := p.compiledCounts(t)
	sa, a := rawPost(t, p.on, h, query, vars)
	answered, _ := p.compiledCounts(t)
	h.Set("X-Request-Id", "off-"+id)
	sb, b := rawPost(t, p.off, h, query, vars)
	ca, cb := callsFor(p.calls(), "on-"+id), callsFor(p.calls(), "off-"+id)
	// An operation the compiled path answered makes exactly gqlgen's
	// calls; one it handed over, no more than gqlgen's (whose batching of
	// some nested levels depends on timing; the compiled attempt leaves
	// the loaders filled for it).
	callsOK := maps.Equal(ca, cb)
	if answered == before || !p.exactCalls {
		callsOK = true
		bound := levels(t, query, vars)
		for s, n := range ca {
			callsOK = callsOK && n <= max(cb[s], bound[s])
		}
	}
	if sa != sb || !bytes.Equal(a, b) || !callsOK {
		t.Errorf("%s: the compiled path differs from gqlgen\nquery %s\nvariables %v\ncompiled %d, calls %v:\n%.3000s\ngqlgen %d, calls %v:\n%.3000s",
			name, query, vars, sa, ca, a, sb, cb, b)
		return false
	}
	return true
}

// compiledCounts reads the compiled gateway's counters.
func (p *pair) compiledCounts(t testing.TB) (answered, handedOver int64) {
	t.Helper()
	var stats struct{ Counters map[string]int64 }
	resp, err := p.on.HTTP.Get("http://" + p.debug + "/debug/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	json.NewDecoder(resp.Body).Decode(&stats)
	return stats.Counters["compiled_answered"], stats.Counters["compiled_handed_over"]
}

// frontEndOperations are the queries in operations/ with variables for
// them.
func frontEndOperations(t *testing.T, s *demo.Store) map[string]struct {
	query string
	vars  map[string]any
} {
	t.Helper()
	c, _ := s.Case(42)
	// A doctor with appointments ahead, whatever today is: one booked here.
	doctor := int64(7)
	a, err := s.CreateAppointment(demo.AppointmentInput{CaseID: &c.ID, DoctorID: &doctor,
		StartsAt: time.Now().Add(72 * time.Hour).UTC().Format(time.RFC3339)}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	// The case detail's notes, with their authors: the seed gave case 42 none.
	author := int64(3)
	if _, err := s.AddNote(c.ID, demo.NoteInput{Body: "Asked the clinic for the scans", AuthorID: &author}, time.Now()); err != nil {
		t.Fatal(err)
	}
	vars := map[string]map[string]any{
		"CaseBoard":          {"first": 50},
		"CaseDetail":         {"id": "42"},
		"ClinicDoctors":      {"id": "3"},
		"ColleagueCases":     {"id": "2", "status": []string{"NEW", "IN_REVIEW"}, "first": 5},
		"InsurerPatients":    {"id": "3", "first": 5},
		"DoctorCalendar":     {"id": id(a.DoctorID), "limit": 5},
		"DoctorsBySpecialty": {"specialty": c.Specialty},
		"PatientSearch":      {"query": "an"},
	}
	files, _ := filepath.Glob("../operations/*.graphql")
	frags, _ := filepath.Glob("../operations/fragments/*.graphql")
	var fragText strings.Builder
	for _, f := range frags {
		b, _ := os.ReadFile(f)
		fragText.Write(b)
		fragText.WriteByte('\n')
	}
	out := map[string]struct {
		query string
		vars  map[string]any
	}{}
	for _, f := range files {
		b, _ := os.ReadFile(f)
		name := strings.TrimSuffix(filepath.Base(f), ".graphql")
		if !strings.Contains(string(b), "query ") {
			continue // mutations go to gqlgen; see the mutation tests
		}
		v, ok := vars[name]
		if !ok {
			t.Fatalf("no variables for operations/%s.graphql: add them here", name)
		}
		q := string(b)
		if strings.Contains(q, "...") {
			q += "\n" + fragText.String()
		}
		out[name] = struct {
			query string
			vars  map[string]any
		}{q, v}
	}
	return out
}

func TestCompiledMatchesGqlgen(t *testing.T) {
	p := startPair(t, nil)
	for name, op := range frontEndOperations(t, p.demo.Store) {
		p.same(t, name, nil, op.query, op.vars)
	}
	before, _ := p.compiledCounts(t)
	if before == 0 {
		t.Fatal("the compiled path answered none of the front end's operations")
	}

	n := 1000
	if testing.Short() {
		n = 100
	}
	p.exactCalls = false
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	g := newOpGen(rand.New(rand.NewPCG(uint64(seed), 7)), p.demo.Store)
	failures := 0
	for i := range n {
		q, vars := g.operation()
		if !p.same(t, fmt.Sprintf("generated #%d", i), nil, q, vars) {
			if failures++; failures > 5 {
				t.Fatal("too many differences")
			}
		}
	}
	answered, handedOver := p.compiledCounts(t)
	t.Logf("compiled path: %d answered, %d handed over to gqlgen", answered, handedOver)
	if answered-before < int64(n)/4 {
		t.Errorf("the compiled path answered only %d of %d generated operations: the test checks little of it", answered-before, n)
	}
	p.sameAudit(t)
}

// Callers whom authorization refuses some fields (scopes and policies: a
// case manager sees only their own patients' contact details, a medical
// advisor none, and closed cases' documents) get the same answers, calls
// and audit records from both paths.
func TestCompiledMatchesGqlgenWithAuthorization(t *testing.T) {
	k := authtest.RSAKey(t, "k1")
	prov := authtest.NewProvider(t, k)
	p := startPair(t, authEnv(prov, nil))
	n := 300
	if testing.Short() {
		n = 60
	}
	g := newOpGen(rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 9)), p.demo.Store)
	callers := map[string]string{
		"case manager":    staffToken(t, prov, k, "case_manager", "2"),
		"medical advisor": staffToken(t, prov, k, "medical_advisor", "4"),
		"admin":           staffToken(t, prov, k, "admin", "1"),
	}
	ops := frontEndOperations(t, p.demo.Store)
	p.exactCalls = false // policies load per depth too
	for who, tok := range callers {
		h := http.Header{"Authorization": {"Bearer " + tok}}
		for name, op := range ops {
			p.same(t, name+" as "+who, h, op.query, op.vars)
		}
		for i := range n {
			q, vars := g.operation()
			p.same(t, fmt.Sprintf("generated #%d as %s", i, who), h, q, vars)
		}
	}
	answered, handedOver := p.compiledCounts(t)
	t.Logf("compiled path: %d answered, %d handed over to gqlgen", answered, handedOver)
	if answered == 0 || handedOver == 0 {
		t.Errorf("want both paths taken: %d answered, %d handed over", answered, handedOver)
	}
	p.sameAudit(t)
}

// FuzzCompiledMatchesGqlgen is the differential test with the fuzzer
// choosing the generator's seed:
//
//	go test -run '^$' -fuzz FuzzCompiledMatchesGqlgen -fuzztime 2m ./gateway/
func FuzzCompiledMatchesGqlgen(f *testing.F) {
	for _, seed := range []uint64{1, 2, 3, 42} {
		f.Add(seed)
	}
	p := startPair(f, nil)
	p.exactCalls = false
	f.Fuzz(func(t *testing.T, seed uint64) {
		g := newOpGen(rand.New(rand.NewPCG(seed, seed>>7)), p.demo.Store)
		for i := range 5 {
			q, vars := g.operation()
			p.same(t, fmt.Sprintf("seed %d #%d", seed, i), nil, q, vars)
		}
	})
}

// With faults in the services (503s, 500s, a dead service, unknown ids),
// the compiled path hands over and the answers stay the same. (422s come
// only from mutations, which gqlgen always runs.)
func TestCompiledMatchesGqlgenUnderFaults(t *testing.T) {
	p := startPair(t, nil)
	ops := frontEndOperations(t, p.demo.Store)
	unknown := `{ a: case(id: 99999999) { id patient { fullName } } b: patient(id: 1) { id fullName insurer { name } } }`
	for _, service := range []string{"patients", "doctors", "clinics", "cases"} {
		p.demo.Faults.set(service, http.StatusServiceUnavailable)
		for name, op := range ops {
			p.same(t, name+" with "+service+" down", nil, op.query, op.vars)
		}
		p.demo.Faults.set(service, 0)
	}
	p.same(t, "unknown ids", nil, unknown, nil)
	// A dead service: every connection closed without an answer.
	p.demo.Inject.Set("staff", demo.Faults{Drop: 1})
	for name, op := range ops {
		p.same(t, name+" with staff dead", nil, op.query, op.vars)
	}
	p.demo.Inject.Set("staff", demo.Faults{})
	g := newOpGen(rand.New(rand.NewPCG(1, 2)), p.demo.Store)
	p.demo.Faults.set("insurers", http.StatusInternalServerError)
	for i := range 50 {
		q, vars := g.operation()
		p.same(t, fmt.Sprintf("generated #%d, insurers failing", i), nil, q, vars)
	}
	p.demo.Faults.set("insurers", 0)
}

// opGen generates valid queries over the schema.
type opGen struct {
	rng    *rand.Rand
	schema *ast.Schema
	store  *demo.Store
	n      int // for unique aliases and fragment names
	frags  []string
	vars   map[string]any
	decls  []string
}

func newOpGen(rng *rand.Rand, s *demo.Store) *opGen {
	return &opGen{rng: rng, schema: graph.NewExecutableSchema(graph.Config{}).Schema(), store: s}
}

// operation returns a query and its variables; it is valid against the
// schema (checked, so a generator bug fails loudly rather than testing
// refusals).
func (g *opGen) operation() (string, map[string]any) {
	for {
		g.frags, g.vars, g.decls = nil, map[string]any{}, nil
		root := g.rootField()
		q := "query Generated"
		body := "{ " + root + " }"
		if len(g.decls) > 0 {
			q += "(" + strings.Join(g.decls, ", ") + ")"
		}
		doc := q + " " + body + "\n" + strings.Join(g.frags, "\n")
		if _, err := gqlparser.LoadQuery(g.schema, doc); err != nil {
			panic(fmt.Sprintf("generated an invalid operation: %v\n%s", err, doc))
		}
		return doc, g.vars
	}
}

func (g *opGen) pick(xs ...string) string { return xs[g.rng.IntN(len(xs))] }

func (g *opGen) rootField() string {
	id := func(max int) string { return strconv.Itoa(1 + g.rng.IntN(max)) }
	var call, typ string
	switch g.rng.IntN(8) {
	case 0, 1, 2:
		var args []string
		if g.rng.IntN(2) == 0 {
			sts := []string{"NEW", "IN_REVIEW", "WAITING_FOR_DOCUMENTS", "CLOSED"}
			g.rng.Shuffle(len(sts), func(i, j int) { sts[i], sts[j] = sts[j], sts[i] })
			args = append(args, "status: ["+strings.Join(sts[:1+g.rng.IntN(3)], ", ")+"]")
		}
		if g.rng.IntN(3) > 0 {
			g.vars["first"] = g.rng.IntN(30)
			g.decls = append(g.decls, "$first: Int")
			args = append(args, "first: $first")
		}
		if g.rng.IntN(4) == 0 {
			args = append(args, `after: "`+model.EncodeCursor(g.rng.IntN(40))+`"`)
		}
		call, typ = "cases", "CaseConnection"
		if len(args) > 0 {
			call += "(" + strings.Join(args, ", ") + ")"
		}
	case 3:
		call, typ = "case(id: "+id(3000)+")", "Case"
	case 4:
		call, typ = "patient(id: "+id(2000)+")", "Patient"
	case 5:
		call, typ = `searchPatients(query: "`+g.pick("an", "mar", "el", "x")+`", first: `+strconv.Itoa(1+g.rng.IntN(10))+")", "Patient"
	case 6:
		c, _ := g.store.Case(int64(1 + g.rng.IntN(100)))
		call, typ = `doctorsBySpecialty(specialty: "`+c.Specialty+`")`, "Doctor"
	default:
		call, typ = g.pick("staffMember(id: "+id(40)+")", "doctor(id: "+id(200)+")", "clinic(id: "+id(40)+")", "insurer(id: "+id(20)+")"), ""
		typ = map[byte]string{'s': "StaffMember", 'd': "Doctor", 'c': "Clinic", 'i': "Insurer"}[call[0]]
	}
	return g.alias() + call + " " + g.selection(typ, 0)
}

// selection is a selection set on typeName at depth d.
func (g *opGen) selection(typeName string, d int) string {
	def := g.schema.Types[typeName]
	var parts []string
	fields := slices.Clone(def.Fields)
	g.rng.Shuffle(len(fields), func(i, j int) { fields[i], fields[j] = fields[j], fields[i] })
	want := 1 + g.rng.IntN(min(len(fields), 6))
	for _, f := range fields {
		if len(parts) >= want {
			break
		}
		if strings.HasPrefix(f.Name, "__") || len(f.Arguments) > 0 {
			continue
		}
		ft := g.schema.Types[f.Type.Name()]
		if ft.Kind == ast.Object && d >= 3 {
			continue
		}
		s := g.alias() + f.Name + g.directive()
		if ft.Kind == ast.Object {
			s += " " + g.selection(ft.Name, d+1)
		}
		parts = append(parts, s)
	}
	if len(parts) == 0 {
		parts = append(parts, "__typename")
	}
	if g.rng.IntN(5) == 0 {
		parts = append(parts, "__typename")
	}
	// Some fields go through an inline fragment or a named one.
	switch g.rng.IntN(6) {
	case 0:
		parts = []string{"... on " + typeName + " { " + strings.Join(parts, " ") + " }"}
	case 1:
		g.n++
		name := "F" + strconv.Itoa(g.n)
		g.frags = append(g.frags, "fragment "+name+" on "+typeName+" { "+strings.Join(parts, " ")+" }")
		parts = []string{"..." + name}
	}
	return "{ " + strings.Join(parts, " ") + " }"
}

func (g *opGen) alias() string {
	if g.rng.IntN(6) > 0 {
		return ""
	}
	g.n++
	return "a" + strconv.Itoa(g.n) + ": "
}

func (g *opGen) directive() string {
	switch g.rng.IntN(12) {
	case 0:
		return " @include(if: " + g.pick("true", "false") + ")"
	case 1:
		return " @skip(if: " + g.pick("true", "false") + ")"
	case 2:
		g.n++
		v := "v" + strconv.Itoa(g.n)
		g.vars[v] = g.rng.IntN(2) == 0
		g.decls = append(g.decls, "$"+v+": Boolean!")
		return " @include(if: $" + v + ")"
	}
	return ""
}

// serviceOf is the service whose calls load values of a type.
var serviceOf = map[string]string{
	"Case": "cases", "CaseConnection": "cases", "Patient": "patients", "Insurer": "insurers", "StaffMember": "staff",
	"Doctor": "doctors", "Clinic": "clinics", "Appointment": "appointments", "Document": "documents",
}

// levels bounds the calls the planner may make for query: per service, one
// for each distinct path (field names, from the root) at which the query
// selects values of its types (the planner claims each relation once per
// set of parents; the same relation under two branches, documents.case and
// appointments.case, is two claims that batch together only by timing), plus
// one for each path holding patients (the contact policy loads their cases).
func levels(t testing.TB, query string, vars map[string]any) map[string]int {
	t.Helper()
	s := graph.NewExecutableSchema(graph.Config{}).Schema()
	doc, err := gqlparser.LoadQuery(s, query)
	if err != nil {
		return nil
	}
	paths := map[string]map[string]bool{}
	add := func(svc, path string) {
		if paths[svc] == nil {
			paths[svc] = map[string]bool{}
		}
		paths[svc][path] = true
	}
	var walk func(sel ast.SelectionSet, path string)
	walk = func(sel ast.SelectionSet, path string) {
		for _, x := range sel {
			switch x := x.(type) {
			case *ast.Field:
				if x.Definition == nil {
					continue
				}
				p := path + "." + x.Name
				tn := x.Definition.Type.Name()
				if svc, ok := serviceOf[tn]; ok {
					add(svc, p)
					if tn == "Patient" {
						add("cases", p+"/policy")
					}
				}
				walk(x.SelectionSet, p)
			case *ast.InlineFragment:
				walk(x.SelectionSet, path)
			case *ast.FragmentSpread:
				walk(x.Definition.SelectionSet, path)
			}
		}
	}
	for _, op := range doc.Operations {
		walk(op.SelectionSet, "")
	}
	out := map[string]int{}
	for svc, ps := range paths {
		out[svc] = len(ps)
	}
	return out
}
