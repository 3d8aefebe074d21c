package graphqlhttp

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
)

func TestLoadTrustedDocuments(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name, content, wantErr string
		wantLen                int
	}{
		{"apollo manifest", `{"format":"apollo-persisted-query-manifest","version":1,"operations":[{"id":"a1","name":"A","type":"query","body":"{ name }"}]}`, "", 2},
		{"plain map", `{"abc": "{ name }", "def": "{ find(id: 1) }"}`, "", 4},
		{"not json", `{"abc": `, "neither", 0},
		{"empty", `{}`, "no documents", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			td, err := LoadTrustedDocuments(write(tc.name+".json", tc.content), true, nil)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || td.Len() != tc.wantLen {
				t.Fatalf("len %d err %v", td.Len(), err)
			}
		})
	}
	if _, err := LoadTrustedDocuments(filepath.Join(dir, "missing.json"), true, nil); err == nil {
		t.Error("a missing file loaded")
	}
}

func TestTrustedDocumentsResolve(t *testing.T) {
	td := &TrustedDocuments{docs: map[string]string{"id1": "{ name }", hash("{ name }"): "{ name }"}, enforce: true}
	p := &graphql.RawParams{Extensions: map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": "id1"}}}
	if err := td.MutateOperationParameters(context.Background(), p); err != nil || p.Query != "{ name }" || p.Extensions["persistedQuery"] != nil {
		t.Errorf("by id: %v %+v", err, p)
	}
	if err := td.MutateOperationParameters(context.Background(), &graphql.RawParams{Query: "{ other }"}); err == nil || err.Extensions["code"] != CodeNotInList {
		t.Errorf("unlisted: %v", err)
	}
}
