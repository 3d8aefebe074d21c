package audit_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a test leaves a goroutine behind: every
// trail's drain must end with its Close.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
