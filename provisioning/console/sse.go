package console

import (
	"fmt"
	"net/http"
	"time"
)

// writeTimeout bounds one event's write: a console that stops reading is
// dropped instead of holding a goroutine for ever.
const writeTimeout = 10 * time.Second

// ServeEvents streams the hub's events to one console as server-sent
// events named name, until the client goes away.
func (h *Hub) ServeEvents(w http.ResponseWriter, r *http.Request, name string) {
	rc := http.NewResponseController(w)
	SecureHeaders(w.Header())
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if err := rc.Flush(); err != nil {
		return
	}
	// The server's ReadTimeout would cancel the request, and with it the
	// stream, once it passes: an event stream reads nothing after its
	// headers.
	_ = rc.SetReadDeadline(time.Time{})
	events, cancel := h.Subscribe()
	defer cancel()
	for {
		select {
		case <-r.Context().Done():
			return
		case b := <-events:
			// The server's WriteTimeout would end the stream after a
			// minute; each event gets its own deadline instead.
			_ = rc.SetWriteDeadline(time.Now().Add(writeTimeout))
			if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", name, b); err != nil {
				return
			}
			if err := rc.Flush(); err != nil {
				return
			}
		}
	}
}
