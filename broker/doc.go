// Package broker is the fleet's MQTT broker: mochi-mqtt v2 behind a mutual
// TLS listener, with one hook that admits only registered devices and keeps
// each of them inside its own topic namespace.
//
// # Basics
//
// The listener requires a client certificate that chains to the device CA
// (Config.ClientCAs). It keeps at most Config.MaxPending sockets that have
// not authenticated yet (a new one evicts the oldest, so idle sockets cannot
// lock devices out), and closes any socket that has not completed the TLS
// handshake and sent its CONNECT within Config.HandshakeTimeout.
//
// The device CA pool, the handshake timeout and the pending cap can be
// changed while the broker serves (SetClientCAs, SetHandshakeTimeout,
// SetMaxPending), and Config.GetCertificate is asked at every handshake, so
// a reload of the CA material never closes a connection: the next
// handshake uses the new material, and devices already connected keep
// their sessions.
//
// At CONNECT the hook checks, in this order, and refuses with CONNACK "not
// authorized" (v3.1.1 code 5, v5 0x87) at the first failure, logging a
// stable reason:
//
//  1. a peer certificate is present (no_client_cert);
//  2. its extended key usage names clientAuth (eku): Go accepts a leaf
//     without EKU for any purpose;
//  3. it is not a CA (ca_leaf);
//  4. it is inside its validity window now (expired, not_yet_valid): Go
//     does not check again on a resumed TLS session;
//  5. it names a device in its only URI SAN (no_identity);
//  6. the registry knows the device and this serial for it (unknown_device,
//     unknown_cert), with the same SHA-256 fingerprint (cert_mismatch);
//  7. the certificate is active (cert_revoked, cert_not_active);
//  8. the device is active (device_suspended, device_revoked);
//  9. the MQTT client ID equals the device ID exactly; an empty client ID is
//     refused, never assigned (client_id_mismatch);
//  10. a Will, if any, goes to a topic the device may publish to
//     (will_topic).
//
// A registry error refuses the device (registry_error, logged at Error).
// All of this happens before mochi looks at an existing session with the
// same client ID, so a refused attempt never disturbs the device that is
// connected. A second connection that passes every check takes the
// session over, as MQTT prescribes.
//
// # Topic ACL
//
// Everything not allowed is denied. A device with ID <id> may
//
//   - publish to any topic matched by devices/<id>/# (which includes
//     devices/<id> itself), or by one of its registry publish grants
//     (Device.Publish);
//   - subscribe to a filter contained in devices/<id>/# or in one of its
//     registry subscribe grants (Device.Subscribe).
//
// Subscribe filters are matched by containment, not as topics: filter F is
// allowed only if every topic F can match is matched by an allowed filter.
// devices/<id>/+ lies within devices/<id>/#; #, +/x/# and devices/+/x do
// not. A shared subscription $share/<group>/<filter> is judged by <filter>;
// a malformed one (empty group, wildcard in the group, no filter) is
// denied. Any topic or filter starting with '$' ($SYS included) is denied,
// even under a catch-all grant, except a subscription contained in a grant
// that itself starts with EventsRoot (the lifecycle events). No client can
// publish under '$'. Publish grants do not allow subscribing,
// nor subscribe grants publishing. Malformed grants match nothing.
//
// The same subscribe rule is applied to every message mochi is about to
// deliver: live, retained, and queued for an offline persistent session.
// Retained messages obey the publish rule when they are stored, and the
// Will topic is checked at CONNECT, since mochi publishes the Will on the
// device's behalf without asking the ACL. mochi resends in-flight messages
// of an inherited session without asking either, so when a device
// reconnects, inherited messages and subscriptions its current grants do
// not allow are dropped first.
//
// # Revocation and expiry
//
// Start subscribes to the registry's change feed. When a device leaves the
// active state, or a certificate does, the sessions using it are dropped at
// once (DISCONNECT "not authorized", then the socket is closed), their Will
// is discarded, and the log line "device disconnected" records the reason
// and the delay since the registry change. A session is also dropped when
// its certificate's NotAfter passes. Reconnects are refused by the CONNECT
// checks.
//
// # MQTT over secure WebSockets
//
// With Config.WSSAddr set, a second listener serves MQTT over WebSockets
// (wss://host:port/mqtt, subprotocol "mqtt") with the same TLS policy. It
// is the TCP listener plus an HTTP upgrade after the handshake, under the
// same deadline and pending slot; mochi reads MQTT from the WebSocket's
// binary messages through the same connection type, whose TLS state the
// admission checks read, so every rule above applies unchanged. A
// WebSocket message is capped at MaxPacketSize.
//
// # Lifecycle events
//
// The broker publishes JSON Events on EventsRoot<type>/<device>:
// connected, disconnected (with a reason), refused (with the failed check)
// and rotated (the first use of a rotated certificate), at QoS 1, never
// retained. They go through an inline client past the ACL, and out on the
// bus like any message, so a $share group gets each once cluster-wide.
//
// # Caveats
//
// Grants are read at CONNECT; a changed grant applies from the device's
// next connection. If the change feed ends while the broker runs, the
// broker stops (see Done) rather than serve without revocation. mochi keeps
// persistent sessions of disconnected devices in memory until they expire
// (Capabilities.MaximumSessionExpiryInterval, mochi's default). A client
// that connects with keepalive 0 has no read deadline once authenticated,
// as MQTT allows.
//
// # Idle cost
//
// mochi's event loop goes over every client once a second; the broker
// stops those tickers and expires sessions, retained and inflight messages
// on events instead (sweep.go, retain.go), so idle devices cost no
// garbage and almost no CPU. After a burst it returns freed memory to the
// OS, and after a minute of quiet it collects at Go's default target
// until the next burst (memory.go, idle.go).
package broker
