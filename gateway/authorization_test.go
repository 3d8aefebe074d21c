package gateway

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stacker/stacker/auth/authtest"
	"github.com/stacker/stacker/authz"
)

// scopedToken is a valid token for subject carrying scopes.
func scopedToken(t testing.TB, p *authtest.Provider, k *authtest.Key, subject string, scopes ...string) string {
	t.Helper()
	c := p.Claims(subject)
	c["scope"] = strings.Join(scopes, " ")
	return k.Sign(t, c)
}

// roleToken is a valid token for subject in a console role: the role in
// its roles claim and the role's scopes, as the demo identity provider
// issues them.
func roleToken(t testing.TB, p *authtest.Provider, k *authtest.Key, subject, role string) string {
	t.Helper()
	scopes, ok := authz.Roles()[role]
	if !ok {
		t.Fatalf("no role %q", role)
	}
	c := p.Claims(subject)
	c["scope"] = strings.Join(scopes, " ")
	c["roles"] = []string{role}
	return k.Sign(t, c)
}

// doAs posts an operation with a bearer token (none when empty) and returns
// its data (as sent: "" when absent) and errors.
func doAs(t *testing.T, e *testEnv, token, query string) (string, []gqlError) {
	t.Helper()
	var header http.Header
	if token != "" {
		header = http.Header{"Authorization": {"Bearer " + token}}
	}
	var data json.RawMessage
	errs := e.doWith(t, header, query, nil, &data)
	return string(data), errs
}

// callsPerService counts the recorded calls from index from on.
func callsPerService(all []call, from int) map[string]int {
	n := map[string]int{}
	for _, c := range all[from:] {
		n[c.service]++
	}
	return n
}

// checkErrors reports unless errs are exactly UNAUTHORIZED_FIELD_OR_TYPE
// errors at paths (in any order).
func checkErrors(t *testing.T, errs []gqlError, paths []string) {
	t.Helper()
	var got []string
	for _, e := range errs {
		if e.Extensions["code"] != "UNAUTHORIZED_FIELD_OR_TYPE" {
			t.Errorf("error %s", jsonString(e))
		}
		got = append(got, e.pathString())
	}
	slices.Sort(got)
	paths = slices.Sorted(slices.Values(paths))
	if !slices.Equal(got, paths) {
		t.Errorf("errors at %q, want %q: %s", got, paths, jsonString(errs))
	}
}

