package store

import (
	"context"
	"fmt"
	"time"

	"github.com/fleetgate/fleetgate/store/kv"
)

// TokenRetryWindow is how long after a token enrolled a device the same
// device may present it again, with the same key, and be answered with
// the certificate already issued. A device whose answer was lost on the
// way (a timeout, a dropped connection, a crash before it saved the
// certificate) retries within seconds; a token seen again much later is
// more likely copied than retried.
const TokenRetryWindow = 10 * time.Minute

// FindTokenRetry returns the certificate a token enrollment already issued,
// when the same device presents the spent token again within
// TokenRetryWindow with a CSR for the same key (keyHash: lower-case hex
// SHA-256 of its SubjectPublicKeyInfo DER, Certificate.KeyHash). The
// certificate must still be active and its device active. Anything else
// gives ErrReplayed, as for any other reuse of a token: another device,
// another key, too late, or a certificate revoked since. ErrNotFound when
// the token is unknown, and a read failure as it is.
//
// Answering again gives nothing away: the CSR proves possession of the
// key the certificate names, so only the device that holds it can have
// the certificate again, and it issues nothing new.
func (db *DB) FindTokenRetry(ctx context.Context, hash, deviceID, keyHash string) (Certificate, error) {
	var c Certificate
	err := db.view(ctx, func(tx kv.Tx) error {
		tok, err := getToken(tx, hash)
		if err != nil {
			return err
		}
		refuse := func(why string) error {
			return fmt.Errorf("%w: token was used by device %s (no retry: %s)", ErrReplayed, tok.UsedBy, why)
		}
		switch {
		case tok.UsedAt.IsZero():
			return fmt.Errorf("%w: token is unused: nothing to retry", ErrNotFound)
		case tok.UsedBy != deviceID:
			return refuse("another device")
		case tok.Serial == "":
			return refuse("the token was spent before retries were recorded")
		case db.clock().Sub(tok.UsedAt) > TokenRetryWindow:
			return refuse(fmt.Sprintf("more than %s ago", TokenRetryWindow))
		}
		if c, err = getCert(tx, tok.Serial); err != nil {
			return err
		}
		switch {
		case c.KeyHash == "" || c.KeyHash != keyHash:
			return refuse("another key")
		case c.Status != CertActive:
			return refuse("its certificate is " + string(c.Status))
		}
		d, err := getDevice(tx, deviceID)
		if err != nil {
			return err
		}
		if d.Status != DeviceActive {
			return refuse("the device is " + string(d.Status))
		}
		return nil
	})
	if err != nil {
		return Certificate{}, err
	}
	return c, nil
}
