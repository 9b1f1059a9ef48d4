package api

import (
	"github.com/fleetgate/fleetgate/provisioning/wire"
	"github.com/fleetgate/fleetgate/store"
)

// The one place where registry records become what the API shows. The
// field names and encoding are those of the records themselves (a test
// holds the two side by side), minus what stays on the server: a
// certificate's DER (one GET of the certificate away, as PEM), of which
// only the issuer is shown.

func wireDevice(d store.Device) wire.Device {
	return wire.Device{
		ID:        d.ID,
		Status:    wire.DeviceStatus(d.Status),
		Reason:    d.Reason,
		Group:     d.Group,
		Metadata:  d.Metadata,
		CreatedAt: d.CreatedAt,
		UpdatedAt: d.UpdatedAt,
		Publish:   d.Publish,
		Subscribe: d.Subscribe,
		EKHash:    d.EKHash,
		AKPublic:  d.AKPublic,
	}
}

func wireCertificate(c store.Certificate) wire.Certificate {
	return wire.Certificate{
		Serial:      c.Serial,
		Fingerprint: c.Fingerprint,
		DeviceID:    c.DeviceID,
		NotBefore:   c.NotBefore,
		NotAfter:    c.NotAfter,
		Status:      wire.CertStatus(c.Status),
		Attestation: wire.Attestation(c.Attestation),
		IssuedAt:    c.IssuedAt,
		RevokedAt:   c.RevokedAt,
		Reason:      c.Reason,
		KeyHash:     c.KeyHash,
		Supersedes:  c.Supersedes,
		IssuerKeyID: store.IssuerKeyOf(c),
	}
}

// Tokens and audit events are shown whole: their wire types have the
// records' fields, so a plain conversion does, and stops compiling the day
// a record gains a field. A group holds a pointer to its limits, whose
// types differ, so it is copied field by field.

func wireGroup(g store.Group) wire.Group {
	w := wire.Group{Name: g.Name, RequireTPM: g.RequireTPM, AllowTokens: g.AllowTokens, Publish: g.Publish, Subscribe: g.Subscribe, CreatedAt: g.CreatedAt}
	if g.Limits != nil {
		l := wire.Limits(*g.Limits)
		w.Limits = &l
	}
	return w
}

func wireToken(t store.Token) wire.Token           { return wire.Token(t) }
func wireEvent(e store.AuditEvent) wire.AuditEvent { return wire.AuditEvent(e) }

// wireList converts every record with conv. An empty list is [] in JSON,
// never null, so that scripts need not tell the two apart.
func wireList[R, W any](records []R, conv func(R) W) []W {
	out := make([]W, len(records))
	for i, r := range records {
		out[i] = conv(r)
	}
	return out
}
