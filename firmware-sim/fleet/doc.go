// Package fleet runs thousands of simulated devices through the real
// device agent (device-agent/agent) against a fleetgate server, drives a
// scenario over them and measures what happened.
//
// # Basics
//
// Run takes a Config: how many devices (software keys enrolled with
// one-time tokens created in batches, and optionally a few TPM devices on
// swtpm, pre-registered by EK hash), which server (one it starts from the
// fleetgate binary, or a running one reached with an operator
// certificate), and the scenario: connect rate and ramp, publish interval,
// QoS and payload, steady duration, rotation of some devices under load,
// a reconnect storm (every connection dropped at once), and the
// revocation of a share of the devices, which must be dropped at once and
// stay out. It returns a report.Report.
//
// Each device is one agent.Agent with its own key and certificate, state
// in memory, and its connections made by the simulator's dialer so it can
// time the TLS handshake and the CONNECT apart, spread the connections
// over 127.0.0.x source addresses (one loopback address pair has only
// ~28,000 ephemeral ports), and drop them all for a storm.
//
// # Caveats
//
// Every device holds a socket in the simulator and one in the server, and
// the server holds one per device enrolling: both processes need an
// open-file limit above the device count. Run raises its own soft limit to
// the hard limit (and the hard limit, with CAP_SYS_RESOURCE); a server it
// starts inherits it. Where the hard limit is below what a run needs, Run
// says so before starting rather than failing half-way.
package fleet
