package upstream

import (
	"context"
	"testing"

	"github.com/stacker/stacker/auth"
)

// Every call carries its caller: the bearer token by default, the claims
// headers for a service set to IdentityClaims, nothing when anonymous; on
// retries and writes too.
func TestIdentityForwarded(t *testing.T) {
	alice := auth.NewContext(context.Background(), auth.Identity{Subject: "alice", Roles: []string{"doctor", "auditor"}, Token: "tok-alice"})
	tests := []struct {
		name     string
		identity Identity
		ctx      context.Context
		method   string
		steps    []step
		want     map[string]string // "" means absent
	}{
		{"token by default", "", alice, "GET", []step{ok200},
			map[string]string{"Authorization": "Bearer tok-alice", "X-User-Id": "", "X-User-Roles": ""}},
		{"token on a retried GET", IdentityToken, alice, "GET", []step{{status: 503}, ok200},
			map[string]string{"Authorization": "Bearer tok-alice"}},
		{"token on a write", IdentityToken, alice, "POST", []step{ok200},
			map[string]string{"Authorization": "Bearer tok-alice"}},
		{"claims", IdentityClaims, alice, "GET", []step{ok200},
			map[string]string{"Authorization": "", "X-User-Id": "alice", "X-User-Roles": "doctor,auditor"}},
		{"anonymous", IdentityToken, context.Background(), "GET", []step{ok200},
			map[string]string{"Authorization": "", "X-User-Id": ""}},
		{"anonymous, claims", IdentityClaims, context.Background(), "GET", []step{ok200},
			map[string]string{"Authorization": "", "X-User-Id": "", "X-User-Roles": ""}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, tc.steps...)
			hc := NewHTTPClient(testOptions())
			t.Cleanup(hc.CloseIdleConnections)
			s, err := NewService("patients", f.url, hc, WithPolicy(Policy{Identity: tc.identity, RetryRatio: 1, RetryReserve: 10}))
			if err != nil {
				t.Fatal(err)
			}
			if err := call(tc.ctx, s, tc.method); err != nil {
				t.Fatal(err)
			}
			h := f.lastHeader()
			for k, want := range tc.want {
				if got := h.Get(k); got != want {
					t.Errorf("header %s = %q, want %q", k, got, want)
				}
			}
		})
	}
}
