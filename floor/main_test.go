package floor_test

import (
	"testing"

	"go.uber.org/goleak"
)

// The floor, the gateway and the demo services the tests start must all
// end with their test.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
