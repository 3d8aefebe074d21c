package upstream

import (
	"encoding/json"
	"reflect"
	"sync"
	"testing"
	"time"
)

type fuzzRow struct {
	ID        int64     `json:"id"`
	RefID     *int64    `json:"ref_id"`
	Name      string    `json:"name"`
	Rating    float64   `json:"rating"`
	CreatedAt time.Time `json:"created_at"`
}

// FuzzDecode holds the fast decoder of upstream answers (goccy/go-json) to
// encoding/json: on any body it must not panic, and whatever encoding/json
// accepts it must decode to the same rows. Run it longer with
//
//	go test -run '^$' -fuzz FuzzDecode -fuzztime 60s ./upstream
func FuzzDecode(f *testing.F) {
	for _, seed := range []string{
		`{"things":[{"id":1,"ref_id":null,"name":"a","rating":4.5,"created_at":"2024-05-01T10:00:00Z"}]}`,
		`{"meta":{"page":1},"things":[{"id":2,"ref_id":7,"name":"caf\u00e9 \"x\"","created_at":"2024-05-01T10:00:00.5+02:00"}],"x":[1,{"y":null}]}`,
		`{"things":[]}`,
		`{"things":null}`,
		`{"other":[]}`,
		`{"things":[{"id":"1"}]}`,
		`{"things":[{"id":1e3}]}`,
		`{"things":[{"name":"\ud800"}]}`,
		"{\"things\":[{\"name\":\"\xff\"}]}",
		`{"things":[{"id":1}],}`,
		`[]`,
		``,
	} {
		f.Add([]byte(seed))
	}
	types := &sync.Map{}
	f.Fuzz(func(t *testing.T, body []byte) {
		var fast []fuzzRow
		fastErr := (&keyed{key: "things", dst: &fast}).unmarshal(types, body)
		sized := make([]fuzzRow, 0, 2) // as GetByIDs sizes it
		sizedErr := (&keyed{key: "things", dst: &sized}).unmarshal(types, body)

		var std struct {
			V *[]fuzzRow `json:"things"`
		}
		stdErr := json.Unmarshal(body, &std)
		if stdErr == nil && std.V == nil {
			stdErr = errNoKey
		}
		if stdErr != nil {
			return // refusing too, or accepting what encoding/json would not, is fine for an upstream answer
		}
		if fastErr != nil {
			t.Fatalf("encoding/json accepts %q, the fast decoder says %v", body, fastErr)
		}
		if !reflect.DeepEqual(fast, *std.V) {
			t.Fatalf("%q decodes to %+v, encoding/json says %+v", body, fast, *std.V)
		}
		if sizedErr != nil || !reflect.DeepEqual(sized, *std.V) && !(len(sized) == 0 && len(*std.V) == 0) {
			t.Fatalf("%q decodes into a sized slice as %+v (%v), encoding/json says %+v", body, sized, sizedErr, *std.V)
		}
	})
}

var errNoKey = json.Unmarshal([]byte(`x`), new(any))
