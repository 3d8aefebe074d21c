package resolvers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/stacker/stacker/audit"
	"github.com/stacker/stacker/authz"
	"github.com/stacker/stacker/loaders"
	"github.com/vektah/gqlparser/v2/ast"
)

// The compiled path answers a query without gqlgen's executor: it calls the
// root resolvers, whose planner prefetches every relation level by level as
// always, then walks the selection set once over the loaded values and
// writes the JSON in one pass: no goroutine per field or list element, no
// per-field context, no intermediate marshalers. What gqlgen spends per
// field is most of a case board's CPU and allocation (see issue 13 and
// docs/measuring.md).
//
// It keeps no mapping of its own: what a field is comes from the schema
// (its type), from relations.go (a relation, loaded through the loaders the
// planner filled) or from the model (a Go field or method, found by name the
// way gqlgen binds it), and authorization and audit are decided by the same
// functions the field middlewares call.
//
// It handles the plain case only: a query whose every field resolves
// without an error, that the caller may see in full, with nothing to
// withhold for the audit trail. Anything else (an upstream error, a denied
// field, a null where the schema says non-null, @defer, introspection, a
// mutation) hands the operation to gqlgen, which answers it with its
// errors, paths and null propagation. Nothing is fetched twice when that
// happens: the loaders keep what was loaded, and the root resolvers'
// results are kept per field (rootResult). gqlgen is the reference: a
// differential test holds the two paths to byte-identical answers.

// errFallback aborts the compiled path: gqlgen answers the operation.
var errFallback = errors.New("compiled path: handing over to gqlgen")

// CompiledStats counts the operations the compiled path answered and those
// it handed to gqlgen, for tests and the operators' listener.
type CompiledStats struct {
	Answered, HandedOver int64
}

// CompiledStats returns the counters.
func (r *Resolver) CompiledStats() CompiledStats {
	return CompiledStats{Answered: r.compiledAnswered.Load(), HandedOver: r.compiledHandedOver.Load()}
}

// CompiledOperations is the operation middleware of the compiled path; the
// gateway installs it last, so that the operation's loaders, deadline and
// audit collector are in place.
func (r *Resolver) CompiledOperations(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	oc := graphql.GetOperationContext(ctx)
	if oc.Operation == nil || oc.Operation.Operation != ast.Query || !compilable(oc.Operation.SelectionSet, oc.Doc, map[string]bool{}) {
		return next(ctx)
	}
	w := compiledWriter{r: r, ctx: ctx, oc: oc, a: accessOf(ctx)}
	w.collector, _ = auditCollector(ctx)
	w.buf.Grow(int(r.compiledSizeHint.Load()))
	if err := w.run(); err != nil {
		r.compiledHandedOver.Add(1)
		if w.collector != nil {
			w.collector.Take() // gqlgen records what it returns
		}
		return r.handOver(ctx, next)
	}
	r.compiledAnswered.Add(1)
	r.compiledSizeHint.Store(int64(w.buf.Len()))
	return graphql.OneShot(&graphql.Response{Data: w.buf.Bytes()})
}

// handoverGrace is how long gqlgen gets to answer an operation whose
// context ended (its deadline passed, its client left) while the compiled
// path ran: what was loaded, errors included, is in the loaders, so it
// needs no upstream call, and any it still makes is bounded by this.
const handoverGrace = 200 * time.Millisecond

// handOver lets gqlgen answer the operation. gqlgen answers nothing (data
// null, no errors) on a context that has ended, as the compiled path's
// may have by the time it gives up, when a call ran into the deadline; it
// then gets the same values on a context that has not, for a moment.
func (r *Resolver) handOver(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	if ctx.Err() == nil {
		return next(ctx)
	}
	gctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), handoverGrace)
	h := next(gctx)
	return func(ctx context.Context) *graphql.Response {
		defer cancel()
		return h(ctx)
	}
}

