package fleet

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/google/go-tpm/tpm2/transport"

	"github.com/fleetgate/fleetgate/device-agent/tpmkey"
	"github.com/fleetgate/fleetgate/provisioning/attest"
	"github.com/fleetgate/fleetgate/provisioning/wire"
)

// swtpm is one software TPM process serving one simulated TPM device over
// TCP. swtpm is a real TPM 2.0 implementation (libtpms); one process per
// device because a TPM is one device's.
type swtpm struct {
	cmd *exec.Cmd
	tpm transport.TPMCloser
	out bytes.Buffer
}

// startSWTPM manufactures a fresh TPM in dir and serves it on loopback.
func startSWTPM(ctx context.Context, dir string) (*swtpm, error) {
	cmdPort, err := freePort()
	if err != nil {
		return nil, err
	}
	ctrlPort, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &swtpm{}
	s.cmd = exec.Command("swtpm", "socket", "--tpm2", "--tpmstate", "dir="+dir,
		"--server", "type=tcp,bindaddr=127.0.0.1,port="+strconv.Itoa(cmdPort),
		"--ctrl", "type=tcp,bindaddr=127.0.0.1,port="+strconv.Itoa(ctrlPort),
		"--flags", "not-need-init,startup-clear")
	s.cmd.Stdout, s.cmd.Stderr = &s.out, &s.out
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("%w: start swtpm (Debian package swtpm): %w", ErrSetup, err)
	}
	// swtpm says it is ready no other way than by listening.
	ctrl := net.JoinHostPort("127.0.0.1", strconv.Itoa(ctrlPort))
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", ctrl, time.Second)
		if err == nil {
			_ = c.Close()
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			s.close()
			return nil, fmt.Errorf("%w: swtpm did not listen on %s: %s", ErrSetup, ctrl, s.out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	t, err := tpmkey.Open(fmt.Sprintf("tcp://127.0.0.1:%d?ctrl=%d", cmdPort, ctrlPort))
	if err != nil {
		s.close()
		return nil, fmt.Errorf("%w: %w", ErrSetup, err)
	}
	s.tpm = t
	return s, nil
}

func (s *swtpm) close() {
	if s.tpm != nil {
		_ = s.tpm.Close()
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrSetup, err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// setupTPMDevices starts one swtpm per TPM device and pre-registers the
// devices by EK hash in a group that requires a TPM, as a factory line
// would; the agents then enroll by attestation.
func (s *sim) setupTPMDevices(ctx context.Context, devs []*device) error {
	group := s.cfg.Group + "-tpm"
	if _, err := s.admin.PutGroup(ctx, group, wire.GroupRequest{RequireTPM: true}); err != nil {
		return fmt.Errorf("%w: group %s: %w", ErrSetup, group, err)
	}
	dir, err := os.MkdirTemp("", "firmware-sim-swtpm-")
	if err != nil {
		return fmt.Errorf("%w: %w", ErrSetup, err)
	}
	s.cleanups = append(s.cleanups, func() { _ = os.RemoveAll(dir) })
	var rows bytes.Buffer
	enc := json.NewEncoder(&rows)
	for _, d := range devs {
		state := filepath.Join(dir, d.id)
		if err := os.Mkdir(state, 0o700); err != nil {
			return fmt.Errorf("%w: %w", ErrSetup, err)
		}
		sw, err := startSWTPM(ctx, state)
		if err != nil {
			return err
		}
		s.cleanups = append(s.cleanups, sw.close)
		d.tpm = sw.tpm
		ek, err := tpmkey.ReadEK(sw.tpm)
		if err != nil {
			return fmt.Errorf("%w: read EK of %s: %w", ErrSetup, d.id, err)
		}
		pub, err := ek.PublicKey()
		if err != nil {
			return fmt.Errorf("%w: %w", ErrSetup, err)
		}
		hash, err := attest.EKHash(pub)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrSetup, err)
		}
		if err := enc.Encode(wire.ImportRow{ID: d.id, Group: group, EKHash: hash}); err != nil {
			return fmt.Errorf("%w: %w", ErrSetup, err)
		}
	}
	if _, err := s.admin.ImportDevices(ctx, wire.ImportJSONL, &rows); err != nil {
		return fmt.Errorf("%w: pre-register TPM devices: %w", ErrSetup, err)
	}
	return nil
}
