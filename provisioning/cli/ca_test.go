package cli

import (
	"bytes"
	"errors"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/fleetgate/fleetgate/provisioning/ca"
)

// runCA runs `fleetgate ca args...` in-process and returns its output.
func runCA(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := caCommand()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

// listRows returns the ROLE -> serials of `fleetgate ca list`.
func listRows(t *testing.T, data string) map[string][]string {
	t.Helper()
	out, err := runCA(t, "list", "--data", data)
	if err != nil {
		t.Fatalf("ca list: %v\n%s", err, out)
	}
	rows := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
		f := strings.Fields(line)
		rows[f[0]] = append(rows[f[0]], f[1])
	}
	return rows
}

func TestCACommands(t *testing.T) {
	data := t.TempDir()
	first, _, err := ca.Bootstrap(filepath.Join(data, "ca"), ca.BootstrapOptions{})
	if err != nil {
		t.Fatal(err)
	}
	oldSerial := ca.SerialHex(first.DeviceCA())
	rows := listRows(t, data)
	if len(rows["issuing"]) != 1 || rows["issuing"][0] != oldSerial || len(rows["trusted"]) != 0 || len(rows["server"]) != 1 {
		t.Fatalf("list before rotation: %v", rows)
	}

	out, err := runCA(t, "rotate-intermediate", "--data", data)
	if err != nil {
		t.Fatalf("rotate-intermediate: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`new issuing intermediate: serial ([0-9a-f]+)`).FindStringSubmatch(out)
	if m == nil || !strings.Contains(out, "retire-intermediate "+oldSerial) {
		t.Fatalf("rotate-intermediate output lacks the new serial or the next step:\n%s", out)
	}
	rows = listRows(t, data)
	if rows["issuing"][0] != m[1] || len(rows["trusted"]) != 1 || rows["trusted"][0] != oldSerial {
		t.Fatalf("list after rotation: %v, want issuing %s and trusted %s", rows, m[1], oldSerial)
	}

	cases := []struct {
		name string
		args []string
		want error
	}{
		{"error/retire the issuing one", []string{"retire-intermediate", m[1]}, ca.ErrIssuingIntermediate},
		{"error/retire an unknown one", []string{"retire-intermediate", "abcdef"}, ca.ErrNoSuchIntermediate},
		{"error/no CA here", []string{"list", "--data", t.TempDir()}, ca.ErrIncomplete},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := tc.args
			if !strings.Contains(strings.Join(args, " "), "--data") {
				args = append(args, "--data", data)
			}
			if _, err := runCA(t, args...); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := runCA(t, "retire-intermediate", "--data", data); err == nil {
		t.Fatal("retire-intermediate without a serial succeeded")
	}

	if out, err := runCA(t, "retire-intermediate", oldSerial, "--data", data); err != nil {
		t.Fatalf("retire-intermediate: %v\n%s", err, out)
	}
	serverBefore := listRows(t, data)["server"][0]
	out, err = runCA(t, "renew-server", "--data", data)
	if err != nil {
		t.Fatalf("renew-server: %v\n%s", err, out)
	}
	rows = listRows(t, data)
	if len(rows["trusted"]) != 0 || rows["server"][0] == serverBefore || !strings.Contains(out, rows["server"][0]) {
		t.Fatalf("after retire and renew: %v (server before %s); renew said:\n%s", rows, serverBefore, out)
	}
}

// TestRootRolloverCommands runs begin and finish as an operator would,
// with their refusals.
func TestRootRolloverCommands(t *testing.T) {
	data := t.TempDir()
	first, _, err := ca.Bootstrap(filepath.Join(data, "ca"), ca.BootstrapOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := runCA(t, "root-rollover", "finish", "--data", data); !errors.Is(err, ca.ErrNoRollover) {
		t.Fatalf("finish without begin = %v, want ErrNoRollover", err)
	}
	out, err := runCA(t, "root-rollover", "begin", "--data", data)
	if err != nil || !strings.Contains(out, "root-rollover finish --data "+data) {
		t.Fatalf("begin: %v\n%s", err, out)
	}
	rows := listRows(t, data)
	if len(rows["previous-root"]) != 1 || rows["previous-root"][0] != ca.SerialHex(first.Root()) ||
		rows["root"][0] == ca.SerialHex(first.Root()) || len(rows["trusted"]) != 1 {
		t.Fatalf("list during the rollover: %v", rows)
	}
	if _, err := runCA(t, "root-rollover", "begin", "--data", data); !errors.Is(err, ca.ErrRolloverInProgress) {
		t.Fatalf("begin twice = %v, want ErrRolloverInProgress", err)
	}
	if out, err := runCA(t, "root-rollover", "finish", "--data", data, "--force"); err != nil || !strings.Contains(out, "retire intermediate "+ca.SerialHex(first.DeviceCA())) {
		t.Fatalf("finish: %v\n%s", err, out)
	}
	if rows := listRows(t, data); len(rows["previous-root"]) != 0 || len(rows["trusted"]) != 0 {
		t.Fatalf("list after the rollover: %v", rows)
	}
}