// run writes the data, or fails with errFallback. A panic (in a model's
// method, a policy) hands over too: gqlgen meets it again and answers it
// as an INTERNAL error at its field.
func (w *compiledWriter) run() (err error) {
	defer func() {
		if recover() != nil {
			err = errFallback
		}
	}()
	return w.root()
}

// compilable reports whether the document uses nothing the compiled path
// leaves to gqlgen: @defer (incremental delivery) and introspection other
// than __typename. seen holds the fragments already checked, so a fragment
// spread many times (or fragments spreading each other twice over) is
// walked once.
func compilable(sel ast.SelectionSet, doc *ast.QueryDocument, seen map[string]bool) bool {
	for _, s := range sel {
		switch s := s.(type) {
		case *ast.Field:
			if strings.HasPrefix(s.Name, "__") && s.Name != "__typename" {
				return false
			}
			if !compilable(s.SelectionSet, doc, seen) {
				return false
			}
		case *ast.InlineFragment:
			if s.Directives.ForName("defer") != nil || !compilable(s.SelectionSet, doc, seen) {
				return false
			}
		case *ast.FragmentSpread:
			if s.Directives.ForName("defer") != nil {
				return false
			}
			if seen[s.Name] {
				continue
			}
			seen[s.Name] = true
			if d := doc.Fragments.ForName(s.Name); d == nil || !compilable(d.SelectionSet, doc, seen) {
				return false
			}
		}
	}
	return true
}

// compiledWriter writes one operation's data.
type compiledWriter struct {
	r         *Resolver
	ctx       context.Context
	oc        *graphql.OperationContext
	a         *authz.Access
	collector *audit.Collector
	buf       bytes.Buffer
	// fields memoises the collected fields of a selection set on a type:
	// gqlgen's own cache builds a string key on every call, and a list
	// asks for the same set once per element.
	fields map[fieldsKey][]graphql.CollectedField
}

type fieldsKey struct {
	first    *ast.Selection
	n        int
	typeName string
}

// collect is graphql.CollectFields, memoised per selection set and type.
func (w *compiledWriter) collect(sel ast.SelectionSet, typeName string) []graphql.CollectedField {
	if len(sel) == 0 {
		return nil
	}
	k := fieldsKey{&sel[0], len(sel), typeName}
	if f, ok := w.fields[k]; ok {
		return f
	}
	f := graphql.CollectFields(w.oc, sel, []string{typeName})
	if w.fields == nil {
		w.fields = make(map[fieldsKey][]graphql.CollectedField, 16)
	}
	w.fields[k] = f
	return f
}

// root writes the root fields. It takes one root field (and __typename):
// gqlgen resolves several concurrently, and how they then share a service's
// bulkhead and the deadline is gqlgen's to keep.
func (w *compiledWriter) root() error {
	fields := graphql.CollectFields(w.oc, w.oc.Operation.SelectionSet, []string{"Query"})
	resolved := 0
	for _, f := range fields {
		if f.Name != "__typename" {
			resolved++
		}
	}
	if resolved > 1 {
		return errFallback
	}
	w.buf.WriteByte('{')
	for i, f := range fields {
		if i > 0 {
			w.buf.WriteByte(',')
		}
		w.key(f.Alias)
		if f.Name == "__typename" {
			w.buf.Write(appendQuoted(w.buf.AvailableBuffer(), "Query"))
			continue
		}
		if err := w.allowed("Query", f.Name, nil); err != nil {
			return err
		}
		v, err := w.callRoot(f)
		if err != nil {
			return err
		}
		if err := w.value(f.Definition.Type, v, f.Selections); err != nil {
			return err
		}
	}
	w.buf.WriteByte('}')
	return nil
}

