package rehearsal

// The processes of a rehearsal: the demo services, the gateway replicas and
// haproxy, each a child process with its output in a log file of its own.

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// proc is a child process; done closes when it has exited.
type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error // the exit status, once done
}

// startProc runs bin with args and env (plus PATH and HOME only, so the
// caller's STACKER_* and OTEL_* settings do not leak in), its stdout and
// stderr appended to dir/<name>.log.
func startProc(dir, name string, env []string, bin string, args ...string) (*proc, error) {
	f, err := os.OpenFile(filepath.Join(dir, name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	return p, nil
}

// stop sends SIGTERM and waits up to timeout for the exit, then kills.
func (p *proc) stop(timeout time.Duration) error {
	select {
	case <-p.done:
		return p.err
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return p.err
	case <-time.After(timeout):
		p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("%s did not exit within %s of SIGTERM; killed", p.name, timeout)
	}
}

// freePort returns a loopback port nothing listens on now.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// poll calls cond every 50ms until it holds, the process dies or timeout
// passes.
func poll(ctx context.Context, p *proc, what string, timeout time.Duration, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if p != nil {
			select {
			case <-p.done:
				return fmt.Errorf("%s exited (%v) before %s", p.name, p.err, what)
			default:
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no %s within %s", what, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return nil
}

// startDemo runs `stacker demo` publishing on eventsURL and returns it with
// the STACKER_<SERVICE>_URL=... lines it printed.
func startDemo(ctx context.Context, dir, bin, eventsURL string) (*proc, []string, error) {
	p, err := startProc(dir, "demo", []string{"STACKER_EVENTS_URL=" + eventsURL, "STACKER_LOG_LEVEL=warn"}, bin, "demo")
	if err != nil {
		return nil, nil, err
	}
	var urls []string
	err = poll(ctx, p, "the demo services' URLs", 30*time.Second, func() bool {
		urls = urls[:0]
		f, err := os.Open(filepath.Join(dir, "demo.log"))
		if err != nil {
			return false
		}
		defer f.Close()
		stats := false
		for sc := bufio.NewScanner(f); sc.Scan(); {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "STACKER_DEMO_STATS_URL="):
				stats = true // printed last
			case strings.HasPrefix(line, "STACKER_") && strings.Contains(line, "_URL="):
				urls = append(urls, line)
			}
		}
		return stats
	})
	if err != nil {
		p.stop(5 * time.Second)
		return nil, nil, err
	}
	return p, urls, nil
}

// replica is one gateway process and the port it keeps across restarts.
type replica struct {
	name string // haproxy's server name, r1, r2, ...
	port int
	env  []string
	proc *proc
}

func (r *replica) start(dir, bin string) error {
	p, err := startProc(dir, r.name, append(r.env, fmt.Sprintf("STACKER_ADDR=127.0.0.1:%d", r.port)), bin, "serve")
	if err != nil {
		return err
	}
	r.proc = p
	return nil
}

// waitReady waits for the replica's own /readyz to answer 200.
func (r *replica) waitReady(ctx context.Context, hc *http.Client, timeout time.Duration) error {
	url := fmt.Sprintf("http://127.0.0.1:%d/readyz", r.port)
	return poll(ctx, r.proc, r.name+" ready", timeout, func() bool {
		resp, err := hc.Get(url)
		if err != nil {
			return false
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// haproxyConfig is the load balancer of the rehearsal, as one would run it
// in front of Stacker replicas: round robin; a replica leaves the rotation
// at its first failed /readyz (checked every 500ms, so within the
// gateway's shutdown delay) and returns at its first passing one; a
// request whose connection attempt fails is retried, on another replica
// (redispatch); WebSockets stay open an hour between messages (timeout
// tunnel). It does not cut a replica's sessions when the replica leaves the
// rotation: the gateway closes its WebSockets itself, with 1012, once it
// has drained. Every answer names the replica it came from
// (X-Stacker-Replica), so the rehearsal knows where each subscriber is.
func haproxyConfig(port, statsPort int, replicas []*replica) string {
	var b strings.Builder
	fmt.Fprintf(&b, `global
  maxconn 4096

defaults
  mode http
  option redispatch
  retries 3
  timeout connect 2s
  timeout client 60s
  timeout server 60s
  timeout http-keep-alive 10s
  timeout tunnel 1h

frontend graphql
  bind 127.0.0.1:%d
  http-response set-header X-Stacker-Replica %%s
  default_backend stacker

backend stacker
  balance roundrobin
  option httpchk GET /readyz
  http-check expect status 200
  default-server inter 500ms fall 1 rise 1
`, port)
	for _, r := range replicas {
		fmt.Fprintf(&b, "  server %s 127.0.0.1:%d check\n", r.name, r.port)
	}
	fmt.Fprintf(&b, `
listen stats
  bind 127.0.0.1:%d
  stats enable
  stats uri /stats
`, statsPort)
	return b.String()
}

// startHaproxy checks and runs haproxy in the foreground (-db) with cfg.
func startHaproxy(ctx context.Context, dir, bin, cfg string) (*proc, error) {
	path := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		return nil, err
	}
	if out, err := exec.CommandContext(ctx, bin, "-c", "-q", "-f", path).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("haproxy -c: %v: %s", err, out)
	}
	return startProc(dir, "haproxy", nil, bin, "-db", "-f", path)
}

// serverStatus reads haproxy's status of each server of backend stacker
// ("UP", "DOWN", ...) from its CSV stats.
func serverStatus(hc *http.Client, statsPort int) (map[string]string, error) {
	resp, err := hc.Get(fmt.Sprintf("http://127.0.0.1:%d/stats;csv", statsPort))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	rows, err := csv.NewReader(resp.Body).ReadAll()
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, errors.New("empty stats")
	}
	col := map[string]int{}
	for i, h := range rows[0] {
		col[strings.TrimPrefix(h, "# ")] = i
	}
	st := map[string]string{}
	for _, r := range rows[1:] {
		if len(r) > col["status"] && r[col["pxname"]] == "stacker" {
			st[r[col["svname"]]] = r[col["status"]]
		}
	}
	return st, nil
}

// waitUp waits until haproxy has every named server UP.
func waitUp(ctx context.Context, hc *http.Client, haproxy *proc, statsPort int, timeout time.Duration, names ...string) error {
	return poll(ctx, haproxy, "haproxy to see "+strings.Join(names, ", ")+" UP", timeout, func() bool {
		st, err := serverStatus(hc, statsPort)
		if err != nil {
			return false
		}
		for _, n := range names {
			if st[n] != "UP" {
				return false
			}
		}
		return true
	})
}
