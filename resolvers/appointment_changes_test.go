package resolvers

import (
	"reflect"
	"testing"

	"github.com/stacker/stacker/graph/model"
)

func TestOnInput(t *testing.T) {
	tests := []struct {
		name   string
		in     []*model.UserError
		fields []string
		want   []*model.UserError
	}{
		{"an input field keeps its path",
			[]*model.UserError{{Field: []string{"input", "startsAt"}, Message: "must be in the future"}}, []string{"startsAt"},
			[]*model.UserError{{Field: []string{"input", "startsAt"}, Message: "must be in the future"}}},
		{"a field the input lacks becomes a full message",
			[]*model.UserError{{Field: []string{"input", "status"}, Message: "is already cancelled"}}, nil,
			[]*model.UserError{{Message: "Status is already cancelled"}}},
		{"camelCase is spelt as words",
			[]*model.UserError{{Field: []string{"input", "startsAt"}, Message: "cannot be changed once cancelled"}}, nil,
			[]*model.UserError{{Message: "Starts at cannot be changed once cancelled"}}},
		{"a message about the whole stays as it is",
			[]*model.UserError{{Message: "cannot cancel and reschedule at once"}}, []string{"startsAt"},
			[]*model.UserError{{Message: "cannot cancel and reschedule at once"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := onInput(tc.in, tc.fields...); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}
