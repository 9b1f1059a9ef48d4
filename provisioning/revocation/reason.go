package revocation

import (
	"strings"

	"golang.org/x/crypto/ocsp"
)

// reasonCode maps the free-text reason an operator gave to the RFC 5280
// CRLReason that relying parties understand. Text that names no reason
// clearly is "unspecified" (0), which CRLs and OCSP responses leave out.
func reasonCode(reason string) int {
	r := strings.ToLower(reason)
	switch {
	case strings.Contains(r, "compromise"), strings.Contains(r, "stolen"), strings.Contains(r, "leak"):
		return ocsp.KeyCompromise
	case strings.Contains(r, "supersede"), strings.Contains(r, "replace"), strings.Contains(r, "rotat"):
		return ocsp.Superseded
	case strings.Contains(r, "affiliation"):
		return ocsp.AffiliationChanged
	case strings.Contains(r, "decommission"), strings.Contains(r, "retire"), strings.Contains(r, "cessation"),
		strings.Contains(r, "scrap"), strings.Contains(r, "end of life"):
		return ocsp.CessationOfOperation
	}
	return ocsp.Unspecified
}
