package loaders

import (
	"github.com/stacker/stacker/graph/model"
	"github.com/stacker/stacker/upstream/insurers"
)

func insurer(r insurers.Insurer) *model.Insurer {
	return &model.Insurer{
		ID:   int(r.ID),
		Name: r.Name,
		Kind: model.EnumFromUpstream(r.Kind, model.AllInsurerKind),
	}
}
