package coord

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/fleetgate/fleetgate/firmware-sim/report"
)

// tailLines is how many of a child's last output lines a failure shows.
const tailLines = 20

// child is one simulator process.
type child struct {
	index int
	args  []string
	out   string // its report directory
	log   string // its stdout and stderr

	pid    int
	maxRSS uint64
	mu     sync.Mutex
	tail   []string
}

// keep remembers a line of the child's output.
func (c *child) keep(line string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tail = append(c.tail, line)
	if len(c.tail) > tailLines {
		c.tail = c.tail[len(c.tail)-tailLines:]
	}
}

func (c *child) lastLines() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return "\t" + strings.Join(c.tail, "\n\t")
}

// run runs the child to its end, feeding its status lines to b. Exit
// status 3 (a check failed) still made a report; any other failure is
// ErrChild naming the child, with its last lines.
func (c *child) run(ctx context.Context, bin []string, env []string, b *board) error {
	logFile, err := os.Create(c.log)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrChild, err)
	}
	defer logFile.Close()
	cmd := exec.CommandContext(ctx, bin[0], append(slices.Clip(bin[1:]), c.args...)...)
	if len(env) > 0 {
		cmd.Env = append(os.Environ(), env...) // later entries win
	}
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 30 * time.Second
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("%w: process %d: %w", ErrChild, c.index, err)
	}
	c.mu.Lock()
	c.pid = cmd.Process.Pid
	c.mu.Unlock()
	b.setRunning(c.index, true)
	lines := make(chan struct{})
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(logFile, line)
			if st, ok := parseStatus(line); ok {
				b.set(c.index, st)
			}
			c.keep(line)
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	err = cmd.Wait()
	pw.Close()
	<-lines
	b.setRunning(c.index, false)
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		c.maxRSS = uint64(ru.Maxrss) * 1024 // kilobytes on Linux
	}
	var exit *exec.ExitError
	if err != nil && !(errors.As(err, &exit) && exit.ExitCode() == 3) {
		return fmt.Errorf("%w: process %d (pid %d, log %s): %w; last lines:\n%s", ErrChild, c.index, c.pid, c.log, err, c.lastLines())
	}
	return nil
}

// procID is the child's pid once started, else 0.
func (c *child) procID() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pid
}

// report reads the child's report.
func (c *child) report() (*report.Report, error) {
	f, err := os.Open(filepath.Join(c.out, "report.json"))
	if err != nil {
		return nil, fmt.Errorf("%w: process %d wrote no report: %w; last lines:\n%s", ErrChild, c.index, err, c.lastLines())
	}
	defer f.Close()
	r, err := report.ReadJSON(f)
	if err != nil {
		return nil, fmt.Errorf("%w: process %d: %w", ErrChild, c.index, err)
	}
	return r, nil
}
