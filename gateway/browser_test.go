package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stacker/stacker/operations"
	"github.com/stacker/stacker/playground"
)

// chromiumPath is Debian's Chromium, which playground/web/setup.sh installs.
const chromiumPath = "/usr/bin/chromium"

// TestPlaygroundInBrowser loads the playground from a running Stacker in
// headless Chromium (playground/web/browser-test.mjs, with playwright-core),
// runs the case board with the run button and checks the rendered result,
// opens the docs explorer and takes a screenshot. The browser may reach
// loopback only; any other request fails the test.
//
// It skips when Chromium or playground/web/node_modules is missing, except
// in CI (CI=true), where that is a failure: run playground/web/setup.sh.
// The screenshot goes to $STACKER_SCREENSHOT_DIR, or the test's temp dir.
func TestPlaygroundInBrowser(t *testing.T) {
	node, webDir := browserTools(t)

	e := startStacker(t, nil)
	pageURL := playgroundURL(t, e)

	// What the result pane must show: the answer as Stacker gives it.
	var board struct {
		Cases struct {
			TotalCount int `json:"totalCount"`
			Nodes      []struct {
				Patient struct {
					FullName string `json:"fullName"`
				} `json:"patient"`
			} `json:"nodes"`
		} `json:"cases"`
	}
	e.mustDo(t, `{ cases(status: [NEW, IN_REVIEW], first: 1) { totalCount nodes { patient { fullName } } } }`, nil, &board)
	if board.Cases.TotalCount == 0 || len(board.Cases.Nodes) == 0 {
		t.Fatalf("the case board is empty: %+v", board)
	}
	expect, _ := json.Marshal([]string{
		fmt.Sprintf(`"totalCount": %d`, board.Cases.TotalCount),
		fmt.Sprintf(`"fullName": %q`, board.Cases.Nodes[0].Patient.FullName),
	})

	shots := os.Getenv("STACKER_SCREENSHOT_DIR")
	if shots == "" {
		shots = t.TempDir()
	} else if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, errOut, err := runBrowserScript(ctx, node, webDir, "browser-test.mjs",
		"PLAYGROUND_URL="+pageURL,
		"PLAYGROUND_EXPECT="+string(expect),
		"STACKER_SCREENSHOT_DIR="+shots,
	)
	t.Logf("browser-test.mjs:\n%s%s", out, errOut)
	if err != nil {
		t.Fatalf("browser test failed: %v", err)
	}
	t.Logf("screenshot: %s", filepath.Join(shots, "playground.png"))
}

// browserTools returns node and the folder of the browser scripts
// (playground/web, with playwright-core). It skips the test when Chromium,
// node or the npm packages are missing, except in CI (CI=true), where that
// is a failure: run playground/web/setup.sh.
func browserTools(t *testing.T) (node, webDir string) {
	t.Helper()
	webDir = filepath.Join("..", "playground", "web")
	node, nodeErr := exec.LookPath("node")
	var missing []string
	if _, err := os.Stat(chromiumPath); err != nil {
		missing = append(missing, chromiumPath)
	}
	if _, err := os.Stat(filepath.Join(webDir, "node_modules", "playwright-core", "package.json")); err != nil {
		missing = append(missing, filepath.Join(webDir, "node_modules"))
	}
	if nodeErr != nil {
		missing = append(missing, "node")
	}
	if len(missing) > 0 {
		msg := fmt.Sprintf("%s missing; run: bash playground/web/setup.sh", strings.Join(missing, ", "))
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return node, webDir
}

// runBrowserScript runs one of playground/web's scripts with env, killing
// Chromium and all its helpers if it outlives ctx, and returns what it
// printed to stdout and to stderr.
func runBrowserScript(ctx context.Context, node, webDir, script string, env ...string) (stdout, stderr []byte, err error) {
	cmd := exec.CommandContext(ctx, node, script)
	cmd.Dir = webDir
	cmd.Env = append(append(os.Environ(), "CHROMIUM="+chromiumPath), env...)
	// Node starts Chromium, which starts its own helpers: kill the whole
	// process group if the deadline passes, so nothing outlives the test.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	return out.Bytes(), errOut.Bytes(), err
}

// playgroundURL returns the page to test: the gateway's own when it serves
// this playground, otherwise the playground mounted on a server of the
// test's own that passes /graphql through to the gateway (before routes()
// switched to the embedded playground).
func playgroundURL(t *testing.T, e *testEnv) string {
	t.Helper()
	resp, err := e.HTTP.Get(e.Base + "/")
	if err != nil {
		t.Fatalf("GET /: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.Header.Get("Content-Security-Policy") == playground.ContentSecurityPolicy &&
		strings.Contains(string(body), `id="stacker-playground-config"`) {
		t.Logf("testing the gateway's own playground at %s/", e.Base)
		return e.Base + "/"
	}

	query := []byte(operations.CaseBoard)
	target, err := url.Parse(e.Base)
	if err != nil {
		t.Fatal(err)
	}
	transport := &http.Transport{}
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.Transport = transport
	pg := playground.Handler(playground.Options{Endpoint: "/graphql", DefaultQuery: string(query), Title: "Stacker"})
	mux := http.NewServeMux()
	mux.Handle("/graphql", proxy)
	mux.Handle("GET /{$}", pg)
	mux.Handle("GET /graphiql", pg)
	mux.Handle("GET /playground/", pg)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		srv.Close()
		transport.CloseIdleConnections()
	})
	t.Logf("the gateway does not serve the embedded playground yet; testing it on %s/ with /graphql proxied to %s", srv.URL, e.Base)
	return srv.URL + "/"
}
