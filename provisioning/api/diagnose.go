package api

import (
	"fmt"
	"time"

	"github.com/fleetgate/fleetgate/provisioning/wire"
	"github.com/fleetgate/fleetgate/store"
)

// refusalWords says in plain words what one recorded refusal means, as of
// now, and what to do about it. The wording is for operators; the device
// only ever heard "not authorized".
func refusalWords(r store.Refusal, now time.Time, superseded func(serial string) (time.Time, bool)) (what, next string) {
	id := r.DeviceID
	switch r.Check {
	case "expired":
		return fmt.Sprintf("certificate expired %s ago (valid until %s)", ago(now.Sub(r.NotAfter)), clock(r.NotAfter)),
			"the agent re-enrols on its next start, or rotate it (`fleetgate cert issue " + id + "`)"
	case "not_yet_valid":
		return fmt.Sprintf("certificate is not valid before %s", clock(r.NotBefore)),
			"the device's clock (or the CA host's) is wrong: check its time source"
	case "client_id_mismatch":
		return fmt.Sprintf("client ID %q does not match the certificate's identity %q", r.ClaimedClientID, id),
			fmt.Sprintf("configure the device's MQTT client ID to be exactly %q", id)
	case "cert_not_active":
		if at, ok := superseded(r.Serial); ok {
			return fmt.Sprintf("certificate serial %s was superseded by rotation at %s — the device is using its old certificate", short(r.Serial), clock(at)),
				"make the device use the certificate it rotated to; if it lost it, re-enrol it or issue a new one"
		}
		return fmt.Sprintf("certificate serial %s is no longer active", short(r.Serial)),
			"see `fleetgate device show " + id + "` and re-enrol or issue a new certificate"
	case "cert_revoked":
		return fmt.Sprintf("certificate serial %s was revoked", short(r.Serial)),
			"issue a new certificate (`fleetgate cert issue " + id + "`) or re-enrol the device"
	case "unknown_cert":
		return fmt.Sprintf("certificate serial %s is not registered for device %q", short(r.Serial), id),
			"the certificate was not issued by this registry for this device: re-enrol it"
	case "cert_mismatch":
		return fmt.Sprintf("certificate serial %s is not the certificate the registry issued under that serial (fingerprint %s differs)", short(r.Serial), short(r.Fingerprint)),
			"treat it as a forged or foreign certificate; re-enrol the genuine device"
	case "unknown_device":
		return fmt.Sprintf("the certificate names device %q, which is not registered", id),
			"register the device (`fleetgate device register " + id + "`), or check which registry issued its certificate"
	case "unknown_ca":
		return fmt.Sprintf("TLS handshake refused: certificate from an unknown CA (issuer %s)", r.Issuer),
			"the certificate was not issued by this fleet's device CA (or by a retired one): re-enrol the device against this server"
	case "bad_certificate":
		return "TLS handshake refused the certificate: " + r.Detail,
			"re-enrol the device, or issue it a new certificate"
	case "eku":
		return "the certificate lacks the TLS client authentication usage (clientAuth)",
			"issue the device a certificate from this fleet's CA, which sets it"
	case "ca_leaf":
		return "the device presented a CA certificate, not a device certificate",
			"configure the device with its own certificate"
	case "no_identity":
		return fmt.Sprintf("the certificate (subject %s) names no device identity", r.Subject),
			"issue the device a certificate from this fleet's CA, which writes the identity"
	case "device_suspended":
		return "device was suspended", "resume it once the reason is resolved (`fleetgate device resume " + id + "`)"
	case "device_revoked":
		return "device was revoked", "revocation is final: register and enrol the device under a new ID"
	case "will_topic":
		return "the CONNECT's Will topic is outside the device's publish grants",
			"change the device's Will topic, or grant it (`fleetgate device register --publish` for new devices)"
	case "revoked_during_connect":
		return "the device's records changed while it was connecting", "connect again; if it keeps failing, see the other refusals"
	case "foreign_intermediate":
		return "the certificate chains to a registered foreign CA through an intermediate its record does not allow",
			"add the intermediate to the foreign CA's record, or issue the device from an allowed one"
	case "foreign_not_allowed":
		return "the certificate is not on the allow-list of the foreign CA that issued it",
			"add the device to the foreign CA's allow-list"
	case "foreign_id_taken":
		return fmt.Sprintf("the device ID %q derived from the foreign certificate belongs to another group or certificate", id),
			"resolve the clash in the registry (`fleetgate device show " + id + "`)"
	case "foreign_serial_taken":
		return fmt.Sprintf("the foreign certificate's serial %s is recorded for another device", short(r.Serial)),
			"the foreign CA reused a serial: revoke the stale record or have it reissue"
	case "connect_rate":
		return "the device connected more often than the broker's limit allows (" + r.Detail + "); the broker answered \"quota exceeded\" (MQTT 3.1.1: \"server unavailable\")",
			"find why it reconnects so often (see its disconnected events: a crash loop, two devices sharing one certificate, a short keepalive); it is let in again once its rate falls below the limit (limits.connects_per_minute, `--limit-connects-per-minute`)"
	case "registry_error":
		return "the registry failed while the broker checked the device: " + r.Detail,
			"check the registry's health (/readyz, fleetgate_registry_* metrics); the device retries by itself"
	}
	return "refused (" + r.Check + ")", "see the broker log for reason=" + r.Check
}

// ago formats a duration as people say it: 40 s, 12 min, 3 h, 2 d.
func ago(d time.Duration) string {
	switch {
	case d < 0:
		return "0 s"
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h", int(d.Hours()))
	}
	return fmt.Sprintf("%d d", int(d.Hours()/24))
}

// clock formats a time for a sentence: UTC to the minute.
func clock(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

// short abbreviates a long hex serial or fingerprint.
func short(hex string) string {
	if len(hex) > 16 {
		return hex[:16] + "…"
	}
	return hex
}

// wireRefusal converts a refusal and puts its meaning into Detail.
func wireRefusal(r store.Refusal, now time.Time, superseded func(string) (time.Time, bool)) wire.Refusal {
	what, _ := refusalWords(r, now, superseded)
	return wire.Refusal{
		Time: r.Time, First: r.First, Count: r.Count, Broker: r.Broker, Remote: r.Remote,
		DeviceID: r.DeviceID, ClaimedClientID: r.ClaimedClientID, Serial: r.Serial, Fingerprint: r.Fingerprint,
		Issuer: r.Issuer, Subject: r.Subject, NotBefore: r.NotBefore, NotAfter: r.NotAfter,
		Check: r.Check, Detail: what,
	}
}
