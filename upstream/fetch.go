package upstream

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync"

	gojson "github.com/goccy/go-json"
)

// MaxIDs is the services' limit on one id list (?ids=, ?case_ids=, ...).
// Batch calls refuse longer lists without sending them; the loaders chunk
// to this size.
const MaxIDs = 100

// Unique returns vals with every repeat left out, in first-seen order. It is
// the one place list parameters lose their repeats (JoinIDs, JoinValues and
// GetByIDs use it), so a client's repeated values never reach a service:
// 50,000 copies of one status would otherwise make a 300 KB URL. A list with
// no repeats, the usual case, comes back as it is.
func Unique[T comparable](vals []T) []T {
	// Short lists, such as a batch of ids, are checked without a map.
	const scanMax = 32
	if len(vals) <= scanMax {
		for i := 1; i < len(vals); i++ {
			for j := range i {
				if vals[i] == vals[j] {
					return uniqueCopy(vals)
				}
			}
		}
		return vals
	}
	return uniqueCopy(vals)
}

func uniqueCopy[T comparable](vals []T) []T {
	seen := make(map[T]struct{}, len(vals))
	out := make([]T, 0, len(vals))
	for _, v := range vals {
		if _, ok := seen[v]; !ok {
			seen[v] = struct{}{}
			out = append(out, v)
		}
	}
	if len(out) == len(vals) {
		return vals
	}
	return out
}

// JoinIDs formats ids for an id-list parameter, each id once: "1,2,3".
func JoinIDs(ids []int64) string {
	ids = Unique(ids)
	b := make([]byte, 0, len(ids)*8)
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, id, 10)
	}
	return string(b)
}

// JoinValues formats values for a list parameter, each value once:
// "new,closed".
func JoinValues(vals []string) string {
	return strings.Join(Unique(vals), ",")
}

// GetByIDs fetches GET path?param=1,2,3 and returns the array under key in
// the answer ({"<key>": [...]}), in the service's order, unknown ids left
// out. Each id is sent once. It does not chunk: an empty list returns nil
// without a call, and more than MaxIDs distinct ids is an ErrBadRequest
// without a call.
func GetByIDs[T any](ctx context.Context, s *Service, path, param string, ids []int64, key string) ([]T, error) {
	return GetByIDsWhere[T](ctx, s, path, param, ids, nil, key)
}

// GetByIDsWhere is GetByIDs with more query parameters, such as a filter
// that applies to every id's rows (GET /appointments?doctor_ids=1,2&
// starts_after=...).
func GetByIDsWhere[T any](ctx context.Context, s *Service, path, param string, ids []int64, where url.Values, key string) ([]T, error) {
	ids = Unique(ids)
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
	// At most one row per id (more for lists by a parent's id): sized so,
	// the decoder fills the slice instead of growing it by doubling, which
	// was a fifth of a case board's garbage.
	items := make([]T, 0, len(ids))
	r := request{path: path, idParam: param, ids: len(ids)}
	query := param + "=" + JoinIDs(ids)
	if len(where) > 0 {
		query += "&" + where.Encode()
	}
	if err := s.get(ctx, r, query, &keyed{key: key, dst: &items}); err != nil {
		return nil, err
	}
	return items, nil
}

// GetList fetches GET path?query and returns the array under key.
func GetList[T any](ctx context.Context, s *Service, path string, query url.Values, key string) ([]T, error) {
	var items []T
	if err := s.get(ctx, request{path: path}, query.Encode(), &keyed{key: key, dst: &items}); err != nil {
		return nil, err
	}
	return items, nil
}

// GetOne fetches GET path and returns the object under key ({"<key>": {...}}).
func GetOne[T any](ctx context.Context, s *Service, path, key string) (T, error) {
	var item T
	err := s.get(ctx, request{path: path}, "", &keyed{key: key, dst: &item})
	return item, err
}

// SendOne sends body as JSON with method to path (once, never retried) and
// returns the object under key in the answer.
func SendOne[T any](ctx context.Context, s *Service, method, path string, body any, key string) (T, error) {
	var item T
	err := s.Send(ctx, method, path, body, &keyed{key: key, dst: &item})
	return item, err
}

// SendStreamOne is SendOne for a streamed body (see Service.SendStream):
// sent once, never buffered, and the value under key decoded from the
// answer.
func SendStreamOne[T any](ctx context.Context, s *Service, method, path, contentType string, body io.Reader, key string) (T, error) {
	var item T
	err := s.SendStream(ctx, method, path, contentType, body, &keyed{key: key, dst: &item})
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
	// A slice with room is decoded into in place. That cannot tell a
	// missing key from an empty list, so an empty result is decoded again
	// the plain way, which can.
	if d := dst.Elem(); d.Kind() == reflect.Slice && d.Cap() > 0 {
		d.SetLen(0)
		env.Elem().Field(0).Set(dst)
		if err := gojson.Unmarshal(data, env.Interface()); err != nil {
			return err
		}
		if v := env.Elem().Field(0); !v.IsNil() && v.Elem().Len() > 0 {
			dst.Elem().Set(v.Elem())
			return nil
		}
		env = reflect.New(t.(reflect.Type))
	}
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
