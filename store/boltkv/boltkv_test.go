package boltkv_test

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/fleetgate/fleetgate/store/boltkv"
	"github.com/fleetgate/fleetgate/store/kv"
	"github.com/fleetgate/fleetgate/store/storetest"
)

func open(t *testing.T, l kv.Layout, _ func([]kv.RawChange)) kv.Backend {
	b, err := boltkv.Open(filepath.Join(t.TempDir(), "registry.db"), time.Second, l)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return b
}

func TestConformance(t *testing.T) { storetest.Run(t, open) }

// A second Open of a file another handle holds gives up with ErrLocked.
func TestOpenLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "registry.db")
	b, err := boltkv.Open(path, time.Second, storetest.Layout)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := boltkv.Open(path, 50*time.Millisecond, storetest.Layout); !errors.Is(err, kv.ErrLocked) {
		t.Errorf("second Open = %v, want ErrLocked", err)
	}
}
