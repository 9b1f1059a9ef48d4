package broker

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"slices"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/fleetgate/fleetgate/identity"
	"github.com/fleetgate/fleetgate/store"
)

// Reasons a CONNECT is refused or a session dropped. They are stable log
// values (reason=...) that operators search for; the device only ever hears
// "not authorized".
const (
	reasonNoClientCert     = "no_client_cert"     // no TLS state or no peer certificate
	reasonEKU              = "eku"                // leaf lacks the clientAuth extended key usage
	reasonCALeaf           = "ca_leaf"            // leaf says CA:TRUE
	reasonExpired          = "expired"            // leaf NotAfter has passed
	reasonNotYetValid      = "not_yet_valid"      // leaf NotBefore is in the future
	reasonNoIdentity       = "no_identity"        // no (or a malformed) identity URI SAN
	reasonUnknownDevice    = "unknown_device"     // the registry does not know the device
	reasonUnknownCert      = "unknown_cert"       // the registry does not know this serial for the device
	reasonCertMismatch     = "cert_mismatch"      // serial known, but the fingerprint differs
	reasonCertRevoked      = "cert_revoked"       // the certificate is revoked
	reasonCertNotActive    = "cert_not_active"    // the certificate is superseded (or another non-active state)
	reasonDeviceSuspended  = "device_suspended"   // the device is suspended
	reasonDeviceRevoked    = "device_revoked"     // the device is revoked
	reasonDeviceNotActive  = "device_not_active"  // the device is in an unknown non-active state
	reasonClientIDMismatch = "client_id_mismatch" // MQTT client ID is not the certificate identity (or empty)
	reasonWillTopic        = "will_topic"         // the Will topic is outside the publish ACL
	reasonRegistryError    = "registry_error"     // the registry failed: refuse, never guess
)

// peerLeaf returns the device's certificate from a TLS connection state.
func peerLeaf(cs tls.ConnectionState) (*x509.Certificate, bool) {
	if !cs.HandshakeComplete || len(cs.PeerCertificates) == 0 {
		return nil, false
	}
	return cs.PeerCertificates[0], true
}

// checkLeaf applies the certificate checks that need no registry, in order,
// and returns the device ID the certificate names. Go's verifier lets a leaf
// without EKU and a CA:TRUE leaf through, and skips the validity window on a
// resumed session, so each is checked here again.
func checkLeaf(leaf *x509.Certificate, now time.Time) (deviceID, reason string) {
	switch {
	case !slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageClientAuth):
		return "", reasonEKU
	case leaf.IsCA:
		return "", reasonCALeaf
	case now.After(leaf.NotAfter):
		return "", reasonExpired
	case now.Before(leaf.NotBefore):
		return "", reasonNotYetValid
	}
	id, err := identity.FromCertificate(leaf)
	if err != nil {
		return "", reasonNoIdentity
	}
	return id, ""
}

// serialHex and fingerprint give a certificate's registry keys, in the
// registry's spelling.
var serialHex, fingerprint = identity.SerialHex, identity.Fingerprint

// deviceFinder is an optional Registry capability: when Lookup says "not
// found", it tells an unknown device from an unknown certificate for the
// log. *store.DB has it.
type deviceFinder interface {
	Device(ctx context.Context, id string) (store.Device, error)
}

var _ deviceFinder = (*store.DB)(nil)

// checkRegistry looks the certificate up and judges the records. err is set
// only for a registry failure (reason registry_error), which the caller
// logs at Error.
func checkRegistry(ctx context.Context, reg Registry, deviceID string, leaf *x509.Certificate) (store.Device, store.Certificate, string, error) {
	serial := serialHex(leaf)
	dev, cert, err := reg.Lookup(ctx, deviceID, serial)
	switch {
	case errors.Is(err, store.ErrNotFound):
		if f, ok := reg.(deviceFinder); ok {
			if _, derr := f.Device(ctx, deviceID); errors.Is(derr, store.ErrNotFound) {
				return dev, cert, reasonUnknownDevice, nil
			}
			return dev, cert, reasonUnknownCert, nil
		}
		return dev, cert, reasonUnknownDevice, nil
	case err != nil:
		return dev, cert, reasonRegistryError, err
	}
	switch {
	case dev.ID != deviceID || cert.DeviceID != deviceID || cert.Serial != serial:
		// The registry answered for another record: never trust it.
		return dev, cert, reasonUnknownCert, nil
	case cert.Fingerprint != fingerprint(leaf):
		return dev, cert, reasonCertMismatch, nil
	case cert.Status == store.CertRevoked:
		return dev, cert, reasonCertRevoked, nil
	case cert.Status != store.CertActive:
		return dev, cert, reasonCertNotActive, nil
	case dev.Status == store.DeviceSuspended:
		return dev, cert, reasonDeviceSuspended, nil
	case dev.Status == store.DeviceRevoked:
		return dev, cert, reasonDeviceRevoked, nil
	case dev.Status != store.DeviceActive:
		return dev, cert, reasonDeviceNotActive, nil
	}
	return dev, cert, "", nil
}

// checkPacket applies the CONNECT packet checks: the client ID must be the
// certificate identity exactly (an empty ID is refused, never assigned), and
// a Will must go where the device may publish.
func checkPacket(pk packets.Packet, deviceID string, g grants) string {
	switch {
	case pk.Connect.ClientIdentifier != deviceID:
		return reasonClientIDMismatch
	case pk.Connect.WillFlag && !g.canPublish(pk.Connect.WillTopic):
		return reasonWillTopic
	}
	return ""
}
