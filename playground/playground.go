// Package playground serves GraphiQL, the in-browser IDE for Stacker's
// GraphQL API, entirely from files embedded in the binary: the page works
// with no network but the gateway that served it (no CDN, no fonts or
// telemetry from elsewhere).
//
// dist/ is built from the pinned npm packages in web/ (see web/README.md)
// and committed, so building Stacker needs no Node. The Go side owns the
// settings: the GraphQL endpoint, the default query and the title reach
// the page as a JSON script tag, never as script.
package playground

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"
)

// dist holds the output of web/build.mjs: index.html and assets/. (A
// package-level var because go:embed needs one; it is never written.)
//
//go:embed dist
var dist embed.FS

// AssetPrefix is the path the page loads its scripts, styles and workers
// from (fixed in web/build.mjs); the handler must see it unstripped.
const AssetPrefix = "/playground/assets/"

// ContentSecurityPolicy is sent with every response of the handler. Scripts
// come only from this origin, so an injected string can never run; the
// exceptions, each needed by GraphiQL as bundled:
//
//   - style-src 'unsafe-inline': Monaco creates <style> elements at run time
//     (its themes and the editor's dynamic rules), and Radix and Headless UI
//     set style attributes for menus and dialogs; CSS cannot run code.
//   - img-src data:, font-src data:: graphiql/style.css carries its fonts
//     (Roboto, Fira Code, Monaco's codicons) and a few icons as data: URLs,
//     and the page's <link rel=icon href="data:,"> keeps browsers from
//     asking for /favicon.ico.
//
// connect-src 'self' covers fetch to the GraphQL endpoint and, later,
// WebSocket subscriptions on the same host (CSP level 3 maps 'self' to ws:
// and wss: of the same host and port). worker-src 'self' allows Monaco's
// workers, which are same-origin files (no blob: workers); no 'unsafe-eval'
// is needed.
const ContentSecurityPolicy = "default-src 'none'; " +
	"script-src 'self'; " +
	"worker-src 'self'; " +
	"connect-src 'self'; " +
	"style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data:; " +
	"font-src 'self' data:; " +
	"base-uri 'none'; " +
	"form-action 'none'; " +
	"frame-ancestors 'none'"

// Options configures the page. The zero value serves GraphiQL for /graphql
// with an empty editor.
type Options struct {
	// Endpoint is the GraphQL endpoint the page posts to, a path on the
	// same origin (the CSP allows no other); default "/graphql".
	Endpoint string
	// SubscriptionEndpoint is the graphql-ws (graphql-transport-ws) path for
	// subscriptions on the same host; empty means none.
	SubscriptionEndpoint string
	// DefaultQuery fills the first tab for a visitor with no saved tabs.
	DefaultQuery string
	// Title is the page title and GraphiQL's logo text; default "GraphiQL".
	Title string
	// Headers is the JSON object a new tab's Headers editor starts with
	// (the demo's Authorization header); empty means none. It is in the
	// page for anyone who can load it: only ever a demo token.
	Headers string
}

// config is what the page reads from its JSON script tag (web/src/main.jsx).
type config struct {
	Endpoint             string `json:"endpoint"`
	SubscriptionEndpoint string `json:"subscriptionEndpoint,omitempty"`
	DefaultQuery         string `json:"defaultQuery"`
	Title                string `json:"title"`
	Headers              string `json:"headers,omitempty"`
}

// The placeholders web/src/index.html leaves for the handler.
const (
	titlePlaceholder  = "{{STACKER_TITLE}}"
	configPlaceholder = "{{STACKER_CONFIG}}"
)

// Handler serves the page at /, /graphiql, /playground and /playground/,
// and its assets under AssetPrefix;
// anything else is 404. Mount it for all of them, e.g.
//
//	mux.Handle("GET /{$}", h)
//	mux.Handle("GET /graphiql", h)
//	mux.Handle("GET /playground/", h)
//
// It panics if the embedded files are broken (a bad build of dist/), which
// the package's tests rule out.
func Handler(opts Options) http.Handler {
	page, err := renderPage(opts)
	if err != nil {
		panic(fmt.Sprintf("playground: %v", err))
	}
	assets, err := loadAssets()
	if err != nil {
		panic(fmt.Sprintf("playground: %v", err))
	}
	sum := sha256.Sum256(page)
	return &handler{page: page, pageETag: `"` + hex.EncodeToString(sum[:8]) + `"`, assets: assets}
}

func renderPage(opts Options) ([]byte, error) {
	if opts.Endpoint == "" {
		opts.Endpoint = "/graphql"
	}
	if opts.Title == "" {
		opts.Title = "GraphiQL"
	}
	tmpl, err := dist.ReadFile("dist/index.html")
	if err != nil {
		return nil, err
	}
	for _, p := range []string{titlePlaceholder, configPlaceholder} {
		if n := bytes.Count(tmpl, []byte(p)); n != 1 {
			return nil, fmt.Errorf("dist/index.html has %d %s placeholders, want 1", n, p)
		}
	}
	// json.Marshal escapes <, > and & (and U+2028, U+2029), so no value can
	// close the script tag ("</script>") or open a comment ("<!--") in it.
	cfg, err := json.Marshal(config{
		Endpoint:             opts.Endpoint,
		SubscriptionEndpoint: opts.SubscriptionEndpoint,
		DefaultQuery:         opts.DefaultQuery,
		Title:                opts.Title,
		Headers:              opts.Headers,
	})
	if err != nil {
		return nil, err
	}
	r := strings.NewReplacer(titlePlaceholder, html.EscapeString(opts.Title), configPlaceholder, string(cfg))
	return []byte(r.Replace(string(tmpl))), nil
}

