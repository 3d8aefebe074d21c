package demo

import (
	"slices"
	"testing"

	"github.com/stacker/stacker/config"
)

// The demo keeps its own list of services, so that it depends on nothing of
// the gateway's, and this test holds it to config.Services(), the list the
// gateway reads STACKER_<SERVICE>_URL for and prints. Its resources (the
// endpoints it serves) are held to the same list, in the same order.
func TestServiceNamesAreConfigs(t *testing.T) {
	if got, want := ServiceNames(), config.Services(); !slices.Equal(got, want) {
		t.Errorf("demo.ServiceNames() = %v, config.Services() = %v", got, want)
	}
	var served []string
	for _, r := range New(NewStore(), Options{}).resources() {
		served = append(served, r.name)
	}
	if !slices.Equal(served, ServiceNames()) {
		t.Errorf("the demo serves %v, ServiceNames() = %v", served, ServiceNames())
	}
}
