// Package hsm opens a PKCS#11 token (a hardware security module, or
// SoftHSM) and hands out its keys as crypto.Signers, by label. Keys it
// generates are ECDSA P-256, sensitive and not extractable: they sign
// inside the token and never leave it.
//
// It wraps github.com/ThalesGroup/crypto11 (over github.com/miekg/pkcs11)
// and needs cgo: a build without it refuses to open a token and says
// why. The PIN is read from a file or from a named environment variable,
// never from a command-line value that process listings show.
package hsm
