package cli

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/fleetgate/fleetgate/identity"
)

// readIDFile reads a list of device IDs: one per line; blank lines and
// everything from a '#' on are ignored (no device ID holds '#'). A line
// that is not a device ID refuses the whole file, naming the line.
func readIDFile(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errBadInput, err)
	}
	defer f.Close()
	ids, err := readIDs(f)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w; nothing was revoked", errBadInput, path, err)
	}
	return ids, nil
}

// readIDs is readIDFile's parser.
func readIDs(r io.Reader) ([]string, error) {
	var ids []string
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		id := strings.TrimSpace(line)
		if id == "" {
			continue
		}
		if err := identity.ValidateID(id); err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		ids = append(ids, id)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("no device IDs in the file")
	}
	return ids, nil
}
