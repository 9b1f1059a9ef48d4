package agent

import "errors"

// ErrConfig is returned by Validate (and New) for a configuration the agent
// cannot run with; the message names every offending field.
var ErrConfig = errors.New("agent: invalid configuration")

// ErrRevoked is returned by Run when the broker refuses the device's
// current certificate ("not authorized"), or the provisioning service says
// the device is no longer active: the device was revoked or suspended. The
// agent stops instead of reconnecting in a loop; an operator has to act.
var ErrRevoked = errors.New("agent: device refused (revoked or suspended)")

// ErrNeedsEnrollment is returned by Run when the device holds no usable
// certificate and cannot get one by itself: a software-key device whose
// certificate expired (or that never enrolled) without a fresh enrollment
// token, or whose token the server refused.
var ErrNeedsEnrollment = errors.New("agent: device needs (re-)enrollment")

// ErrRefused is returned by Run when the provisioning service refuses the
// enrollment for a reason retrying will not fix (EK not allowed or not
// trusted, policy, malformed request).
var ErrRefused = errors.New("agent: enrollment refused")

// ErrState is returned when the state directory holds something the agent
// cannot use (another device's state, corrupt files).
var ErrState = errors.New("agent: unusable state")

// ErrQueueFull is returned by Publish when MaxQueued messages are already
// waiting for the broker.
var ErrQueueFull = errors.New("agent: outbound queue full")

// ErrTopic is returned by Publish for a topic suffix that is empty, holds
// wildcards or a leading '/', or a QoS other than 0 or 1.
var ErrTopic = errors.New("agent: invalid publish")

// ErrRunning is returned by Run on an agent that is already running.
var ErrRunning = errors.New("agent: already running")

// ErrNotRunning is returned by Rotate when Run is not running.
var ErrNotRunning = errors.New("agent: not running")

// ErrClock is returned by Run when a certificate the server just issued is
// already expired by the device's clock: the clock is wrong, and enrolling
// again would only repeat that.
var ErrClock = errors.New("agent: device clock is past the new certificate's expiry")

// ErrTrustBundle is returned by RefreshTrust when the agent refused the
// trust bundle the API served: signed by a key that chains to none of the
// roots it holds, older than the one it holds, or malformed. The agent
// keeps the roots it had and logs the refusal.
var ErrTrustBundle = errors.New("agent: trust bundle refused")

// ErrNoTPM is returned when the configured TPM cannot be opened: no
// device node, no simulator listening, no permission.
var ErrNoTPM = errors.New("agent: TPM not available")

// ErrUnreachable is returned by Enrol when the provisioning service or
// every broker gave no answer.
var ErrUnreachable = errors.New("agent: server unreachable")