// The directives on Stacker's schema, through a whole gateway: a caller
// with and without each scope, type-level and field-level, AND across a
// type and its field, null propagation, mutations and their write scopes;
// a field the caller may not see is null with an error at its path and its
// service gets no call, the planner's prefetch included.
func TestAuthorizationDirectives(t *testing.T) {
	k := authtest.RSAKey(t, "k1")
	p := authtest.NewProvider(t, k)
	demoEnv := startStacker(t, nil)
	env, calls := recordCalls(t, demoEnv)
	e := startStacker(t, authEnv(p, env))

	tests := []struct {
		name     string
		scopes   []string
		query    string
		wantData string   // the exact data; "" to check only errors and calls
		errPaths []string // where UNAUTHORIZED_FIELD_OR_TYPE errors are
		noCalls  []string // services that must not be called
		calls    []string // services that must be called
	}{
		{
			name: "field of a type-level scope: without it", scopes: []string{"cases:read"},
			query:    `{ case(id: "1") { id documents { id } } }`,
			wantData: `{"case":{"id":"1","documents":null}}`, errPaths: []string{"case.documents"},
			noCalls: []string{"documents"}, calls: []string{"cases"},
		},
		{
			name: "field of a type-level scope: with it", scopes: []string{"cases:read", "documents:read"},
			query: `{ case(id: "1") { id documents { id } } }`, calls: []string{"cases", "documents"},
		},
		{
			name: "field-level scope on a non-null field: the null goes up to the patient", scopes: []string{"cases:read", "patients:read"},
			query:    `{ case(id: "1") { id patient { id email } } }`,
			wantData: `{"case":{"id":"1","patient":null}}`, errPaths: []string{"case.patient.email"},
			calls: []string{"cases", "patients"},
		},
		{
			// The scope lets the fields through to their @policy, which a
			// token with no role and no staff id does not meet (see
			// TestAuthorizationPolicies).
			name: "field-level scope: with it, the policy still applies", scopes: []string{"cases:read", "patients:read", "patients:contact"},
			query:    `{ case(id: "1") { id patient { id email phone dateOfBirth } } }`,
			wantData: `{"case":{"id":"1","patient":null}}`, errPaths: []string{"case.patient.email", "case.patient.phone", "case.patient.dateOfBirth"},
			calls: []string{"cases", "patients"},
		},
		{
			name: "AND of type and field: the field's scope alone is not enough", scopes: []string{"cases:read", "patients:contact"},
			query:    `{ case(id: "1") { id patient { email } } }`,
			wantData: `{"case":{"id":"1","patient":null}}`, errPaths: []string{"case.patient"},
			noCalls: []string{"patients"}, calls: []string{"cases"},
		},
		{
			name: "non-null root field: data is null", scopes: []string{"patients:read"},
			query:    `{ cases(first: 3) { totalCount } }`,
			wantData: `null`, errPaths: []string{"cases"},
			noCalls: []string{"cases"},
		},
		{
			// The documents, fetched at the same level as patients and
			// appointments would be, keep the response waiting until a
			// prefetch of theirs would have reached its service.
			name: "the planner does not prefetch what the caller may not see", scopes: []string{"cases:read", "documents:read"},
			query:    `{ cases(first: 2) { nodes { id documents { id } patient { id insurer { id } } appointments { id doctor { id } } } } }`,
			errPaths: []string{"cases.nodes.0.appointments", "cases.nodes.0.patient", "cases.nodes.1.appointments", "cases.nodes.1.patient"},
			noCalls:  []string{"patients", "insurers", "appointments", "doctors"}, calls: []string{"cases", "documents"},
		},
		{
			name: "a relation two levels down", scopes: []string{"cases:read", "appointments:read"},
			query:    `{ cases(first: 2) { nodes { id appointments { id doctor { clinic { id } } } } } }`,
			noCalls:  []string{"doctors", "clinics"},
			calls:    []string{"cases", "appointments"},
			errPaths: nil, // set below: one per appointment
		},
		{
			name: "a mutation without its write scope", scopes: []string{"cases:read"},
			query:    `mutation { updateCase(input: { id: "2", priority: URGENT }) { case { id priority } } }`,
			wantData: `{"updateCase":null}`, errPaths: []string{"updateCase"},
			noCalls: []string{"cases"},
		},
		{
			name: "createCase without its write scope", scopes: []string{"cases:read"},
			query:    `mutation { createCase(input: { patientId: "2", specialty: "oncology", summary: "x" }) { case { id } } }`,
			wantData: `{"createCase":null}`, errPaths: []string{"createCase"},
			noCalls: []string{"cases"},
		},
		{
			name: "a mutation with its write scope", scopes: []string{"cases:read", "cases:write"},
			query:    `mutation { updateCase(input: { id: "2", priority: URGENT }) { case { id priority } } }`,
			wantData: `{"updateCase":{"case":{"id":"2","priority":"URGENT"}}}`, calls: []string{"cases"},
		},
		{
			name: "an entry point needs a token's identity: any scope", scopes: nil,
			query:    `{ case(id: "1") { id } }`,
			wantData: `{"case":null}`, errPaths: []string{"case"},
			noCalls: []string{"cases"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(calls())
			data, errs := doAs(t, e, scopedToken(t, p, k, "alice", tc.scopes...), tc.query)
			if tc.name == "a relation two levels down" {
				// Every appointment's doctor is refused: as many errors
				// as appointments, none of them fetched below.
				var out struct {
					Cases struct {
						Nodes []struct{ Appointments []any }
					}
				}
				json.Unmarshal([]byte(data), &out)
				for i, n := range out.Cases.Nodes {
					for j := range n.Appointments {
						tc.errPaths = append(tc.errPaths, "cases.nodes."+strconv.Itoa(i)+".appointments."+strconv.Itoa(j)+".doctor")
					}
				}
				if len(tc.errPaths) == 0 {
					t.Fatalf("no appointments in %s", data)
				}
			}
			checkErrors(t, errs, tc.errPaths)
			if tc.wantData != "" && data != tc.wantData {
				t.Errorf("data = %s, want %s", data, tc.wantData)
			}
			n := callsPerService(calls(), before)
			for _, s := range tc.noCalls {
				if n[s] != 0 {
					t.Errorf("%s service called %d times for a field the caller may not see (calls: %v)", s, n[s], n)
				}
			}
			for _, s := range tc.calls {
				if n[s] == 0 {
					t.Errorf("%s service not called (calls: %v)", s, n)
				}
			}
		})
	}

	// With authentication off (the gateway the calls are recorded for),
	// nothing is enforced: no token, every field.
	t.Run("authentication off: not enforced", func(t *testing.T) {
		var out map[string]any
		demoEnv.mustDo(t, `{ case(id: "1") { id patient { email phone dateOfBirth insurer { name } } documents { id } } }`, nil, &out)
	})

	// A subscription the caller may not see ends at once with the error,
	// before it is registered with the event engine.
	t.Run("subscription without its scope", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "POST", e.URL, strings.NewReader(`{"query":"subscription { caseUpdated { caseId } }"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "text/event-stream")
		req.Header.Set("Authorization", "Bearer "+scopedToken(t, p, k, "alice", "patients:read"))
		resp, err := e.HTTP.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body) // the stream completes by itself
		if !strings.Contains(string(raw), `"code":"UNAUTHORIZED_FIELD_OR_TYPE"`) || !strings.Contains(string(raw), `"path":["caseUpdated"]`) {
			t.Fatalf("stream: %s", raw)
		}
		if strings.Contains(e.Logs.String(), "subscription started") {
			t.Error("the subscription was registered with the event engine")
		}
	})

	// The definitions are public, as in Apollo Router and Cosmo:
	// introspection lists them, for a caller with no scopes too.
	t.Run("introspection lists the directives", func(t *testing.T) {
		data, errs := doAs(t, e, scopedToken(t, p, k, "alice"), `{ __schema { directives { name locations args { name type { kind ofType { kind ofType { kind ofType { kind ofType { kind ofType { name } } } } } } } } } }`)
		if len(errs) > 0 {
			t.Fatal(jsonString(errs))
		}
		for _, want := range []string{
			`{"name":"authenticated","locations":["FIELD_DEFINITION","OBJECT","INTERFACE","SCALAR","ENUM"],"args":[]}`,
			`{"name":"requiresScopes","locations":["FIELD_DEFINITION","OBJECT","INTERFACE","SCALAR","ENUM"],"args":[{"name":"scopes","type":{"kind":"NON_NULL","ofType":{"kind":"LIST","ofType":{"kind":"NON_NULL","ofType":{"kind":"LIST","ofType":{"kind":"NON_NULL","ofType":{"name":"String"}}}}}}}]}`,
		} {
			if !strings.Contains(data, want) {
				t.Errorf("introspection lacks %s:\n%s", want, data)
			}
		}
	})
}

// Reject mode refuses the whole operation before anything runs; in
// optional mode a caller without a token is anonymous and has no scopes.
func TestAuthorizationRejectMode(t *testing.T) {
	k := authtest.RSAKey(t, "k1")
	p := authtest.NewProvider(t, k)
	demoEnv := startStacker(t, nil)
	env, calls := recordCalls(t, demoEnv)
	env["STACKER_AUTH"] = "optional"
	env["STACKER_AUTH_REJECT_UNAUTHORIZED"] = "true"
	e := startStacker(t, authEnv(p, env))
	advisor := roleToken(t, p, k, "bob", "medical_advisor")

	tests := []struct {
		name, token, query string
		refused            bool
	}{
		{"anonymous", "", `{ case(id: "1") { id } }`, true},
		{"a field the role may not see", advisor, `{ case(id: "1") { id patient { fullName email } } }`, true},
		{"a field the role may not see, in a fragment", advisor, `{ case(id: "1") { id patient { ...P } } } fragment P on Patient { phone }`, true},
		{"a mutation without its write scope", advisor, `mutation { updateCase(input: { id: "3", priority: LOW }) { userErrors { message } } }`, true},
		{"skipped, it is not selected", advisor, `{ case(id: "1") { id patient { fullName email @skip(if: true) } } }`, false},
		{"only what the role may see", advisor, `{ case(id: "1") { id patient { fullName } documents { title } } }`, false},
		{"the case board, for a role that meets the scopes and the policies", staffToken(t, p, k, "admin", ""),
			`{ cases(first: 3) { nodes { id patient { dateOfBirth insurer { name } } } } }`, false},
		// A @policy is decided per value as the operation runs: reject mode
		// does not refuse for it (TestAuthorizationPolicies).
		{"a field under a policy is not refused", staffToken(t, p, k, "medical_advisor", ""),
			`{ case(id: "1") { id documents { id } } }`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(calls())
			data, errs := doAs(t, e, tc.token, tc.query)
			n := callsPerService(calls(), before)
			if !tc.refused {
				if len(errs) > 0 || data == "" || data == "null" {
					t.Fatalf("data %s, errors %s", data, jsonString(errs))
				}
				return
			}
			if data != "" || len(errs) != 1 || errs[0].Extensions["code"] != "UNAUTHORIZED_FIELD_OR_TYPE" || len(errs[0].Path) != 0 {
				t.Fatalf("want a request error coded UNAUTHORIZED_FIELD_OR_TYPE and no data; data %q, errors %s", data, jsonString(errs))
			}
			if len(n) != 0 {
				t.Errorf("a refused operation called services: %v", n)
			}
		})
	}
}
