package server

import (
	"net/http"
	"net/http/pprof"
)

// mountPprof serves Go's profiles under /debug/pprof/ (ops_pprof): the
// allocation and heap profiles behind firmware-sim's idle measurements
// (`firmware-sim bench --profile`). The import also registers them on
// http.DefaultServeMux, which no listener of the server serves, so only
// the ops listener with ops_pprof exposes them.
// A delta profile over a window is /debug/pprof/allocs?seconds=N.
func mountPprof(mux *http.ServeMux) {
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
}
