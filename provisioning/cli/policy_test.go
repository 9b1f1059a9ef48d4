package cli_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fleetgate/fleetgate/provisioning/api/apitest"
	"github.com/fleetgate/fleetgate/provisioning/cli"
	"github.com/fleetgate/fleetgate/provisioning/wire"
	"github.com/fleetgate/fleetgate/store"
)

// TestGroupTokenImport drives the group, token and device import commands
// as an operator preparing a factory batch would.
func TestGroupTokenImport(t *testing.T) {
	e := apitest.Start(t, apitest.Options{})
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}

	t.Run("ok/group-put-and-list", func(t *testing.T) {
		out := run(t, e, "group", "put", "sim", "--allow-tokens").mustSucceed(t).stdout
		if !strings.Contains(out, "allow_tokens=true") {
			t.Errorf("output = %q", out)
		}
		run(t, e, "group", "put", "line-a", "--require-tpm").mustSucceed(t)
		rs := rows(run(t, e, "group", "list").mustSucceed(t).stdout)
		want := [][]string{{"NAME", "REQUIRE_TPM", "ALLOW_TOKENS", "CREATED"}, {"line-a", "true", "false"}, {"sim", "false", "true"}}
		if len(rs) != len(want) {
			t.Fatalf("rows = %q", rs)
		}
		for i := range want {
			if !slices.Equal(rs[i][:len(want[i])], want[i]) {
				t.Errorf("row %d = %q, want it to start with %q", i, rs[i], want[i])
			}
		}
		var list wire.GroupList
		decodeJSON(t, run(t, e, "group", "list", "--json").mustSucceed(t).stdout, &list)
		if len(list.Groups) != 2 || !list.Groups[1].AllowTokens {
			t.Errorf("--json groups = %+v", list.Groups)
		}
	})
	t.Run("ok/token-create-to-file", func(t *testing.T) {
		out := filepath.Join(dir, "tokens.txt")
		run(t, e, "token", "create", "--group", "sim", "--count", "3", "--ttl", "2h", "--out", out).mustSucceed(t)
		data, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		info, _ := os.Stat(out)
		lines := strings.Fields(string(data))
		if len(lines) != 3 || info.Mode().Perm() != 0o600 {
			t.Fatalf("token file holds %d lines with mode %v; want 3 and 0600", len(lines), info.Mode().Perm())
		}
		stored, err := e.DB.Tokens(t.Context(), "sim")
		if err != nil || len(stored) != 3 {
			t.Fatalf("registry holds %d tokens, %v", len(stored), err)
		}
		for _, tk := range lines {
			if !slices.ContainsFunc(stored, func(s store.Token) bool { return s.Hash == store.HashToken(tk) }) {
				t.Errorf("token %s is not in the registry", tk)
			}
		}
	})
	t.Run("ok/token-create-to-stdout", func(t *testing.T) {
		r := run(t, e, "token", "create", "--group", "sim").mustSucceed(t)
		if lines := strings.Fields(r.stdout); len(lines) != 1 || !strings.HasPrefix(lines[0], store.TokenPrefix) {
			t.Errorf("stdout = %q, want one token", r.stdout)
		}
		if !strings.Contains(r.stderr, "created 1 token") {
			t.Errorf("stderr = %q", r.stderr)
		}
	})
	t.Run("ok/token-list", func(t *testing.T) {
		rs := rows(run(t, e, "token", "list", "--group", "sim").mustSucceed(t).stdout)
		if len(rs) != 5 || rs[0][0] != "HASH" || rs[1][1] != "sim" {
			t.Errorf("rows = %q, want a header and 4 tokens", rs)
		}
	})

	csvFile := write("batch.csv", "id,group,ek_hash,metadata\nfab-1,line-a,"+strings.Repeat("ab", 32)+",site=plant-7\nfab-2,line-a,,\n")
	t.Run("ok/device-import-csv", func(t *testing.T) {
		out := run(t, e, "device", "import", csvFile).mustSucceed(t).stdout
		if !strings.Contains(out, "2 created, 0 unchanged") {
			t.Errorf("output = %q", out)
		}
		if d, err := e.DB.DeviceByEK(t.Context(), strings.Repeat("ab", 32)); err != nil || d.ID != "fab-1" || d.Metadata["site"] != "plant-7" {
			t.Errorf("fab-1 = %+v, %v", d, err)
		}
		var res wire.ImportResult
		decodeJSON(t, run(t, e, "device", "import", csvFile, "--json").mustSucceed(t).stdout, &res)
		if res != (wire.ImportResult{Unchanged: 2}) {
			t.Errorf("second import = %+v, want 2 unchanged", res)
		}
	})
	t.Run("ok/device-import-jsonl-by-flag", func(t *testing.T) {
		f := write("batch.txt", `{"id":"fab-3","group":"line-a"}`+"\n")
		if out := run(t, e, "device", "import", f, "--format", "jsonl").mustSucceed(t).stdout; !strings.Contains(out, "1 created") {
			t.Errorf("output = %q", out)
		}
	})

	existing := filepath.Join(dir, "tokens.txt")
	tests := []struct {
		name string
		args []string
		code int
		want string // in stderr
	}{
		{"error/import-bad-line", []string{"device", "import", write("bad.csv", "id,group\nfab-4,line-a\nfab/5,line-a\n")}, cli.ExitBadInput, "line 3"},
		{"error/import-unknown-extension", []string{"device", "import", write("batch.xlsx", "")}, cli.ExitUsage, "--format"},
		{"error/import-missing-file", []string{"device", "import", filepath.Join(dir, "nope.csv")}, cli.ExitBadInput, "nope.csv"},
		{"error/group-both-policies", []string{"group", "put", "x", "--require-tpm", "--allow-tokens"}, cli.ExitUsage, "exclude"},
		{"error/token-without-group", []string{"token", "create"}, cli.ExitUsage, "--group"},
		{"error/token-for-tpm-group", []string{"token", "create", "--group", "line-a"}, cli.ExitConflict, "group list"},
		{"error/token-file-exists", []string{"token", "create", "--group", "sim", "--out", existing}, cli.ExitBadInput, "already exists"},
		{"error/token-bad-count", []string{"token", "create", "--group", "sim", "--count", "0"}, cli.ExitUsage, "--count"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := e.DB.Tokens(t.Context(), "")
			devices, _ := e.DB.Devices(t.Context(), store.DeviceFilter{})
			r := run(t, e, tc.args...)
			if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want exit %d mentioning %q", r.code, r.stderr, tc.code, tc.want)
			}
			after, _ := e.DB.Tokens(t.Context(), "")
			devicesAfter, _ := e.DB.Devices(t.Context(), store.DeviceFilter{})
			if len(after) != len(before) || len(devicesAfter) != len(devices) {
				t.Errorf("registry changed: tokens %d -> %d, devices %d -> %d", len(before), len(after), len(devices), len(devicesAfter))
			}
		})
	}
	t.Run("error/token-file-removed-when-refused", func(t *testing.T) {
		out := filepath.Join(dir, "refused.txt")
		if r := run(t, e, "token", "create", "--group", "line-a", "--out", out); r.code != cli.ExitConflict {
			t.Fatalf("exit %d", r.code)
		}
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Errorf("token file left behind: %v", err)
		}
	})
}
