package api

import (
	"log/slog"
	"net/http"
	"time"
)

// Timeouts of the server returned by Server. A client that sends its
// headers slowly, or never reads the answer, must not hold a connection for
// ever.
const (
	ReadHeaderTimeout = 10 * time.Second
	ReadTimeout       = 30 * time.Second
	WriteTimeout      = time.Minute
	// BulkWriteTimeout is the write timeout of a bulk revocation's answer.
	BulkWriteTimeout = 15 * time.Minute
	IdleTimeout      = 2 * time.Minute
)

// Server returns an http.Server for the API on addr with TLSConfig and the
// timeouts above. Start it with ListenAndServeTLS("", "") or
// ServeTLS(listener, "", ""): the certificate comes from the CA.
func (a *API) Server(addr string) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           a.Handler(),
		TLSConfig:         a.tlsConfig(),
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      WriteTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    16 << 10,
		// Handshake failures (a device certificate at the operator door,
		// a port scanner) are routine: debug level.
		ErrorLog: slog.NewLogLogger(a.log.Handler(), slog.LevelDebug),
	}
}
