package fleet

import (
	"context"
	"time"

	"github.com/fleetgate/fleetgate/firmware-sim/report"
)

// Marked reports whether device index idx of a fleet is one an outside
// command revokes when ExternalRevokeEvery is every (0: none is): every
// every-th device, from the first. The coordinator names the same
// devices in its bulk revocation.
func Marked(idx, every int) bool { return every > 0 && idx%every == 0 }

// revokeExternal waits for ExternalRevoke, the moment an outside bulk
// command (one for the whole split fleet) starts revoking the marked
// devices, then expects each marked device in a session to be dropped and
// to stay out, as revoke does for its own calls. The delays run from the
// signal; each drop's wall-clock time goes into the report, so the
// coordinator can time the drops against its command's return.
func (s *sim) revokeExternal(ctx context.Context, wait time.Duration) *report.Revocation {
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-s.cfg.ExternalRevoke:
	case <-t.C:
		s.m.errs.Inc("external revocation: no signal within the steady phase")
		return nil
	case <-ctx.Done():
		return nil
	}
	s.m.mark("revoke")
	now := time.Now().UnixNano()
	res := &report.Revocation{}
	var picked []*device
	for _, d := range s.devices {
		if Marked(d.idx, s.cfg.ExternalRevokeEvery) && d.ever.Load() {
			d.revokedAt.Store(now)
			picked = append(picked, d)
		}
	}
	res.Revoked = len(picked)
	s.drops.expect(int64(res.Revoked))
	s.awaitRevoked(ctx, picked)
	s.m.mark("revoked")
	res.Dropped = int(s.drops.n.Load())
	for _, d := range picked {
		if at := d.droppedAt.Load(); at != 0 {
			res.DropsUnixNano = append(res.DropsUnixNano, at)
		}
	}
	return res
}
