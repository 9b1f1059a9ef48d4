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

// externalMarks is an outside revocation as this process saw it: the
// marked devices that had a session when the signal came.
type externalMarks struct {
	done   chan struct{} // closed once picked is set
	picked []*device
	up     int // of picked, those in a session as the signal came
}

// watchExternal marks the devices the outside command revokes the moment
// its signal arrives, in whatever phase this process is (a coordinator
// that waited only so long for its processes may signal one still
// ramping): each drop after it is timed from then.
func (s *sim) watchExternal(ctx context.Context) *externalMarks {
	x := &externalMarks{done: make(chan struct{})}
	go func() {
		select {
		case <-s.cfg.ExternalRevoke:
		case <-ctx.Done():
			return
		}
		s.m.mark("revoke")
		now := time.Now().UnixNano()
		for _, d := range s.devices {
			if Marked(d.idx, s.cfg.ExternalRevokeEvery) && d.ever.Load() {
				d.revokedAt.Store(now)
				x.picked = append(x.picked, d)
				if d.up.Load() {
					x.up++
				}
			}
		}
		close(x.done)
	}()
	return x
}

// revokeExternal waits for the outside bulk command (one for the whole
// split fleet) to start revoking the marked devices (watchExternal), then
// expects each marked device that was in a session to be dropped and to
// stay out, as revoke does for its own calls. The delays run from the
// signal; each drop's wall-clock time goes into the report (dropTimes, at
// the end of the run: a loaded simulator notices drops late), so the
// coordinator can time the drops against its command's return.
func (s *sim) revokeExternal(ctx context.Context, x *externalMarks, wait time.Duration) *report.Revocation {
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-x.done:
	case <-t.C:
		s.m.errs.Inc("external revocation: no signal within the steady phase")
		return nil
	case <-ctx.Done():
		return nil
	}
	res := &report.Revocation{Revoked: len(x.picked), UpAtRevocation: x.up}
	s.drops.expect(int64(res.UpAtRevocation))
	s.awaitRevoked(ctx, x.picked)
	s.m.mark("revoked")
	return res
}

// dropTimes are the wall-clock times of the revoked devices' drops, as
// their kernels received them, and when the simulator noticed each, in
// the same order.
func (s *sim) dropTimes() (dropped, noticed []int64) {
	for _, d := range s.devices {
		if at := d.droppedAt.Load(); at != 0 && d.revokedAt.Load() != 0 {
			dropped = append(dropped, at)
			noticed = append(noticed, d.noticedAt.Load())
		}
	}
	return dropped, noticed
}
