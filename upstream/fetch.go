package upstream

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"sync"

	gojson "github.com/goccy/go-json"
)

// MaxIDs is the services' limit on one id list (?ids=, ?case_ids=, ...).
// Batch calls refuse longer lists without sending them; the loaders chunk
// to this size.
const MaxIDs = 100

// JoinIDs formats ids for an id-list parameter: "1,2,3".
func JoinIDs(ids []int64) string {
	b := make([]byte, 0, len(ids)*8)
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, id, 10)
	}
	return string(b)
}

// GetByIDs fetches GET path?param=1,2,3 and returns the array under key in
// the answer ({"<key>": [...]}), in the service's order, unknown ids left
// out. It does not chunk: an empty list returns nil without a call, and more
// than MaxIDs ids is an ErrBadRequest without a call.
func GetByIDs[T any](ctx context.Context, s *Service, path, param string, ids []int64, key string) ([]T, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	if len(ids) > MaxIDs {
		return nil, &Error{
			Service: s.name, Method: http.MethodGet, URL: s.base + path + "?" + param + "=...",
			Kind:    ErrBadRequest,
			Message: fmt.Sprintf("%d ids exceed the limit of %d per request", len(ids), MaxIDs),
		}
	}
	var items []T
	if err := s.get(ctx, path, param+"="+JoinIDs(ids), &keyed{key: key, dst: &items}); err != nil {
		return nil, err
	}
	return items, nil
}

// GetList fetches GET path?query and returns the array under key.
func GetList[T any](ctx context.Context, s *Service, path string, query url.Values, key string) ([]T, error) {
	var items []T
	if err := s.get(ctx, path, query.Encode(), &keyed{key: key, dst: &items}); err != nil {
		return nil, err
	}
	return items, nil
}

// GetOne fetches GET path and returns the object under key ({"<key>": {...}}).
func GetOne[T any](ctx context.Context, s *Service, path, key string) (T, error) {
	var item T
	err := s.get(ctx, path, "", &keyed{key: key, dst: &item})
	return item, err
}

// SendOne sends body as JSON with method to path (once, never retried) and
// returns the object under key in the answer.
func SendOne[T any](ctx context.Context, s *Service, method, path string, body any, key string) (T, error) {
	var item T
	err := s.Send(ctx, method, path, body, &keyed{key: key, dst: &item})
	return item, err
}

// keyed decodes the value under one key of a JSON object into dst. A
// missing key is an error: the contract always sends the envelope.
type keyed struct {
	key string
	dst any // a pointer
}

// envelopeKey identifies the struct type that decodes one envelope.
type envelopeKey struct {
	key  string
	elem reflect.Type
}

// unmarshal decodes data in one pass through a struct type made for this
// key, struct{ V *T `json:"<key>"` }, cached per key and type: a single
// json.Unmarshal that skips every other key, instead of tokenizing the
// envelope by hand, which costs more than the rows themselves.
func (k *keyed) unmarshal(types *sync.Map, data []byte) error {
	dst := reflect.ValueOf(k.dst)
	ek := envelopeKey{key: k.key, elem: dst.Type().Elem()}
	t, ok := types.Load(ek)
	if !ok {
		t, _ = types.LoadOrStore(ek, reflect.StructOf([]reflect.StructField{{
			Name: "V",
			Type: dst.Type(),
			Tag:  reflect.StructTag(`json:"` + k.key + `"`),
		}}))
	}
	env := reflect.New(t.(reflect.Type))
	if err := gojson.Unmarshal(data, env.Interface()); err != nil {
		return err
	}
	v := env.Elem().Field(0)
	if v.IsNil() {
		return fmt.Errorf("response has no %q key", k.key)
	}
	dst.Elem().Set(v.Elem())
	return nil
}
