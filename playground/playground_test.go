package playground

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func serve(t *testing.T, h http.Handler, method, path string, header http.Header) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func body(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// checkSecurityHeaders asserts the headers every response must carry.
func checkSecurityHeaders(t *testing.T, resp *http.Response) {
	t.Helper()
	want := map[string]string{
		"Content-Security-Policy": ContentSecurityPolicy,
		"X-Content-Type-Options":  "nosniff",
		"X-Frame-Options":         "DENY",
		"Referrer-Policy":         "no-referrer",
	}
	for k, v := range want {
		if got := resp.Header.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
}

func TestContentSecurityPolicy(t *testing.T) {
	directives := map[string]string{}
	for d := range strings.SplitSeq(ContentSecurityPolicy, ";") {
		name, value, _ := strings.Cut(strings.TrimSpace(d), " ")
		directives[name] = value
	}
	want := map[string]string{
		"default-src":     "'none'",
		"script-src":      "'self'",
		"worker-src":      "'self'",
		"connect-src":     "'self'",
		"frame-ancestors": "'none'",
		"base-uri":        "'none'",
		"form-action":     "'none'",
	}
	for name, value := range want {
		if directives[name] != value {
			t.Errorf("%s is %q, want %q", name, directives[name], value)
		}
	}
	for _, bad := range []string{"'unsafe-eval'", "blob:", "http:", "https:", "*"} {
		if strings.Contains(ContentSecurityPolicy, bad) {
			t.Errorf("the policy allows %s: %s", bad, ContentSecurityPolicy)
		}
	}
}

func TestPage(t *testing.T) {
	h := Handler(Options{Endpoint: "/graphql", DefaultQuery: "query CaseBoard { cases { totalCount } }", Title: "Stacker"})
	for _, path := range []string{"/", "/graphiql", "/playground", "/playground/", "/?x=1"} {
		t.Run(path, func(t *testing.T) {
			resp := serve(t, h, http.MethodGet, path, nil)
			b := body(t, resp)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, b)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
				t.Errorf("Content-Type %q", ct)
			}
			if cc := resp.Header.Get("Cache-Control"); cc != "no-cache" {
				t.Errorf("Cache-Control %q, want no-cache (the page names the current assets)", cc)
			}
			checkSecurityHeaders(t, resp)
			if !strings.Contains(b, "<title>Stacker</title>") {
				t.Errorf("no title in\n%s", b)
			}
			cfg := pageConfig(t, b)
			want := config{Endpoint: "/graphql", DefaultQuery: "query CaseBoard { cases { totalCount } }", Title: "Stacker"}
			if cfg != want {
				t.Errorf("config %+v, want %+v", cfg, want)
			}
		})
	}

	t.Run("HEAD", func(t *testing.T) {
		resp := serve(t, h, http.MethodHead, "/", nil)
		if resp.StatusCode != http.StatusOK || body(t, resp) != "" {
			t.Errorf("HEAD: status %d", resp.StatusCode)
		}
		checkSecurityHeaders(t, resp)
	})
	t.Run("revalidation", func(t *testing.T) {
		etag := serve(t, h, http.MethodGet, "/", nil).Header.Get("ETag")
		resp := serve(t, h, http.MethodGet, "/", http.Header{"If-None-Match": {etag}})
		if etag == "" || resp.StatusCode != http.StatusNotModified {
			t.Errorf("ETag %q, conditional GET status %d", etag, resp.StatusCode)
		}
	})
	t.Run("defaults", func(t *testing.T) {
		b := body(t, serve(t, Handler(Options{}), http.MethodGet, "/", nil))
		if cfg := pageConfig(t, b); cfg.Endpoint != "/graphql" || cfg.Title != "GraphiQL" {
			t.Errorf("defaults: %+v", cfg)
		}
	})
	t.Run("subscriptions", func(t *testing.T) {
		b := body(t, serve(t, Handler(Options{SubscriptionEndpoint: "/graphql/ws"}), http.MethodGet, "/", nil))
		if cfg := pageConfig(t, b); cfg.SubscriptionEndpoint != "/graphql/ws" {
			t.Errorf("subscription endpoint: %+v", cfg)
		}
	})
}

