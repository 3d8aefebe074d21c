package graphqlhttp

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"
)

// Codes of the limit errors, in extensions.code.
const (
	CodeTooManyTokens     = "TOO_MANY_TOKENS"
	CodeQueryTooDeep      = "QUERY_TOO_DEEP"
	CodeTooManyAliases    = "TOO_MANY_ALIASES"
	CodeTooManyRootFields = "TOO_MANY_ROOT_FIELDS"
	CodeTooManyDirectives = "TOO_MANY_DIRECTIVES"
	CodeQueryTooComplex   = "QUERY_TOO_COMPLEX"
	CodeTooManyFields     = "TOO_MANY_FIELDS"
	CodeFieldRepeated     = "FIELD_REPEATED"
	CodeCancelled         = "REQUEST_CANCELLED"
)

// Limits refuses abusive documents before they cost anything: it runs
// before gqlgen parses and validates and before any resolver. Validation's
// overlapping-fields rule compares every pair of fields that answer under
// the same response name, so its work is the sum, over the merged response
// paths, of the square of the fields at each: MaxFields bounds the fields
// and MaxRepeats the fields at one path, which keeps validation linear in
// the document with a small factor (see BenchmarkValidateWorstCase). The
// zero value of a limit means its default; a negative one turns it off.
type Limits struct {
	MaxTokens     int // lexer tokens (default 15,000)
	MaxDepth      int // nesting of selection sets, fragments expanded (default 15)
	MaxAliases    int // aliased fields in the document (default 30)
	MaxRootFields int // fields of the operation's root selection (default 20)
	MaxDirectives int // directives on one field, fragment or operation (default 5)
	MaxCost       int // estimated cost, see Cost (default 10,000)
	// MaxFields caps the field selections of the document with fragments
	// expanded, as execution would collect them (default 2,000).
	MaxFields int
	// MaxRepeats caps the selections that answer at one response path, such
	// as `id` asked for by several fragments (default 30).
	MaxRepeats int
	// Cost weighs fields; nil charges 1 for every object or list field.
	Cost *CostModel
	// Schema gives field types to the cost estimate.
	Schema *ast.Schema

	docs *lru.LRU[*ast.QueryDocument]
}

// CostModel estimates what an operation will cost: every field of object
// type costs 1 plus its Calls (the upstream calls it needs); a list
// multiplies the cost of what is below it by its size: the value of its
// slicing argument (first, limit) when it has one, else its assumed size.
type CostModel struct {
	// Calls is the extra cost of a field by coordinate ("Case.patient"):
	// the upstream calls it needs.
	Calls map[string]int
	// ListSizes sizes list fields (and connection fields, whose nodes and
	// edges are the list) by coordinate ("Query.cases").
	ListSizes map[string]ListSize
	// DefaultListSize is the assumed size of any other list (default 10).
	DefaultListSize int
}

// ListSize says how big a list field's answer is.
type ListSize struct {
	SlicingArgument string   // the argument that bounds it, e.g. "first"
	Default         int      // its size when the argument is not given
	SizedFields     []string // for connections: the children that are the list
}

// ExtensionName implements graphql.HandlerExtension.
func (l *Limits) ExtensionName() string { return "Limits" }

// Validate implements graphql.HandlerExtension.
func (l *Limits) Validate(graphql.ExecutableSchema) error {
	set := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
	}
	set(&l.MaxTokens, 15000)
	set(&l.MaxDepth, 15)
	set(&l.MaxAliases, 30)
	set(&l.MaxRootFields, 20)
	set(&l.MaxDirectives, 5)
	set(&l.MaxCost, 10000)
	set(&l.MaxFields, 2000)
	set(&l.MaxRepeats, 30)
	if l.Cost == nil {
		l.Cost = &CostModel{}
	}
	if l.Cost.DefaultListSize <= 0 {
		l.Cost.DefaultListSize = 10
	}
	l.docs = lru.New[*ast.QueryDocument](1000)
	return nil
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationParameterMutator
} = (*Limits)(nil)

