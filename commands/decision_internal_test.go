package commands

import "testing"

// TestParseDecision: what decisionButtons make reads back; anything else is no decision.
func TestParseDecision(t *testing.T) {
	kb := decisionButtons("link", 42)
	for i, want := range []bool{true, false} {
		id, approve, verb, ok := parseDecision(kb[0][i].Data)
		if !ok || id != 42 || approve != want || verb != map[bool]string{true: "approve", false: "deny"}[want] {
			t.Errorf("%q: %d %v %q %v", kb[0][i].Data, id, approve, verb, ok)
		}
	}
	for _, data := range []string{"", "link", "link:yes", "link:maybe:1", "link:yes:x", "link:yes:1:2"} {
		if _, _, _, ok := parseDecision(data); ok {
			t.Errorf("%q read as a decision", data)
		}
	}
}
