package rehearsal

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// need skips the test when a part is missing, except in CI (CI=true),
// where test.sh has installed or started it and its absence is a failure.
func need(t *testing.T, ok bool, what string) {
	t.Helper()
	if ok {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is missing (test.sh provides it in CI)", what)
	}
	t.Skipf("%s is missing; ./test.sh provides it", what)
}

func answers(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err == nil {
		c.Close()
	}
	return err == nil
}

// A short rehearsal: three replicas restarted one by one under load, with
// a real haproxy, Redis and NATS. No query or mutation may fail, every
// subscriber must be back, and no event published after a subscriber's
// (re)subscription may be missing. Latency is reported, not asserted: the
// machine is shared.
func TestRollingRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("a rolling restart takes about 30s")
	}
	haproxy, err := exec.LookPath("haproxy")
	if err != nil {
		haproxy, err = exec.LookPath("/usr/sbin/haproxy")
	}
	need(t, err == nil, "haproxy")
	need(t, answers("127.0.0.1:6379"), "Redis on 127.0.0.1:6379")
	need(t, answers("127.0.0.1:4222"), "NATS on 127.0.0.1:4222")

	dir := t.TempDir()
	bin := filepath.Join(dir, "stacker")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/stacker/stacker").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var progress strings.Builder
	rep, err := Run(ctx, Options{Binary: bin, Haproxy: haproxy, Dir: dir, Progress: &progress})
	if err != nil {
		t.Fatalf("%v\n%s", err, progress.String())
	}
	var out strings.Builder
	rep.Print(&out)
	t.Log("\n" + out.String())
	if !rep.OK() {
		logs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
		for _, l := range logs {
			b, _ := os.ReadFile(l)
			if s := string(b); strings.Contains(s, "level=WARN") || strings.Contains(s, "level=ERROR") {
				t.Logf("%s:\n%.4000s", filepath.Base(l), s)
			}
		}
		t.Fatalf("the rehearsal failed:\n%s", out.String())
	}
	if rep.Disconnects == 0 {
		t.Errorf("no subscriber was disconnected: the restarts did not reach them")
	}
	if len(rep.Restarts) != 3 {
		t.Errorf("%d restarts, want 3", len(rep.Restarts))
	}
}
