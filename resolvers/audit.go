package resolvers

import (
	"context"
	"fmt"
	"reflect"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/stacker/stacker/audit"
	"github.com/stacker/stacker/auth"
	"github.com/stacker/stacker/upstream"
)

// CodeAuditUnavailable is the code of an operation whose audited data was
// withheld because its audit record could not be kept (STACKER_AUDIT_FAIL=
// closed).
const CodeAuditUnavailable = "AUDIT_UNAVAILABLE"

// Auditing reports whether the audit trail is on: the gateway installs
// AuditOperations and AuditFields only then.
func (r *Resolver) Auditing() bool { return r.audit != nil }

type auditKey struct{}

// auditCollector is the operation's collector, put there by
// AuditOperations.
func auditCollector(ctx context.Context) (*audit.Collector, bool) {
	c, ok := ctx.Value(auditKey{}).(*audit.Collector)
	return c, ok
}

// AuditOperations gives every operation a collector of the @pii fields it
// returns and, when a response is done and returned any, writes one record
// to the trail (a subscription writes one per event that returned any).
// When a closed-mode trail then fails to take the record (its buffer
// filled while the operation ran), the response is replaced by an
// AUDIT_UNAVAILABLE error with no data: what cannot be recorded is not
// shown. (A trail already refusing when a field came up withheld that
// field alone; see AuditFields.)
func (r *Resolver) AuditOperations(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	c := audit.NewCollector()
	h := next(context.WithValue(ctx, auditKey{}, c))
	oc := graphql.GetOperationContext(ctx)
	subject := audit.Anonymous
	if id, ok := auth.FromContext(ctx); ok && id.Subject != "" {
		subject = id.Subject
	}
	reqID, _ := upstream.RequestID(ctx)
	tp, _ := upstream.Traceparent(ctx)
	hash := audit.DocumentHash(oc.RawQuery)
	opName := oc.OperationName // as the request names it, or the document's only operation's
	if opName == "" && oc.Operation != nil {
		opName = oc.Operation.Name
	}
	return func(ctx context.Context) *graphql.Response {
		resp := h(ctx)
		if resp == nil {
			return nil
		}
		fields := c.Take()
		if fields == nil {
			return resp
		}
		err := r.audit.Write(audit.Record{
			Time: time.Now().UTC(), Subject: subject, RequestID: reqID, Traceparent: tp,
			OperationName: opName, DocumentHash: hash, Fields: fields,
		})
		if err == nil {
			return resp
		}
		return &graphql.Response{
			Errors: gqlerror.List{{
				Message:    errAuditWithheld.Error(),
				Extensions: map[string]any{"code": CodeAuditUnavailable},
			}},
			Extensions: resp.Extensions,
			HasNext:    resp.HasNext,
		}
	}
}

// errAuditWithheld is a @pii field withheld, unresolved, because the trail
// in closed mode cannot keep a record now.
var errAuditWithheld = fmt.Errorf("personal data withheld: %w", audit.ErrUnavailable)

// AuditFields records, for a field marked @pii (the set is read once from
// the schema), the entity it is on when its value is returned non-null.
// While a closed-mode trail cannot keep records (Trail.Refusing), such a
// field is withheld before it is resolved: null with AUDIT_UNAVAILABLE,
// the rest of the response intact. Every other field passes through at the
// cost of one map lookup.
func (r *Resolver) AuditFields(ctx context.Context, next graphql.Resolver) (any, error) {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || !r.piiFields.Has(fc.Object, fc.Field.Name) {
		return next(ctx)
	}
	if r.audit.Refusing() {
		return nil, errAuditWithheld
	}
	res, err := next(ctx)
	if err != nil || isNil(res) {
		return res, err
	}
	if c, ok := auditCollector(ctx); ok {
		id := "?"
		if fc.Parent != nil {
			id = entityID(fc.Parent.Result)
		}
		c.Add(fc.Object, id, fc.Field.Name)
	}
	return res, err
}

func isNil(v any) bool {
	if v == nil {
		return true
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Interface:
		return rv.IsNil()
	}
	return false
}

// entityID is the ID field of a model (through any pointers: a list
// element's field context holds a pointer to the element), or "?".
func entityID(v any) string {
	rv := reflect.ValueOf(v)
	for rv.IsValid() && (rv.Kind() == reflect.Pointer || rv.Kind() == reflect.Interface) {
		if rv.IsNil() {
			return "?"
		}
		rv = rv.Elem()
	}
	if !rv.IsValid() || rv.Kind() != reflect.Struct {
		return "?"
	}
	f := rv.FieldByName("ID")
	if !f.IsValid() {
		return "?"
	}
	return fmt.Sprint(f.Interface())
}
