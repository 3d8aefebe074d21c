package auditsink_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a test leaves a goroutine behind: every
// trail's drain and every broker connection must end with its Close.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
