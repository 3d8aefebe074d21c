package loaders

import (
	"github.com/stacker/stacker/graph/model"
	"github.com/stacker/stacker/upstream/clinics"
)

func clinic(r clinics.Clinic) *model.Clinic {
	return &model.Clinic{ID: int(r.ID), Name: r.Name, City: r.City}
}