// asset is one file of dist/assets. Its name carries a hash of its content
// (web/build.mjs), so it can be cached for good.
type asset struct {
	name        string
	contentType string
	etag        string

	gzipOnce sync.Once
	gzipped  []byte // nil when compressing does not pay
}

// contentType is the type of a file build.mjs writes, by extension (not
// from the system's MIME tables, which vary); anything else is served as
// bytes the browser must not interpret.
func contentType(name string) string {
	switch path.Ext(name) {
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".txt":
		return "text/plain; charset=utf-8"
	case ".map":
		return "application/json"
	case ".woff2":
		return "font/woff2"
	case ".ttf":
		return "font/ttf"
	case ".svg":
		return "image/svg+xml"
	case ".png":
		return "image/png"
	}
	return "application/octet-stream"
}

// isPage reports whether a path serves the page itself.
func isPage(p string) bool {
	switch p {
	case "/", "/graphiql", "/playground", "/playground/":
		return true
	}
	return false
}

func loadAssets() (map[string]*asset, error) {
	entries, err := fs.ReadDir(dist, "dist/assets")
	if err != nil {
		return nil, err
	}
	assets := make(map[string]*asset, len(entries))
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		a := &asset{name: e.Name(), contentType: contentType(e.Name())}
		h := sha256.New()
		f, err := a.open()
		if err != nil {
			return nil, err
		}
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return nil, err
		}
		a.etag = `"` + hex.EncodeToString(h.Sum(nil)[:8]) + `"`
		assets[e.Name()] = a
	}
	return assets, nil
}

// open reads the asset from the binary's embedded files, where it stays:
// the bundle is about 7 MB, and a copy on the heap would cost every
// replica that, and twice that under the garbage collector's headroom.
func (a *asset) open() (interface {
	io.ReadSeeker
	io.Closer
}, error) {
	f, err := dist.Open("dist/assets/" + a.name)
	if err != nil {
		return nil, err
	}
	rs, ok := f.(interface {
		io.ReadSeeker
		io.Closer
	})
	if !ok {
		f.Close()
		return nil, fmt.Errorf("playground: embedded %s cannot seek", a.name)
	}
	return rs, nil
}

// compressed returns the gzip form of a text asset, made on first use (the
// bundle is about 7 MB; gzip sends about a quarter of it).
func (a *asset) compressed() []byte {
	a.gzipOnce.Do(func() {
		if !strings.HasPrefix(a.contentType, "text/") && a.contentType != "application/json" {
			return
		}
		f, err := a.open()
		if err != nil {
			return
		}
		defer f.Close()
		var b bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
		n, err := io.Copy(zw, f)
		zw.Close()
		if err == nil && int64(b.Len()) < n*9/10 {
			a.gzipped = b.Bytes()
		}
	})
	return a.gzipped
}

type handler struct {
	page     []byte
	pageETag string
	assets   map[string]*asset
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Content-Security-Policy", ContentSecurityPolicy)
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("X-Frame-Options", "DENY")
	hdr.Set("Referrer-Policy", "no-referrer")
	hdr.Set("Cross-Origin-Opener-Policy", "same-origin")
	hdr.Set("Cross-Origin-Resource-Policy", "same-origin")

	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hdr.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p := r.URL.Path
	if isPage(p) {
		hdr.Set("Content-Type", "text/html; charset=utf-8")
		// Revalidate every time: the page names the current assets.
		hdr.Set("Cache-Control", "no-cache")
		hdr.Set("ETag", h.pageETag)
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(h.page))
		return
	}
	a, ok := h.assets[strings.TrimPrefix(p, AssetPrefix)]
	if !ok || !strings.HasPrefix(p, AssetPrefix) {
		hdr.Set("Cache-Control", "no-store")
		http.NotFound(w, r)
		return
	}
	hdr.Set("Content-Type", a.contentType)
	hdr.Set("Cache-Control", "public, max-age=31536000, immutable")
	if gz := a.compressed(); gz != nil {
		hdr.Add("Vary", "Accept-Encoding")
		if acceptsGzip(r) {
			hdr.Set("Content-Encoding", "gzip")
			hdr.Set("ETag", strings.TrimSuffix(a.etag, `"`)+`-gzip"`)
			http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(gz))
			return
		}
	}
	hdr.Set("ETag", a.etag)
	f, err := a.open()
	if err != nil {
		http.Error(w, "playground asset unavailable", http.StatusInternalServerError)
		return
	}
	defer f.Close()
	http.ServeContent(w, r, "", time.Time{}, f)
}

// acceptsGzip reports whether Accept-Encoding lists gzip with a non-zero q.
func acceptsGzip(r *http.Request) bool {
	for _, v := range r.Header.Values("Accept-Encoding") {
		for part := range strings.SplitSeq(v, ",") {
			coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
			if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
				continue
			}
			q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
			return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
		}
	}
	return false
}
