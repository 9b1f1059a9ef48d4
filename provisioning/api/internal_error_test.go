package api_test

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/fleetgate/fleetgate/provisioning/api"
	"github.com/fleetgate/fleetgate/provisioning/api/apitest"
	"github.com/fleetgate/fleetgate/provisioning/client"
	"github.com/fleetgate/fleetgate/provisioning/wire"
)

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestInternalErrorIsNotLeaked closes the registry under the running API:
// the caller gets a generic 500, the log gets the cause.
func TestInternalErrorIsNotLeaked(t *testing.T) {
	var logs syncBuffer
	e := apitest.Start(t, apitest.Options{Config: api.Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))}})
	if err := e.DB.Close(); err != nil {
		t.Fatal(err)
	}
	_, err := e.Admin.Devices(testCtx(t), client.DeviceFilter{})
	var apiErr *client.APIError
	if !errors.As(err, &apiErr) || apiErr.Status != 500 || apiErr.Code != wire.CodeInternal {
		t.Fatalf("err = %v, want 500 internal", err)
	}
	if strings.Contains(apiErr.Message, "closed") {
		t.Errorf("message leaks the cause: %q", apiErr.Message)
	}
	if !strings.Contains(logs.String(), "registry closed") {
		t.Errorf("log lacks the cause:\n%s", logs.String())
	}
}
