package bins

import (
	"path/filepath"
	"runtime"
	"testing"
)

var estClient built

// ESTClient returns the path of GlobalSign's EST client
// (github.com/globalsign/est/cmd/estclient), an RFC 7030 client no one
// here wrote, built once per test process. It is built in its own module
// (estclient/go.mod, which pins its version as a tool) so that its
// dependencies never enter fleetgate's.
func ESTClient(t testing.TB) string {
	t.Helper()
	estClient.once.Do(func() {
		_, self, _, ok := runtime.Caller(0)
		if !ok {
			estClient.err = "bins: cannot locate the estclient module"
			return
		}
		mod := filepath.Join(filepath.Dir(self), "estclient")
		estClient.path, estClient.err = buildIn(mod, "github.com/globalsign/est/cmd/estclient", "estclient", nil)
	})
	if estClient.err != "" {
		t.Fatal(estClient.err)
	}
	return estClient.path
}
