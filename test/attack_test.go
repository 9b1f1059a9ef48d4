package test

import (
	"fmt"
	"testing"
)

// attackRow is one case of the attack matrix: run attacks the server in
// env and fails t when the server lets the attack through.
type attackRow struct {
	name string
	run  func(t *testing.T, e *attackEnv)
}

// TestAttackMatrix runs every refusal case of the broker and the
// enrollment API against real server processes, with the attacker in this
// process: crafted certificates, hand-made MQTT packets, paho clients,
// HTTPS requests. After the table it prints one summary line,
// "attack matrix: N passed, N failed", counting the rows that ran.
func TestAttackMatrix(t *testing.T) {
	e := newAttackEnv(t)
	var rows []attackRow
	rows = append(rows, certificateRows()...)
	rows = append(rows, registryRows()...)
	rows = append(rows, aclRows()...)
	rows = append(rows, sessionRows()...)
	rows = append(rows, enrollmentRows()...)
	rows = append(rows, exhaustionRows()...)

	var passed, failed int
	for _, r := range rows {
		ran := false
		ok := t.Run(r.name, func(t *testing.T) {
			ran = true
			r.run(t, e)
		})
		switch {
		case !ran: // filtered out by -run
		case ok:
			passed++
		default:
			failed++
		}
	}
	fmt.Printf("attack matrix: %d passed, %d failed\n", passed, failed)
}
