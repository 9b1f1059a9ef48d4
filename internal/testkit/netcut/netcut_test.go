package netcut

import (
	"bufio"
	"net"
	"testing"
	"time"
)

// echo serves a line echo on loopback until the test ends.
func echo(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					if _, err := c.Write([]byte(line)); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// roundTrip sends a line through a new connection and reads it back.
func roundTrip(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	return roundTripOn(c)
}

func roundTripOn(c net.Conn) error {
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return err
	}
	_, err := bufio.NewReader(c).ReadString('\n')
	return err
}

// TestCutAndRestore: a Cut ends the open connection and refuses new
// ones; after Restore new connections pass again.
func TestCutAndRestore(t *testing.T) {
	p := Start(t, echo(t))
	open, err := net.Dial("tcp", p.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	if err := roundTripOn(open); err != nil {
		t.Fatalf("through the proxy: %v", err)
	}
	p.Cut()
	if err := roundTripOn(open); err == nil {
		t.Fatal("a connection open before Cut still carries data")
	}
	if err := roundTrip(p.Addr); err == nil {
		t.Fatal("a new connection passes during Cut")
	}
	p.Restore()
	if err := roundTrip(p.Addr); err != nil {
		t.Fatalf("after Restore: %v", err)
	}
}
