package hsm

import "errors"

var (
	// ErrConfig means the token configuration is incomplete or its PIN
	// cannot be read. The wrapping error names the setting.
	ErrConfig = errors.New("bad PKCS#11 token configuration")

	// ErrModule means the PKCS#11 module (a shared library) could not be
	// loaded or initialised. The wrapping error names its path.
	ErrModule = errors.New("PKCS#11 module fails to load")

	// ErrNoToken means no slot of the module holds a token with the label
	// given.
	ErrNoToken = errors.New("PKCS#11 token not found")

	// ErrWrongPIN means the token refused the PIN.
	ErrWrongPIN = errors.New("PKCS#11 token refused the PIN")

	// ErrNoKey means the token holds no key pair with the label given.
	ErrNoKey = errors.New("PKCS#11 key label not found")

	// ErrKeyExists means a key pair with the label exists already, so a
	// new one is not generated under it.
	ErrKeyExists = errors.New("PKCS#11 key label already in use")

	// ErrOtherToken means a key was asked for in a token other than the one
	// opened.
	ErrOtherToken = errors.New("key is in another PKCS#11 token")
)