// callRoot runs the Query resolver of f, as gqlgen would: with f's field
// context (the resolvers plan their prefetch from its selections) and its
// arguments converted to the method's parameters.
func (w *compiledWriter) callRoot(f graphql.CollectedField) (any, error) {
	m, ok := w.r.rootMethods()[f.Name]
	if !ok {
		return nil, errFallback
	}
	args := f.ArgumentMap(w.oc.Variables)
	in := make([]reflect.Value, 0, 1+len(f.Definition.Arguments))
	fc := &graphql.FieldContext{Object: "Query", Field: f, Args: args, IsMethod: true, IsResolver: true}
	ctx := graphql.WithFieldContext(w.ctx, fc)
	in = append(in, reflect.ValueOf(ctx))
	for i, ad := range f.Definition.Arguments {
		pv, err := argument(m.Type().In(i+1), ad.Type, args[ad.Name])
		if err != nil {
			return nil, errFallback
		}
		in = append(in, pv)
	}
	out := m.Call(in)
	if !out[1].IsNil() {
		return nil, errFallback
	}
	return out[0].Interface(), nil
}

// rootMethods are the Query resolver's methods by field name, found once.
func (r *Resolver) rootMethods() map[string]reflect.Value {
	r.rootMethodsOnce.Do(func() {
		r.rootMethodsByField = map[string]reflect.Value{}
		q := reflect.ValueOf(r.Query())
		for _, fd := range r.schema.Query.Fields {
			if m := q.MethodByName(goName(fd.Name)); m.IsValid() && m.Type().NumIn() == 1+len(fd.Arguments) && m.Type().NumOut() == 2 {
				r.rootMethodsByField[fd.Name] = m
			}
		}
	})
	return r.rootMethodsByField
}

// goName is the Go name gqlgen gives a field's resolver method.
func goName(field string) string {
	if field == "" {
		return field
	}
	return strings.ToUpper(field[:1]) + field[1:]
}

// argument converts a coerced argument value to a resolver parameter of
// type t, the way gqlgen's generated argument code does for Stacker's
// scalars and enums.
func argument(t reflect.Type, gt *ast.Type, v any) (reflect.Value, error) {
	if t.Kind() == reflect.Pointer && t.Elem().Kind() != reflect.Struct {
		if v == nil {
			return reflect.Zero(t), nil
		}
		e, err := argument(t.Elem(), gt, v)
		if err != nil {
			return reflect.Value{}, err
		}
		p := reflect.New(t.Elem())
		p.Elem().Set(e)
		return p, nil
	}
	if v == nil {
		return reflect.Zero(t), nil
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		p := reflect.New(t)
		if err := p.Interface().(graphql.Unmarshaler).UnmarshalGQL(v); err != nil {
			return reflect.Value{}, err
		}
		return p.Elem(), nil
	}
	switch t.Kind() {
	case reflect.Slice:
		list, ok := v.([]any)
		if !ok {
			list = []any{v} // input coercion of a single value to a list
		}
		out := reflect.MakeSlice(t, len(list), len(list))
		for i, item := range list {
			e, err := argument(t.Elem(), gt.Elem, item)
			if err != nil {
				return reflect.Value{}, err
			}
			out.Index(i).Set(e)
		}
		return out, nil
	case reflect.Int:
		var n int
		var err error
		if gt.Name() == "ID" {
			n, err = graphql.UnmarshalIntID(v)
		} else {
			n, err = graphql.UnmarshalInt(v)
		}
		return reflect.ValueOf(n).Convert(t), err
	case reflect.String:
		s, err := graphql.UnmarshalString(v)
		return reflect.ValueOf(s).Convert(t), err
	case reflect.Bool:
		b, err := graphql.UnmarshalBoolean(v)
		return reflect.ValueOf(b), err
	case reflect.Float64:
		f, err := graphql.UnmarshalFloat(v)
		return reflect.ValueOf(f), err
	}
	return reflect.Value{}, errFallback
}

var unmarshalerType = reflect.TypeFor[graphql.Unmarshaler]()

func (w *compiledWriter) key(alias string) {
	b := appendQuoted(w.buf.AvailableBuffer(), alias)
	w.buf.Write(append(b, ':'))
}

