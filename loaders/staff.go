package loaders

import (
	"github.com/stacker/stacker/graph/model"
	"github.com/stacker/stacker/upstream/staff"
)

func staffMember(r staff.Member) *model.StaffMember {
	return &model.StaffMember{
		ID:    int(r.ID),
		Name:  r.Name,
		Email: r.Email,
		Role:  model.EnumFromUpstream(r.Role, model.AllStaffRole),
	}
}
