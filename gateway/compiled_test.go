package gateway

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/stacker/stacker/operations"
)

// rawPost sends a query and returns the status and the body as it came.
func rawPost(t *testing.T, e *testEnv, requestID, query string, vars map[string]any) (int, []byte) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest("POST", e.URL, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Request-Id", requestID)
	resp, err := e.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func TestCompiledCaseBoardSmoke(t *testing.T) {
	demoEnv := startStacker(t, nil)
	env, _ := recordCalls(t, demoEnv)
	on := startStacker(t, env)
	offEnv := map[string]string{"STACKER_COMPILED_EXECUTION": "false"}
	for k, v := range env {
		offEnv[k] = v
	}
	off := startStacker(t, offEnv)
	_, a := rawPost(t, on, "on", operations.CaseBoard, map[string]any{"first": 5})
	_, b := rawPost(t, off, "off", operations.CaseBoard, map[string]any{"first": 5})
	if !bytes.Equal(a, b) {
		t.Fatalf("compiled:\n%s\ngqlgen:\n%s", a, b)
	}
	t.Logf("%s", a[:200])
}
