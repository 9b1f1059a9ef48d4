package etcdkv_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/fleetgate/fleetgate/internal/testkit/etcdtest"
	"github.com/fleetgate/fleetgate/store/etcdkv"
	"github.com/fleetgate/fleetgate/store/kv"
	"github.com/fleetgate/fleetgate/store/storetest"
)

// TestConformance runs the suite on a real single-member cluster, each
// backend under a prefix of its own.
func TestConformance(t *testing.T) {
	c := etcdtest.Start(t, 1)
	var n atomic.Int64
	storetest.Run(t, func(t *testing.T, l kv.Layout, onChange func([]kv.RawChange)) kv.Backend {
		b, err := etcdkv.Open(etcdkv.Options{Endpoints: c.Endpoints(), Prefix: fmt.Sprintf("/conformance-%d", n.Add(1))}, l, nil, onChange)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return b
	})
}