// pageConfig decodes the page's JSON config script tag.
func pageConfig(t *testing.T, page string) config {
	t.Helper()
	const open = `<script type="application/json" id="stacker-playground-config">`
	_, rest, ok := strings.Cut(page, open)
	if !ok {
		t.Fatalf("no config script tag in\n%s", page)
	}
	raw, _, ok := strings.Cut(rest, "</script>")
	if !ok {
		t.Fatalf("config script tag not closed")
	}
	var cfg config
	if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
		t.Fatalf("config %q: %v", raw, err)
	}
	return cfg
}

// TestPageEscaping: whatever the Go side passes stays data. A query or title
// with markup cannot end the script tag, open a comment or add elements.
func TestPageEscaping(t *testing.T) {
	hostile := "query X { a }\n# </script><script>alert(1)</script><!-- <SCRIPT> & \u2028\u2029 '\"`"
	title := `<img src=x onerror=alert(1)> & "Stacker"`
	b := body(t, serve(t, Handler(Options{DefaultQuery: hostile, Title: title, Endpoint: "/graphql?</script>"}), http.MethodGet, "/", nil))

	tmpl, err := dist.ReadFile("dist/index.html")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"</script", "<script", "<!--", "<img"} {
		if got, want := strings.Count(strings.ToLower(b), s), strings.Count(strings.ToLower(string(tmpl)), s); got != want {
			t.Errorf("%q occurs %d times in the page, %d times in the template:\n%s", s, got, want, b)
		}
	}
	cfg := pageConfig(t, b)
	if cfg.DefaultQuery != hostile || cfg.Title != title || cfg.Endpoint != "/graphql?</script>" {
		t.Errorf("the config does not round-trip: %+v", cfg)
	}
	if !strings.Contains(b, "<title>&lt;img src=x onerror=alert(1)&gt; &amp; &#34;Stacker&#34;</title>") {
		t.Errorf("title not escaped:\n%s", b)
	}
}

// TestPageScripts: the page runs no inline script (the CSP would refuse it);
// the only inline script element is the JSON config, which is data.
func TestPageScripts(t *testing.T) {
	b := body(t, serve(t, Handler(Options{}), http.MethodGet, "/", nil))
	for _, tag := range regexp.MustCompile(`(?i)<script[^>]*>`).FindAllString(b, -1) {
		if !strings.Contains(tag, ` src="`+AssetPrefix) && !strings.Contains(tag, `type="application/json"`) {
			t.Errorf("script tag %s neither loads an asset nor holds JSON", tag)
		}
	}
}

func TestAssets(t *testing.T) {
	h := Handler(Options{})
	entries, err := fs.ReadDir(dist, "dist/assets")
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) == 0 {
		t.Fatal("dist/assets is empty; run playground/web/build.mjs")
	}
	wantType := map[string]string{
		".js":  "text/javascript; charset=utf-8",
		".css": "text/css; charset=utf-8",
		".txt": "text/plain; charset=utf-8",
	}
	for _, e := range entries {
		name := e.Name()
		ext := name[strings.LastIndex(name, "."):]
		t.Run(name, func(t *testing.T) {
			if _, ok := wantType[ext]; !ok {
				t.Fatalf("unexpected kind of asset %s", name)
			}
			want, _ := dist.ReadFile("dist/assets/" + name)
			resp := serve(t, h, http.MethodGet, AssetPrefix+name, nil)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d", resp.StatusCode)
			}
			if got := body(t, resp); got != string(want) {
				t.Errorf("body differs from the embedded file (%d bytes, want %d)", len(got), len(want))
			}
			if ct := resp.Header.Get("Content-Type"); ct != wantType[ext] {
				t.Errorf("Content-Type %q, want %q", ct, wantType[ext])
			}
			if cc := resp.Header.Get("Cache-Control"); cc != "public, max-age=31536000, immutable" {
				t.Errorf("Cache-Control %q", cc)
			}
			checkSecurityHeaders(t, resp)
		})
	}
}

