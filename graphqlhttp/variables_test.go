package graphqlhttp

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
)

const varSchema = `
type Query { find(id: ID, n: Int, f: Float, s: String, b: Boolean, e: Color, in: Filter, ids: [ID!]): String }
enum Color { RED GREEN }
input Filter { ids: [ID!] n: Int }
`

// Variables coerce as the specification says, with a clear message: a float
// is not an ID, 1e3 is the Int 1000, and a number is not a String.
func TestCoerceVariables(t *testing.T) {
	schema := gqlparser.MustLoadSchema(&ast.Source{Input: varSchema})
	doc, err := gqlparser.LoadQuery(schema, `query Q($id: ID, $n: Int, $f: Float, $s: String, $b: Boolean, $e: Color, $in: Filter, $ids: [ID!]) {
		find(id: $id, n: $n, f: $f, s: $s, b: $b, e: $e, in: $in, ids: $ids) }`)
	if err != nil {
		t.Fatal(err)
	}
	num := func(s string) json.Number { return json.Number(s) }
	tests := []struct {
		name    string
		vars    map[string]any
		want    map[string]any // the coerced values, when it passes
		wantErr string
	}{
		{"integer ID", map[string]any{"id": num("4")}, map[string]any{"id": "4"}, ""},
		{"string ID", map[string]any{"id": "abc"}, map[string]any{"id": "abc"}, ""},
		{"float ID", map[string]any{"id": num("4.5")}, nil, "variable $id got an invalid value: ID cannot represent the non-integer 4.5"},
		{"whole float ID", map[string]any{"id": num("4.0")}, map[string]any{"id": "4"}, ""},
		{"boolean ID", map[string]any{"id": true}, nil, "ID cannot represent the boolean true"},
		{"Int", map[string]any{"n": num("12")}, map[string]any{"n": int64(12)}, ""},
		{"Int written 1e3", map[string]any{"n": num("1e3")}, map[string]any{"n": int64(1000)}, ""},
		{"Int written 1.0", map[string]any{"n": num("1.0")}, map[string]any{"n": int64(1)}, ""},
		{"fractional Int", map[string]any{"n": num("1.5")}, nil, "Int cannot represent the non-integer 1.5"},
		{"Int out of range", map[string]any{"n": num("4294967296")}, nil, "outside the 32-bit range"},
		{"string Int", map[string]any{"n": "12"}, nil, `Int cannot represent the string "12"`},
		{"Float", map[string]any{"f": num("1.25")}, map[string]any{"f": 1.25}, ""},
		{"huge Float", map[string]any{"f": num("1e999")}, nil, "Float cannot represent 1e999"},
		{"number as String", map[string]any{"s": num("5")}, nil, "String cannot represent the number 5"},
		{"long string is clipped", map[string]any{"n": strings.Repeat("9", 900000)}, nil, `Int cannot represent the string "` + strings.Repeat("9", 64) + `…"`},
		{"Boolean", map[string]any{"b": false}, map[string]any{"b": false}, ""},
		{"enum as number", map[string]any{"e": num("1")}, nil, "Color must be one of its values"},
		{"nested in an input object", map[string]any{"in": map[string]any{"ids": []any{num("1"), num("2.5")}}}, nil, "variable $in got an invalid value: ids: [1]: ID cannot represent the non-integer 2.5"},
		{"list", map[string]any{"ids": []any{num("1"), "2"}}, map[string]any{"ids": []any{"1", "2"}}, ""},
		{"single value for a list", map[string]any{"ids": num("7")}, map[string]any{"ids": "7"}, ""},
		{"null is left to gqlparser", map[string]any{"id": nil}, map[string]any{"id": nil}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := coerceVariables(schema, doc.Operations[0], tc.vars)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Message, tc.wantErr) || err.Extensions["code"] != CodeBadVariables {
					t.Fatalf("got %v, want an error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tc.want {
				if got, _ := json.Marshal(tc.vars[k]); string(got) != mustJSON(v) {
					t.Errorf("%s = %s (%T), want %s", k, got, tc.vars[k], mustJSON(v))
				}
			}
		})
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
