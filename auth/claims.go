package auth

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/lestrrat-go/jwx/v3/jwt"
)

// StaffIDClaim is the claim naming the caller's staff member id.
const StaffIDClaim = "staff_id"

// maxClaimBytes bounds the subject and each role or scope: they travel to
// the services in headers.
const maxClaimBytes = 256

// identity reads the configured claims of a verified token.
//
// The subject must be a non-empty string. Roles and scopes may each be an
// array of strings (Keycloak's realm_access.roles, Okta's scp) or one
// space-separated string (OAuth's scope); a missing claim is no roles or
// scopes. A value that could not travel in a header (a control character,
// a comma, too long) is dropped: fewer roles never grant more.
func (v *Verifier) identity(tok jwt.Token, raw string) (Identity, error) {
	sub, _ := claim(tok, v.paths[0]).(string)
	if sub == "" || !headerSafe(sub, false) {
		return Identity{}, fmt.Errorf("%w: no usable %s claim", ErrClaims, v.o.SubjectClaim)
	}
	exp, _ := tok.Expiration()
	return Identity{
		Subject: sub,
		Roles:   list(claim(tok, v.paths[1])),
		Scopes:  list(claim(tok, v.paths[2])),
		StaffID: staffID(claim(tok, []string{StaffIDClaim})),
		Expires: exp,
		Token:   Token(raw),
	}, nil
}

// claim follows path through the token's claims; nil when absent.
func claim(tok jwt.Token, path []string) any {
	if len(path) == 0 {
		return nil
	}
	var v any
	if err := tok.Get(path[0], &v); err != nil {
		return nil
	}
	for _, p := range path[1:] {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

// staffID reads the staff_id claim: a string, or an integer (JSON numbers
// arrive as float64); anything else is no staff id.
func staffID(v any) string {
	switch v := v.(type) {
	case string:
		if v != "" && headerSafe(v, true) {
			return v
		}
	case float64:
		if v == math.Trunc(v) && v > 0 && v < 1<<53 {
			return strconv.FormatInt(int64(v), 10)
		}
	case json.Number:
		if _, err := v.Int64(); err == nil {
			return v.String()
		}
	}
	return ""
}

// list reads a claim of roles or scopes.
func list(v any) []string {
	var in []string
	switch v := v.(type) {
	case string:
		in = strings.Fields(v)
	case []any:
		for _, e := range v {
			if s, ok := e.(string); ok {
				in = append(in, s)
			}
		}
	case []string:
		in = v
	}
	var out []string
	for _, s := range in {
		if s != "" && headerSafe(s, true) {
			out = append(out, s)
		}
	}
	return out
}

// headerSafe reports whether s can be sent as (part of) a header value;
// inList also refuses the comma that separates a list's entries.
func headerSafe(s string, inList bool) bool {
	if len(s) > maxClaimBytes || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (inList && (r == ',' || r == ' ')) {
			return false
		}
	}
	return true
}
