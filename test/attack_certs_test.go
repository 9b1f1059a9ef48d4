package test

import (
	"crypto/tls"
	"crypto/x509"
	"testing"

	"github.com/fleetgate/fleetgate/firmware-sim/mqttwire"
	"github.com/fleetgate/fleetgate/internal/testkit/pki"
)

// certificateRows are the refusals that depend only on the certificate
// presented: crypto/tls refuses what its verifier sees (foreign CA,
// validity window, serverAuth-only EKU); the broker refuses what Go lets
// through (no EKU, CA:TRUE leaf) and what only the registry knows.
func certificateRows() []attackRow {
	withCert := func(adjust func(*x509.Certificate)) func(*testing.T, *attackEnv) *tls.Certificate {
		return func(t *testing.T, e *attackEnv) *tls.Certificate {
			c := e.craft(t, attackerID, adjust)
			return &c
		}
	}
	cases := []refusalCase{
		{
			name:   "error/no client certificate",
			cert:   func(*testing.T, *attackEnv) *tls.Certificate { return nil },
			stage:  atTLS,
			reason: "tls",
		},
		{
			name: "error/certificate from a foreign CA",
			cert: func(t *testing.T, e *attackEnv) *tls.Certificate {
				c := pki.Foreign(t).Device(t, attackerID, nil)
				return &c
			},
			stage:  atTLS,
			reason: "bad_certificate",
		},
		{
			name:   "error/expired certificate",
			cert:   withCert(pki.Expired),
			stage:  atTLS,
			reason: "bad_certificate",
		},
		{
			name:   "error/certificate not yet valid",
			cert:   withCert(pki.NotYetValid),
			stage:  atTLS,
			reason: "bad_certificate",
		},
		{
			name:   "error/EKU serverAuth only",
			cert:   withCert(pki.ServerAuthOnly),
			stage:  atTLS,
			reason: "bad_certificate",
		},
		{
			name:   "error/no EKU",
			cert:   withCert(pki.NoEKU),
			stage:  atConnect,
			reason: "eku",
		},
		{
			name:   "error/CA:TRUE leaf",
			cert:   withCert(pki.CALeaf),
			stage:  atConnect,
			reason: "ca_leaf",
		},
		{
			name: "error/valid certificate for an unregistered device",
			cert: func(t *testing.T, e *attackEnv) *tls.Certificate {
				c := e.craft(t, "atk-ghost", nil)
				return &c
			},
			pk:     func(*attackEnv) []byte { return session("atk-ghost").Packet() },
			stage:  atConnect,
			reason: "unknown_device",
		},
		{
			name:   "error/unknown serial signed by the device CA",
			cert:   withCert(nil),
			stage:  atConnect,
			reason: "unknown_cert",
		},
		{
			name:   "error/empty client ID",
			cert:   func(_ *testing.T, e *attackEnv) *tls.Certificate { return &e.attacker },
			pk:     func(*attackEnv) []byte { return session("").Packet() },
			stage:  atConnect,
			reason: "client_id_mismatch",
		},
		{
			name: "error/will on a foreign topic",
			cert: func(_ *testing.T, e *attackEnv) *tls.Certificate { return &e.attacker },
			pk: func(*attackEnv) []byte {
				o := session(attackerID)
				o.WillTopic, o.WillPayload = "devices/"+victimID+"/status", "offline"
				return o.Packet()
			},
			stage:  atConnect,
			reason: "will_topic",
		},
	}
	rows := make([]attackRow, 0, len(cases))
	for _, c := range cases {
		rows = append(rows, attackRow{name: c.name, run: c.run})
	}
	return rows
}

// registryRows are refusals that follow an operator action: the device
// connects first, so the refusal is the action's doing.
func registryRows() []attackRow {
	type action struct {
		name   string
		act    func(s *server, id string, cert tls.Certificate)
		reason string
	}
	actions := []action{
		{"error/revoked certificate", func(s *server, _ string, cert tls.Certificate) {
			s.MustCtl("cert", "revoke", cert.Leaf.SerialNumber.Text(16), "--reason", "attack matrix")
		}, "cert_revoked"},
		{"error/suspended device", func(s *server, id string, _ tls.Certificate) {
			s.MustCtl("device", "suspend", id, "--reason", "attack matrix")
		}, "device_suspended"},
		// Revoking a device revokes its certificates, and the broker
		// checks the certificate first.
		{"error/revoked device", func(s *server, id string, _ tls.Certificate) {
			s.MustCtl("device", "revoke", id, "--reason", "attack matrix")
		}, "cert_revoked|device_revoked"},
	}
	var rows []attackRow
	for i, a := range actions {
		rows = append(rows, attackRow{name: a.name, run: func(t *testing.T, e *attackEnv) {
			id := "atk-state-" + string(rune('a'+i))
			cert := e.device(t, id)
			c := e.connectMQTT(t, cert, session(id))
			_ = c.send(mqttwire.Disconnect)
			c.Close()
			a.act(e.forTest(t), id, cert)
			o := e.attempt(t, e.tlsConfig(&cert), session(id).Packet())
			e.expectRefused(t, o, atConnect, a.reason)
		}})
	}
	rows = append(rows, attackRow{name: "error/group requires TPM, certificate issued by an operator", run: func(t *testing.T, e *attackEnv) {
		// The policy is tightened after issuing, so the row does not depend
		// on whether the operator API also refuses to issue in such a
		// group: the broker must refuse at CONNECT either way.
		s := e.forTest(t)
		s.MustCtl("group", "put", "atk-tpm-only")
		cert := e.device(t, "atk-tpm-grp", "--group", "atk-tpm-only")
		s.MustCtl("group", "put", "atk-tpm-only", "--require-tpm")
		o := e.attempt(t, e.tlsConfig(&cert), session("atk-tpm-grp").Packet())
		e.expectRefused(t, o, atConnect, "attestation_policy")
	}})
	return rows
}
