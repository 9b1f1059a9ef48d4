package fleet

import (
	"context"
	"log/slog"
	"strings"

	"github.com/fleetgate/fleetgate/firmware-sim/report"
)

// countingHandler counts the agents' errors that no hook reports (failed
// enrollment and rotation attempts the agent retries by itself) as error
// kinds, and passes every record on to the simulator's logger. Connection
// warnings are left to the hooks, which already count them.
type countingHandler struct {
	errs  *report.Errors
	inner slog.Handler
}

func (h countingHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn || h.inner.Enabled(ctx, l)
}

func (h countingHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn && agentOwnWarning(r.Message) {
		h.errs.Inc("agent: " + r.Message)
	}
	if h.inner.Enabled(ctx, r.Level) {
		return h.inner.Handle(ctx, r)
	}
	return nil
}

func (h countingHandler) WithAttrs(a []slog.Attr) slog.Handler {
	return countingHandler{errs: h.errs, inner: h.inner.WithAttrs(a)}
}

func (h countingHandler) WithGroup(n string) slog.Handler {
	return countingHandler{errs: h.errs, inner: h.inner.WithGroup(n)}
}

// agentOwnWarning reports whether a warning is about provisioning work
// (enrollment, rotation) that the agent retries by itself, rather than the
// MQTT session (the hooks count those) or the end of Run (counted from
// its result).
func agentOwnWarning(msg string) bool {
	if strings.Contains(msg, "stopping") {
		return false
	}
	for _, w := range []string{"enroll", "rotat", "provisioning"} {
		if strings.Contains(msg, w) {
			return true
		}
	}
	return false
}
