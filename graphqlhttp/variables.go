package graphqlhttp

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// CodeBadVariables is the code of a request whose variables do not coerce
// to their declared types.
const CodeBadVariables = "BAD_USER_INPUT"

// coerceVariables checks the request's built-in scalar variables the way
// the specification coerces input, before gqlparser does: gqlparser reads a
// JSON number as a string wherever an ID or String is expected (so
// {"id": 4.5} passes, and fails later as a field error or not at all under
// @skip), and reports 1e3 for an Int as "cannot use value 0 as Int". A
// number is replaced by the value gqlgen expects (int64 for Int, float64 for
// Float, its digits for ID). Null, missing and unknown-type variables are
// left to gqlparser and validation, which report them.
func coerceVariables(schema *ast.Schema, op *ast.OperationDefinition, vars map[string]any) *gqlerror.Error {
	for _, def := range op.VariableDefinitions {
		v, ok := vars[def.Variable]
		if !ok || v == nil {
			continue
		}
		out, err := coerceInput(schema, def.Type, v)
		if err != nil {
			return limitError(CodeBadVariables, "variable $%s got an invalid value: %v", def.Variable, err)
		}
		vars[def.Variable] = out
	}
	return nil
}

func coerceInput(schema *ast.Schema, t *ast.Type, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	if t.Elem != nil {
		list, ok := v.([]any)
		if !ok {
			// A single value is a list of one (the specification's input
			// coercion for lists); gqlparser wraps it.
			return coerceInput(schema, t.Elem, v)
		}
		for i := range list {
			c, err := coerceInput(schema, t.Elem, list[i])
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			list[i] = c
		}
		return list, nil
	}
	def := schema.Types[t.NamedType]
	if def == nil {
		return v, nil
	}
	switch def.Kind {
	case ast.InputObject:
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s must be an object", def.Name)
		}
		for _, f := range def.Fields {
			fv, ok := obj[f.Name]
			if !ok {
				continue
			}
			c, err := coerceInput(schema, f.Type, fv)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", f.Name, err)
			}
			obj[f.Name] = c
		}
		return obj, nil
	case ast.Enum:
		if _, ok := v.(string); !ok {
			return nil, fmt.Errorf("%s must be one of its values, given as a string", def.Name)
		}
		return v, nil
	case ast.Scalar:
		return coerceScalar(def.Name, v)
	}
	return v, nil
}

func coerceScalar(name string, v any) (any, error) {
	n, isNumber := v.(json.Number)
	switch name {
	case "Int":
		if !isNumber {
			return nil, fmt.Errorf("Int cannot represent %s", describe(v))
		}
		digits, ok := wholeNumber(n)
		if !ok {
			return nil, fmt.Errorf("Int cannot represent the non-integer %s", clip(string(n)))
		}
		i, err := strconv.ParseInt(digits, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("Int cannot represent %s: it is outside the 32-bit range", clip(string(n)))
		}
		return i, nil
	case "Float":
		if !isNumber {
			return nil, fmt.Errorf("Float cannot represent %s", describe(v))
		}
		f, err := n.Float64()
		if err != nil || math.IsInf(f, 0) {
			return nil, fmt.Errorf("Float cannot represent %s", clip(string(n)))
		}
		return f, nil
	case "ID":
		if isNumber {
			digits, ok := wholeNumber(n)
			if !ok {
				return nil, fmt.Errorf("ID cannot represent the non-integer %s", clip(string(n)))
			}
			return digits, nil
		}
		if _, ok := v.(string); !ok {
			return nil, fmt.Errorf("ID cannot represent %s", describe(v))
		}
	case "String":
		if _, ok := v.(string); !ok {
			return nil, fmt.Errorf("String cannot represent %s", describe(v))
		}
	case "Boolean":
		if _, ok := v.(bool); !ok {
			return nil, fmt.Errorf("Boolean cannot represent %s", describe(v))
		}
	}
	return v, nil
}

// wholeNumber returns the decimal digits of a JSON number without a
// fractional part. JSON does not tell 1.0 or 1e3 from 1 and 1000, so, as in
// graphql-js, those are whole numbers too; written as plain digits, a number
// keeps all of them, otherwise it must be exact in a float64.
func wholeNumber(n json.Number) (string, bool) {
	s := string(n)
	if !strings.ContainsAny(s, ".eE") {
		return s, true
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return "", false
	}
	return strconv.FormatInt(int64(f), 10), true
}

// describe names a JSON value for an error message without echoing more
// than a short prefix of it.
func describe(v any) string {
	switch x := v.(type) {
	case string:
		return fmt.Sprintf("the string %q", clip(x))
	case json.Number:
		return "the number " + clip(string(x))
	case bool:
		return fmt.Sprintf("the boolean %t", x)
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return "this value"
}
