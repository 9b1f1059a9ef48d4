package launch

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestFind(t *testing.T) {
	if _, err := Find(filepath.Join(t.TempDir(), "nope")); !errors.Is(err, ErrNoBinary) {
		t.Errorf("error/missing binary: %v, want ErrNoBinary", err)
	}
	bin := filepath.Join(t.TempDir(), "fleetgate")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	got, err := Find(bin)
	if err != nil || got != bin {
		t.Errorf("ok/given binary: %q, %v", got, err)
	}
}

// TestStartNoBanner: a server that exits at once is reported with its
// output, and its temporary data directory is removed.
func TestStartNoBanner(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "fleetgate")
	script := "#!/bin/sh\necho 'cannot open registry: it broke' >&2\nexit 1\n"
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := Start(ctx, Options{Binary: bin})
	if !errors.Is(err, ErrNoBanner) || !strings.Contains(err.Error(), "it broke") {
		t.Errorf("Start = %v, want ErrNoBanner with the server's output", err)
	}
}

// TestStartBanner: the addresses come from the banner as the real server
// prints it, and Stop ends the process.
func TestStartBanner(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "fleetgate")
	script := `#!/bin/sh
echo 'fleetgate is running'
echo '  MQTT (mTLS):       127.0.0.1:41883'
echo '  API (HTTPS):       https://127.0.0.1:48443'
echo '  ops (metrics):     http://127.0.0.1:49883'
exec sleep 60
`
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := Start(ctx, Options{Binary: bin})
	if err != nil {
		t.Fatal(err)
	}
	if s.MQTT != "127.0.0.1:41883" || s.API != "https://127.0.0.1:48443" || s.Ops != "http://127.0.0.1:49883" || s.PID == 0 {
		t.Errorf("parsed %+v", s)
	}
	dir := s.DataDir
	s.Stop()
	select {
	case <-s.Exited():
	default:
		t.Error("process still running after Stop")
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temporary data directory %s left behind: %v", dir, err)
	}
}

func TestTailBuffer(t *testing.T) {
	b := &tailBuffer{max: 8}
	b.Write([]byte("hello "))
	b.Write([]byte("world"))
	if got := b.String(); len(got) != 8 || got != "lo world" {
		t.Errorf("tail %q, want %q", got, "lo world")
	}
}
