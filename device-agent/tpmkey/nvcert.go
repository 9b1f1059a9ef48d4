package tpmkey

import (
	"errors"
	"fmt"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
)

// nvChunk is the NV read size. 512 bytes is below every TPM's
// TPM_PT_NV_BUFFER_MAX seen in practice, so no capability query is needed.
const nvChunk = 512

// maxCertSize bounds the certificate read so a corrupt NV public area cannot
// make the agent loop for long.
const maxCertSize = 8192

// hasEKCert reports whether the NV index is defined and written.
func hasEKCert(t transport.TPM, index tpm2.TPMHandle) (bool, error) {
	rp, err := tpm2.NVReadPublic{NVIndex: index}.Execute(t)
	if errors.Is(err, tpm2.TPMRCHandle) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("tpmkey: read NV %#x public: %w", uint32(index), err)
	}
	pub, err := rp.NVPublic.Contents()
	if err != nil {
		return false, fmt.Errorf("tpmkey: NV %#x public: %w", uint32(index), err)
	}
	return pub.Attributes.Written && pub.DataSize > 0, nil
}

// readEKCert returns the contents of the NV index, or nil if it is not
// defined (TPM_RC_HANDLE) or was never written.
func readEKCert(t transport.TPM, index tpm2.TPMHandle) ([]byte, error) {
	rp, err := tpm2.NVReadPublic{NVIndex: index}.Execute(t)
	if errors.Is(err, tpm2.TPMRCHandle) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("tpmkey: read NV %#x public: %w", uint32(index), err)
	}
	pub, err := rp.NVPublic.Contents()
	if err != nil {
		return nil, fmt.Errorf("tpmkey: NV %#x public: %w", uint32(index), err)
	}
	if !pub.Attributes.Written || pub.DataSize == 0 {
		return nil, nil
	}
	if pub.DataSize > maxCertSize {
		return nil, fmt.Errorf("tpmkey: NV %#x holds %d bytes, more than a certificate", uint32(index), pub.DataSize)
	}
	// Manufacturers set AuthRead (empty index auth) or OwnerRead (empty
	// owner auth on a fresh device); either works without a secret.
	auth := tpm2.AuthHandle{Handle: index, Name: rp.NVName, Auth: tpm2.PasswordAuth(nil)}
	if !pub.Attributes.AuthRead {
		auth = tpm2.AuthHandle{Handle: tpm2.TPMRHOwner, Auth: tpm2.PasswordAuth(nil)}
	}
	out := make([]byte, 0, pub.DataSize)
	for off := uint16(0); off < pub.DataSize; {
		n := min(pub.DataSize-off, nvChunk)
		rsp, err := tpm2.NVRead{
			AuthHandle: auth,
			NVIndex:    tpm2.NamedHandle{Handle: index, Name: rp.NVName},
			Size:       n,
			Offset:     off,
		}.Execute(t)
		if err != nil {
			return nil, fmt.Errorf("tpmkey: read NV %#x at %d: %w", uint32(index), off, err)
		}
		if len(rsp.Data.Buffer) == 0 {
			return nil, fmt.Errorf("tpmkey: read NV %#x at %d: empty answer", uint32(index), off)
		}
		out = append(out, rsp.Data.Buffer...)
		off += uint16(len(rsp.Data.Buffer))
	}
	return trimDER(out), nil
}

// trimDER drops the padding some manufacturers leave after the certificate
// in a fixed-size NV index, using the outer DER SEQUENCE length.
func trimDER(b []byte) []byte {
	if len(b) < 2 || b[0] != 0x30 {
		return b
	}
	n, hdr := int(b[1]), 2
	if n&0x80 != 0 {
		l := n & 0x7f
		if l == 0 || l > 3 || len(b) < 2+l {
			return b
		}
		n = 0
		for _, c := range b[2 : 2+l] {
			n = n<<8 | int(c)
		}
		hdr += l
	}
	if hdr+n <= len(b) {
		return b[:hdr+n]
	}
	return b
}
