package logbuf

import (
	"testing"
	"time"
)

func TestAwait(t *testing.T) {
	var b Buffer
	go func() {
		time.Sleep(10 * time.Millisecond)
		_, _ = b.Write([]byte("level=INFO msg=other\n"))
		_, _ = b.Write([]byte("level=INFO msg=\"device connected\" device=a\n"))
	}()
	if got := b.Await(t, 10*time.Second, "device connected", "device=a"); got != `level=INFO msg="device connected" device=a` {
		t.Errorf("ok/await: %q", got)
	}
	b.AwaitCount(t, 10*time.Second, 2, "level=INFO")
	if n := b.Count("msg="); n != 2 {
		t.Errorf("ok/count: %d, want 2", n)
	}
}

func TestLogger(t *testing.T) {
	log, b := Logger(t, "test log")
	log.Debug("hello", "k", "v")
	if b.Count("level=DEBUG", "msg=hello", "k=v") != 1 {
		t.Errorf("ok/debug line: %q", b.String())
	}
}
