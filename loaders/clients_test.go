package loaders

import (
	"maps"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/stacker/stacker/config"
	"github.com/stacker/stacker/upstream"
)

// Clients has one client per service of config.Services(), named for it,
// and NewClients builds each from that service's URL: a service added to
// config but not here (or the other way round) fails this test.
func TestNewClientsCoverEveryService(t *testing.T) {
	var fields []string
	ct := reflect.TypeFor[Clients]()
	for i := range ct.NumField() {
		fields = append(fields, strings.ToLower(ct.Field(i).Name))
	}
	if want := config.Services(); !slices.Equal(fields, want) {
		t.Errorf("Clients has %v, config.Services() = %v", fields, want)
	}

	urls := map[string]string{}
	for _, s := range config.Services() {
		urls[s] = "http://" + s + ".internal:3000"
	}
	policy := func(string) upstream.Policy { return upstream.Policy{} }
	c, err := NewClients(urls, http.DefaultClient, policy)
	if err != nil {
		t.Fatal(err)
	}
	cv := reflect.ValueOf(c)
	for i := range cv.NumField() {
		if cv.Field(i).IsNil() {
			t.Errorf("NewClients left %s nil", ct.Field(i).Name)
		}
	}
	var names []string
	for _, s := range c.Services() {
		names = append(names, s.Name())
	}
	if want := config.Services(); !slices.Equal(names, want) {
		t.Errorf("Services() names %v, want %v", names, want)
	}
	for _, s := range config.Services() {
		without := maps.Clone(urls)
		delete(without, s)
		if _, err := NewClients(without, http.DefaultClient, policy); err == nil || !strings.Contains(err.Error(), s) {
			t.Errorf("without %s's URL: err = %v, want one naming it", s, err)
		}
	}
}