func TestAssetGzip(t *testing.T) {
	h := Handler(Options{})
	b := body(t, serve(t, h, http.MethodGet, "/", nil))
	js := regexp.MustCompile(`src="` + regexp.QuoteMeta(AssetPrefix) + `([^"]+\.js)"`).FindStringSubmatch(b)
	if js == nil {
		t.Fatalf("no script in the page:\n%s", b)
	}
	raw, _ := dist.ReadFile("dist/assets/" + js[1])

	resp := serve(t, h, http.MethodGet, AssetPrefix+js[1], http.Header{"Accept-Encoding": {"br, gzip;q=0.8"}})
	if resp.Header.Get("Content-Encoding") != "gzip" || resp.Header.Get("Vary") != "Accept-Encoding" {
		t.Fatalf("Content-Encoding %q, Vary %q", resp.Header.Get("Content-Encoding"), resp.Header.Get("Vary"))
	}
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(zr)
	if err != nil || !bytes.Equal(got, raw) {
		t.Fatalf("gzip body does not decompress to the asset (err %v)", err)
	}
	gzETag := resp.Header.Get("ETag")

	for _, ae := range []string{"", "identity", "gzip;q=0", "deflate"} {
		resp := serve(t, h, http.MethodGet, AssetPrefix+js[1], http.Header{"Accept-Encoding": {ae}})
		if resp.Header.Get("Content-Encoding") != "" || body(t, resp) != string(raw) {
			t.Errorf("Accept-Encoding %q: got Content-Encoding %q", ae, resp.Header.Get("Content-Encoding"))
		}
		if resp.Header.Get("ETag") == gzETag {
			t.Errorf("Accept-Encoding %q: same ETag as the gzip form", ae)
		}
	}
}

func TestNotFoundAndMethods(t *testing.T) {
	h := Handler(Options{})
	for _, path := range []string{
		AssetPrefix + "nope.js",
		AssetPrefix,
		AssetPrefix + "../index.html",
		AssetPrefix + "sub/main.js",
		"/playground/index.html",
		"/playground/assets",
		"/favicon.ico",
		"/graphiql/",
		"/index.html",
	} {
		t.Run(path, func(t *testing.T) {
			resp := serve(t, h, http.MethodGet, path, nil)
			if resp.StatusCode != http.StatusNotFound {
				t.Errorf("status %d, want 404", resp.StatusCode)
			}
			checkSecurityHeaders(t, resp)
		})
	}
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
		resp := serve(t, h, m, "/", nil)
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
			t.Errorf("%s /: status %d, Allow %q", m, resp.StatusCode, resp.Header.Get("Allow"))
		}
		checkSecurityHeaders(t, resp)
	}
}

