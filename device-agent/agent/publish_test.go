package agent

import (
	"crypto/x509"
	"errors"
	"testing"
)

// TestPublishQueues checks what Publish accepts before any session: valid
// messages queue up to MaxQueued, invalid ones are refused at once.
func TestPublishQueues(t *testing.T) {
	c := validConfig()
	c.CAFile, c.RootCAs, c.MaxQueued = "", x509.NewCertPool(), 3
	a, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		suffix string
		qos    byte
		want   error
	}{
		{"ok/qos1", "data/temp", 1, nil},
		{"ok/qos0", "data/temp", 0, nil},
		{"error/qos2", "data/temp", 2, ErrTopic},
		{"error/wildcard", "data/#", 1, ErrTopic},
		{"error/leading-slash", "/data", 1, ErrTopic},
		{"error/empty", "", 1, ErrTopic},
		{"ok/fills-the-queue", "data/x", 1, nil},
		{"error/queue-full", "data/y", 1, ErrQueueFull},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := a.Publish(tt.suffix, tt.qos, []byte("v")); !errors.Is(err, tt.want) {
				t.Errorf("Publish(%q, %d) = %v, want %v", tt.suffix, tt.qos, err, tt.want)
			}
		})
	}
	if q := a.Queued(); q != 3 {
		t.Errorf("%d queued, want 3", q)
	}
	if a.Connected() {
		t.Error("connected without Run")
	}
	if _, ok := a.Credentials(); ok {
		t.Error("credentials without Run")
	}
}
