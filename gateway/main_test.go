package gateway

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when any test leaves a goroutine behind: every
// server, loader, planner and upstream connection must end with its test.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
