package eventstest

import (
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Logger returns a logger that writes to the test's output until the test
// ends and discards afterwards, so a library goroutine that logs late
// cannot fail the run.
func Logger(t testing.TB) *slog.Logger {
	w := &testWriter{out: t.Output()}
	t.Cleanup(w.stop)
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct {
	mu   sync.Mutex
	out  io.Writer
	done bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return len(p), nil
	}
	return w.out.Write(p)
}

func (w *testWriter) stop() {
	w.mu.Lock()
	w.done = true
	w.mu.Unlock()
}

// CI reports whether the tests run in CI (CI=true), where a missing broker
// fails the test instead of skipping it.
func CI() bool { return os.Getenv("CI") == "true" }

// Unavailable skips the test with why, or fails it in CI.
func Unavailable(t testing.TB, why string) {
	t.Helper()
	if CI() {
		t.Fatalf("%s (CI=true: the test command must provide it)", why)
	}
	t.Skipf("%s; skipping (with CI=true this fails)", why)
}

// Answers reports whether something accepts TCP connections at addr.
func Answers(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	_ = c.Close()
	return true
}

// RequireServer skips the test (fails it in CI) unless a server answers at
// addr; what names it for the message, e.g. "nats-server".
func RequireServer(t testing.TB, what, addr string) {
	t.Helper()
	if !Answers(addr) {
		Unavailable(t, what+" is not answering at "+addr)
	}
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Binary returns the path of an executable found on PATH or in one of the
// system directories (Debian puts nats-server in /usr/sbin), skipping the
// test (failing it in CI) when there is none.
func Binary(t testing.TB, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/usr/local/sbin", "/usr/local/bin", "/usr/bin"} {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p
		}
	}
	Unavailable(t, name+" is not installed")
	return ""
}

// Process is a broker process the test owns, listening on 127.0.0.1:Port,
// that it can kill and start again on the same port.
type Process struct {
	t    testing.TB
	Port int
	name string
	args []string

	mu  sync.Mutex
	cmd *exec.Cmd
}

// StartProcess starts path with args (which must make it listen on
// 127.0.0.1:port) and waits until the port answers. The process is killed
// when the test ends.
func StartProcess(t testing.TB, port int, path string, args ...string) *Process {
	t.Helper()
	p := &Process{t: t, Port: port, name: path, args: args}
	p.Start()
	t.Cleanup(p.Kill)
	return p
}

// Addr is 127.0.0.1:Port.
func (p *Process) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(p.Port)) }

// Start starts the process (again) and waits until its port answers.
func (p *Process) Start() {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		p.t.Fatalf("%s is already running", p.name)
	}
	cmd := exec.Command(p.name, p.args...)
	out := &testWriter{out: p.t.Output()}
	p.t.Cleanup(out.stop)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		p.t.Fatalf("start %s: %v", p.name, err)
	}
	p.cmd = cmd
	deadline := time.Now().Add(Wait)
	for !Answers(p.Addr()) {
		if time.Now().After(deadline) {
			p.t.Fatalf("%s is not answering at %s after %v", p.name, p.Addr(), Wait)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Kill kills the process abruptly (SIGKILL, as a crash would) and waits
// for it to exit. It does nothing if the process is not running.
func (p *Process) Kill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Kill()
	_ = p.cmd.Wait()
	p.cmd = nil
}
