package wire

import (
	"net/url"
	"strings"
)

// Routes of the API. Those with a {wildcard} are http.ServeMux patterns as
// the server registers them; clients fill the wildcard with Expand.
const (
	PathCA = "/v1/ca" // public trust material, no client certificate

	PathDevices            = "/v1/devices"
	PathDevicesImport      = "/v1/devices/import"
	PathDevice             = "/v1/devices/{id}"
	PathDeviceSuspend      = "/v1/devices/{id}/suspend"
	PathDeviceResume       = "/v1/devices/{id}/resume"
	PathDeviceRevoke       = "/v1/devices/{id}/revoke"
	PathDeviceCertificates = "/v1/devices/{id}/certificates"
	// PathDeviceGrants takes an ACLRequest: the device's own grants.
	PathDeviceGrants = "/v1/devices/{id}/grants"
	// PathDeviceProfile takes a ProfileRequest: the device's group and
	// metadata.
	PathDeviceProfile = "/v1/devices/{id}/profile"

	PathCertificates      = "/v1/certificates"
	PathCertificateCount  = "/v1/certificates/count"
	PathCertificate       = "/v1/certificates/{serial}"
	PathCertificateRevoke = "/v1/certificates/{serial}/revoke"

	// PathRevocations takes a bulk revocation: a group, a device list or
	// an issuing CA key (BulkRevokeRequest).
	PathRevocations = "/v1/revocations"

	PathGroups = "/v1/groups"
	// PathForeignCAs lists the foreign device CAs; PathForeignCA puts one
	// (ForeignCARequest).
	PathForeignCAs = "/v1/foreign-cas"
	PathForeignCA  = "/v1/foreign-cas/{name}"
	PathGroup      = "/v1/groups/{name}"
	// PathGroupACL takes an ACLRequest: the group's ACL templates.
	PathGroupACL = "/v1/groups/{name}/acl"
	// PathGroupLimits takes Limits: the group's per-device limits.
	PathGroupLimits = "/v1/groups/{name}/limits"
	PathTokens      = "/v1/tokens"
	PathAudit       = "/v1/audit"

	// Device routes: enrollment needs no client certificate, rotation the
	// device's current one.
	PathTPMStart       = "/v1/enroll/tpm/start"
	PathTPMFinish      = "/v1/enroll/tpm/finish"
	PathToken          = "/v1/enroll/token"
	PathRotationStart  = "/v1/rotate/start"
	PathRotationFinish = "/v1/rotate/finish"

	// EST (RFC 7030): PathEST followed by one of the operations below,
	// or by "<label>/" and the operation, where the label names the
	// device group the enrolment must belong to.
	PathEST           = "/.well-known/est"
	ESTCACerts        = "cacerts"
	ESTSimpleEnroll   = "simpleenroll"
	ESTSimpleReenroll = "simplereenroll"
	ESTCSRAttrs       = "csrattrs"
)

// Expand fills the one {wildcard} of pattern with value, escaped so that
// it stays a single path segment: a malformed ID reaches the server as
// itself and is refused there, never routed elsewhere. A pattern without a
// wildcard comes back unchanged.
func Expand(pattern, value string) string {
	start := strings.IndexByte(pattern, '{')
	end := strings.IndexByte(pattern, '}')
	if start < 0 || end < start {
		return pattern
	}
	return pattern[:start] + url.PathEscape(value) + pattern[end+1:]
}
