package coord

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/fleetgate/fleetgate/firmware-sim/fleet"
)

// TestMarkedIDs: the bulk revocation names every Every-th device of each
// process, with the IDs the processes give their devices.
func TestMarkedIDs(t *testing.T) {
	o := Options{Procs: 3, Devices: 25, IDPrefix: "f-", Revoke: &Revoke{Every: 4}}
	got := o.markedIDs()
	// Shares 9, 8, 8: indexes 0, 4, 8 | 0, 4 | 0, 4.
	want := []string{"f-p0-000000", "f-p0-000004", "f-p0-000008", "f-p1-000000", "f-p1-000004", "f-p2-000000", "f-p2-000004"}
	if !slices.Equal(got, want) {
		t.Fatalf("markedIDs = %v, want %v", got, want)
	}
	if !fleet.Marked(8, 4) || fleet.Marked(7, 4) || fleet.Marked(0, 0) {
		t.Error("Marked: want every 4th index from 0, none for every 0")
	}
}

// TestRunRefusesRevokeWithoutBrokers: a coordinated revocation needs the
// broker processes, a positive every and a command; each missing one is
// refused before any process starts.
func TestRunRefusesRevokeWithoutBrokers(t *testing.T) {
	run := func(context.Context, []string) error { return nil }
	brokers := []Broker{{Addr: "127.0.0.1:8883"}}
	for name, o := range map[string]Options{
		"no brokers": {Revoke: &Revoke{Every: 10, Run: run}},
		"every 0":    {Brokers: brokers, Revoke: &Revoke{Run: run}},
		"no command": {Brokers: brokers, Revoke: &Revoke{Every: 10}},
	} {
		o.Procs, o.Devices, o.Binary, o.Out = 1, 10, "/nonexistent/firmware-sim", t.TempDir()
		if _, err := Run(context.Background(), o); !errors.Is(err, ErrOptions) {
			t.Errorf("%s: Run = %v, want ErrOptions", name, err)
		}
	}
}
