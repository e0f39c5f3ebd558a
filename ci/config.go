package ci

// ConfigProblem is one thing wrong in a provider's section of herald's config file. The
// provider package validates its own section and names the key; the caller, which knows the
// file, turns that into "file:line: ci[N].<Msg>" at the line of Key.
type ConfigProblem struct {
	// Key is where the problem is, relative to the section: "url", "auth", "auth.type". An
	// absent key stands for the section itself.
	Key string
	// Msg reads after the section's name, e.g. "url must be the CI's http(s) URL". It never
	// quotes a value that may be a secret.
	Msg string
}
