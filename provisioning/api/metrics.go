package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fleetgate/fleetgate/provisioning/wire"
)

// Metrics are the enrollment metrics of the API. Create them with NewMetrics
// on the registry that serves /metrics and pass them in Config.Metrics; an
// API without them keeps private ones.
type Metrics struct {
	requests  *prometheus.CounterVec
	refusals  *prometheus.CounterVec
	durations *prometheus.HistogramVec
}

// NewMetrics creates the API metrics and registers them on reg (nil: a
// private registry).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetgate_enrollment_requests_total",
			Help: "Device enrollment and rotation requests, by step and HTTP status.",
		}, []string{"step", "status"}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetgate_enrollment_refusals_total",
			Help: "Refused device enrollment and rotation requests, by error code (nonce_mismatch, token_replayed, ...).",
		}, []string{"code"}),
		durations: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "fleetgate_enrollment_duration_seconds",
			Help:    "Server time of device enrollment and rotation requests, by step.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}, []string{"step"}),
	}
	reg.MustRegister(m.requests, m.refusals, m.durations)
	return m
}

// enrollSteps names the device routes for the step label.
var enrollSteps = map[string]string{
	wire.PathTPMStart:       "tpm_start",
	wire.PathTPMFinish:      "tpm_finish",
	wire.PathToken:          "token",
	wire.PathRotationStart:  "rotate_start",
	wire.PathRotationFinish: "rotate_finish",
}

// instrument counts and times a device route. Issued certificates are the
// requests with status 200/201 on tpm_finish, token and rotate_finish.
func (m *Metrics) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		step := enrollSteps[r.URL.Path]
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		start := time.Now()
		next.ServeHTTP(rec, r)
		m.durations.WithLabelValues(step).Observe(time.Since(start).Seconds())
		m.requests.WithLabelValues(step, strconv.Itoa(rec.status)).Inc()
	})
}

// statusRecorder remembers the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}
