//go:build tpmsimulator

package attest_test

import "github.com/fleetgate/fleetgate/internal/testkit/tpmsim"

// Keys tpmkey would never create, loaded through tpmkey's own blob format.
var (
	customBlob         = tpmsim.KeyBlob
	tpmSigningTemplate = tpmsim.SigningTemplate
)
