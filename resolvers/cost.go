package resolvers

import "github.com/stacker/stacker/graphqlhttp"

// CostModel is how expensive Stacker's fields are, for the request cost
// limit: every field declared in relations.go costs the upstream calls it
// declares, per level, and lists multiply what is below them by their size:
// the `first` argument where there is one, else the declared typical size.
func CostModel() *graphqlhttp.CostModel {
	return newRelations().costModel()
}

func (rs *relations) costModel() *graphqlhttp.CostModel {
	m := &graphqlhttp.CostModel{
		Calls:           make(map[string]int, len(rs.all)),
		ListSizes:       map[string]graphqlhttp.ListSize{},
		DefaultListSize: 10,
	}
	for _, d := range rs.all {
		m.Calls[d.coordinate()] = d.calls
		if d.size.Default > 0 || d.size.SlicingArgument != "" {
			m.ListSizes[d.coordinate()] = d.size
		}
	}
	return m
}
