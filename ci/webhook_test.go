package ci

import (
	"errors"
	"fmt"
	"testing"
)

// A reason reads on its own, and the sentinel is still found through any wrapping.
func TestWebhookReasons(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		sentinel   error
		wantReason string
	}{
		{"ignored", IgnoreEvent("ping"), ErrIgnoreEvent, "ping"},
		{"ignored, wrapped", fmt.Errorf("github: %w", IgnoreEvent("event push is not followed")), ErrIgnoreEvent, "event push is not followed"},
		{"bad signature", BadSignature("no X-Hub-Signature-256 header"), ErrBadSignature, "no X-Hub-Signature-256 header"},
		{"plain sentinel", fmt.Errorf("github: %w", ErrIgnoreEvent), ErrIgnoreEvent, "github: ci: webhook event ignored"},
		{"other error", errors.New("github: unexpected end of JSON input"), nil, "github: unexpected end of JSON input"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.sentinel != nil && !errors.Is(tt.err, tt.sentinel) {
				t.Errorf("errors.Is(%v, %v) = false", tt.err, tt.sentinel)
			}
			if got := Reason(tt.err); got != tt.wantReason {
				t.Errorf("Reason = %q; want %q", got, tt.wantReason)
			}
		})
	}
	if errors.Is(IgnoreEvent("x"), ErrBadSignature) || errors.Is(BadSignature("x"), ErrIgnoreEvent) {
		t.Error("one sentinel passes for the other")
	}
}
