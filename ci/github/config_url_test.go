package github

import "testing"

// An Enterprise Server's root without /api/v3 is warned of; api.github.com, a root with a
// path, and a local test server are not.
func TestLacksAPIPath(t *testing.T) {
	for url, want := range map[string]bool{
		"https://ghe.example.com":        true,
		"https://ghe.example.com/":       true,
		"https://ghe.example.com/api/v3": false,
		"https://api.github.com":         false,
		"https://proxy.example.com/gh":   false,
		"http://127.0.0.1:8082":          false,
		"https://localhost:8443":         false,
		"http://ghe.example.com":         false,
	} {
		if got := lacksAPIPath(url); got != want {
			t.Errorf("lacksAPIPath(%q) = %v, want %v", url, got, want)
		}
	}
}
