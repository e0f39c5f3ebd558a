package ci

import (
	"errors"
	"net/http"
)

// WebhookParser is the optional capability to read the deliveries a CI posts to herald
// (POST /ci/<connection>/webhook). Webhooks are the fast path; the API stays the safety net
// that finds what a lost delivery missed, so a parser may ignore anything it cannot use.
//
// ParseWebhook checks the signature before it reads anything of the body: an unsigned body
// is anyone's, and parsing it would let anyone reach the parser. It returns
//   - an error wrapping ErrBadSignature (see BadSignature) when the signature is missing or
//     wrong; its reason is shown to the sender and logged, so it must never hold the secret;
//   - an error wrapping ErrIgnoreEvent (see IgnoreEvent) for an authentic event herald does
//     not use (a ping, an event kind it does not follow): the CI is answered 200, so it does
//     not retry;
//   - any other error for a body it cannot read: the CI is answered 400 with the error's text;
//   - otherwise the delivery, with raw events only (see Event).
type WebhookParser interface {
	ParseWebhook(header http.Header, body []byte) (Delivery, error)
}

// Delivery is one webhook request as the CI meant it.
type Delivery struct {
	// ID is the CI's id of the delivery (GitHub's X-GitHub-Delivery). A redelivery carries
	// the same id and is answered without delivering its events again. Empty when the CI
	// sends none: the events are then still idempotent by their Key.
	ID     string
	Events []Event
}

var (
	// ErrBadSignature means a webhook request is not signed with the connection's secret.
	ErrBadSignature = errors.New("ci: missing or wrong webhook signature")
	// ErrIgnoreEvent means a webhook request is authentic but says nothing herald uses.
	ErrIgnoreEvent = errors.New("ci: webhook event ignored")
)

// ReasonError is a sentinel of this package with the reason a provider gives, so that the
// reason can be shown on its own ("ignored: ping") and errors.Is still finds the sentinel.
type ReasonError struct {
	Err    error  // ErrBadSignature or ErrIgnoreEvent
	Reason string // short, for the sender of the request; never a secret
}

func (e *ReasonError) Error() string { return e.Err.Error() + ": " + e.Reason }
func (e *ReasonError) Unwrap() error { return e.Err }

// BadSignature is ErrBadSignature with a reason, e.g. "no X-Hub-Signature-256 header".
func BadSignature(reason string) error { return &ReasonError{Err: ErrBadSignature, Reason: reason} }

// IgnoreEvent is ErrIgnoreEvent with a reason, e.g. "ping" or "event push is not followed".
func IgnoreEvent(reason string) error { return &ReasonError{Err: ErrIgnoreEvent, Reason: reason} }

// Reason is the reason an error carries: a ReasonError's own, or else the error's text.
func Reason(err error) string {
	var re *ReasonError
	if errors.As(err, &re) {
		return re.Reason
	}
	return err.Error()
}
