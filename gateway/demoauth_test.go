package gateway

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stacker/stacker/auth/demoidp"
	"github.com/stacker/stacker/config"
	"github.com/stacker/stacker/internal/testsync"
	"github.com/stacker/stacker/operations"
)

// demoGateway is a gateway started as `STACKER_DEMO_AUTH=true go run .`
// would: embedded demo services and the demo identity provider.
type demoGateway struct {
	g      *Gateway
	url    string
	banner string
	tokens map[string]string // role -> token, read from the banner
}

var bannerToken = regexp.MustCompile(`(?m)^\s+(case_manager|medical_advisor|admin)\s+(\S+)$`)

func startDemoAuth(t *testing.T, extra map[string]string) *demoGateway {
	t.Helper()
	env := map[string]string{"STACKER_ADDR": "127.0.0.1:0", "STACKER_DEMO_AUTH": "true"}
	for k, v := range extra {
		env[k] = v
	}
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	var logs testsync.Buffer
	g, err := New(context.Background(), cfg, slog.New(slog.NewTextHandler(&logs, nil)), &logs)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	var b strings.Builder
	g.PrintBanner(&b)
	d := &demoGateway{g: g, url: "http://" + g.Addr().String() + "/graphql", banner: b.String(), tokens: map[string]string{}}
	for _, m := range bannerToken.FindAllStringSubmatch(d.banner, -1) {
		d.tokens[m[1]] = m[2]
	}
	return d
}

// post sends a query with the token (none when empty) and returns the
// status and the decoded body.
func (d *demoGateway) post(t *testing.T, token, query string, vars map[string]any, out any) int {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest("POST", d.url, strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode
}

// STACKER_DEMO_AUTH=true: the banner's tokens carry their role and scopes;
// the case board with one makes its eight upstream calls, each accepted by
// a service that checked the forwarded token; without one the gateway
// answers 401 and calls nobody; the services refuse callers without a
// token themselves; and the playground starts with the case manager's
// header.
func TestDemoAuthEndToEnd(t *testing.T) {
	d := startDemoAuth(t, nil)
	if len(d.tokens) != 3 {
		t.Fatalf("banner has %d tokens, want 3:\n%s", len(d.tokens), d.banner)
	}
	for _, r := range demoidp.Roles() {
		seg := strings.Split(d.tokens[r.Name], ".")
		raw, err := base64.RawURLEncoding.DecodeString(seg[1])
		if err != nil {
			t.Fatalf("%s: %v", r.Name, err)
		}
		var claims struct {
			Roles   []string `json:"roles"`
			Scope   string   `json:"scope"`
			StaffID string   `json:"staff_id"`
			Exp     float64  `json:"exp"`
			Iat     float64  `json:"iat"`
		}
		json.Unmarshal(raw, &claims)
		if !slices.Equal(claims.Roles, []string{r.Name}) || claims.Scope != strings.Join(r.Scopes, " ") || claims.Exp-claims.Iat != 12*3600 ||
			claims.StaffID == "" || claims.StaffID != r.StaffID {
			t.Errorf("%s: claims %s", r.Name, raw)
		}
	}

	d.g.demo.ResetCounts()
	var board struct {
		Data   caseBoard
		Errors []gqlError
	}
	// The demo case manager sees the contact details (here the date of
	// birth) of the patients of their own cases only: the others are null
	// with an error (see TestAuthorizationPolicies).
	if status := d.post(t, d.tokens["case_manager"], caseBoardQuery(t), map[string]any{"first": 50}, &board); status != 200 || len(board.Errors) == 0 {
		t.Fatalf("case board: %d %v", status, board.Errors)
	}
	for _, e := range board.Errors {
		if e.Extensions["code"] != "UNAUTHORIZED_FIELD_OR_TYPE" || !strings.HasSuffix(e.pathString(), ".patient.dateOfBirth") {
			t.Errorf("case board: error %s", jsonString(e))
		}
	}
	shown := 0
	for _, n := range board.Data.Cases.Nodes {
		if n.Patient != nil {
			shown++
		}
	}
	if n := len(board.Data.Cases.Nodes); n != 50 || shown == 0 || shown+len(board.Errors) != 50 {
		t.Fatalf("case board: %d nodes, %d patients shown, %d errors", n, shown, len(board.Errors))
	}
	// One call per service, and one more to the cases service: the
	// patients' cases, for the policy.
	want := map[string]int64{}
	for _, s := range config.Services() {
		want[s] = 1
	}
	want["cases"] = 2
	if diff := countDiff(d.g.demo.Snapshot(), want); diff != "" {
		t.Error(diff)
	}

	d.g.demo.ResetCounts()
	var refused map[string]any
	if status := d.post(t, "", operations.CaseBoard, map[string]any{"first": 50}, &refused); status != 401 || firstCode(refused) != "UNAUTHENTICATED" {
		t.Errorf("without a token: %d %v", status, refused)
	}
	if diff := countDiff(d.g.demo.Snapshot(), map[string]int64{}); diff != "" {
		t.Errorf("upstream calls without a token: %s", diff)
	}

	for _, tok := range []string{"", d.tokens["admin"]} {
		req, _ := http.NewRequest("GET", d.g.urls["patients"]+"/patients?ids=1", nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if want := map[bool]int{true: 401, false: 200}[tok == ""]; resp.StatusCode != want {
			t.Errorf("patients service with token %v: %d, want %d", tok != "", resp.StatusCode, want)
		}
	}

	resp, err := http.Get("http://" + d.g.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(page), `\"Authorization\": \"Bearer `+d.tokens["case_manager"]) {
		t.Error("the playground does not start with the case manager's Authorization header")
	}
}

// STACKER_DEMO_AUTH goes with the embedded demo services and no provider
// of the operator's own; it is for development only.
func TestDemoAuthConfig(t *testing.T) {
	for _, env := range []map[string]string{
		{"STACKER_DEMO_AUTH": "true", "STACKER_ENV": "production", "STACKER_TRUSTED_DOCUMENTS": "off"},
		{"STACKER_DEMO_AUTH": "true", "STACKER_AUTH_ISSUER": "https://idp.example.com"},
		{"STACKER_DEMO_AUTH": "true", "STACKER_AUTH": "off"},
		{"STACKER_DEMO_AUTH": "true", "STACKER_PATIENTS_URL": "http://127.0.0.1:1"},
	} {
		if _, err := config.Load(func(k string) string { return env[k] }); err == nil || !strings.Contains(err.Error(), "STACKER_DEMO_AUTH") {
			t.Errorf("%v: %v, want an error naming STACKER_DEMO_AUTH", env, err)
		}
	}
}
