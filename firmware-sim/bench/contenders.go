package bench

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/fleetgate/fleetgate/firmware-sim/launch"
	"github.com/fleetgate/fleetgate/provisioning/ca"
)

// Contender names, as they appear in the table.
const (
	NameBare      = "bare-tls"
	NameFleetgate = "fleetgate"
	NameMochi     = "mochi"
	NameMosquitto = "mosquitto"
)

// contender is a server under measurement, in its own process.
type contender struct {
	name, desc, settings string
	addr                 string
	pid                  int
	ops                  string // fleetgate's ops URL, for its runtime metrics; "" for the others
	stop                 func()
	keyExchange          string
}

// tlsFiles are the server certificate, its key and the client CA bundle
// every contender serves with: fleetgate's own.
type tlsFiles struct {
	cert, key, clientCA, clientChain string
}

// fleetgateFiles points at the CA material of a started fleetgate and
// writes the bundle Mosquitto needs (OpenSSL wants a chain up to a
// self-signed root; Go takes the device CA alone).
func fleetgateFiles(srv *launch.Server, dir string) (tlsFiles, error) {
	f := tlsFiles{cert: srv.CAFile(ca.ServerCertFile), key: srv.CAFile(ca.ServerKeyFile), clientCA: srv.CAFile(ca.DeviceCACertFile)}
	var bundle []byte
	for _, name := range []string{ca.DeviceCACertFile, ca.RootCertFile} {
		b, err := os.ReadFile(srv.CAFile(name))
		if err != nil {
			return f, fmt.Errorf("%w: %w", ErrContender, err)
		}
		bundle = append(bundle, b...)
	}
	f.clientChain = filepath.Join(dir, "client-ca-chain.pem")
	if err := os.WriteFile(f.clientChain, bundle, 0o600); err != nil {
		return f, fmt.Errorf("%w: %w", ErrContender, err)
	}
	return f, nil
}

// startTarget runs TargetMain for KIND in its own process (argv: the
// target command, then TargetMain's arguments) and reads the address it
// listens on.
func startTarget(ctx context.Context, command []string, kind string, files tlsFiles, env []string) (*contender, error) {
	if len(command) == 0 {
		self, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrContender, err)
		}
		command = []string{self, "bench-target"}
	}
	args := append(append([]string(nil), command[1:]...), kind, "--cert", files.cert, "--key", files.key, "--client-ca", files.clientCA)
	cmd := exec.Command(command[0], args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrContender, err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%w: start %s: %w", ErrContender, kind, err)
	}
	stop := func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "ADDR "); ok {
				addr <- a
			}
		}
	}()
	select {
	case a := <-addr:
		return &contender{addr: a, pid: cmd.Process.Pid, stop: stop}, nil
	case <-time.After(30 * time.Second):
	case <-ctx.Done():
	}
	stop()
	return nil, fmt.Errorf("%w: %s did not report its address", ErrContender, kind)
}

// mosquittoConf is the configuration the bench gives Mosquitto: mTLS with
// the client certificate required and its identity as the user name, as
// the broker does, TCP_NODELAY (without it every CONNACK waits ~40 ms for
// Nagle), and no persistence or logging.
const mosquittoConf = `listener %d 127.0.0.1
cafile %s
certfile %s
keyfile %s
require_certificate true
use_identity_as_username true
set_tcp_nodelay true
allow_anonymous false
persistence false
log_dest none
user root
`

// startMosquitto runs Mosquitto with mosquittoConf and waits until it
// accepts connections.
func startMosquitto(ctx context.Context, bin, dir string, files tlsFiles) (*contender, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	conf := filepath.Join(dir, "mosquitto.conf")
	body := fmt.Sprintf(mosquittoConf, port, files.clientChain, files.cert, files.key)
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrContender, err)
	}
	cmd := exec.Command(bin, "-c", conf)
	out, err := os.Create(filepath.Join(dir, "mosquitto.log"))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrContender, err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		out.Close()
		return nil, fmt.Errorf("%w: start %s (Debian package mosquitto): %w", ErrContender, bin, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); out.Close(); close(exited) }()
	stop := func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	// Mosquitto says it is ready no other way than by listening.
	deadline := time.Now().Add(30 * time.Second)
	for {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			_ = c.Close()
			return &contender{addr: addr, pid: cmd.Process.Pid, stop: stop}, nil
		}
		select {
		case <-exited:
			b, _ := os.ReadFile(filepath.Join(dir, "mosquitto.log"))
			return nil, fmt.Errorf("%w: mosquitto exited: %s", ErrContender, b)
		case <-ctx.Done():
			stop()
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			stop()
			return nil, fmt.Errorf("%w: mosquitto did not listen on %s", ErrContender, addr)
		}
	}
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrContender, err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