func limitError(code, format string, args ...any) *gqlerror.Error {
	return &gqlerror.Error{Message: fmt.Sprintf(format, args...), Extensions: map[string]any{"code": code}}
}

// MutateOperationParameters checks the document before gqlgen sees it.
func (l *Limits) MutateOperationParameters(ctx context.Context, p *graphql.RawParams) *gqlerror.Error {
	if ctx.Err() != nil {
		// The client has gone or the deadline has passed: parsing and
		// validating what it sent would be work for nobody.
		return limitError(CodeCancelled, "the request was cancelled or ran out of time before it was validated")
	}
	if p.Query == "" {
		return nil // a persisted query hash not resolved yet is checked after
	}
	doc, ok := l.docs.Get(ctx, p.Query)
	if !ok {
		var err error
		doc, err = parser.ParseQueryWithTokenLimit(&ast.Source{Input: p.Query}, positive(l.MaxTokens))
		if err != nil {
			if ge, ok := err.(*gqlerror.Error); ok && l.MaxTokens > 0 && isTokenLimit(ge) {
				return limitError(CodeTooManyTokens, "the document has more than %d tokens", l.MaxTokens)
			}
			return nil // gqlgen reports the syntax error itself
		}
		if e := l.checkStructure(doc); e != nil {
			return e
		}
		l.docs.Add(ctx, p.Query, doc)
	}
	op, e := selectOperation(doc, p.OperationName)
	if e != nil || op == nil {
		return e
	}
	if l.Schema != nil {
		if e := coerceVariables(l.Schema, op, p.Variables); e != nil {
			return e
		}
	}
	if l.MaxCost < 0 {
		return nil
	}
	c := &costWalk{l: l, op: op, vars: p.Variables, frags: newFragments(doc)}
	root := l.rootType(op.Operation)
	if cost := c.selection(op.SelectionSet, root); cost > l.MaxCost {
		return limitError(CodeQueryTooComplex, "the operation's estimated cost %d exceeds the limit of %d; ask for fewer items (first) or fewer nested lists", cost, l.MaxCost)
	}
	return nil
}

// selectOperation picks the operation to run, with a clear error when the
// request does not say which; a document without operations is left to
// gqlgen, which reports it.
func selectOperation(doc *ast.QueryDocument, name string) (*ast.OperationDefinition, *gqlerror.Error) {
	switch {
	case len(doc.Operations) == 0:
		return nil, nil
	case name == "" && len(doc.Operations) == 1:
		return doc.Operations[0], nil
	case name == "":
		return nil, limitError(CodeBadRequest, "the document has %d operations; operationName must say which one to run", len(doc.Operations))
	}
	if op := doc.Operations.ForName(name); op != nil {
		return op, nil
	}
	return nil, limitError(CodeBadRequest, "the document has no operation named %q", clip(name))
}

func positive(n int) int {
	if n < 0 {
		return 0
	}
	return n
}

func isTokenLimit(e *gqlerror.Error) bool {
	return strings.Contains(e.Message, "token limit")
}

func (l *Limits) rootType(op ast.Operation) *ast.Definition {
	if l.Schema == nil {
		return nil
	}
	switch op {
	case ast.Mutation:
		return l.Schema.Mutation
	case ast.Subscription:
		return l.Schema.Subscription
	}
	return l.Schema.Query
}

