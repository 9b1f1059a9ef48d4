package server

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestOpsPprof: the ops listener serves Go's profiles only with ops_pprof.
func TestOpsPprof(t *testing.T) {
	for _, on := range []bool{false, true} {
		h := (&opsServer{}).handler(newMetricsRegistry(), on)
		for _, path := range []string{"/debug/pprof/", "/debug/pprof/heap", "/debug/pprof/allocs"} {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
			if want := map[bool]int{false: http.StatusNotFound, true: http.StatusOK}[on]; rec.Code != want {
				t.Errorf("ops_pprof %v: GET %s = %d, want %d", on, path, rec.Code, want)
			}
		}
	}
}