// appendQuoted appends s as a JSON string exactly as gqlgen's
// graphql.MarshalString writes it (its writeQuotedString, which is not
// exported), without the closure that costs per value. FuzzAppendQuoted
// holds the two to the same bytes.
func appendQuoted(b []byte, s string) []byte {
	const hex = "0123456789ABCDEF"
	b = append(b, '"')
	start := 0
	for i, c := range s {
		if c >= 0x20 && c != '\\' && c != '"' {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '\t':
			b = append(b, '\\', 't')
		case '\r':
			b = append(b, '\\', 'r')
		case '\n':
			b = append(b, '\\', 'n')
		case '\\':
			b = append(b, '\\', '\\')
		case '"':
			b = append(b, '\\', '"')
		default:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// allowed checks the caller may see typeName.field (of entity, for its
// policies); a denial hands over to gqlgen, which answers it.
func (w *compiledWriter) allowed(typeName, field string, entity any) error {
	if w.a == nil {
		return nil
	}
	if _, denied := w.a.Denied(typeName, field); denied {
		return errFallback
	}
	if pols := w.a.Policies(typeName, field); pols != nil {
		ok, err := w.r.policiesAllow(w.ctx, w.a, entity, pols)
		if err != nil || !ok {
			return errFallback
		}
	}
	return nil
}

// value writes v, of GraphQL type t, with sel below it.
func (w *compiledWriter) value(t *ast.Type, v any, sel ast.SelectionSet) error {
	if isNil(v) {
		if t.NonNull {
			return errFallback // gqlgen reports the null and propagates it
		}
		w.buf.WriteString("null")
		return nil
	}
	if t.Elem != nil {
		rv := reflect.ValueOf(v)
		if rv.Kind() != reflect.Slice {
			return errFallback
		}
		w.buf.WriteByte('[')
		for i := range rv.Len() {
			if i > 0 {
				w.buf.WriteByte(',')
			}
			if err := w.value(t.Elem, rv.Index(i).Interface(), sel); err != nil {
				return err
			}
		}
		w.buf.WriteByte(']')
		return nil
	}
	def := w.r.schema.Types[t.NamedType]
	if def == nil {
		return errFallback
	}
	switch def.Kind {
	case ast.Object:
		return w.object(def, v, sel)
	case ast.Scalar, ast.Enum:
		return w.leaf(t, def, v)
	}
	return errFallback // interfaces and unions: gqlgen resolves the concrete type
}

// object writes the fields sel selects on the object v of type def.
func (w *compiledWriter) object(def *ast.Definition, v any, sel ast.SelectionSet) error {
	fields := w.collect(sel, def.Name)
	rel := w.r.rels.objects[def.Name]
	w.buf.WriteByte('{')
	for i, f := range fields {
		if i > 0 {
			w.buf.WriteByte(',')
		}
		w.key(f.Alias)
		if f.Name == "__typename" {
			w.buf.Write(appendQuoted(w.buf.AvailableBuffer(), def.Name))
			continue
		}
		if err := w.allowed(def.Name, f.Name, v); err != nil {
			return err
		}
		audited := w.r.piiFields.Has(def.Name, f.Name)
		if audited && w.r.audit.Refusing() {
			return errFallback // gqlgen withholds the field
		}
		fv, err := w.field(rel, def.Name, f, v)
		if err != nil {
			return err
		}
		if err := w.value(f.Definition.Type, fv, f.Selections); err != nil {
			return err
		}
		if audited && w.collector != nil && !isNil(fv) {
			w.collector.Add(def.Name, entityID(v), f.Name)
		}
	}
	w.buf.WriteByte('}')
	return nil
}

// field is the value of f on v: a relation through the loaders, or the
// model's Go field or method.
func (w *compiledWriter) field(rel anyObject, typeName string, f graphql.CollectedField, v any) (any, error) {
	if len(f.Arguments) > 0 {
		return nil, errFallback
	}
	if rel != nil {
		if l, ok := loaders.FromContext(w.ctx); ok {
			fv, ok, err := rel.relation(w.ctx, l, f.Name, v)
			if ok {
				if err != nil {
					return nil, errFallback
				}
				return fv, nil
			}
		}
	}
	get := w.r.modelAccessor(reflect.TypeOf(v), f.Name)
	if get == nil {
		return nil, errFallback
	}
	return get(reflect.ValueOf(v)), nil
}

// leaf writes a scalar or enum value as gqlgen's marshalers for Stacker's
// scalar bindings (gqlgen.yml) write it.
//
// Enums, numbers and times are written straight into the buffer, as the
// marshalers would write them: the marshalers allocate a closure each, and a
// case board holds some two thousand such values. Enum values need no
// escaping (the specification allows only letters, digits and _ in them),
// nor do decimal digits or RFC 3339 times. Strings keep gqlgen's quoting.
func (w *compiledWriter) leaf(t *ast.Type, def *ast.Definition, v any) error {
	var m graphql.Marshaler
	switch x := v.(type) {
	case interface {
		graphql.Marshaler
		fmt.Stringer
	}: // enums
		if def.Kind != ast.Enum {
			m = x
			break
		}
		b := append(w.buf.AvailableBuffer(), '"')
		b = append(b, x.String()...)
		w.buf.Write(append(b, '"'))
		return nil
	case graphql.Marshaler:
		m = x
	case int:
		b := w.buf.AvailableBuffer()
		if def.Name == "ID" {
			b = append(b, '"')
			b = strconv.AppendInt(b, int64(x), 10)
			b = append(b, '"')
		} else {
			b = strconv.AppendInt(b, int64(x), 10)
		}
		w.buf.Write(b)
		return nil
	case time.Time:
		if x.IsZero() {
			return errFallback // gqlgen's MarshalTime answers null, an invalid null here
		}
		b := append(w.buf.AvailableBuffer(), '"')
		b = x.AppendFormat(b, time.RFC3339Nano)
		w.buf.Write(append(b, '"'))
		return nil
	case string:
		w.buf.Write(appendQuoted(w.buf.AvailableBuffer(), x))
		return nil
	case bool:
		m = graphql.MarshalBoolean(x)
	case float64:
		cm := graphql.MarshalFloatContext(x)
		if cm == graphql.Null {
			return errFallback
		}
		return cm.MarshalGQLContext(w.ctx, &w.buf)
	default:
		// A pointer to a scalar (a nullable field): its value.
		rv := reflect.ValueOf(v)
		if rv.Kind() == reflect.Pointer {
			return w.leaf(t, def, rv.Elem().Interface())
		}
		return errFallback
	}
	if m == graphql.Null {
		return errFallback // an invalid value gqlgen reports as an error
	}
	m.MarshalGQL(&w.buf)
	return nil
}

// modelAccessor returns how to read field from a value of type t, bound as
// gqlgen binds it: a method of that name (ignoring case), else a struct
// field; nil when there is neither. It is cached per type and field.
func (r *Resolver) modelAccessor(t reflect.Type, field string) func(reflect.Value) any {
	key := accessorKey{t, field}
	if get, ok := r.accessors.Load(key); ok {
		return get.(func(reflect.Value) any)
	}
	var get func(reflect.Value) any
	for i := range t.NumMethod() {
		m := t.Method(i)
		if strings.EqualFold(m.Name, field) && m.Type.NumIn() == 1 && m.Type.NumOut() == 1 {
			idx := i
			get = func(v reflect.Value) any { return v.Method(idx).Call(nil)[0].Interface() }
			break
		}
	}
	st := t
	if st.Kind() == reflect.Pointer {
		st = st.Elem()
	}
	if get == nil && st.Kind() == reflect.Struct {
		if sf, ok := st.FieldByNameFunc(func(n string) bool { return strings.EqualFold(n, field) }); ok {
			idx := sf.Index
			get = func(v reflect.Value) any { return reflect.Indirect(v).FieldByIndex(idx).Interface() }
		}
	}
	if get != nil {
		r.accessors.Store(key, get)
	}
	return get
}

type accessorKey struct {
	t     reflect.Type
	field string
}