// checkStructure applies the limits that do not depend on variables.
func (l *Limits) checkStructure(doc *ast.QueryDocument) *gqlerror.Error {
	aliases, directives := 0, 0
	var count func(ast.SelectionSet)
	count = func(set ast.SelectionSet) {
		for _, sel := range set {
			switch s := sel.(type) {
			case *ast.Field:
				if s.Alias != "" && s.Alias != s.Name {
					aliases++
				}
				directives = max(directives, len(s.Directives))
				count(s.SelectionSet)
			case *ast.InlineFragment:
				directives = max(directives, len(s.Directives))
				count(s.SelectionSet)
			case *ast.FragmentSpread:
				directives = max(directives, len(s.Directives))
			}
		}
	}
	for _, op := range doc.Operations {
		directives = max(directives, len(op.Directives))
		count(op.SelectionSet)
	}
	for _, f := range doc.Fragments {
		directives = max(directives, len(f.Directives))
		count(f.SelectionSet)
	}
	if l.MaxAliases >= 0 && aliases > l.MaxAliases {
		return limitError(CodeTooManyAliases, "the document has %d aliases; at most %d are allowed", aliases, l.MaxAliases)
	}
	if l.MaxDirectives >= 0 && directives > l.MaxDirectives {
		return limitError(CodeTooManyDirectives, "a selection carries %d directives; at most %d are allowed", directives, l.MaxDirectives)
	}
	if l.MaxFields >= 0 || l.MaxRepeats >= 0 {
		w := &fieldWalk{l: l, doc: doc, used: map[string]bool{}}
		for _, op := range doc.Operations {
			if e := w.walk(op.Name, 0, []ast.SelectionSet{op.SelectionSet}); e != nil {
				return e
			}
		}
		// Validation also compares the fields of each fragment on its own;
		// for a fragment the operations spread, that is work the walk above
		// has bounded. An unused fragment is invalid anyway: refusing it here
		// keeps it from being validated unbounded.
		for _, f := range doc.Fragments {
			if !w.used[f.Name] {
				e := limitError(errcode.ValidationFailed, "Fragment %q is never used.", clip(f.Name))
				e.Locations = []gqlerror.Location{{Line: f.Position.Line, Column: f.Position.Column}}
				return e
			}
		}
	}
	d := &depthWalk{doc: doc, frags: newFragments(doc)}
	for _, op := range doc.Operations {
		if l.MaxRootFields >= 0 {
			if n := d.rootFields(op.SelectionSet, map[string]bool{}); n > l.MaxRootFields {
				return limitError(CodeTooManyRootFields, "the operation selects %d root fields; at most %d are allowed", n, l.MaxRootFields)
			}
		}
		if l.MaxDepth >= 0 {
			if depth := d.depth(op.SelectionSet); depth > l.MaxDepth {
				return limitError(CodeQueryTooDeep, "the operation is %d levels deep; at most %d are allowed", depth, l.MaxDepth)
			}
		}
	}
	return nil
}

// fieldWalk counts fields the way execution collects them: a selection
// set's fields, its inline fragments and the fragments it spreads (each
// once) merge into one set, and the fields that share a response name form a
// group whose own selection sets merge in turn. Every pair of fields in a
// group is what validation's overlapping-fields rule compares.
type fieldWalk struct {
	l      *Limits
	doc    *ast.QueryDocument
	fields int
	used   map[string]bool // fragments spread
}

// maxWalkDepth stops the walk in a fragment that spreads itself below one of
// its own fields (invalid, reported by validation later).
const maxWalkDepth = 64

func (w *fieldWalk) walk(path string, depth int, sets []ast.SelectionSet) *gqlerror.Error {
	if depth > maxWalkDepth {
		return nil
	}
	groups := map[string][]*ast.Field{}
	var order []string
	visited := map[string]bool{}
	var collect func(ast.SelectionSet) *gqlerror.Error
	collect = func(set ast.SelectionSet) *gqlerror.Error {
		for _, sel := range set {
			switch s := sel.(type) {
			case *ast.Field:
				if w.fields++; w.l.MaxFields >= 0 && w.fields > w.l.MaxFields {
					return limitError(CodeTooManyFields, "the document selects more than %d fields, fragments expanded", w.l.MaxFields)
				}
				name := s.Alias
				if name == "" {
					name = s.Name
				}
				if _, ok := groups[name]; !ok {
					order = append(order, name)
				}
				groups[name] = append(groups[name], s)
			case *ast.InlineFragment:
				if e := collect(s.SelectionSet); e != nil {
					return e
				}
			case *ast.FragmentSpread:
				if visited[s.Name] {
					continue
				}
				visited[s.Name] = true
				w.used[s.Name] = true
				if f := w.doc.Fragments.ForName(s.Name); f != nil {
					if e := collect(f.SelectionSet); e != nil {
						return e
					}
				}
			}
		}
		return nil
	}
	for _, set := range sets {
		if e := collect(set); e != nil {
			return e
		}
	}
	for _, name := range order {
		group := groups[name]
		at := name
		if path != "" {
			at = path + "." + name
		}
		if w.l.MaxRepeats >= 0 && len(group) > w.l.MaxRepeats {
			return limitError(CodeFieldRepeated, "%d selections answer at %s; at most %d may share one response name", len(group), clip(at), w.l.MaxRepeats)
		}
		var subs []ast.SelectionSet
		for _, f := range group {
			if len(f.SelectionSet) > 0 {
				subs = append(subs, f.SelectionSet)
			}
		}
		if len(subs) > 0 {
			if e := w.walk(at, depth+1, subs); e != nil {
				return e
			}
		}
	}
	return nil
}

