package host

import (
	"errors"
	"net"
	"os"
	"testing"
)

func TestLoopbackSources(t *testing.T) {
	for _, tc := range []struct {
		name  string
		dest  string
		first int
		n     int
		want  []string
	}{
		{"ok/loopback with port", "127.0.0.1:8883", 0, 3, []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"}},
		{"ok/localhost", "localhost", 0, 1, []string{"127.0.0.2"}},
		{"ok/other loopback", "127.0.0.9:1", 0, 2, []string{"127.0.0.2", "127.0.0.3"}},
		{"error/not loopback", "192.0.2.1:8883", 0, 3, nil},
		{"error/ipv6 loopback", "[::1]:8883", 0, 3, nil},
		{"error/name", "broker.example:8883", 0, 3, nil},
		{"error/none asked", "127.0.0.1:1", 0, 0, nil},
		{"ok/second process's slice", "127.0.0.1:8883", 2, 2, []string{"127.0.0.4", "127.0.0.5"}},
		{"ok/slice ends at .251", "127.0.0.1:8883", 249, 5, []string{"127.0.0.251"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := LoopbackSourcesFrom(tc.dest, tc.first, tc.n)
			if len(got) != len(tc.want) {
				t.Fatalf("LoopbackSourcesFrom(%q, %d, %d) = %v, want %v", tc.dest, tc.first, tc.n, got, tc.want)
			}
			for i := range got {
				if got[i].String() != tc.want[i] {
					t.Errorf("source %d = %s, want %s", i, got[i], tc.want[i])
				}
			}
		})
	}
}

func TestSourcesFor(t *testing.T) {
	for n, want := range map[int]int{1: 2, 10000: 2, 20000: 2, 28001: 3, 100000: 8} {
		if got := SourcesFor(n); got != want {
			t.Errorf("SourcesFor(%d) = %d, want %d", n, got, want)
		}
	}
}

// TestDialersSpread: connections from the dialers come from the source
// addresses in turn, to a real listener.
func TestDialersSpread(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	d := NewDialers(LoopbackSources(ln.Addr().String(), 3), 0)
	seen := map[string]int{}
	for range 6 {
		c, err := d.Next().Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		s, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		host, _, _ := net.SplitHostPort(s.RemoteAddr().String())
		seen[host]++
		c.Close()
		s.Close()
	}
	for _, src := range []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"} {
		if seen[src] != 2 {
			t.Errorf("connections from %s: %d, want 2 (seen %v)", src, seen[src], seen)
		}
	}
}

func TestRSS(t *testing.T) {
	self, err := RSS(0)
	if err != nil || self == 0 {
		t.Fatalf("RSS(self) = %d, %v", self, err)
	}
	byPID, err := RSS(os.Getpid())
	if err != nil || byPID == 0 {
		t.Fatalf("RSS(pid) = %d, %v", byPID, err)
	}
	if _, err := RSS(1 << 30); !errors.Is(err, ErrNoRSS) {
		t.Errorf("error/no such process: %v, want ErrNoRSS", err)
	}
}

func TestRaiseNoFile(t *testing.T) {
	soft, hard, err := RaiseNoFile(0)
	if err != nil {
		t.Fatal(err)
	}
	if soft != hard {
		t.Errorf("soft %d after raising, want the hard limit %d", soft, hard)
	}
}
