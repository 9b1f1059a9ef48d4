// Package tpmsim opens the go-tpm simulator (Microsoft's reference TPM
// compiled in with cgo) for tests. Open exists only under the build tag
// tpmsimulator, like the tests that use it, so the default build needs no
// C compiler. KeyBlob and SigningTemplate work on any TPM and need no tag.
package tpmsim
