// Package bench measures the broker against references in one run: a
// bare crypto/tls listener that answers like a broker with nothing behind
// it, plain mochi-mqtt over mTLS with no authentication, and Mosquitto
// with require_certificate. Every contender runs in its own process, is
// driven by the same client code (mqttwire) with the same device
// certificates, and is measured in alternating rounds so that all see the
// same machine noise.
//
// # Basics
//
// Run enrolls the devices through a started fleetgate server (their
// certificates are then used against every contender), starts the other
// contenders with fleetgate's server certificate and device CA, and
// measures connects per second and their p99 latency, QoS 0 and QoS 1
// messages per second (each client publishes to itself through the
// server, a window of messages in flight), and server memory per idle
// connection. It returns a report.Bench with the goals checked.
//
// # Caveats
//
// Client and servers share the machine's cores, as they do in every
// loopback benchmark: the ratios between contenders are the result, not
// the absolute numbers. Go peers negotiate X25519MLKEM768 and OpenSSL 3.0
// X25519; each row records the key exchange it used.
package bench
