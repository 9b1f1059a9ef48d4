package tpmkey

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/google/go-tpm/tpm2/transport/linuxtpm"
	"github.com/google/go-tpm/tpm2/transport/tcp"
)

func TestTCPConfig(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want tcp.Config
		err  error
	}{
		{name: "ok/ctrl-is-port-plus-one", in: "tcp://127.0.0.1:2321",
			want: tcp.Config{CommandAddress: "127.0.0.1:2321", PlatformAddress: "127.0.0.1:2322"}},
		{name: "ok/ctrl-port", in: "tcp://localhost:2321?ctrl=9999",
			want: tcp.Config{CommandAddress: "localhost:2321", PlatformAddress: "localhost:9999"}},
		{name: "ok/ctrl-host-port", in: "tcp://10.0.0.1:2321?ctrl=10.0.0.2:2400",
			want: tcp.Config{CommandAddress: "10.0.0.1:2321", PlatformAddress: "10.0.0.2:2400"}},
		{name: "ok/ipv6", in: "tcp://[::1]:2321",
			want: tcp.Config{CommandAddress: "[::1]:2321", PlatformAddress: "[::1]:2322"}},
		{name: "error/no-port", in: "tcp://127.0.0.1", err: ErrPath},
		{name: "error/port-zero", in: "tcp://127.0.0.1:0", err: ErrPath},
		{name: "error/no-host", in: "tcp://:2321", err: ErrPath},
		{name: "error/path", in: "tcp://127.0.0.1:2321/tpm", err: ErrPath},
		{name: "error/unknown-option", in: "tcp://127.0.0.1:2321?platform=1", err: ErrPath},
		{name: "error/bad-ctrl", in: "tcp://127.0.0.1:2321?ctrl=host-without-port", err: ErrPath},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tcpConfig(tt.in)
			if !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if got != tt.want {
				t.Fatalf("config = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	regular := filepath.Join(t.TempDir(), "not-a-device")
	if err := os.WriteFile(regular, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	// A port nothing listens on: bind one, note it, close it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().(*net.TCPAddr).Port
	ln.Close()

	tests := []struct {
		name string
		path string
		want error
	}{
		{name: "error/empty", path: "", want: ErrPath},
		{name: "error/relative", path: "dev/tpmrm0", want: ErrPath},
		{name: "error/other-scheme", path: "unix:///run/tpm.sock", want: ErrPath},
		{name: "error/missing-device", path: "/nonexistent/tpmrm0", want: os.ErrNotExist},
		{name: "error/regular-file", path: regular, want: linuxtpm.ErrFileIsNotDevice},
		{name: "error/nothing-listening", path: "tcp://127.0.0.1:" + strconv.Itoa(closed), want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tpm, err := Open(tt.path)
			if err == nil {
				tpm.Close()
				t.Fatalf("Open(%q) succeeded", tt.path)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}
