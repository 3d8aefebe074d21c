package operations

import (
	"io/fs"
	"slices"
	"testing"
)

// Every file holds one named operation, and Names finds each.
func TestNames(t *testing.T) {
	got, err := Names()
	if err != nil {
		t.Fatal(err)
	}
	paths, _ := fs.Glob(files, "*.graphql")
	if len(got) != len(paths) || !slices.Contains(got, "CaseBoard") || !slices.IsSorted(got) {
		t.Errorf("Names() = %v from %d files, want one name per file, sorted, CaseBoard among them", got, len(paths))
	}
}
