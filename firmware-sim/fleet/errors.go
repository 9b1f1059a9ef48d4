package fleet

import "errors"

// ErrConfig is returned by Validate for a configuration Run cannot use;
// the message names every offending field.
var ErrConfig = errors.New("fleet: invalid configuration")

// ErrChecks is returned by Run, with the report, when the run completed
// but some of the scenario's expectations did not hold (Report.Failed
// lists them).
var ErrChecks = errors.New("fleet: scenario checks failed")

// ErrLimits is returned by Run when the open-file limit cannot hold the
// requested devices.
var ErrLimits = errors.New("fleet: open-file limit too low")

// ErrSetup is returned when the server cannot be prepared (group, tokens,
// TPM pre-registration).
var ErrSetup = errors.New("fleet: setup failed")
