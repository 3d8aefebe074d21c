package graphqlhttp

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a test leaves a goroutine behind: an
// upload's reader must not outlive its request.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
