package server

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/internal/testkit/logbuf"
	"github.com/fleetgate/fleetgate/store"
)

// wait bounds anything a test awaits; reached only when something is broken.
const wait = 30 * time.Second

// testConfig is a server on loopback ports chosen by the kernel, in its
// own data directory, logging to logs.
func testConfig(t *testing.T, logs io.Writer) Config {
	t.Helper()
	c := DefaultConfig()
	c.DataDir = t.TempDir()
	c.MQTTAddr, c.APIAddr, c.OpsAddr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	c.ReloadInterval.Duration = 0
	c.LogOutput = logs
	return c
}

// get fetches an ops URL and returns its status and body.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

// TestStartClose: a started server is ready, serves on every endpoint it
// reports, and Close stops all of them, more than once without harm.
func TestStartClose(t *testing.T) {
	logs := &logbuf.Buffer{}
	srv, err := Start(context.Background(), testConfig(t, logs))
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-srv.Ready():
	default:
		t.Fatal("Start returned before Ready")
	}
	at := srv.Endpoints()
	if code, body := get(t, at.Ops+"/readyz"); code != http.StatusOK || body != "ready\n" {
		t.Fatalf("/readyz: %d %q", code, body)
	}
	for _, addr := range []string{at.MQTT, strings.TrimPrefix(at.API, "https://")} {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("dial %s: %v", addr, err)
		}
		conn.Close()
	}
	if logs.Count("msg=\"fleetgate serving\"", "mqtt="+at.MQTT, "api="+at.API) != 1 {
		t.Fatal("no serving line naming the endpoints")
	}

	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if err := srv.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	for _, addr := range []string{at.MQTT, strings.TrimPrefix(at.API, "https://"), strings.TrimPrefix(at.Ops, "http://")} {
		if conn, err := net.Dial("tcp", addr); err == nil {
			conn.Close()
			t.Errorf("%s still accepts after Close", addr)
		}
	}
	if err := srv.Reload("test"); !errors.Is(err, ErrClosed) {
		t.Fatalf("Reload after Close = %v, want ErrClosed", err)
	}
	select {
	case err := <-srv.Err():
		t.Fatalf("Err delivered %v after a clean Close", err)
	default:
	}
}

// TestStartErrors: Start refuses a bad configuration before it opens
// anything, and a failure halfway closes what it had opened: the
// registry of a server whose API port is taken is free again.
func TestStartErrors(t *testing.T) {
	t.Run("error/invalid config", func(t *testing.T) {
		c := testConfig(t, io.Discard)
		c.MaxPending = 0
		if _, err := Start(context.Background(), c); !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), "max_pending") {
			t.Fatalf("Start = %v, want ErrInvalidConfig naming max_pending", err)
		}
	})

	t.Run("error/registry in use", func(t *testing.T) {
		c := testConfig(t, io.Discard)
		first, err := Start(context.Background(), c)
		if err != nil {
			t.Fatal(err)
		}
		defer first.Close()
		if _, err := Start(context.Background(), c); !errors.Is(err, store.ErrLocked) {
			t.Fatalf("second Start on one data directory = %v, want ErrLocked", err)
		}
	})

	t.Run("error/port taken", func(t *testing.T) {
		taken, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer taken.Close()
		c := testConfig(t, io.Discard)
		c.APIAddr = taken.Addr().String()
		if _, err := Start(context.Background(), c); err == nil || !strings.Contains(err.Error(), "start API on") {
			t.Fatalf("Start with the API port taken = %v", err)
		}
		c.APIAddr = "127.0.0.1:0"
		srv, err := Start(context.Background(), c)
		if err != nil {
			t.Fatalf("the failed Start left its registry or listeners open: %v", err)
		}
		srv.Close()
	})
}

// TestContextEndCloses: the end of Start's context closes the server as
// Close does.
func TestContextEndCloses(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	logs := &logbuf.Buffer{}
	srv, err := Start(ctx, testConfig(t, logs))
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	logs.Await(t, wait, "msg=\"registry closed\"")
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if n := logs.Count("msg=\"shutting down\""); n != 1 {
		t.Fatalf("%d shutting down lines, want 1", n)
	}
}
