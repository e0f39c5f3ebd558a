package commands_test

import (
	"testing"

	"github.com/herald-ci/herald/commands"
)

// TestScheduleZone: a stored schedule's zone and spec, as /digest shows them and digests
// write their times in.
func TestScheduleZone(t *testing.T) {
	tests := []struct{ spec, zone, bare string }{
		{"CRON_TZ=Europe/Berlin 0 9 * * *", "Europe/Berlin", "0 9 * * *"},
		{"TZ=Asia/Tokyo @daily", "Asia/Tokyo", "@daily"},
		{"0 9 * * 1-5", "UTC", "0 9 * * 1-5"},
		{"@hourly", "UTC", "@hourly"},
	}
	for _, tt := range tests {
		if zone, bare := commands.ScheduleZone(tt.spec); zone != tt.zone || bare != tt.bare {
			t.Errorf("ScheduleZone(%q) = %q, %q; want %q, %q", tt.spec, zone, bare, tt.zone, tt.bare)
		}
	}
}

// TestLoadZone: IANA names load (the same zone each time, from the cache); the host's
// zone and unknown names are refused with what to type.
func TestLoadZone(t *testing.T) {
	a, err := commands.LoadZone("Europe/Berlin")
	if err != nil || a.String() != "Europe/Berlin" {
		t.Fatalf("LoadZone(Europe/Berlin) = %v, %v", a, err)
	}
	if b, err := commands.LoadZone("Europe/Berlin"); err != nil || b != a {
		t.Errorf("second LoadZone = %p, %v; want the cached %p", b, err, a)
	}
	for _, name := range []string{"", "Local", "local", "Mars/Olympus"} {
		if _, err := commands.LoadZone(name); err == nil {
			t.Errorf("LoadZone(%q) accepted", name)
		}
	}
}