// TestAssetReferences: everything the page and its scripts load is there.
func TestAssetReferences(t *testing.T) {
	h := Handler(Options{})
	page := body(t, serve(t, h, http.MethodGet, "/", nil))
	refs := regexp.MustCompile(regexp.QuoteMeta(AssetPrefix) + `([\w.-]+)`)
	seen := map[string]bool{}
	var check func(from, name string)
	check = func(from, name string) {
		if seen[name] {
			return
		}
		seen[name] = true
		b, err := dist.ReadFile("dist/assets/" + name)
		if err != nil {
			t.Errorf("%s refers to %s%s, which is not in dist/assets", from, AssetPrefix, name)
			return
		}
		// Workers by absolute path, chunks by relative import.
		for _, m := range refs.FindAllStringSubmatch(string(b), -1) {
			check(name, m[1])
		}
		for _, m := range regexp.MustCompile(`"\./(chunk-[\w]+\.js)"`).FindAllStringSubmatch(string(b), -1) {
			check(name, m[1])
		}
	}
	for _, m := range refs.FindAllStringSubmatch(page, -1) {
		check("index.html", m[1])
	}
	for _, want := range []string{"editor.worker-", "json.worker-", "graphql.worker-", "main-", "notices-"} {
		if !slices.ContainsFunc(sortedKeys(seen), func(n string) bool { return strings.HasPrefix(n, want) }) {
			t.Errorf("nothing named %s* is referenced from the page", want)
		}
	}
}

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// TestNoRemoteURLs: the page must work with no network but the gateway, so
// no embedded file may name another host, except the inert strings above.
// The notices file (plain text, never executed) holds license links and is
// skipped. URLs without a literal host ("http://" + a variable) are built
// from data at run time (markdown links the user clicks) and name no host.
func TestNoRemoteURLs(t *testing.T) {
	// inertURLs are the absolute URLs in the bundle, each of which the page
	// never requests: XML namespace names and JSON Schema ids are identifiers,
	// the rest are links in error messages, help texts and schema descriptions
	// (text a user may click, never loaded by the page). A URL not listed fails
	// the test: after an upgrade, look at each new one before adding it.
	inertURLs := map[string]string{
		"http://www.w3.org/2000/svg":                                                 "XML namespace name (React, Monaco)",
		"http://www.w3.org/1999/xlink":                                               "XML namespace name (React)",
		"http://www.w3.org/1998/Math/MathML":                                         "XML namespace name (React)",
		"http://www.w3.org/XML/1998/namespace":                                       "XML namespace name (React)",
		"http://www.w3.org/1999/xhtml":                                               "XML namespace name (React)",
		"http://json-schema.org/":                                                    "JSON Schema id prefix (Monaco's JSON worker)",
		"http://json-schema.org/draft-":                                              "JSON Schema id prefix (Monaco's JSON worker)",
		"http://json-schema.org/draft-03/schema":                                     "JSON Schema id (Monaco's JSON worker)",
		"http://json-schema.org/draft-03/schema#":                                    "JSON Schema id (Monaco's JSON worker)",
		"http://json-schema.org/draft-04/schema":                                     "JSON Schema id (Monaco's JSON worker)",
		"http://json-schema.org/draft-04/schema#":                                    "JSON Schema id (Monaco's JSON worker)",
		"http://json-schema.org/draft-06/schema#":                                    "JSON Schema id (Monaco's JSON worker)",
		"http://json-schema.org/draft-07/schema#":                                    "JSON Schema id (Monaco's JSON worker)",
		"https://json-schema.org/draft/2019-09/schema":                               "JSON Schema id (Monaco's JSON worker)",
		"https://json-schema.org/draft/2020-12/schema":                               "JSON Schema id (Monaco's JSON worker)",
		"https://react.dev/errors/":                                                  "link in React's error messages",
		"https://prettier.io/docs/plugins#optional-embed":                            "link in a Prettier error message",
		"https://yarnpkg.com/en/docs/selective-version-resolutions":                  "link in a graphql-js error message",
		"https://en.wikipedia.org/wiki/IEEE_floating_point":                          "link in graphql-js's description of Float",
		"https://commonmark.org/":                                                    "link in graphql-js's description of @deprecated",
		"https://microsoft.com":                                                      "sample link in Monaco's markdown renderer",
		"https://github.com/microsoft/monaco-editor#faq":                             "link in a Monaco error message",
		"https://github.com/markedjs/marked.":                                        "link in a marked error message",
		"https://github.com/graphql/graphiql":                                        "GraphiQL's default logo link (replaced by Stacker's)",
		"https://github.com/brijeshb42/monaco-vim.":                                  "link in a GraphiQL error message",
		"https://github.com/aioutecism/monaco-emacs":                                 "link in a GraphiQL error message",
		"https://code.visualstudio.com/shortcuts/keyboard-shortcuts-windows.pdf":     "Monaco help link (opened only by the user)",
		"https://code.visualstudio.com/shortcuts/keyboard-shortcuts-macos.pdf":       "Monaco help link (opened only by the user)",
		"https://code.visualstudio.com/docs/reference/default-keybindings":           "Monaco help link (opened only by the user)",
		"https://code.visualstudio.com/docs/editor/codebasics#_multicursor-modifier": "Monaco help link (opened only by the user)",
		"https://code.visualstudio.com/docs/editor/codebasics#_find-and-replace":     "Monaco help link (opened only by the user)",
		"https://github.com/graphql/graphiql/tree/main/packages/monaco-graphql#custom-webworker-for-passing-non-static-config-to-worker.": "link in a GraphiQL error message",
	}
	url := regexp.MustCompile("(?i)(?:https?|wss?)://[^\\s\"'`<>()\\\\,;]*")
	found := map[string]bool{}
	err := fs.WalkDir(dist, "dist", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(p, ".txt") {
			return err
		}
		b, err := dist.ReadFile(p)
		if err != nil {
			return err
		}
		for _, u := range url.FindAllString(string(b), -1) {
			h, _, _ := strings.Cut(u[strings.Index(u, "//")+2:], "/")
			h, _, _ = strings.Cut(h, "#")
			h, _, _ = strings.Cut(h, "?")
			switch {
			case h == "" || strings.HasPrefix(h, "$"):
				continue // no literal host
			case h == "127.0.0.1" || h == "localhost" || strings.HasPrefix(h, "127.0.0.1:") || strings.HasPrefix(h, "localhost:"):
				continue
			}
			found[u] = true
			if _, ok := inertURLs[u]; !ok {
				t.Errorf("%s names a remote URL: %s", p, u)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for u := range inertURLs {
		if !found[u] {
			t.Errorf("inertURLs lists %s, which the bundle no longer holds: remove it", u)
		}
	}
}
