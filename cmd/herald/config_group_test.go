package main

import (
	"strings"
	"testing"
	"time"
)

// notifications.group_window: 5s when left out, 0 turns grouping off, a negative or absurd
// window is a problem at its line.
func TestConfigGroupWindow(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       time.Duration
		problem    string
	}{
		{"left out", "", 5 * time.Second, ""},
		{"set", "notifications:\n  group_window: 2s\n", 2 * time.Second, ""},
		{"off", "notifications:\n  group_window: 0s\n", 0, ""},
		{"negative", "notifications:\n  group_window: -1s\n", 0, `t.yaml:6: notifications.group_window: "-1s" is not a duration`},
		{"too long", "notifications:\n  group_window: 1h\n", 0, "t.yaml:6: notifications.group_window must be between 0 (off) and 10m"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := "telegram:\n  token: 1:a\ndatabase:\n  url: postgres://x@y/z\n" + tt.yaml
			cfg, err := parseConfig("t.yaml", []byte(raw), testEnv(nil))
			if tt.problem != "" {
				if err == nil || !strings.Contains(err.Error(), tt.problem) {
					t.Fatalf("error %v; want %q", err, tt.problem)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Notifications.GroupWindow != tt.want {
				t.Errorf("group_window = %v; want %v", cfg.Notifications.GroupWindow, tt.want)
			}
		})
	}
}
