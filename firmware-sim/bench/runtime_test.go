package bench

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestRuntimeProbe(t *testing.T) {
	stacks := 1 << 20
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintf(w, "# HELP go_goroutines x\ngo_goroutines %d\n", 10+stacks>>12)
		fmt.Fprintf(w, "go_memstats_stack_inuse_bytes %d\ngo_memstats_heap_inuse_bytes 2e+06\n", stacks)
		fmt.Fprint(w, "go_memstats_heap_idle_bytes 5000\ngo_memstats_heap_released_bytes 1000\ngo_memstats_sys_bytes 9e6\n")
		fmt.Fprint(w, "go_memstats_stack_inuse_bytes_total{x=\"y\"} 7\n")
	}))
	defer srv.Close()
	p := &runtimeProbe{url: srv.URL + "/"}
	p.read(context.Background(), false)
	stacks += 100 * 16 << 10 // 100 connections of 16 KiB stack
	p.read(context.Background(), true)
	per, err := p.perConnection(100)
	if err != nil {
		t.Fatal(err)
	}
	if per["go_memstats_stack_inuse_bytes"] != 16<<10 || per["go_goroutines"] != 4 || per["heap_free_bytes"] != 0 {
		t.Errorf("per connection %v", per)
	}
	if s := formatRuntime(per); !strings.Contains(s, "stack_inuse_bytes 16.0 KiB") || !strings.Contains(s, "goroutines 4.00") {
		t.Errorf("formatted %q", s)
	}

	// A series missing, a server that is not there: errors, kept.
	missing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, "go_goroutines 3\n")
	}))
	defer missing.Close()
	for _, url := range []string{missing.URL, "http://127.0.0.1:1"} {
		p := &runtimeProbe{url: url}
		p.read(context.Background(), false)
		if _, err := p.perConnection(1); !errors.Is(err, ErrContender) {
			t.Errorf("%s: perConnection = %v, want ErrContender", url, err)
		}
	}
	var none *runtimeProbe
	none.read(context.Background(), true) // no probe: nothing to do, no panic
}