// fragments measures each named fragment of a document once, so a
// document of fragments that spread each other twice over cannot make a walk
// exponential; a fragment cycle (invalid, and reported by validation later)
// or an unknown fragment measures 0.
type fragments struct {
	doc    *ast.QueryDocument
	memo   map[string]int
	active map[string]bool
}

func newFragments(doc *ast.QueryDocument) *fragments {
	return &fragments{doc: doc, memo: map[string]int{}, active: map[string]bool{}}
}

func (fs *fragments) measure(name string, of func(*ast.FragmentDefinition) int) int {
	if n, ok := fs.memo[name]; ok {
		return n
	}
	f := fs.doc.Fragments.ForName(name)
	if f == nil || fs.active[name] {
		return 0
	}
	fs.active[name] = true
	n := of(f)
	fs.active[name] = false
	fs.memo[name] = n
	return n
}

// depthWalk measures nesting with fragments expanded.
type depthWalk struct {
	doc   *ast.QueryDocument
	frags *fragments
}

func (d *depthWalk) depth(set ast.SelectionSet) int {
	deepest := 0
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			n := 0
			if len(s.SelectionSet) > 0 {
				n = 1 + d.depth(s.SelectionSet)
			}
			deepest = max(deepest, n)
		case *ast.InlineFragment:
			deepest = max(deepest, d.depth(s.SelectionSet))
		case *ast.FragmentSpread:
			deepest = max(deepest, d.fragment(s.Name))
		}
	}
	return deepest
}

func (d *depthWalk) fragment(name string) int {
	return d.frags.measure(name, func(f *ast.FragmentDefinition) int { return d.depth(f.SelectionSet) })
}

func (d *depthWalk) rootFields(set ast.SelectionSet, seen map[string]bool) int {
	n := 0
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			n++
		case *ast.InlineFragment:
			n += d.rootFields(s.SelectionSet, seen)
		case *ast.FragmentSpread:
			if f := d.doc.Fragments.ForName(s.Name); f != nil && !seen[s.Name] {
				seen[s.Name] = true
				n += d.rootFields(f.SelectionSet, seen)
			}
		}
	}
	return n
}

// costWalk estimates cost with the variables of this request.
type costWalk struct {
	l     *Limits
	op    *ast.OperationDefinition
	vars  map[string]any
	frags *fragments // fragment name -> cost of one instance
}

// selection is the cost of a selection set on parent (nil when unknown).
func (c *costWalk) selection(set ast.SelectionSet, parent *ast.Definition) int {
	total := 0
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			total = saturatingAdd(total, c.field(s, parent))
		case *ast.InlineFragment:
			total = saturatingAdd(total, c.selection(s.SelectionSet, c.typeNamed(s.TypeCondition, parent)))
		case *ast.FragmentSpread:
			total = saturatingAdd(total, c.fragment(s.Name))
		}
	}
	return total
}

func (c *costWalk) fragment(name string) int {
	return c.frags.measure(name, func(f *ast.FragmentDefinition) int {
		return c.selection(f.SelectionSet, c.typeNamed(f.TypeCondition, nil))
	})
}

