package npmkit

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestModulesLoad installs the pinned packages and requires both from node.
func TestModulesLoad(t *testing.T) {
	script := filepath.Join(t.TempDir(), "load.js")
	body := `const mqtt = require("mqtt"); const pw = require("playwright-core");
console.log(typeof mqtt.connect, typeof pw.chromium.launch);`
	if err := os.WriteFile(script, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := Command(t, script).CombinedOutput()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != "function function" {
		t.Fatalf("node printed %q, want both packages' entry points", got)
	}
}
