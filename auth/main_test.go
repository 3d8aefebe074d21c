package auth_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a test leaves a goroutine behind: every
// key source's refresh and fetch must end with its Close.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