func (c *costWalk) typeNamed(name string, fallback *ast.Definition) *ast.Definition {
	if name == "" || c.l.Schema == nil {
		return fallback
	}
	if d := c.l.Schema.Types[name]; d != nil {
		return d
	}
	return fallback
}

func (c *costWalk) field(f *ast.Field, parent *ast.Definition) int {
	if len(f.SelectionSet) == 0 {
		return 0 // scalars and enums come with their object
	}
	if strings.HasPrefix(f.Name, "__") {
		return 0 // introspection is answered from the schema in memory
	}
	var def *ast.FieldDefinition
	var child *ast.Definition
	coord := ""
	if parent != nil {
		def = parent.Fields.ForName(f.Name)
		coord = parent.Name + "." + f.Name
	}
	if def != nil && c.l.Schema != nil {
		child = c.l.Schema.Types[def.Type.Name()]
	}
	cost := 1 + c.l.Cost.Calls[coord]
	size, sized := c.listSize(f, def, coord)
	below := 0
	if sized != nil {
		// A connection: the sized children are the list, the rest (totalCount,
		// pageInfo) come once.
		for _, sel := range f.SelectionSet {
			if sf, ok := sel.(*ast.Field); ok && slices.Contains(sized, sf.Name) {
				// The list's size is the connection's, not a default of its own.
				var elem *ast.Definition
				if child != nil && c.l.Schema != nil {
					if sdef := child.Fields.ForName(sf.Name); sdef != nil {
						elem = c.l.Schema.Types[sdef.Type.Name()]
					}
				}
				below = saturatingAdd(below, saturatingMul(size, 1+c.selection(sf.SelectionSet, elem)))
				continue
			}
			below = saturatingAdd(below, c.selection(ast.SelectionSet{sel}, child))
		}
		return saturatingAdd(cost, below)
	}
	return saturatingAdd(cost, saturatingMul(size, c.selection(f.SelectionSet, child)))
}

// listSize returns how many times the children of f are resolved, and for
// connections the names of the children that are the list.
func (c *costWalk) listSize(f *ast.Field, def *ast.FieldDefinition, coord string) (int, []string) {
	ls, configured := c.l.Cost.ListSizes[coord]
	isList := def != nil && def.Type.Elem != nil
	if !configured {
		if isList {
			return c.l.Cost.DefaultListSize, nil
		}
		return 1, nil
	}
	size := ls.Default
	if ls.SlicingArgument != "" {
		if n, ok := c.intArg(f, ls.SlicingArgument); ok {
			size = n
		}
	}
	size = max(size, 0)
	if len(ls.SizedFields) > 0 {
		return size, ls.SizedFields
	}
	return size, nil
}

// intArg reads an integer argument given literally or by variable, with
// the variable's default when the request does not send it, as the
// resolver will see it.
func (c *costWalk) intArg(f *ast.Field, name string) (int, bool) {
	a := f.Arguments.ForName(name)
	if a == nil || a.Value == nil {
		return 0, false
	}
	v := a.Value
	if v.Kind == ast.Variable {
		raw, sent := c.vars[v.Raw]
		if sent {
			return intValue(raw)
		}
		if c.op == nil {
			return 0, false
		}
		def := c.op.VariableDefinitions.ForName(v.Raw)
		if def == nil || def.DefaultValue == nil {
			return 0, false
		}
		v = def.DefaultValue
	}
	if v.Kind == ast.IntValue {
		i, err := strconv.Atoi(v.Raw)
		return i, err == nil
	}
	return 0, false
}

func intValue(raw any) (int, bool) {
	switch n := raw.(type) {
	case json.Number:
		i, err := strconv.Atoi(string(n))
		return i, err == nil
	case float64:
		return int(n), true
	case int:
		return n, true
	case int64:
		return int(n), true
	}
	return 0, false
}

const maxCost = 1 << 40

func saturatingAdd(a, b int) int { return min(a+b, maxCost) }

func saturatingMul(a, b int) int {
	if a == 0 || b == 0 {
		return 0
	}
	if a > maxCost/b {
		return maxCost
	}
	return a * b
}
