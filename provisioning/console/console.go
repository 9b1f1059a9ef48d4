// Package console is the operator console's browser side: the page, its
// scripts and styles (embedded, so the binary needs no files), the headers
// that lock the page down, and the hub that streams live figures to every
// open console as server-sent events. The API mounts it behind operator
// authentication; see provisioning/api/console*.go.
package console

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"
)

//go:embed assets
var assets embed.FS

// ChartJSVersion is the version of the Chart.js build in assets
// (npm chart.js, MIT, licence in assets/chart.js-LICENSE.md).
const ChartJSVersion = "4.6.2"

// CSP is the Content-Security-Policy of every console response: scripts,
// styles and connections from this origin only, no inline script or
// style, no framing.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// SecureHeaders sets the headers every console response carries.
func SecureHeaders(h http.Header) {
	h.Set("Content-Security-Policy", CSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cache-Control", "no-store")
}

// Assets returns a handler for the console's files under prefix: the page
// itself at prefix and prefix + "/", the rest under prefix + "/assets/".
func Assets(prefix string) http.Handler {
	sub, err := fs.Sub(assets, "assets")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	files := http.StripPrefix(prefix+"/assets/", http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		SecureHeaders(w.Header())
		if strings.HasPrefix(r.URL.Path, prefix+"/assets/") {
			files.ServeHTTP(w, r)
			return
		}
		http.ServeFileFS(w, r, sub, "index.html")
	})
}
