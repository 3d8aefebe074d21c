package live

import (
	"testing"

	"go.uber.org/goleak"
)

// Prefetch works in background goroutines: none may outlive its test.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
